"""Picking a cell of a map by clicking it, beside the sliders that stay the keyboard path.

A click on a ``go.Heatmap`` returns no selection in Streamlit 1.67, so ``add_markers`` lays an
invisible square ``go.Scatter`` marker over every cell, its customdata the cell's (row, col)
(after any fixed ``prefix``, e.g. a channel). The page draws the chart with
``st.plotly_chart(fig, key=..., on_select="rerun", selection_mode="points")`` and, at the START
of the next run, before its sliders are drawn, calls ``apply`` (or ``take``): a click not applied
before sets the sliders' keys and runs the app again (the sidebar's share link is drawn before
the page: the second run's link holds the new cell). The click applied last is remembered per chart
(``state.CELL_PICKS``), because the chart keeps reporting its selection on every later run: a
slider moved after a click is not put back. The pick lives in the sliders' keys, which are
shareable settings (ui/pages.py), so it goes into share links; Streamlit drops a widget's value
when a run does not draw it (another page), so ``keep`` copies those keys on every run of their
page (``state.PICKED``) and puts them back on the first run after a page switch.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from . import state

PICK = {"on_select": "rerun", "selection_mode": "points"}  # st.plotly_chart's click arguments
HOVER = "row %{y}, col %{x}<br>value %{text}<br>click to pick this cell<extra></extra>"


def add_markers(fig: go.Figure, values, *, size_px: float | None = None, first: float = 0.0,
                step: float = 1.0, prefix=(), customdata=None, hovertemplate=None,
                xref: str = "x", yref: str = "y") -> go.Figure:  # fmt: skip
    """Lay an invisible square marker over every cell of the (h, w) map ``values`` drawn in
    ``fig`` (cell (r, c) centred at first + c*step, first + r*step on axes xref/yref).

    customdata: [*prefix, r, c] per cell unless given as (h, w, k) with the row and column
    first. size_px: a marker's side (default: the grid's cell size read from the layout);
    a larger marker is harmless, the nearest one takes the click."""
    z = np.asarray(values, dtype=np.float32)  # (h, w)
    rows, cols = np.indices(z.shape)
    if customdata is None:
        fixed = [np.full(z.shape, v) for v in prefix]
        customdata = np.stack([*fixed, rows, cols], axis=-1)
    size = size_px or _cell_px(fig, z.shape[0])
    fig.add_trace(
        go.Scatter(
            x=(first + cols * step).ravel(), y=(first + rows * step).ravel(),
            xaxis=xref, yaxis=yref, mode="markers",
            customdata=np.asarray(customdata).reshape(z.size, -1),
            text=[f"{v:.5g}" for v in z.ravel()], hovertemplate=hovertemplate or HOVER,
            marker={"symbol": "square", "size": size, "opacity": 0}, showlegend=False,
        )
    )  # fmt: skip
    fig.update_layout(clickmode="event+select", dragmode=False)  # "select" breaks clicks
    _pin_axes(fig, z.shape, first, step, xref, yref)
    return fig


def _pin_axes(fig: go.Figure, shape, first: float, step: float, xref: str, yref: str) -> None:
    """Fix the axes to the map's cells: on autorange, Plotly widens an axis to fit the markers'
    pixel size, which drew a 2x2 map in the middle of axes from -1 to 2 (cells a third of their
    size, their numbers on top of each other; test_browser_layout)."""
    h, w = shape
    x_axis, y_axis = f"xaxis{xref[1:]}", f"yaxis{yref[1:]}"
    x_range = [first - step / 2, first + (w - 0.5) * step]
    y_range = [first - step / 2, first + (h - 0.5) * step]
    shown = fig.layout[y_axis].range  # rows downwards by a descending range (attribution_view)
    if fig.layout[y_axis].autorange == "reversed" or (shown is not None and shown[0] > shown[1]):
        y_range = y_range[::-1]
    fig.layout[x_axis].update(range=x_range, autorange=False)
    fig.layout[y_axis].update(range=y_range, autorange=False)


def _cell_px(fig: go.Figure, rows: int) -> float:
    """A square grid's cell size: its plot height (figure height minus margins) over its rows."""
    layout = fig.layout
    plot = (layout.height or 400) - (layout.margin.t or 0) - (layout.margin.b or 0)
    return max(plot / max(rows, 1), 6.0)


def clicked(selection, shape) -> tuple[int, ...] | None:
    """The cell clicked in a chart's selection state (PlotlyState, a dict), as the first
    len(shape) numbers of its customdata, if each is a whole number inside ``shape``."""
    points = (selection or {}).get("selection", {}).get("points", [])
    if not points:
        return None
    data = points[0].get("customdata")
    if isinstance(data, dict):  # Chromium sends an array's items keyed "0", "1", ...
        data = [data.get(str(i)) for i in range(len(shape))]
    if not isinstance(data, (list, tuple)) or len(data) < len(shape):
        return None
    cell = []
    for value, size in zip(data, shape, strict=False):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is not int or not 0 <= value < size:
            return None
        cell.append(value)
    return tuple(cell)


def take(chart_key: str, shape) -> tuple[int, ...] | None:
    """A click on chart ``chart_key`` not applied before, else None. Call it before the
    sliders are drawn. An empty selection forgets the chart's last click (clicking the chosen
    cell again clears Plotly's selection, and the next click on it counts anew)."""
    seen = st.session_state.setdefault(state.CELL_PICKS, {})
    selection = st.session_state.get(chart_key)
    if not (selection or {}).get("selection", {}).get("points"):
        seen.pop(chart_key, None)
        return None
    cell = clicked(selection, shape)
    if cell is None or seen.get(chart_key) == cell:
        return None
    seen[chart_key] = cell
    return cell


def keep(widget_keys) -> None:
    """At the start of a run of their page: copy the pickers' values, or put the copies back
    when Streamlit dropped the keys (the page was not drawn on the last run)."""
    kept = st.session_state.setdefault(state.PICKED, {})
    for key in widget_keys:
        if key in st.session_state:
            kept[key] = st.session_state[key]
        elif key in kept:
            st.session_state[key] = kept[key]


def apply(chart_keys, widget_keys, shape) -> None:
    """Set ``widget_keys`` (e.g. the row and column sliders' keys) from a new click on any of
    ``chart_keys`` and run the app again (``rerun``); without a new click, do nothing. Call it
    before the sliders are drawn (it also ``keep``s the keys)."""
    keep(widget_keys)
    for chart_key in [chart_keys] if isinstance(chart_keys, str) else chart_keys:
        cell = take(chart_key, shape)
        if cell is not None:
            for key, value in zip(widget_keys, cell, strict=True):
                st.session_state[key] = st.session_state[state.PICKED][key] = value
            rerun()
    return None


def rerun() -> None:
    """Run the app again after a click set the pickers: the sidebar's share link, drawn before
    the page, then holds the new cell too (a slider's value is set before the run starts)."""
    st.rerun()
