"""The classic worked examples of CNN tutorials, with every number computed by cnn_core.ops.

Published versions of these examples sometimes carry arithmetic slips; here only the inputs are
written by hand, and every result (feature map, pooled map, flattened vector, output sizes,
the RGB toy's maps) is what the teaching ops, tested against PyTorch, return.

- ``SMILEY`` (7x7 binary image) with the 3x3 ``DETECTOR`` -> a 5x5 feature map; 2x2 max pooling
  with stride 2 and partial windows (ceil_mode) -> 3x3; flattened by rows -> 9 values.
- A 28x28 input with kernel 5, padding 1, stride 1 -> 26x26.
- ``RGB_IMAGE`` (6x6 with 3 channels) with two 3x3x3 ``RGB_FILTERS`` at stride 1 -> 4x4x2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ops
from .toy import picture

# The 7x7 binary image (a smiling face) of the classic feature-detector example.
SMILEY = picture(
    "0000000",
    "0100010",
    "0000000",
    "0001000",
    "0100010",
    "0011100",
    "0000000",
)
DETECTOR = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 1]], dtype=np.float32)  # the 3x3 feature detector

# A 6x6 RGB image, channels first (3, 6, 6): small whole numbers a learner can add by hand.
RGB_IMAGE = np.stack(
    [
        picture("102100", "011210", "210012", "120101", "012120", "101011"),  # R
        picture("011021", "102101", "021110", "201021", "110202", "021110"),  # G
        picture("210110", "121001", "002121", "110210", "201012", "112100"),  # B
    ]
)
# Two filters of shape 3x3x3, stored as PyTorch does: (C_out=2, C_in=3, kH=3, kW=3).
RGB_FILTERS = np.array(
    [
        [  # filter 0: a vertical-edge detector on R, a centre on G, a diagonal on B
            [[1, 0, -1], [1, 0, -1], [1, 0, -1]],
            [[0, 0, 0], [0, 1, 0], [0, 0, 0]],
            [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
        ],
        [  # filter 1: a horizontal-edge detector on G, the opposite diagonal on B
            [[0, 0, 0], [0, 0, 0], [0, 0, 0]],
            [[1, 1, 1], [0, 0, 0], [-1, -1, -1]],
            [[0, 0, 1], [0, 1, 0], [1, 0, 0]],
        ],
    ],
    dtype=np.float32,
)
RGB_BIAS = np.array([1.0, 0.0], dtype=np.float32)  # one bias per filter
CHANNEL_NAMES = ("R", "G", "B")


@dataclass(frozen=True)
class Smiley:
    """The 7x7 example, stage by stage."""

    image: np.ndarray  # (7, 7)
    detector: np.ndarray  # (3, 3)
    feature_map: np.ndarray  # (5, 5) conv2d, stride 1, no padding, no bias
    pooled: np.ndarray  # (3, 3) max_pool2d(2, stride 2, ceil_mode=True): partial windows kept
    flat: np.ndarray  # (9,) the pooled map flattened by rows


def smiley() -> Smiley:
    """The 7x7 binary image through the 3x3 detector, 2x2 max pooling (stride 2, partial
    windows kept) and flattening by rows, with the teaching ops."""
    feature = ops.conv2d(SMILEY[None], DETECTOR[None, None])[0]  # (5, 5)
    pooled = ops.max_pool2d(feature[None], 2, 2, ceil_mode=True)[0]  # (3, 3)
    return Smiley(SMILEY, DETECTOR, feature, pooled, ops.flatten(pooled[None]))


def mnist_size() -> tuple[int, int]:
    """A 28x28 input, kernel 5, padding 1, stride 1: the output's (height, width)."""
    side = ops.conv_output_size(28, 5, stride=1, padding=1)
    return side, side


@dataclass(frozen=True)
class RgbToy:
    """The 6x6x3 image and two 3x3x3 filters: one cell worked out channel by channel."""

    image: np.ndarray  # (3, 6, 6)
    weight: np.ndarray  # (2, 3, 3, 3)
    bias: np.ndarray  # (2,)
    output: np.ndarray  # (2, 4, 4): one map per filter
    step: ops.ConvStep  # the chosen cell: patch, kernel slices, per-channel sums, value


def rgb_toy(out_channel: int = 0, row: int = 0, col: int = 0) -> RgbToy:
    """The RGB example at stride 1 without padding, and output cell (out_channel, row, col)."""
    output = ops.conv2d(RGB_IMAGE, RGB_FILTERS, RGB_BIAS)
    step = ops.conv2d_at(RGB_IMAGE, RGB_FILTERS, RGB_BIAS, 1, 0, out_channel, row, col)
    return RgbToy(RGB_IMAGE, RGB_FILTERS, RGB_BIAS, output, step)
