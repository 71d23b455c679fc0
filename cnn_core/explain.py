"""Per-stage explanations computed from a Trace with the NumPy ops.

Each function takes a Trace (what PyTorch computed) and a position the learner picked, recomputes
that piece with the teaching ops in ops.py, and returns a small result holding both, so a page can
show the hand computation and its difference from PyTorch's own value. Pooling has one result,
PoolView, for the model's own settings, a "what if" and the toy alike. The toy's computations are
cnn_core.toy_steps, the shift experiment cnn_core.experiments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ops
from .trace import Stage, Trace

# ----------------------------------------------------------------------------------------------
# Convolution


@dataclass(frozen=True)
class ConvExplanation:
    """One output cell of a conv stage: the NumPy step and the value PyTorch computed."""

    layer: str
    step: ops.ConvStep  # patch, kernel, products, per-channel sums, bias, value
    torch_value: float  # the same cell of the traced conv output

    @property
    def difference(self) -> float:
        """|NumPy value - PyTorch value|: float rounding only (float64 vs float32)."""
        return abs(self.step.value - self.torch_value)


def stage_of_kind(trace: Trace, name: str, kind: str) -> Stage:
    stage = trace.stage(name)
    if stage.kind != kind:
        raise ValueError(f"{name} is a {stage.kind} stage, not a {kind} stage")
    return stage


def conv_step(trace: Trace, layer: str, out_channel: int, row: int, col: int) -> ConvExplanation:
    """Explain output cell (out_channel, row, col) of the conv stage called layer."""
    stage = stage_of_kind(trace, layer, "conv")
    p = stage.params
    step = ops.conv2d_at(
        trace.input_of(layer),
        p["weight"],
        p["bias"],
        p["stride"],
        p["padding"],
        out_channel,
        row,
        col,
        p["dilation"],
    )
    return ConvExplanation(layer, step, float(stage.output[out_channel, row, col]))


# ----------------------------------------------------------------------------------------------
# Activation


@dataclass(frozen=True)
class ActivationExplanation:
    """An activation applied to one pre-activation map (the model's own, or a 'what if')."""

    layer: str
    function: str  # relu, leaky_relu, sigmoid or tanh
    before: np.ndarray  # the map that entered the activation (the conv output)
    after: np.ndarray  # function(before), by ops.py
    is_model_function: bool  # True when function is the one the model uses at this stage
    torch_after: np.ndarray | None  # the traced output when is_model_function, else None
    negative_slope: float = 0.01  # the leaky_relu slope used

    def curve(self, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """(x, function(x)) over [-3, 3] widened to cover this map's values, for plotting."""
        xs = np.linspace(
            min(-3.0, float(self.before.min())), max(3.0, float(self.before.max())), points
        )
        return xs, ops.activation(self.function, xs, self.negative_slope)

    @property
    def changed(self) -> np.ndarray:
        """Boolean mask of the cells the activation changed."""
        return self.after != self.before

    @property
    def zeroed(self) -> int:
        """How many non-zero cells became exactly 0 (ReLU's negatives)."""
        return int(np.count_nonzero((self.after == 0) & (self.before != 0)))

    @property
    def difference(self) -> float | None:
        """Largest |ops - PyTorch| over the map, when the function is the model's own."""
        if self.torch_after is None:
            return None
        return float(np.max(np.abs(self.after - self.torch_after)))


def activation_step(
    trace: Trace,
    layer: str,
    channel: int | None = None,
    function: str | None = None,
    negative_slope: float | None = None,
) -> ActivationExplanation:
    """Apply ``function`` (default: the model's own) to the input of activation stage ``layer``,
    for one channel (or the whole stage when channel is None)."""
    stage = stage_of_kind(trace, layer, "activation")
    own, own_slope = stage.params["function"], stage.params.get("negative_slope", 0.01)
    function = function or own
    slope = own_slope if negative_slope is None else negative_slope
    before, torch_after = trace.input_of(layer), stage.output
    if channel is not None:
        ops_index = _check_channel(channel, before)
        before, torch_after = before[ops_index], torch_after[ops_index]
    after = ops.activation(function, before, slope)
    is_own = function == own and (function != "leaky_relu" or slope == own_slope)
    return ActivationExplanation(
        layer, function, before, after, is_own, torch_after if is_own else None, slope
    )


def _check_channel(channel: int, maps: np.ndarray) -> int:
    if maps.ndim != 3:
        raise ValueError("this stage works on a vector, not on channels; use channel=None")
    if not 0 <= channel < maps.shape[0]:
        raise ValueError(f"channel must be between 0 and {maps.shape[0] - 1}, got {channel}")
    return channel


# ----------------------------------------------------------------------------------------------
# Flatten


def flatten_shape(trace: Trace) -> tuple[int, int, int]:
    """(C, H, W) of the maps that the flatten stage unrolls."""
    return tuple(trace.stage("flatten").params["input_shape"])


# ----------------------------------------------------------------------------------------------
# Dense


@dataclass(frozen=True)
class DenseExplanation:
    """One output of a dense stage as a sum of contributions weight_i * x_i plus the bias."""

    layer: str
    output_index: int
    x: np.ndarray  # (in_features,) the layer's input
    weights: np.ndarray  # (in_features,) the weight row of this output
    contributions: np.ndarray  # (in_features,) weights * x
    bias: float
    value: float  # contributions.sum() + bias, by NumPy
    torch_value: float  # the traced output
    feature_shape: tuple[int, int, int] | None  # (C, H, W) when x is the flattened maps

    @property
    def difference(self) -> float:
        return abs(self.value - self.torch_value)

    def top(self, k: int = 10, sign: int = 1) -> list[tuple[int, float]]:
        """The k largest positive (sign=1) or negative (sign=-1) contributions: (index, value)."""
        order = np.argsort(-sign * self.contributions, kind="stable")[:k]
        return [
            (int(i), float(self.contributions[i]))
            for i in order
            if sign * self.contributions[i] > 0
        ]

    def feature(self, index: int) -> tuple[int, int, int] | None:
        """(channel, row, column) of input feature ``index``, if it came from flattened maps."""
        return None if self.feature_shape is None else ops.unflat_index(index, self.feature_shape)


def dense_step(trace: Trace, layer: str, output_index: int) -> DenseExplanation:
    """Explain output ``output_index`` (a class, for the last layer) of dense stage ``layer``."""
    stage = stage_of_kind(trace, layer, "dense")
    weight, bias = stage.params["weight"], stage.params["bias"]
    if not 0 <= output_index < weight.shape[0]:
        raise ValueError(f"output must be between 0 and {weight.shape[0] - 1}, got {output_index}")
    x = trace.input_of(layer).astype(np.float64)  # (in_features,)
    contributions = weight[output_index].astype(np.float64) * x
    b = float(bias[output_index])
    from_maps = trace.previous(layer) == "flatten"
    return DenseExplanation(
        layer,
        output_index,
        x,
        weight[output_index],
        contributions,
        b,
        float(contributions.sum() + b),
        float(stage.output[output_index]),
        flatten_shape(trace) if from_maps else None,
    )


# ----------------------------------------------------------------------------------------------
# Softmax


@dataclass(frozen=True)
class SoftmaxExplanation:
    """Softmax step by step, with a temperature, and the loss for a chosen true label."""

    logits: np.ndarray  # (K,) the dense layer's outputs
    temperature: float
    scaled: np.ndarray  # logits / T
    shift: float  # max(scaled), subtracted before exp so nothing overflows
    exps: np.ndarray  # exp(scaled - shift)
    total: float  # exps.sum()
    probabilities: np.ndarray  # exps / total
    entropy: float  # -sum p log p, nats
    label: int | None  # the true label chosen, if any
    cross_entropy: float | None  # -log p[label]


def softmax_step(logits, temperature: float = 1.0, label: int | None = None) -> SoftmaxExplanation:
    """Every intermediate of softmax(logits / temperature), and cross-entropy for label."""
    logits = np.asarray(logits, dtype=np.float64)
    probabilities = ops.softmax(logits, temperature)  # validates logits and temperature
    scaled = logits / temperature
    shift = float(scaled.max())
    exps = np.exp(scaled - shift)
    loss = None if label is None else ops.cross_entropy(logits, label, temperature)
    return SoftmaxExplanation(
        logits,
        float(temperature),
        scaled,
        shift,
        exps,
        float(exps.sum()),
        probabilities,
        ops.entropy(probabilities),
        label,
        loss,
    )


# ----------------------------------------------------------------------------------------------
# Pooling: one map with any settings (the model's own stage, a "what if" or the toy)


@dataclass(frozen=True)
class PoolView:
    """Pooling of one (H, W) map with any settings: the model's own stage or a 'what if'."""

    layer: str  # the pooling stage's name, or "toy"
    mode: str  # "max" or "avg"
    kernel_size: int
    stride: int
    ceil_mode: bool  # True: keep the partial windows at the right and bottom edges
    before: np.ndarray  # (H, W) the map that is pooled
    after: np.ndarray  # (H_out, W_out) by ops.py
    winners: np.ndarray | None  # (H_out, W_out, 2) row, col of each max window's winner
    torch_after: np.ndarray | None  # the traced output when these are the model's own settings

    def window(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input cells (top, left, bottom, right), end-exclusive, clipped to the map."""
        k, s = (self.kernel_size,) * 2, (self.stride,) * 2
        return ops.pool_window(row, col, k, s, (0, 0), self.before.shape)

    def is_partial(self, row: int, col: int) -> bool:
        """True when the window of (row, col) hangs past the edge (only in ceil mode)."""
        top, left, bottom, right = self.window(row, col)
        return (bottom - top) * (right - left) < self.kernel_size**2

    @property
    def partial_cells(self) -> list[tuple[int, int]]:
        """Output cells whose window is partial: the ones ceil mode adds."""
        rows, cols = self.after.shape
        return [(i, j) for i in range(rows) for j in range(cols) if self.is_partial(i, j)]

    @property
    def difference(self) -> float | None:
        """Largest |ops - PyTorch| over the map, when these are the model's settings."""
        if self.torch_after is None:
            return None
        return float(np.max(np.abs(self.after - self.torch_after)))

    def decisive_winners(self) -> list[tuple[int, int]]:
        """(row, col) of the max winners of the windows whose values are not all equal (a flat
        window, such as the empty background, has no real winner: PyTorch takes its first cell)."""
        if self.winners is None:
            return []
        out = []
        for i, j in np.ndindex(*self.after.shape):
            top, left, bottom, right = self.window(i, j)
            if np.ptp(self.before[top:bottom, left:right]) > 0:
                out.append((int(self.winners[i, j, 0]), int(self.winners[i, j, 1])))
        return out


def pool_map(
    before, mode: str, kernel_size: int, stride: int | None = None, ceil_mode: bool = False,
    layer: str = "toy", torch_after=None,
) -> PoolView:  # fmt: skip
    """Pool one (H, W) map with ops.max_pool2d / avg_pool2d (PyTorch's rules, ceil mode too);
    ValueError in words when the window does not fit."""
    if mode not in ("max", "avg"):
        raise ValueError(f"pooling mode must be 'max' or 'avg', got {mode!r}")
    before = np.asarray(before)
    stride = kernel_size if stride is None else stride
    x = before[None]  # (1, H, W)
    winners = None
    if mode == "max":
        after, flat = ops.max_pool2d(x, kernel_size, stride, 0, ceil_mode, return_indices=True)
        winners = np.stack(np.divmod(flat[0], before.shape[1]), axis=-1)  # (H_out, W_out, 2)
    else:
        after = ops.avg_pool2d(x, kernel_size, stride, 0, ceil_mode)
    return PoolView(
        layer, mode, int(kernel_size), int(stride), bool(ceil_mode), before, after[0], winners,
        torch_after,
    )  # fmt: skip


def pool_what_if(
    trace: Trace, layer: str, channel: int, mode: str | None = None,
    kernel_size: int | None = None, stride: int | None = None, ceil_mode: bool | None = None,
) -> PoolView:  # fmt: skip
    """One channel of pooling stage ``layer`` pooled with the model's settings (None) or others.
    With the model's own settings the view carries the traced output to compare against."""
    stage = stage_of_kind(trace, layer, "pool")
    p = stage.params
    before = trace.input_of(layer)
    _check_channel(channel, before)
    settings = (
        p["mode"] if mode is None else mode,
        p["kernel_size"] if kernel_size is None else int(kernel_size),
        p["stride"] if stride is None else int(stride),
        p["ceil_mode"] if ceil_mode is None else bool(ceil_mode),
    )
    own = settings == (p["mode"], p["kernel_size"], p["stride"], p["ceil_mode"])
    torch_after = stage.output[channel] if own else None
    return pool_map(before[channel], *settings, layer=layer, torch_after=torch_after)
