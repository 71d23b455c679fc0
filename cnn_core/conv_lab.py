"""The convolution page's experiments: the toy playground, a kernel on the input, a filter edit.

Pure maths for app_pages/page_convolution.py: the output-size formula with its parts, padding made
visible, a hand-made kernel applied to the current input, and a copy of a model with one
first-layer filter replaced (the shared default model is never touched).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import ops
from .model import CNN
from .toy import TOY_KERNEL
from .trace import Trace

# ----------------------------------------------------------------------------------------------
# Output size, with every term of the formula


@dataclass(frozen=True)
class OutputSize:
    """floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1 along one axis
    (ceil instead of floor with ceil_mode, as pooling may use)."""

    size: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    span: int  # dilation * (kernel_size - 1) + 1: input cells one window covers
    numerator: int  # size + 2*padding - span
    out: int  # PyTorch's output length: numerator // stride + 1 (rounded up with ceil_mode)
    leftover: int  # padded cells after the last window that no window reaches (numerator % stride)
    ceil_mode: bool = False  # round up: keep a last window that hangs past the edge
    by_formula: int = 0  # the formula's value: with ceil_mode one more than out when the last
    #   window would start past the input (PyTorch drops that window)


def output_size(
    size: int, kernel_size: int, stride=1, padding=0, dilation=1, ceil_mode=False
) -> OutputSize:
    """The output length along one axis and the terms of the formula; ValueError (from
    ops.conv_output_size) when the kernel does not fit in the padded input."""
    out = ops.conv_output_size(size, kernel_size, stride, padding, dilation, ceil_mode)
    span = dilation * (kernel_size - 1) + 1
    numerator = size + 2 * padding - span
    by_formula = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    return OutputSize(
        size, kernel_size, stride, padding, dilation, span, numerator, out, numerator % stride,
        bool(ceil_mode), by_formula,
    )  # fmt: skip


def pad_map(x, padding: int) -> np.ndarray:
    """Zero padding around a (H, W) or (C, H, W) map, as nn.Conv2d applies it."""
    x = np.asarray(x)
    p = ops._one_int("padding", padding, 0)
    width = ((p, p), (p, p)) if x.ndim == 2 else ((0, 0), (p, p), (p, p))
    return np.pad(x, width)  # (H+2p, W+2p) or (C, H+2p, W+2p)


# ----------------------------------------------------------------------------------------------
# The toy playground: one image, one kernel, any stride / padding / dilation


@dataclass(frozen=True)
class Playground:
    """One 2-D image convolved with one 2-D kernel (no bias)."""

    image: np.ndarray  # (H, W)
    kernel: np.ndarray  # (kH, kW)
    stride: int
    padding: int
    dilation: int
    rows: OutputSize  # the formula along the height
    cols: OutputSize  # the formula along the width
    padded: np.ndarray  # (H + 2p, W + 2p) the image with its zero border
    output: np.ndarray  # (H_out, W_out)

    def step(self, row: int, col: int) -> ops.ConvStep:
        """Output cell (row, col) worked out: patch, products, sum."""
        return ops.conv2d_at(
            self.image[None], self.kernel[None, None], None,
            self.stride, self.padding, 0, row, col, self.dilation,
        )  # fmt: skip


def playground(image, kernel, stride=1, padding=0, dilation=1) -> Playground:
    """Convolve a 2-D image with a 2-D kernel; ValueError explaining any invalid choice."""
    image, kernel = np.asarray(image, np.float64), np.asarray(kernel, np.float64)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("the toy image and kernel must both be 2-D grids")
    rows = output_size(image.shape[0], kernel.shape[0], stride, padding, dilation)
    cols = output_size(image.shape[1], kernel.shape[1], stride, padding, dilation)
    out = ops.conv2d(image[None], kernel[None, None], None, stride, padding, dilation)
    return Playground(
        image, kernel, stride, padding, dilation, rows, cols, pad_map(image, padding), out[0]
    )


def toy_kernel(k: int) -> np.ndarray:
    """The toy kernel of side k: the shared toy X for 3, 1s on both diagonals otherwise."""
    if k == TOY_KERNEL.shape[0]:
        return TOY_KERNEL.copy()
    eye = np.eye(ops._one_int("kernel size", k, 1), dtype=np.float32)  # (k, k)
    return np.maximum(eye, eye[::-1])


# ----------------------------------------------------------------------------------------------
# A hand-made kernel on the current input


def apply_kernel(image, kernel) -> np.ndarray:
    """A 2-D kernel over a 2-D image with 'same' padding ((k - 1) // 2 per side), no bias:
    a 28x28 digit and a 3x3 kernel give a 28x28 map."""
    image, kernel = np.asarray(image), np.asarray(kernel)
    if image.ndim != 2 or kernel.ndim != 2:
        raise ValueError("apply_kernel takes a 2-D image and a 2-D kernel")
    padding = ((kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2)
    return ops.conv2d(image[None], kernel[None, None], None, 1, padding)[0]  # (H', W')


# ----------------------------------------------------------------------------------------------
# Replacing one first-layer filter, on a copy


def _conv(model: CNN, layer: str) -> nn.Conv2d:
    module = model.stages[layer] if layer in model.stages else None  # noqa: SIM401 (ModuleDict)
    if not isinstance(module, nn.Conv2d):
        raise ValueError(f"{layer!r} is not a conv stage of this model")
    return module


def filter_edit_problem(model: CNN, kernel_shape: tuple[int, ...], layer: str = "conv1"):
    """Why a kernel of this shape cannot replace a filter of ``layer``, or None when it can."""
    conv = _conv(model, layer)
    k = conv.kernel_size
    if conv.in_channels != 1:
        return (
            f"{layer} reads {conv.in_channels} input channels, so each of its filters is "
            f"{conv.in_channels} grids deep; the editor makes one grid."
        )
    if tuple(kernel_shape) != tuple(k):
        return (
            f"{layer}'s filters are {k[0]}x{k[1]} but the edited kernel is "
            f"{'x'.join(str(n) for n in kernel_shape)}."
        )
    return None


def replace_filter(model: CNN, out_channel: int, kernel, layer: str = "conv1") -> CNN:
    """A new CNN equal to ``model`` except filter ``out_channel`` of ``layer``, which becomes
    ``kernel`` (the bias is kept). ``model`` itself is never changed."""
    kernel = np.asarray(kernel, dtype=np.float32)
    problem = filter_edit_problem(model, kernel.shape, layer)
    if problem:
        raise ValueError(problem)
    if not np.all(np.isfinite(kernel)):
        raise ValueError("the kernel contains NaN or infinite values")
    out_channels = _conv(model, layer).out_channels
    ops._check_index("out_channel", out_channel, out_channels)
    edited = copy.deepcopy(model)
    edited.eval()
    with torch.no_grad():
        _conv(edited, layer).weight[out_channel, 0] = torch.from_numpy(kernel)
    return edited


def stage_changes(before: Trace, after: Trace) -> list[tuple[str, tuple[int, ...], float]]:
    """(stage, shape, largest |after - before|) for every stage after the input: one input
    through two models of the same architecture (before and after a filter edit)."""
    if before.names != after.names:
        raise ValueError("the two traces come from models with different stages")
    return [
        (a.name, a.shape, float(np.max(np.abs(b.output - a.output))))
        for a, b in zip(after.stages[1:], before.stages[1:], strict=True)
    ]
