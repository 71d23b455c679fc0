"""A chosen cell's receptive field across layers: the input pixels it sees and, on every map
between the input and its stage, the cells it depends on (cnn_core.attribution.field_on), drawn
as outlines on one figure and said in words under it (colour is not the only encoding)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnn_core import attribution

from . import figures, layout, theme

Bounds = tuple[int, int, int, int]  # inclusive (top, left, bottom, right)


def path(config, stage: str) -> list[str]:
    """The conv, activation and pool stages from the first one up to ``stage`` (included)."""
    names = [name for name, _, _ in attribution.spatial_stages(config)]
    return names[: names.index(stage) + 1]


def region_bounds(config, stage: str, rect: Bounds) -> dict[str, Bounds]:
    """What the cells rows top..bottom, columns left..right of ``stage``'s maps depend on: their
    bounds on the input and on every stage up to ``stage`` (on ``stage`` itself: ``rect``).
    Fields grow with the row and column, so the union of the cells' fields runs from the
    top-left cell's top-left corner to the bottom-right cell's bottom-right one."""
    top, left, bottom, right = rect
    found = {}
    for source in ["input", *path(config, stage)]:
        if source == stage:
            found[source] = tuple(rect)
            continue
        t, l_, _, _ = attribution.field_on(config, stage, top, left, source)
        _, _, b, r = attribution.field_on(config, stage, bottom, right, source)
        found[source] = (t, l_, b, r)
    return found


def cell_bounds(config, stage: str, row: int, col: int) -> dict[str, Bounds]:
    """region_bounds of one cell: on the input this is attribution.receptive_field."""
    return region_bounds(config, stage, (row, col, row, col))


def is_empty(bounds: Bounds) -> bool:
    """A field that holds only padding (no cell of the map)."""
    return bounds[0] > bounds[2] or bounds[1] > bounds[3]


def words(bounds: Bounds) -> str:
    """'rows 3-10, columns 5-12' ('row 3' for one), or what an empty field means."""
    if is_empty(bounds):
        return "only padding, no cell"
    top, left, bottom, right = bounds
    rows = f"row {top}" if top == bottom else f"rows {top}-{bottom}"
    return rows + (f", column {left}" if left == right else f", columns {left}-{right}")


def caption(what: str, bounds: dict[str, Bounds]) -> str:
    """The field in words: the input region, its size, then every map between."""
    seen = bounds["input"]
    size = "" if is_empty(seen) else f" ({seen[2] - seen[0] + 1} x {seen[3] - seen[1] + 1} pixels)"
    text = f"{what} sees input {words(seen)}{size}"
    between = [f"{name} {words(b)}" for name, b in list(bounds.items())[1:-1]]
    if between:
        text += "; on the maps between, it depends on " + "; ".join(between)
    return text + "."


def path_maps(trace, sources, stage: str, channel: int):
    """One 2-D map per source: the input, the chosen channel of the stages of ``stage``'s block
    (activation and pooling work channel by channel) and, for earlier blocks, whose every
    channel counts, the mean over the channels. Returns (maps, titles)."""
    maps, titles = [], []
    for source in sources:
        out = trace.stage(source).output  # (C, H, W)
        if source == "input":
            maps.append(out.mean(axis=0))
            titles.append("input")
        elif source[-1] == stage[-1]:  # conv2, act2, pool2: block 2
            maps.append(out[channel])
            titles.append(f"{source} ch {channel}")
        else:
            maps.append(out.mean(axis=0))
            titles.append(f"{source} (mean of {out.shape[0]} ch)")
    return maps, titles


def figure(trace, bounds: dict[str, Bounds], stage: str, channel: int):
    """The maps from the input to ``stage``, each with its field outlined."""
    maps, titles = path_maps(trace, list(bounds), stage, channel)
    boxes = [[] if is_empty(b) else [figures.Box(*b)] for b in bounds.values()]
    ranges = [(0.0, 1.0)] + [None] * (len(maps) - 1)
    scales = [theme.IMAGE] + [None] * (len(maps) - 1)
    return figures.field_maps(maps, titles, boxes, ranges, scales, ncols=4, cell_px=150)


def show(trace, config, stage: str, rect: Bounds, channel: int, what: str, key: str) -> dict:
    """The section: a heading and the field in words, then the figure in an expander drawn only
    while it is open (a Plotly chart less when the page opens); returns the bounds per stage."""
    bounds = region_bounds(config, stage, rect)
    st.markdown(f"**Receptive field across layers** · {what}")
    st.caption(
        caption(what, bounds) + " In the figure: orange outlines, on the input the pixels it "
        "sees, on each map between the cells it depends on (any channel). Maps of earlier "
        "blocks show the mean over their channels, since every channel counts."
    )
    box = st.expander(
        "Show the maps from the input on, the field outlined", key=f"{key}_open",
        on_change="rerun",
    )  # fmt: skip
    if not box.open:
        return bounds
    maps, titles = path_maps(trace, list(bounds), stage, channel)
    alt = f"{len(maps)} maps from the input to {stage}, the field outlined on each: " + ", ".join(
        f"{t} {np.shape(m)[0]}x{np.shape(m)[1]} {words(b)}"
        for t, m, b in zip(titles, maps, bounds.values(), strict=True)
    )
    with box:
        st.plotly_chart(figure(trace, bounds, stage, channel), key=key, alt=alt)
        layout.numbers_table(
            maps, key, "the maps from the input on", titles, open_key=f"{key}_table"
        )
    return bounds
