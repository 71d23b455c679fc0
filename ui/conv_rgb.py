"""Convolution page, tab "RGB toy": the classic 6x6x3 colour image and two 3x3x3 filters at
stride 1. Each filter has one kernel slice per input channel; each slice meets its own channel's
patch, the three sums are added with the bias into one output cell, and the two filters give two
4x4 output maps (cnn_core.worked_examples.rgb_toy, numbers from cnn_core.ops)."""

from __future__ import annotations

import streamlit as st

from cnn_core import worked_examples as wx
from ui import figures, layout
from ui.conv_widgets import position

CHANNEL_SCALES = ("Reds", "Greens", "Blues")  # each input channel in its own colour


def _pick() -> tuple[int, int, int]:
    """Filter (output map), output row and column."""
    cols = st.columns(3)
    o = cols[0].radio("Filter", (0, 1), horizontal=True, key="conv_rgb_filter")
    row = position("RGB output row", "conv_rgb_row", 4, 0, cols[1])
    col = position("RGB output column", "conv_rgb_col", 4, 0, cols[2])
    return int(o), row, col


def _channel_row(toy: wx.RgbToy, c: int, o: int) -> None:
    """One input channel with the window, the filter's slice for it, and the slice's sum."""
    step, name = toy.step, wx.CHANNEL_NAMES[c]
    top, left, bottom, right = step.window
    cols = st.columns([3, 2, 2])
    window = f"the window, rows {top}-{bottom} and columns {left}-{right}, is outlined"
    layout.chart(
        cols[0], figures.annotated_grid(
            toy.image[c], f"{name} channel (6x6)", colorscale=CHANNEL_SCALES[c], digits=0,
            boxes=[figures.Box(top, left, bottom, right)], cell_px=30,
        ),
        f"conv_rgb_in_{c}", layout.grid_alt(f"{name} channel of the RGB toy", toy.image[c], window),
        toy.image[c], f"the {name} channel",
    )  # fmt: skip
    layout.chart(
        cols[1], figures.annotated_grid(toy.weight[o, c], f"filter {o}, {name} slice", digits=0),
        f"conv_rgb_w_{c}", layout.grid_alt(f"Filter {o}, {name} slice", toy.weight[o, c]),
        toy.weight[o, c], f"filter {o}'s {name} slice",
    )  # fmt: skip
    layout.chart(
        cols[2], figures.annotated_grid(step.products[c], f"{name}: patch x slice", digits=0),
        f"conv_rgb_p_{c}",
        layout.grid_alt(f"{name} patch x slice", step.products[c],
                        f"they add up to {step.channel_sums[c]:g}"),
        step.products[c], f"the {name} products",
    )  # fmt: skip
    st.caption(f"{name}: the products add up to **{step.channel_sums[c]:g}**.")


def _outputs(toy: wx.RgbToy, o: int, row: int, col: int) -> None:
    """The sum of the channel sums and the bias, and both output maps."""
    step = toy.step
    sums = " + ".join(f"{s:g}" if s >= 0 else f"({s:g})" for s in step.channel_sums)
    st.latex(
        rf"\text{{out}}[{o},{row},{col}] = \underbrace{{{sums}}}_{{R + G + B}} + "
        rf"\underbrace{{{step.bias:g}}}_{{b_{o}}} = {step.value:g}"
    )
    cols = st.columns(2)
    for k in range(2):
        boxes = [figures.Box(row, col, row, col)] if k == o else []
        chosen = f"cell ({row}, {col}) is outlined" if k == o else "no cell outlined"
        layout.chart(
            cols[k], figures.annotated_grid(
                toy.output[k], f"output map {k} (filter {k}, bias {toy.bias[k]:g})",
                boxes=boxes, digits=0,
            ),
            f"conv_rgb_out_{k}", layout.grid_alt(f"RGB toy output map {k}", toy.output[k], chosen),
            toy.output[k], f"output map {k}",
        )  # fmt: skip


def rgb_section() -> None:
    """The RGB toy: three channels, one kernel slice per channel, sums added, two output maps."""
    st.subheader("Colour toy: a 6x6 RGB image and two 3x3x3 filters")
    st.markdown(
        "A colour image has three input channels: red, green and blue. A filter for it has one "
        "3x3 kernel slice **per input channel** (3x3x3 weights). At each position every slice "
        "meets its own channel's patch, the three sums are **added** with the filter's bias into "
        "one number. Two filters make two output maps: **6x6x3 -> 4x4x2** at stride 1 "
        "(6 - 3 + 1 = 4)."
    )
    st.code(
        "F.conv2d(x, w, b, stride=1)  # x (1, 3, 6, 6), w (2, 3, 3, 3), b (2,) -> (1, 2, 4, 4)",
        language="python",
    )
    o, row, col = _pick()
    toy = wx.rgb_toy(o, row, col)
    for c in range(3):
        _channel_row(toy, c, o)
    _outputs(toy, o, row, col)
    st.caption(
        f"{toy.weight.size} weights and {toy.bias.size} biases: 2 filters x (3 x 3 x 3) + 2."
    )
