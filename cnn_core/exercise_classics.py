"""The classic worked examples (cnn_core.worked_examples) as ready exercises: the inputs are the
tutorials', every answer is the teaching ops' (a seed only picks which cell is asked)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import ops
from . import worked_examples as wx
from .exercise_kinds import products_text
from .exercise_source import FROM_CLASSIC
from .exercises import Exercise, num, register


def classic(name: str, label: str):
    """Register a classic example's generator (rng -> Exercise): the tutorial's own numbers,
    whatever the learner drew, so the Source is not used."""

    def add(make):
        register(name, label)(lambda rng, _source: replace(make(rng), origin=FROM_CLASSIC))
        return make

    return add


@classic("smiley_conv", "Classic: the 7x7 image and the 3x3 feature detector")
def smiley_conv(rng: np.random.Generator) -> Exercise:
    """One cell of the 5x5 feature map of the 7x7 binary image."""
    row, col = (int(v) for v in rng.integers(0, 5, size=2))
    step = ops.conv2d_at(wx.SMILEY[None], wx.DETECTOR[None, None], None, 1, 0, 0, row, col)
    prompt = (
        "The 3x3 feature detector slides over the 7x7 binary image with stride 1 and no padding, "
        f"making a 5x5 feature map (7 − 3 + 1 = 5). What is feature-map cell ({row}, {col})?"
    )
    solution = (
        f"The detector covers image rows {row}..{row + 2} and columns {col}..{col + 2}: "
        f"Σ patch·detector = {products_text(step.patch, step.kernel)} = **{num(step.value)}** "
        "(the number of 1s of the image that fall on 1s of the detector)."
    )
    grids = (("input image (7x7)", wx.SMILEY), ("feature detector (3x3)", wx.DETECTOR))
    return Exercise("smiley_conv", prompt, step.value, solution, "number", 0.0, grids)


@classic("mnist_size", "Classic: 28x28 input, kernel 5, padding 1, stride 1")
def mnist_size(rng: np.random.Generator) -> Exercise:
    """The output side of a 28x28 input with kernel 5, padding 1, stride 1 (the seed is unused)."""
    side = wx.mnist_size()[0]
    prompt = (
        "A 28x28 input goes through a convolution with a 5x5 kernel, padding 1 and stride 1. "
        "What is the output's height (and width)?"
    )
    solution = (
        f"H_out = ⌊(H + 2p − k) / s⌋ + 1 = ⌊(28 + 2·1 − 5) / 1⌋ + 1 = 25 + 1 = **{side}**, so "
        f"the output is {side}x{side} (padding 2 would keep 28x28)."
    )
    return Exercise("mnist_size", prompt, side, solution, "size")


@classic("rgb_cell", "Classic: a 6x6 RGB image and two 3x3x3 filters")
def rgb_cell(rng: np.random.Generator) -> Exercise:
    """One cell of the 4x4x2 output: the three channel sums added, plus the filter's bias."""
    o, row, col = int(rng.integers(2)), *(int(v) for v in rng.integers(0, 4, size=2))
    toy = wx.rgb_toy(o, row, col)
    step = toy.step
    prompt = (
        f"Filter {o} (3x3x3, bias {num(step.bias)}) slides over the 6x6x3 RGB image with stride "
        f"1: two filters give a 4x4x2 output. What is cell ({row}, {col}) of output map {o}? "
        "Each kernel slice meets its own channel's patch; the three sums are added."
    )
    sums = " + ".join(num(s) for s in step.channel_sums)
    per_channel = "; ".join(
        f"{name}: {products_text(step.patch[c], step.kernel[c])} = {num(step.channel_sums[c])}"
        for c, name in enumerate(wx.CHANNEL_NAMES)
    )
    solution = f"{per_channel}. out = {sums} + bias {num(step.bias)} = **{num(step.value)}**."
    grids = tuple(
        (f"{name} patch (rows {row}..{row + 2}, columns {col}..{col + 2})", step.patch[c])
        for c, name in enumerate(wx.CHANNEL_NAMES)
    ) + tuple(
        (f"filter {o}, {name} slice", step.kernel[c]) for c, name in enumerate(wx.CHANNEL_NAMES)
    )
    return Exercise("rgb_cell", prompt, step.value, solution, "number", 0.0, grids)


@classic("smiley_pool", "Classic: 2x2 max pooling of the 5x5 feature map")
def smiley_pool(rng: np.random.Generator) -> Exercise:
    """A cell of the 3x3 pooled map (stride 2, partial windows kept), often a partial one."""
    example = wx.smiley()
    row, col = (int(v) for v in rng.integers(0, 3, size=2))
    if rng.random() < 0.5:
        row = 2  # the bottom row: windows of one row only
    top, left = 2 * row, 2 * col
    cells = example.feature_map[top : top + 2, left : left + 2]
    prompt = (
        "The 5x5 feature map is max-pooled with a 2x2 window and stride 2, keeping the partial "
        f"windows at the right and bottom edges (ceil_mode), so the result is 3x3. What is "
        f"pooled cell ({row}, {col})?"
    )
    part = " (a partial window)" if cells.size < 4 else ""
    values = ", ".join(num(v) for v in cells.ravel())
    solution = (
        f"The window covers rows {top}..{top + cells.shape[0] - 1} and columns "
        f"{left}..{left + cells.shape[1] - 1}{part}: max({values}) "
        f"= **{num(example.pooled[row, col])}**."
    )
    grids = (("feature map (5x5)", example.feature_map),)
    return Exercise(
        "smiley_pool", prompt, float(example.pooled[row, col]), solution, "number", 0.0, grids
    )


@classic("smiley_flat", "Classic: flatten the 3x3 pooled map by rows")
def smiley_flat(rng: np.random.Generator) -> Exercise:
    """The value at position i of the pooled map flattened row by row."""
    example = wx.smiley()
    i = int(rng.integers(9))
    row, col = divmod(i, 3)
    prompt = (
        "The 3x3 pooled map is flattened by rows into a vector of 9 values (positions 0 to 8). "
        f"Which value is at position {i}?"
    )
    solution = (
        f"By rows, position i = row·3 + column, so {i} = {row}·3 + {col}: row {row}, column "
        f"{col}, value **{num(example.flat[i])}**. The whole vector is "
        f"({', '.join(num(v) for v in example.flat)})."
    )
    grids = (("pooled map (3x3)", example.pooled),)
    return Exercise("smiley_flat", prompt, float(example.flat[i]), solution, "number", 0.0, grids)
