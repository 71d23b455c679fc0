"""Pure Plotly charts: bars, curves and the confusion matrix (plain arrays in, ``go.Figure`` out;
no streamlit, no torch). Maps and grids of numbers are in ui/figures.py."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from . import theme
from .figures import FONT, GRID_FONT_PX


def probability_bars(probabilities, class_names, highlight=None, title=None) -> go.Figure:
    """The class probabilities as bars, the predicted (or chosen) class highlighted."""
    p = np.asarray(probabilities, dtype=np.float64)
    highlight = int(np.argmax(p)) if highlight is None else highlight
    colours = ["#d62728" if k == highlight else "#9aa7b8" for k in range(len(p))]
    hatch = ["/" if k == highlight else "" for k in range(len(p))]  # not by colour alone
    fig = go.Figure(
        go.Bar(
            x=[str(c) for c in class_names],
            y=p,
            marker={"color": colours, "pattern": {"shape": hatch, "fgcolor": "#ffffff"}},
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


def probability_alt(probabilities, class_names, top: int = 3) -> str:
    """probability_bars in words: the classes and the most probable ones with their values."""
    p = np.asarray(probabilities, dtype=np.float64)
    order = np.argsort(-p, kind="stable")[:top]
    best = ", ".join(f"{class_names[k]} {p[k]:.1%}" for k in order)
    return (
        f"Bar chart of the probabilities of the {len(p)} classes; the predicted class is "
        f"{class_names[order[0]]} (hatched bar). Highest: {best}."
    )


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
            textfont={"size": GRID_FONT_PX},
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
    """The activation function as a curve, with a map's values plotted on it. Cells of equal
    value share one dot (a map's background is often hundreds of equal cells, and every dot is
    an element the browser draws)."""
    points = np.unique(
        np.stack([np.ravel(points_x), np.ravel(points_y)], axis=1).astype(np.float32), axis=0
    )
    fig = go.Figure(
        [
            go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"color": "#444"}),
            go.Scatter(
                x=points[:, 0],
                y=points[:, 1],
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
        fig.add_annotation(  # at the top of the plot, on a white ground: never among the bars
            x=index, y=1, yref="paper", yanchor="top", xanchor="left" if index < v.size / 2 else
            "right", text=f" i = {index} ", showarrow=False, bgcolor="rgba(255,255,255,0.9)",
        )  # fmt: skip
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
