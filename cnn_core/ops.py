"""NumPy teaching versions of the operations a CNN is made of.

Every function works on a single image, channels first, and is named and ordered like
``torch.nn.functional`` so that a learner (and the tests) can compare the two one to one:

    x       (C, H, W)            one image with C channels
    weight  (C_out, C_in, kH, kW) a bank of C_out filters

The code favours the form a learner can follow over speed: windows are cut out of the padded
input and multiplied element-wise with the kernel, exactly as the pages draw it. Every argument is
validated; a bad one raises ``ValueError`` with a sentence that says what to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from .activations import (  # noqa: F401  (re-exported: ops.relu ... as torch.nn.functional)
    ACTIVATIONS,
    Activation,
    activation,
    activation_named,
    leaky_relu,
    relu,
    sigmoid,
    tanh,
)

# ----------------------------------------------------------------------------------------------
# Argument checks (shared by every op)


def _int_pair(name: str, value, minimum: int) -> tuple[int, int]:
    """Return (v, v) or the pair itself, checking every entry is an integer >= minimum."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be one integer or a pair of integers, got {value!r}")
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, Integral):
            raise ValueError(f"{name} must be a whole number, got {v!r}")
        if v < minimum:
            kind = "a positive integer" if minimum == 1 else "a non-negative integer"
            raise ValueError(f"{name} must be {kind}, got {v}")
    return int(pair[0]), int(pair[1])


def _as_image(x, name: str = "x") -> np.ndarray:
    """Check x is a finite (C, H, W) array and return it as a float array."""
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(
            f"{name} must be a 3-D array (channels, height, width); got shape {x.shape}"
        )
    if min(x.shape) == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); every dimension must be at least 1")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got dtype {x.dtype}")
    return x.astype(np.result_type(x.dtype, np.float32), copy=False)


def check_number(name: str, value, low, high, *, whole: bool = True, low_open: bool = False):
    """ValueError unless value is a (whole) finite number with low <= value <= high (low < value
    when low_open). The range check of every config field (ModelConfig, TrainConfig)."""
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        raise ValueError(f"{name} must be a {'whole number' if whole else 'number'}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if low_open and not low < value <= high:
        raise ValueError(f"{name} must be more than {low} and at most {high}, got {value}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value}")


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(
            f"{name} contains NaN or infinite values; every entry must be a finite number"
        )


def _check_kernel_fits(kernel: tuple[int, int], padded: tuple[int, int], dilation=(1, 1)):
    """Raise if the (dilated) kernel does not fit in the padded input."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if span[0] > padded[0] or span[1] > padded[1]:
        what = "dilated kernel spans" if max(dilation) > 1 else "kernel"
        raise ValueError(
            f"{what} {span[0]}x{span[1]} is larger than the padded input "
            f"{padded[0]}x{padded[1]}; use a smaller kernel or more padding"
        )


# ----------------------------------------------------------------------------------------------
# Output size


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode=False) -> int:
    """Output length along one axis, with PyTorch's formula.

    floor((size + 2*padding - dilation*(kernel_size - 1) - 1) / stride) + 1, or ceil with
    ceil_mode, where (as in PyTorch) the last window must start inside the input or the left
    padding, otherwise it is dropped.
    """
    size, k = _one_int("size", size, 1), _one_int("kernel_size", kernel_size, 1)
    s, p = _one_int("stride", stride, 1), _one_int("padding", padding, 0)
    d = _one_int("dilation", dilation, 1)
    span = d * (k - 1) + 1  # how many input cells one window covers
    numerator = size + 2 * p - span
    out = (-(-numerator // s) if ceil_mode else numerator // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1  # the last window would start in the right padding only
    if out < 1:
        raise ValueError(
            f"kernel {span} (kernel_size {k}, dilation {d}) is larger than the padded input "
            f"{size + 2 * p} (size {size} + 2 x padding {p}): the output would be empty"
        )
    return out


def _one_int(name: str, value, minimum: int) -> int:
    """One whole number for one axis (a pair here would be half ignored, so it is refused)."""
    if isinstance(value, (tuple, list)):
        raise ValueError(f"{name} must be a whole number for one axis, got {value!r}")
    return _int_pair(name, value, minimum)[0]


# ----------------------------------------------------------------------------------------------
# Convolution


@dataclass(frozen=True)
class ConvStep:
    """The whole story of one output cell of a convolution."""

    out_channel: int
    row: int  # output row
    col: int  # output column
    rows: np.ndarray  # (kH,) input rows the kernel rows land on (negative / >= H: padding)
    cols: np.ndarray  # (kW,) input columns the kernel columns land on
    patch: np.ndarray  # (C_in, kH, kW) the input values under the kernel (padding is 0)
    kernel: np.ndarray  # (C_in, kH, kW) the filter weights
    products: np.ndarray  # (C_in, kH, kW) patch * kernel, element-wise
    channel_sums: np.ndarray  # (C_in,) the sum of the products of each input channel
    bias: float
    value: float  # channel_sums.sum() + bias

    @property
    def window(self) -> tuple[int, int, int, int]:
        """(top, left, bottom, right) in input coordinates, bottom/right inclusive."""
        return int(self.rows[0]), int(self.cols[0]), int(self.rows[-1]), int(self.cols[-1])


def _check_conv_args(x, weight, bias, stride, padding, dilation):
    """Validate a convolution's arguments; return them in a normal form."""
    x = _as_image(x)
    weight = np.asarray(weight)
    if weight.ndim != 4:
        raise ValueError(
            "weight must be a 4-D array (out_channels, in_channels, kernel_height, kernel_width); "
            f"got shape {weight.shape}"
        )
    if weight.shape[1] != x.shape[0]:
        raise ValueError(
            f"input has {x.shape[0]} channel(s) but the kernel expects {weight.shape[1]}"
        )
    if min(weight.shape) == 0:
        raise ValueError(f"weight is empty (shape {weight.shape})")
    _check_finite("kernel", weight)
    _check_finite("input", x)
    if bias is not None:
        bias = np.asarray(bias)
        if bias.shape != (weight.shape[0],):
            raise ValueError(
                f"bias must have one value per output channel ({weight.shape[0]}), "
                f"got shape {bias.shape}"
            )
        _check_finite("bias", bias)
    stride, padding = _int_pair("stride", stride, 1), _int_pair("padding", padding, 0)
    dilation = _int_pair("dilation", dilation, 1)
    padded = (x.shape[1] + 2 * padding[0], x.shape[2] + 2 * padding[1])
    _check_padded_size(padded, padding)
    _check_kernel_fits(weight.shape[2:], padded, dilation)
    return x, weight.astype(np.float64), bias, stride, padding, dilation


MAX_PADDED_SIDE = 1024  # the teaching ops work on maps of at most this many cells a side


def _check_padded_size(padded: tuple[int, int], padding: tuple[int, int]) -> None:
    """Refuse padding that would blow a map up beyond what a page can show or memory can hold."""
    if max(padded) > MAX_PADDED_SIDE:
        raise ValueError(
            f"padding {max(padding)} would make a {padded[0]}x{padded[1]} map; the padded input "
            f"may be at most {MAX_PADDED_SIDE} cells a side"
        )


def _pad(x: np.ndarray, padding: tuple[int, int], value: float = 0.0) -> np.ndarray:
    ph, pw = padding
    return np.pad(x, ((0, 0), (ph, ph), (pw, pw)), constant_values=value)  # (C, H+2ph, W+2pw)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D cross-correlation, like torch.nn.functional.conv2d on one image.

    out[o, i, j] = bias[o] + sum over c, u, v of
                   weight[o, c, u, v] * x_padded[c, i*stride + u*dilation, j*stride + v*dilation]
    """
    x, weight, bias, stride, padding, dilation = _check_conv_args(
        x, weight, bias, stride, padding, dilation
    )
    k_h, k_w = weight.shape[2:]
    xp = _pad(x.astype(np.float64), padding)  # (C_in, Hp, Wp)
    span = (dilation[0] * (k_h - 1) + 1, dilation[1] * (k_w - 1) + 1)
    windows = np.lib.stride_tricks.sliding_window_view(xp, span, axis=(1, 2))
    # keep every stride-th window and every dilation-th cell inside it
    windows = windows[:, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]]
    out = np.einsum("chwuv,ocuv->ohw", windows, weight)  # (C_out, H_out, W_out)
    if bias is not None:
        out += np.asarray(bias, dtype=np.float64)[:, None, None]
    return out


def conv2d_at(x, weight, bias, stride, padding, out_channel, row, col, dilation=1) -> ConvStep:
    """One output cell of conv2d, with every intermediate a learner needs to check it by hand."""
    x, weight, bias, stride, padding, dilation = _check_conv_args(
        x, weight, bias, stride, padding, dilation
    )
    h_out = conv_output_size(x.shape[1], weight.shape[2], stride[0], padding[0], dilation[0])
    w_out = conv_output_size(x.shape[2], weight.shape[3], stride[1], padding[1], dilation[1])
    _check_index("out_channel", out_channel, weight.shape[0])
    _check_index("row", row, h_out)
    _check_index("col", col, w_out)
    # input coordinates each kernel row/column lands on (may fall in the padding)
    rows = row * stride[0] - padding[0] + dilation[0] * np.arange(weight.shape[2])  # (kH,)
    cols = col * stride[1] - padding[1] + dilation[1] * np.arange(weight.shape[3])  # (kW,)
    xp = _pad(x.astype(np.float64), padding)
    patch = xp[:, rows[:, None] + padding[0], cols[None, :] + padding[1]]  # (C_in, kH, kW)
    kernel = weight[out_channel]  # (C_in, kH, kW)
    products = patch * kernel
    channel_sums = products.sum(axis=(1, 2))  # (C_in,)
    b = 0.0 if bias is None else float(bias[out_channel])
    return ConvStep(
        out_channel,
        row,
        col,
        rows,
        cols,
        patch,
        kernel,
        products,
        channel_sums,
        b,
        float(channel_sums.sum() + b),
    )


def _check_index(name: str, value, size: int) -> None:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not 0 <= value < size:
        raise ValueError(f"{name} must be between 0 and {size - 1}, got {value}")


# ----------------------------------------------------------------------------------------------
# Pooling


def _check_pool_args(x, kernel_size, stride, padding, ceil_mode):
    """Validate pooling arguments; return x, kernel, stride, padding, output size."""
    x = _as_image(x)
    kernel = _int_pair("kernel_size", kernel_size, 1)
    stride = kernel if stride is None else _int_pair("stride", stride, 1)
    padding = _int_pair("padding", padding, 0)
    if max(kernel) > MAX_PADDED_SIDE or max(stride) > MAX_PADDED_SIDE:
        raise ValueError(
            f"the pooling window and stride may be at most {MAX_PADDED_SIDE}, got window "
            f"{kernel} and stride {stride}"
        )
    for k, p in zip(kernel, padding, strict=True):
        if p > k // 2:
            raise ValueError(
                f"padding {p} is more than half the pooling window {k}; "
                "PyTorch allows at most kernel_size // 2"
            )
    if not ceil_mode:  # with ceil_mode a window may hang past the input, as in PyTorch
        _check_kernel_fits(kernel, (x.shape[1] + 2 * padding[0], x.shape[2] + 2 * padding[1]))
    out = tuple(
        conv_output_size(n, k, s, p, 1, bool(ceil_mode))
        for n, k, s, p in zip(x.shape[1:], kernel, stride, padding, strict=True)
    )
    return x, kernel, stride, padding, out


def pool_window(i, j, kernel_size, stride, padding, size) -> tuple[int, int, int, int]:
    """Input cells of output cell (i, j): (top, left, bottom, right), end-exclusive, clipped
    to the input. ``size`` is the input's (H, W)."""
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    top, left = i * sh - ph, j * sw - pw
    bottom, right = min(top + kh, size[0]), min(left + kw, size[1])
    return max(top, 0), max(left, 0), bottom, right


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, return_indices=False):
    """Max over each window, like torch.nn.functional.max_pool2d on one image.

    With return_indices, also returns for each output cell the flat index h * W + w of the input
    cell that won (the first one, in reading order, on a tie), exactly as PyTorch does.
    """
    x, kernel, stride, padding, (h_out, w_out) = _check_pool_args(
        x, kernel_size, stride, padding, ceil_mode
    )
    channels, height, width = x.shape
    out = np.empty((channels, h_out, w_out), dtype=x.dtype)
    indices = np.empty((channels, h_out, w_out), dtype=np.int64)
    for i in range(h_out):
        for j in range(w_out):
            top, left, bottom, right = pool_window(i, j, kernel, stride, padding, (height, width))
            window = x[:, top:bottom, left:right].reshape(channels, -1)  # (C, window cells)
            best = window.argmax(axis=1)  # (C,) first maximum in reading order
            out[:, i, j] = window[np.arange(channels), best]
            rows, cols = top + best // (right - left), left + best % (right - left)
            indices[:, i, j] = rows * width + cols
    return (out, indices) if return_indices else out


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over each window, like torch.nn.functional.avg_pool2d on one image.

    As in PyTorch, the divisor counts the zero padding (count_include_pad) but never the part of a
    ceil_mode window that hangs past the padding.
    """
    x, kernel, stride, padding, (h_out, w_out) = _check_pool_args(
        x, kernel_size, stride, padding, ceil_mode
    )
    channels, height, width = x.shape
    out = np.empty((channels, h_out, w_out), dtype=np.float64)
    for i in range(h_out):
        for j in range(w_out):
            top, left = i * stride[0] - padding[0], j * stride[1] - padding[1]
            # window clipped to the padded input: what count_include_pad divides by
            bottom = min(top + kernel[0], height + padding[0])
            right = min(left + kernel[1], width + padding[1])
            divisor = (bottom - top) * (right - left)
            t, lft, b, r = max(top, 0), max(left, 0), min(bottom, height), min(right, width)
            if not count_include_pad:
                divisor = (b - t) * (r - lft)
            out[:, i, j] = x[:, t:b, lft:r].sum(axis=(1, 2)) / divisor
    return out


# ----------------------------------------------------------------------------------------------
# Normalisation


def _per_channel(name: str, value, channels: int, default: float) -> np.ndarray:
    """A (C,) float64 vector of one value per channel (``default`` everywhere when None)."""
    if value is None:
        return np.full(channels, default)
    v = np.asarray(value, dtype=np.float64)
    if v.shape != (channels,):
        raise ValueError(f"{name} needs one value per channel, shape ({channels},); got {v.shape}")
    _check_finite(name, v)
    return v


def batch_norm(x, running_mean, running_var, weight=None, bias=None, eps=1e-5) -> np.ndarray:
    """Batch normalisation at inference, like F.batch_norm(..., training=False) on one image:
    y[c] = (x[c] - running_mean[c]) / sqrt(running_var[c] + eps) * weight[c] + bias[c].
    weight (the scale, gamma) defaults to 1 and bias (the shift, beta) to 0."""
    x = _as_image(x)  # (C, H, W)
    _check_finite("x", x)
    c = x.shape[0]
    mean = _per_channel("running_mean", running_mean, c, 0.0)  # (C,)
    var = _per_channel("running_var", running_var, c, 1.0)  # (C,)
    gamma, beta = _per_channel("weight", weight, c, 1.0), _per_channel("bias", bias, c, 0.0)
    if isinstance(eps, bool) or not isinstance(eps, Real) or not 0 < eps < 1:
        raise ValueError(f"eps must be a small positive number (e.g. 1e-5), got {eps!r}")
    if np.any(var + eps <= 0):
        raise ValueError("running_var + eps must be positive in every channel")
    scale = gamma / np.sqrt(var + eps)  # (C,) one multiplier per channel
    out = (x - mean[:, None, None]) * scale[:, None, None] + beta[:, None, None]
    return out.astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------------------------
# Flatten, dense, softmax


def flatten(x) -> np.ndarray:
    """(C, H, W) -> (C*H*W,), in PyTorch's order: channel, then row, then column."""
    return np.asarray(x).reshape(-1)


def flat_index(c: int, h: int, w: int, shape) -> int:
    """Position of cell (c, h, w) of a (C, H, W) map in the flattened vector: c*H*W + h*W + w."""
    channels, height, width = shape
    for name, v, n in (("channel", c, channels), ("row", h, height), ("column", w, width)):
        _check_index(name, v, n)
    return c * height * width + h * width + w


def unflat_index(i: int, shape) -> tuple[int, int, int]:
    """Inverse of flat_index: the (c, h, w) that index i of the flattened vector came from."""
    channels, height, width = shape
    _check_index("index", i, channels * height * width)
    c, rest = divmod(i, height * width)
    h, w = divmod(rest, width)
    return c, h, w


def linear(x, weight, bias=None) -> np.ndarray:
    """weight @ x + bias, like torch.nn.functional.linear on one vector."""
    x, weight = np.asarray(x, dtype=np.float64), np.asarray(weight, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"x must be a 1-D vector; got shape {x.shape} (flatten it first)")
    if weight.ndim != 2 or weight.shape[1] != x.shape[0]:
        raise ValueError(
            f"weight must have shape (out_features, {x.shape[0]}) to match x; got {weight.shape}"
        )
    _check_finite("weight", weight)
    _check_finite("x", x)
    out = weight @ x  # (out_features,)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != out.shape:
            raise ValueError(f"bias must have shape {out.shape}, got {bias.shape}")
        _check_finite("bias", bias)
        out = out + bias
    return out


def _check_temperature(temperature) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, Real):
        raise ValueError(f"temperature must be a number, got {temperature!r}")
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive finite number, got {temperature}")
    return float(temperature)


def log_softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """log(softmax(logits / temperature)), computed stably by subtracting the maximum."""
    t = _check_temperature(temperature)
    z = np.asarray(logits, dtype=np.float64) / t
    if z.ndim != 1 or z.size == 0:
        raise ValueError(f"logits must be a non-empty 1-D vector; got shape {z.shape}")
    _check_finite("logits", z)
    z = z - z.max()  # the largest becomes 0, so exp never overflows
    return z - np.log(np.exp(z).sum())


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    """exp(z_i / T) / sum_j exp(z_j / T), numerically stable (no overflow for logits of 1000)."""
    return np.exp(log_softmax(logits, temperature))


def cross_entropy(logits, label: int, temperature: float = 1.0) -> float:
    """-log p[label]: the loss PyTorch's CrossEntropyLoss gives for one example."""
    logp = log_softmax(logits, temperature)
    _check_index("label", label, logp.size)
    return float(-logp[label]) + 0.0  # + 0.0: a certain answer's loss is 0, never "-0"


def entropy(probabilities) -> float:
    """-sum p log p in nats: 0 for a certain answer, log(10) ~ 2.303 for a uniform one."""
    p = np.asarray(probabilities, dtype=np.float64)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum()) + 0.0  # + 0.0: never "-0" for a certain answer
