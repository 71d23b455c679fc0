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
GRID_FONT_PX = 14  # numbers in grid cells: readable on a projected screen
TITLE_FONT_PX = 13  # a grid's title and the titles of the maps of a layer
TEXT_CELLS_MAX = 14 * 14  # grids with more cells than this get no cell text
MAP_TITLE_PX = 22  # room above each map of a heatmap_grid for its title
MAP_GAP_PX = 8  # room below each map of a heatmap_grid
COLORBAR_PX = 46  # room below a heatmap_grid for its horizontal colour bar and its ticks
MIN_CHART_PX = 170  # Plotly draws no chart narrower than 150 px; a title needs some room too


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


@dataclass(frozen=True)
class _Cells:
    """Where the maps of a heatmap_grid go. Rows are laid out in pixels (the figure's height is
    fixed), so every title has its own strip above its map; columns in fractions of the width."""

    ncols: int
    nrows: int
    cell_px: int

    @property
    def row_px(self) -> int:
        return MAP_TITLE_PX + self.cell_px + MAP_GAP_PX

    @property
    def plot_px(self) -> int:
        return self.nrows * self.row_px

    def x(self, k: int, gap: float = 0.03) -> list[float]:
        col = k % self.ncols
        return [col / self.ncols + gap / 2, (col + 1) / self.ncols - gap / 2]

    def y(self, k: int) -> list[float]:
        """Paper fractions of the map's own square (below its title strip)."""
        top = (k // self.ncols) * self.row_px + MAP_TITLE_PX  # pixels from the top
        return [1 - (top + self.cell_px) / self.plot_px, 1 - top / self.plot_px]

    def title_y(self, k: int) -> float:
        """The top of the map's title strip, in paper fractions."""
        return 1 - (k // self.ncols) * self.row_px / self.plot_px


def heatmap_grid(
    maps, titles=None, ranges=None, colorscale=None, ncols=8, cell_px=90, hover_name="value"
) -> go.Figure:
    """One figure showing every (H, W) map of a (C, H, W) stage as a small heatmap, each under
    its title; the figure's height follows from the rows.

    ranges: one (zmin, zmax) per map (see theme.map_ranges); equal ranges share one colour bar,
    drawn horizontally under the maps so that its ticks have room.
    """
    maps = np.asarray(maps, dtype=np.float32)  # (C, H, W)
    count = maps.shape[0]
    ncols = max(1, min(ncols, count))
    cells = _Cells(ncols, math.ceil(count / ncols), cell_px)
    titles = titles or [f"ch {c}" for c in range(count)]
    ranges = ranges or theme.map_ranges(maps, "per layer")
    colorscale = colorscale or theme.colorscale_for(maps)
    shared = len(set(ranges)) == 1
    fig = go.Figure()
    for k in range(count):
        xref, yref, _, _ = _axis_names(k)
        fig.add_trace(
            _map_trace(maps[k], xref, yref, titles[k], hover_name, shared, ranges[k], colorscale)
        )
    bottom = COLORBAR_PX if shared else 4
    fig.update_layout(
        _map_axes(cells, count),
        annotations=[_title(titles[k], cells.x(k), cells.title_y(k)) for k in range(count)],
        height=cells.plot_px + bottom + 4,
        margin={"l": 5, "r": 5, "t": 4, "b": bottom, "autoexpand": False},  # rows in pixels
        font=FONT,
    )
    if shared:
        fig.update_layout(coloraxis=_bar_below(colorscale, ranges[0], cells.plot_px))
    return fig


def _map_axes(cells: _Cells, count: int) -> dict:
    """Hidden axes for each map: square cells, the map at the top of its place (under its
    title) when the width, not the height, limits its size."""
    layout = {}
    for k in range(count):
        xref, yref, xkey, ykey = _axis_names(k)
        layout[xkey] = {"domain": cells.x(k), "visible": False, "anchor": yref,
                        "constrain": "domain"}  # fmt: skip
        layout[ykey] = {
            "domain": cells.y(k), "visible": False, "anchor": xref, "autorange": "reversed",
            "scaleanchor": xref, "constrain": "domain", "constraintoward": "top",
        }  # fmt: skip
    return layout


def _bar_below(colorscale, zrange, plot_px: int) -> dict:
    """A shared colour axis whose bar lies under the maps, half the figure's width long."""
    bar = {"orientation": "h", "thickness": 12, "len": 0.5, "lenmode": "fraction",
           "x": 0.5, "xanchor": "center", "y": -6 / plot_px, "yanchor": "top", "ypad": 0,
           "ticks": "outside", "ticklen": 3}  # fmt: skip
    return {"colorscale": colorscale, "cmin": zrange[0], "cmax": zrange[1], "colorbar": bar}


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


def _title(text, xd, y) -> dict:
    """A map's title, centred over its column, hanging from ``y`` (paper fractions)."""
    return {
        "text": text,
        "x": sum(xd) / 2,
        "y": y,
        "xref": "paper",
        "yref": "paper",
        "showarrow": False,
        "xanchor": "center",
        "yanchor": "top",
        "font": {"size": TITLE_FONT_PX},
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
    cell_px: the size of a cell; grids with numbers get cells wide enough for them, printed at
    GRID_FONT_PX. Below 22 px a grid is a map and gets no numbers.
    square: keep cells square (maps); False lets a wide matrix fill the width (weights).
    """
    z = np.asarray(values, dtype=np.float32)
    z = z[None, :] if z.ndim == 1 else z
    zrange = zrange or theme.value_range(z)
    colorscale = colorscale or theme.colorscale_for(z)
    text = _cell_texts(z, digits, cell_px)
    if text is not None and square:
        cell_px = max(cell_px, text_cell_px(text))
    fig = go.Figure(_grid_trace(z, zrange, colorscale, text, show_scale, x_labels))
    outline_cells(fig, boxes)
    if marks:
        fig.add_trace(_marks_trace(marks))
    fig.update_layout(_grid_layout(z.shape, title, cell_px, show_scale, square))
    if x_labels is not None:
        fig.update_xaxes(type="category")
    return fig


def _cell_texts(z, digits: int, cell_px: int):
    """The numbers printed in the cells, or None for a map too large (or drawn too small)."""
    if z.size > TEXT_CELLS_MAX or cell_px < 22:
        return None
    return [[theme.cell_text(v, digits) for v in row] for row in z]


def text_cell_px(text) -> int:
    """The size of a square cell that holds the longest of these numbers at GRID_FONT_PX (a
    digit is about half the font size wide, a point or a minus a third), 5 px either side."""
    width = max(sum(0.5 if ch.isdigit() else 0.33 for ch in t) for row in text for t in row)
    return math.ceil(width * GRID_FONT_PX) + 10


def grid_width_px(values, digits=2, cell_px=34, show_scale=False) -> int:
    """About how wide annotated_grid draws these values with their numbers at full size (row
    numbers and colour bar included; at least MIN_CHART_PX). Pages put grids side by side only
    while these widths fit (ui/grids.py)."""
    z = np.asarray(values, dtype=np.float32)
    z = z[None, :] if z.ndim == 1 else z
    text = _cell_texts(z, digits, cell_px)
    cell = cell_px if text is None else max(cell_px, text_cell_px(text))
    return max(z.shape[1] * cell + 40 + (60 if show_scale else 0), MIN_CHART_PX)


def _grid_layout(shape, title, cell_px: int, show_scale: bool, square: bool) -> dict:
    """Height from the rows, the title over the grid's left edge, column numbers on top, row
    numbers on the left; square grids sit at the left of their chart, under their title."""
    rows, cols = shape
    top = 60 if title else 30
    plot_px = rows * cell_px if square else rows * max(cell_px, 22)
    plot_px = max(plot_px, 140 if show_scale else 60)  # a colour bar needs room for its ticks
    axis = {"showgrid": False, "zeroline": False, "dtick": 1}
    keep = {"scaleanchor": "x", "constrain": "domain", "constraintoward": "top"} if square else {}
    return {
        "title": _grid_title(title) if title else None,
        "height": plot_px + top + 10,
        "margin": {"l": 30, "r": 10, "t": top, "b": 10},
        "font": FONT,
        "showlegend": False,
        "xaxis": {**axis, "side": "top", "constrain": "domain", "constraintoward": "left"}
        | ({} if cols <= 14 else {"dtick": None}),
        "yaxis": {**axis, "autorange": "reversed", **keep}
        | ({} if rows <= 14 else {"dtick": None}),
    }


def _grid_title(text: str) -> dict:
    """A grid's title at the top left of its chart, above the column numbers."""
    return {"text": text, "x": 0, "xref": "paper", "xanchor": "left", "y": 1,
            "yref": "container", "yanchor": "top", "pad": {"t": 8},
            "font": {"size": TITLE_FONT_PX}}  # fmt: skip


def _grid_trace(z, zrange, colorscale, text, show_scale, x_labels) -> go.Heatmap:
    """The heatmap of a grid, with its cell text (fixed decimals) when it has any."""
    return go.Heatmap(
        z=z,
        x=x_labels,
        zmin=zrange[0],
        zmax=zrange[1],
        colorscale=colorscale,
        showscale=show_scale,
        colorbar={"thickness": 14},
        text=text,
        texttemplate="%{text}" if text else None,
        textfont={"size": GRID_FONT_PX},
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
        _outline_map(fig, k, boxes)
    return fig


def field_maps(maps, titles, boxes, ranges=None, colorscales=None, ncols=4, cell_px=150):
    """Maps of different sizes in one figure, each in a square of ``cell_px`` under its title
    with its own colour range (no bar) and its own Box outlines: a unit's receptive field on
    the input and the cells it depends on in every map between (CNN Explainer's connections).

    maps: 2-D arrays; boxes: a list of Boxes per map; ranges / colorscales: one per map (None:
    the map's own range and theme's scale)."""
    count = len(maps)
    ncols = max(1, min(ncols, count))
    cells = _Cells(ncols, math.ceil(count / ncols), cell_px)
    fig = go.Figure()
    for k, z in enumerate(maps):
        z = np.asarray(z, dtype=np.float32)
        xref, yref, _, _ = _axis_names(k)
        zrange = ranges[k] if ranges and ranges[k] else theme.value_range(z)
        scale = colorscales[k] if colorscales and colorscales[k] else theme.colorscale_for(z)
        fig.add_trace(_map_trace(z, xref, yref, titles[k], "value", False, zrange, scale))
        _outline_map(fig, k, boxes[k])
    fig.update_layout(
        _map_axes(cells, count),
        annotations=[_title(titles[k], cells.x(k), cells.title_y(k)) for k in range(count)],
        height=cells.plot_px + 8,
        margin={"l": 5, "r": 5, "t": 4, "b": 4, "autoexpand": False},
        font=FONT,
    )
    return fig


def _outline_map(fig: go.Figure, k: int, boxes) -> None:
    """Outline each Box on the k-th map of a figure with one pair of axes per map."""
    xref, yref, _, _ = _axis_names(k)
    for b in boxes:
        fig.add_shape(
            type="rect", xref=xref, yref=yref, x0=b.left - 0.5, x1=b.right + 0.5,
            y0=b.top - 0.5, y1=b.bottom + 0.5, line={"color": b.color, "width": b.width},
        )  # fmt: skip


def vector_strip(vector, title=None, boundaries=None, height=100) -> go.Figure:
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
        margin={"l": 10, "r": 10, "t": 30 if title else 5, "b": 30},  # b: the index ticks
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
    _run_traces(fig, rows, None, "")
    _run_traces(fig, previous or [], "dot", " (previous run)")
    fig.update_layout(_curves_layout(compact))
    _lr_mark_shapes(fig, lr_marks)
    last = max((r["epoch"] for r in [*rows, *(previous or [])]), default=0)
    if live or last > 15:  # fractions of an epoch, or too many epochs to number each one
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


def _run_traces(fig: go.Figure, run, dash, label: str) -> None:
    """One run's four curves: losses on the left panel, accuracies on the right, training blue
    and held-out red."""
    if not run:
        return
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


def _curves_layout(compact: bool) -> dict:
    """The two panels side by side (stacked when compact), their axes and the legend."""
    side = {"x": [0, 0.45], "x2": [0.55, 1], "y": [0, 1], "y2": [0, 1]}
    stacked = {"x": [0, 1], "x2": [0, 1], "y": [0.6, 1], "y2": [0, 0.4]}
    d = stacked if compact else side
    return {
        "height": 360 if compact else 340,
        "font": FONT,
        "showlegend": not compact,
        "margin": {"l": 40, "r": 10, "t": 20, "b": 30 if compact else 110},  # b: title, legend
        "xaxis": {"domain": d["x"], "title": None if compact else "epoch", "dtick": 1,
                  "anchor": "y"},
        "xaxis2": {"domain": d["x2"], "title": "epoch", "dtick": 1, "anchor": "y2"},
        "yaxis": {"domain": d["y"], "title": "loss", "rangemode": "tozero", "anchor": "x"},
        "yaxis2": {"domain": d["y2"], "title": "accuracy", "tickformat": ".0%", "anchor": "x2",
                   "range": [0, 1.02]},
        "legend": {"orientation": "h", "x": 0, "y": 0, "yref": "container", "yanchor": "bottom"},
    }  # fmt: skip


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
