"""Pure Plotly builders: plain arrays in, ``go.Figure`` out. No streamlit, no torch.

Large maps are heatmaps with hover values and no cell text (text is slow in the browser); small
grids print their numbers in the cells. A layer of many maps is one figure with hand-made axis
domains and a shared colour axis: much faster to build than make_subplots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import theme

FONT = {"size": 12}
TEXT_CELLS_MAX = 14 * 14  # grids with more cells than this get no cell text


@dataclass(frozen=True)
class Box:
    """A rectangle of grid cells to outline: rows top..bottom, columns left..right (inclusive)."""

    top: int
    left: int
    bottom: int
    right: int
    color: str = "#ffb000"
    width: int = 3


def _axis_names(k: int) -> tuple[str, str, str, str]:
    """Trace references and layout keys of the k-th pair of axes ('x', 'xaxis' for k = 0)."""
    suffix = "" if k == 0 else str(k + 1)
    return f"x{suffix}", f"y{suffix}", f"xaxis{suffix}", f"yaxis{suffix}"


def _cell_domains(k: int, ncols: int, nrows: int, gap: float, title_space: float):
    row, col = divmod(k, ncols)
    x = [col / ncols + gap / 2, (col + 1) / ncols - gap / 2]
    y = [1 - (row + 1) / nrows + gap / 2, 1 - row / nrows - title_space]
    return x, y


def heatmap_grid(
    maps, titles=None, ranges=None, colorscale=None, ncols=8, cell_px=90, hover_name="value"
) -> go.Figure:
    """One figure showing every (H, W) map of a (C, H, W) stage as a small heatmap.

    ranges: one (zmin, zmax) per map (see theme.map_ranges); equal ranges share one colour bar.
    """
    maps = np.asarray(maps, dtype=np.float32)  # (C, H, W)
    count = maps.shape[0]
    ncols = max(1, min(ncols, count))
    nrows = math.ceil(count / ncols)
    titles = titles or [f"ch {c}" for c in range(count)]
    ranges = ranges or theme.map_ranges(maps, "per layer")
    colorscale = colorscale or theme.colorscale_for(maps)
    shared = len(set(ranges)) == 1
    fig, layout = go.Figure(), {}
    for k in range(count):
        xref, yref, xkey, ykey = _axis_names(k)
        xd, yd = _cell_domains(k, ncols, nrows, 0.03, 0.12 / nrows)
        fig.add_trace(
            _map_trace(maps[k], xref, yref, titles[k], hover_name, shared, ranges[k], colorscale)
        )
        layout[xkey] = {"domain": xd, "visible": False, "anchor": yref, "constrain": "domain"}
        layout[ykey] = {
            "domain": yd,
            "visible": False,
            "anchor": xref,
            "autorange": "reversed",
            "scaleanchor": xref,
            "constrain": "domain",
        }
    annotations = [
        _title(titles[k], *_cell_domains(k, ncols, nrows, 0.03, 0)) for k in range(count)
    ]
    fig.update_layout(
        layout,
        annotations=annotations,
        height=nrows * cell_px + 30,
        margin={"l": 5, "r": 5, "t": 20, "b": 5},
        font=FONT,
    )
    if shared:
        fig.update_layout(
            coloraxis={
                "colorscale": colorscale,
                "cmin": ranges[0][0],
                "cmax": ranges[0][1],
                "colorbar": {"thickness": 10},
            }
        )
    return fig


def _map_trace(z, xref, yref, title, hover_name, shared, zrange, colorscale) -> go.Heatmap:
    style = (
        {"coloraxis": "coloraxis"}
        if shared
        else {"zmin": zrange[0], "zmax": zrange[1], "colorscale": colorscale, "showscale": False}
    )
    return go.Heatmap(
        z=z,
        xaxis=xref,
        yaxis=yref,
        name=title,
        hovertemplate=f"{title}<br>row %{{y}}, col %{{x}}<br>{hover_name} %{{z:.4f}}"
        "<extra></extra>",
        **style,
    )


def _title(text, xd, yd) -> dict:
    return {
        "text": text,
        "x": sum(xd) / 2,
        "y": yd[1],
        "xref": "paper",
        "yref": "paper",
        "showarrow": False,
        "yanchor": "bottom",
        "font": {"size": 11},
    }


def annotated_grid(
    values,
    title=None,
    zrange=None,
    colorscale=None,
    digits=2,
    boxes=(),
    marks=(),
    cell_px=34,
    show_scale=False,
    square=True,
    x_labels=None,
) -> go.Figure:
    """A small 2-D grid with its numbers printed in the cells (hover only when large or small).

    boxes: Box outlines (a receptive field, a pooling window); marks: (row, col) cells to flag
    (a max-pool winner: a star when there are few, a dot when there are many).
    square: keep cells square (maps); False lets a wide matrix fill the width (weights).
    """
    z = np.asarray(values, dtype=np.float32)
    z = z[None, :] if z.ndim == 1 else z
    zrange = zrange or theme.value_range(z)
    colorscale = colorscale or theme.colorscale_for(z)
    fig = go.Figure(_grid_trace(z, zrange, colorscale, digits, cell_px, show_scale, x_labels))
    for b in boxes:
        fig.add_shape(
            type="rect",
            x0=b.left - 0.5,
            x1=b.right + 0.5,
            y0=b.top - 0.5,
            y1=b.bottom + 0.5,
            line={"color": b.color, "width": b.width},
        )
    if marks:
        fig.add_trace(_marks_trace(marks))
    height, width = z.shape
    top = 70 if title else 30
    axis = {"showgrid": False, "zeroline": False}
    fig.update_layout(
        title={"text": title, "y": 0.99, "yanchor": "top", "font": {"size": 13}} if title else None,
        height=max(120, height * cell_px + top + 10) if square else max(160, height * 22 + top),
        margin={"l": 30, "r": 10, "t": top, "b": 10},
        font=FONT,
        showlegend=False,
        xaxis={**axis, "side": "top", "dtick": 1 if width <= 14 else None, "constrain": "domain"},
        yaxis={
            **axis,
            "autorange": "reversed",
            "dtick": 1 if height <= 14 else None,
            **({"scaleanchor": "x", "constrain": "domain"} if square else {}),
        },
    )
    if x_labels is not None:
        fig.update_xaxes(type="category")
    return fig


def _grid_trace(z, zrange, colorscale, digits, cell_px, show_scale, x_labels) -> go.Heatmap:
    """The heatmap of a grid, with fixed-decimal cell text when the cells are big enough."""
    fits = z.size <= TEXT_CELLS_MAX and cell_px >= 22
    text = [[theme.cell_text(v, digits) for v in row] for row in z] if fits else None
    return go.Heatmap(
        z=z,
        x=x_labels,
        zmin=zrange[0],
        zmax=zrange[1],
        colorscale=colorscale,
        showscale=show_scale,
        text=text,
        texttemplate="%{text}" if text else None,
        textfont={"size": 11 if cell_px >= 30 else 9},
        xgap=1,
        ygap=1,
        hovertemplate="row %{y}, col %{x}<br>value %{z:.5f}<extra></extra>",
    )


def _marks_trace(marks) -> go.Scatter:
    rows, cols = zip(*marks, strict=True)
    few = len(marks) <= 4
    return go.Scatter(
        x=cols,
        y=rows,
        mode="markers",
        hoverinfo="skip",
        marker={
            "symbol": "star" if few else "circle",
            "size": 13 if few else 6,
            "color": "#ffb000",
            "line": {"color": "black", "width": 1},
        },
    )


def outline_cells(fig: go.Figure, boxes, count: int = 1) -> go.Figure:
    """Draw the same Box outlines on each of the first ``count`` maps of a heatmap_grid figure
    (count 1 also suits an annotated_grid): a receptive field on every input channel."""
    for k in range(count):
        xref, yref, _, _ = _axis_names(k)
        for b in boxes:
            fig.add_shape(
                type="rect",
                xref=xref,
                yref=yref,
                x0=b.left - 0.5,
                x1=b.right + 0.5,
                y0=b.top - 0.5,
                y1=b.bottom + 0.5,
                line={"color": b.color, "width": b.width},
            )
    return fig


def probability_bars(probabilities, class_names, highlight=None, title=None) -> go.Figure:
    """The class probabilities as bars, the predicted (or chosen) class highlighted."""
    p = np.asarray(probabilities, dtype=np.float64)
    highlight = int(np.argmax(p)) if highlight is None else highlight
    colours = ["#d62728" if k == highlight else "#9aa7b8" for k in range(len(p))]
    fig = go.Figure(
        go.Bar(
            x=[str(c) for c in class_names],
            y=p,
            marker_color=colours,
            text=[f"{v:.1%}" for v in p],
            textposition="outside",
            hovertemplate="class %{x}<br>p = %{y:.6f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=260,
        margin={"l": 40, "r": 10, "t": 30, "b": 30},
        yaxis={"range": [0, 1.15], "tickformat": ".0%"},
        xaxis={"type": "category"},
        font=FONT,
    )
    return fig


def vector_strip(vector, title=None, boundaries=None, height=90) -> go.Figure:
    """A long 1-D vector as a one-row heatmap; boundaries draws lines between channel blocks."""
    v = np.asarray(vector, dtype=np.float32)[None, :]  # (1, N)
    fig = go.Figure(
        go.Heatmap(
            z=v,
            colorscale=theme.colorscale_for(v),
            zmin=theme.value_range(v)[0],
            zmax=theme.value_range(v)[1],
            showscale=False,
            hovertemplate="index %{x}<br>value %{z:.4f}<extra></extra>",
        )
    )
    for b in boundaries or ():
        fig.add_vline(x=b - 0.5, line={"color": "black", "width": 1})
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 10, "r": 10, "t": 30 if title else 5, "b": 20},
        yaxis={"visible": False},
        font=FONT,
    )
    return fig


def training_curves(rows, previous=None, compact=False, live=(), lr_marks=()) -> go.Figure:
    """Loss and accuracy per epoch (train and held-out), side by side (stacked when compact,
    for the sidebar); the previous run dotted; a run under way as a thin line.

    rows / previous: lists of dicts with epoch, train_loss, test_loss, train_accuracy,
    test_accuracy. live: (epochs done, running loss, running accuracy) points of the run under
    way; lr_marks: (epochs done, new learning rate) of each change made during the run.
    """
    fig = go.Figure()
    _live_traces(fig, live)
    for run, dash, label in ((rows, None, ""), (previous or [], "dot", " (previous run)")):
        if not run:
            continue
        epochs = [r["epoch"] for r in run]
        for key, axis, colour in (
            ("train_loss", "x", "#1f77b4"),
            ("test_loss", "x", "#d62728"),
            ("train_accuracy", "x2", "#1f77b4"),
            ("test_accuracy", "x2", "#d62728"),
        ):
            name = key.replace("_", " ").replace("test", "held-out") + label
            line = {"color": colour, "dash": dash}
            fig.add_trace(_curve(epochs, [r[key] for r in run], name, axis, line, "lines+markers"))
    side = {"x": [0, 0.45], "x2": [0.55, 1], "y": [0, 1], "y2": [0, 1]}
    stacked = {"x": [0, 1], "x2": [0, 1], "y": [0.6, 1], "y2": [0, 0.4]}
    d = stacked if compact else side
    fig.update_layout(
        height=360 if compact else 280,
        font=FONT,
        showlegend=not compact,
        margin={"l": 40, "r": 10, "t": 20, "b": 30 if compact else 40},
        xaxis={"domain": d["x"], "title": None if compact else "epoch", "dtick": 1, "anchor": "y"},
        xaxis2={"domain": d["x2"], "title": "epoch", "dtick": 1, "anchor": "y2"},
        yaxis={"domain": d["y"], "title": "loss", "rangemode": "tozero", "anchor": "x"},
        yaxis2={
            "domain": d["y2"],
            "title": "accuracy",
            "tickformat": ".0%",
            "anchor": "x2",
            "range": [0, 1.02],
        },
        legend={"orientation": "h", "y": -0.25},
    )
    _lr_mark_shapes(fig, lr_marks)
    if live:  # fractions of an epoch: let Plotly choose the ticks
        fig.update_layout(xaxis={"dtick": None}, xaxis2={"dtick": None})
    if compact:
        fig.add_annotation(
            text="blue: training · red: held-out",
            xref="paper",
            yref="paper",
            x=0,
            y=1.06,
            showarrow=False,
            xanchor="left",
            font={"size": 10},
        )
    return fig


def _live_traces(fig: go.Figure, live) -> None:
    """The run under way: running loss and accuracy of the current epoch, a thin line each."""
    if not live:
        return
    xs, losses, accuracies = (list(v) for v in zip(*live, strict=True))
    line = {"color": "#6baed6", "width": 1.5}
    fig.add_trace(_curve(xs, losses, "training loss (now)", "x", line, "lines"))
    fig.add_trace(_curve(xs, accuracies, "training accuracy (now)", "x2", line, "lines"))


def _curve(xs, ys, name: str, axis: str, line: dict, mode: str) -> go.Scatter:
    """One line of the curves figure on the loss panel (axis "x") or the accuracy one ("x2")."""
    yaxis = axis.replace("x", "y")
    return go.Scatter(x=xs, y=ys, name=name, mode=mode, xaxis=axis, yaxis=yaxis, line=line)


def _lr_mark_shapes(fig: go.Figure, lr_marks) -> None:
    """A dashed vertical line on both panels at every learning-rate change, labelled once."""
    for x, lr in lr_marks:
        for axis in ("x", "x2"):
            fig.add_shape(
                type="line", x0=x, x1=x, xref=axis, y0=0, y1=1,
                yref=axis.replace("x", "y") + " domain",
                line={"dash": "dash", "color": "#555", "width": 1},
            )  # fmt: skip
        fig.add_annotation(
            x=x, y=1, xref="x2", yref="paper", text=f"lr {lr:g}", showarrow=False,
            xanchor="left", yanchor="top", font={"size": 10},
        )  # fmt: skip


def confusion_figure(matrix, class_names) -> go.Figure:
    """A confusion matrix (rows: true class, columns: predicted) with the counts in the cells."""
    m = np.asarray(matrix)
    names = [str(c) for c in class_names]
    fig = go.Figure(
        go.Heatmap(
            z=m,
            x=names,
            y=names,
            colorscale="Blues",
            text=m,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}<br>%{z} examples<extra></extra>",
            showscale=False,
        )
    )
    fig.update_layout(
        height=420,
        margin={"l": 60, "r": 10, "t": 30, "b": 40},
        font=FONT,
        xaxis={"title": "predicted", "type": "category"},
        yaxis={"title": "true", "autorange": "reversed", "type": "category"},
    )
    return fig


def activation_curve(xs, ys, points_x, points_y, name) -> go.Figure:
    """The activation function as a curve, with a map's values plotted on it."""
    fig = go.Figure(
        [
            go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"color": "#444"}),
            go.Scatter(
                x=np.asarray(points_x),
                y=np.asarray(points_y),
                mode="markers",
                name="this map's cells",
                marker={"size": 5, "color": "#d62728", "opacity": 0.5},
            ),
        ]
    )
    fig.update_layout(
        height=300,
        margin={"l": 40, "r": 10, "t": 20, "b": 40},
        font=FONT,
        xaxis={"title": "input x", "zeroline": True},
        yaxis={"title": "output", "zeroline": True},
    )
    return fig


def confusion_selectable(matrix, class_names) -> go.Figure:
    """confusion_figure with an invisible square marker on every cell, so that a click selects
    the cell (a click on a go.Heatmap alone returns no selection in Streamlit). Each marker's
    customdata is [true index, predicted index]."""
    m = np.asarray(matrix)
    names = [str(c) for c in class_names]
    k = len(names)
    fig = confusion_figure(m, names)
    true_idx, pred_idx = np.divmod(np.arange(k * k), k)  # row-major: cell (t, p)
    fig.add_trace(
        go.Scatter(
            x=[names[p] for p in pred_idx],
            y=[names[t] for t in true_idx],
            customdata=np.stack([true_idx, pred_idx], axis=1),
            mode="markers",
            marker={"symbol": "square", "size": 28, "opacity": 0},
            hovertemplate="true %{y}, predicted %{x}<br>click to list these examples"
            "<extra></extra>",
            showlegend=False,
        )
    )
    fig.update_layout(clickmode="event+select", dragmode=False)
    return fig


def contribution_bars(labels, values, title=None) -> go.Figure:
    """Signed contributions as horizontal bars (red adds to the score, blue takes away), the
    first label at the top."""
    v = np.asarray(values, dtype=np.float64)
    fig = go.Figure(
        go.Bar(
            x=v,
            y=[str(s) for s in labels],
            orientation="h",
            marker_color=["#d62728" if x > 0 else "#1f77b4" for x in v],
            text=[f"{x:+.3f}" for x in v],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}<br>w·x = %{x:.5f}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=max(200, 22 * len(v) + 70),
        margin={"l": 10, "r": 50, "t": 40 if title else 10, "b": 30},
        font=FONT,
        xaxis={"title": "contribution W[k,i]·x[i]", "zeroline": True, "zerolinecolor": "#444"},
        yaxis={"autorange": "reversed", "type": "category"},
    )
    return fig


def channel_vector(vector, block: int, index=None, title=None, height=220) -> go.Figure:
    """A flattened vector as bars coloured by the channel each value came from (``block`` values
    per channel); ``index`` is marked with a line and its value."""
    v = np.asarray(vector, dtype=np.float32)
    channel = np.arange(v.size) // block
    colours = [theme.CHANNEL_COLOURS[c % len(theme.CHANNEL_COLOURS)] for c in channel]
    fig = go.Figure(
        go.Bar(
            x=np.arange(v.size),
            y=v,
            marker={"color": colours, "line": {"width": 0}},
            customdata=channel,
            hovertemplate="index %{x}<br>channel %{customdata}<br>value %{y:.4f}<extra></extra>",
        )
    )
    if index is not None:
        fig.add_vline(x=index, line={"color": "black", "width": 2, "dash": "dot"})
        fig.add_annotation(
            x=index, y=float(v[index]), text=f"i = {index}", showarrow=True, arrowhead=2, ay=-30
        )
    fig.update_layout(
        title={"text": title, "font": {"size": 13}} if title else None,
        height=height,
        bargap=0,
        margin={"l": 40, "r": 10, "t": 35 if title else 10, "b": 30},
        font=FONT,
        xaxis={"title": "index i", "range": [-0.5, v.size - 0.5]},
        yaxis={"title": "value"},
        showlegend=False,
    )
    return fig
