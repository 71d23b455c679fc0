"""Per-stage explanations computed from a Trace with the NumPy ops.

Each function takes a Trace (what PyTorch computed) and a position the learner picked, recomputes
that piece with the teaching ops in ops.py, and returns a small result holding both, so a page can
show the hand computation and its difference from PyTorch's own value.
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


def _stage_of_kind(trace: Trace, name: str, kind: str) -> Stage:
    stage = trace.stage(name)
    if stage.kind != kind:
        raise ValueError(f"{name} is a {stage.kind} stage, not a {kind} stage")
    return stage


def conv_step(trace: Trace, layer: str, out_channel: int, row: int, col: int) -> ConvExplanation:
    """Explain output cell (out_channel, row, col) of the conv stage called layer."""
    stage = _stage_of_kind(trace, layer, "conv")
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
    stage = _stage_of_kind(trace, layer, "activation")
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
# Pooling


@dataclass(frozen=True)
class PoolExplanation:
    """A pooling stage on one channel: every window and, for max pooling, its winner."""

    layer: str
    mode: str  # "max" or "avg"
    kernel_size: int
    stride: int
    before: np.ndarray  # (H, W) the channel that entered the pooling
    after: np.ndarray  # (H_out, W_out) by ops.py
    torch_after: np.ndarray  # (H_out, W_out) as traced
    winners: np.ndarray | None  # (H_out, W_out, 2) row, col of each max window's winner

    def window(self, row: int, col: int) -> tuple[int, int, int, int]:
        """Input cells (top, left, bottom, right), end-exclusive, of output cell (row, col)."""
        k, s = (self.kernel_size,) * 2, (self.stride,) * 2
        return ops.pool_window(row, col, k, s, (0, 0), self.before.shape)

    @property
    def difference(self) -> float:
        return float(np.max(np.abs(self.after - self.torch_after)))

    def decisive_winners(self) -> list[tuple[int, int]]:
        """Max winners of the windows whose values are not all equal (a flat window, such as
        the empty background, has no real winner: PyTorch just takes its first cell)."""
        return _decisive_winners(self.before, self.after, self.winners, self.window)


def _decisive_winners(before, after, winners, window) -> list[tuple[int, int]]:
    """(row, col) of each max winner whose window is not flat; window(i, j) gives its cells."""
    if winners is None:
        return []
    out = []
    for i in range(after.shape[0]):
        for j in range(after.shape[1]):
            top, left, bottom, right = window(i, j)
            if np.ptp(before[top:bottom, left:right]) > 0:
                out.append((int(winners[i, j, 0]), int(winners[i, j, 1])))
    return out


def pool_step(trace: Trace, layer: str, channel: int) -> PoolExplanation:
    """Recompute one channel of pooling stage ``layer`` with ops.py, with max winners."""
    stage = _stage_of_kind(trace, layer, "pool")
    p = stage.params
    before = trace.input_of(layer)
    _check_channel(channel, before)
    x = before[channel : channel + 1]  # (1, H, W)
    args = (x, p["kernel_size"], p["stride"], p["padding"], p["ceil_mode"])
    winners = None
    if p["mode"] == "max":
        after, flat = ops.max_pool2d(*args, return_indices=True)
        winners = np.stack(np.divmod(flat[0], before.shape[2]), axis=-1)  # (H_out, W_out, 2)
    else:
        after = ops.avg_pool2d(*args)
    return PoolExplanation(
        layer,
        p["mode"],
        p["kernel_size"],
        p["stride"],
        before[channel],
        after[0],
        stage.output[channel],
        winners,
    )


# ----------------------------------------------------------------------------------------------
# Flatten


def flatten_shape(trace: Trace) -> tuple[int, int, int]:
    """(C, H, W) of the maps that the flatten stage unrolls."""
    return tuple(trace.stage("flatten").params["input_shape"])


def flatten_index(trace: Trace, index: int) -> tuple[int, int, int]:
    """The (channel, row, column) that position ``index`` of the flattened vector came from."""
    return ops.unflat_index(index, flatten_shape(trace))


def flatten_position(trace: Trace, channel: int, row: int, col: int) -> int:
    """The position of cell (channel, row, col) in the flattened vector: c*H*W + h*W + w."""
    return ops.flat_index(channel, row, col, flatten_shape(trace))


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
    stage = _stage_of_kind(trace, layer, "dense")
    weight, bias = stage.params["weight"], stage.params["bias"]
    if not 0 <= output_index < weight.shape[0]:
        raise ValueError(f"output must be between 0 and {weight.shape[0] - 1}, got {output_index}")
    x = trace.input_of(layer).astype(np.float64)  # (in_features,)
    contributions = weight[output_index].astype(np.float64) * x
    b = float(bias[output_index])
    from_maps = trace.names[trace.names.index(layer) - 1] == "flatten"
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
# Toy examples and "what if" settings (small grids a learner can check by hand)


def toy_conv_map(image, kernel, bias: float = 0.0) -> np.ndarray:
    """One toy image (H, W) convolved with one kernel (k, k), no padding, stride 1, plus a bias:
    the (H-k+1, W-k+1) map, as PyTorch's F.conv2d(image[None, None], kernel[None, None]) gives."""
    image = np.asarray(image, dtype=np.float32)
    kernel = np.asarray(kernel, dtype=np.float32)
    out = ops.conv2d(image[None], kernel[None, None], np.array([bias], dtype=np.float32))
    return out[0]  # (H_out, W_out)


def toy_feature_maps(image, kernels) -> np.ndarray:
    """The toy image convolved with each kernel (no padding, stride 1): a (C, H_out, W_out)."""
    return np.stack([toy_conv_map(image, k) for k in kernels])


def activation_map(before, function: str, negative_slope: float = 0.01, layer: str = "toy"):
    """Apply ``function`` to any map (the toy's conv map): an ActivationExplanation without a
    PyTorch value (it is not a stage of the model)."""
    before = np.asarray(before, dtype=np.float64)
    after = ops.activation(function, before, negative_slope)
    return ActivationExplanation(layer, function, before, after, False, None, negative_slope)


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
        """Max winners of the windows whose values are not all equal (see PoolExplanation)."""
        return _decisive_winners(self.before, self.after, self.winners, self.window)


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
    stage = _stage_of_kind(trace, layer, "pool")
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


# ----------------------------------------------------------------------------------------------
# Shift experiment: convolution is equivariant, pooling adds a little invariance

SHIFTS = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
SHIFT_TOLERANCE = 0.05  # "changed": moved by more than 5% of the map's largest |value|


def shift_image(image, direction: str, pixels: int = 1) -> np.ndarray:
    """Move the picture ``pixels`` cells up/down/left/right; cells that come in are 0 (the
    background) and what leaves the frame is lost. Works on (H, W) or (C, H, W)."""
    if direction not in SHIFTS:
        raise ValueError(f"direction must be one of {', '.join(SHIFTS)}, got {direction!r}")
    a = np.asarray(image)
    dy, dx = (pixels * d for d in SHIFTS[direction])
    out = np.zeros_like(a)
    h, w = a.shape[-2:]
    src = a[..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    out[..., max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)] = src
    return out


@dataclass(frozen=True)
class MapChange:
    """How much a map changed: two numbers, defined once for the whole app.

    changed_fraction: the fraction of cells with |new - old| > tolerance * max|old|.
    relative_l1: sum |new - old| / sum |old| (0 = identical; 1 = as much change as there is map).
    """

    changed_fraction: float
    relative_l1: float
    cells: int  # how many cells were compared


def map_change(old, new, tolerance: float = SHIFT_TOLERANCE) -> MapChange:
    """Compare two maps of the same shape cell by cell (see MapChange)."""
    old, new = np.asarray(old, dtype=np.float64), np.asarray(new, dtype=np.float64)
    if old.shape != new.shape:
        raise ValueError(f"maps must have the same shape, got {old.shape} and {new.shape}")
    diff = np.abs(new - old)
    scale = float(np.abs(old).max()) if old.size else 0.0
    total = float(np.abs(old).sum())
    fraction = float(np.mean(diff > tolerance * scale)) if old.size else 0.0
    rel = float(diff.sum() / total) if total > 0 else (0.0 if diff.sum() == 0 else float("inf"))
    return MapChange(fraction, rel, int(old.size))


def _aligned(old: np.ndarray, new: np.ndarray, dy: int, dx: int):
    """The parts of old and new that show the same picture after new moved by (dy, dx)."""
    h, w = old.shape[-2:]
    o = old[..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)]
    n = new[..., max(dy, 0) : h - max(-dy, 0), max(dx, 0) : w - max(-dx, 0)]
    return o, n


@dataclass(frozen=True)
class ShiftExperiment:
    """The input moved by one pixel: how the map entering pooling and the pooled map change."""

    direction: str
    layer: str  # the pooling stage
    shifted_image: np.ndarray  # (H, W) the moved input
    maps_before: np.ndarray  # (C, H, W) what pooling receives, original input
    maps_after: np.ndarray  # (C, H, W) the same for the moved input
    pooled_before: np.ndarray  # (C, H', W') the pooled maps, original input
    pooled_after: np.ndarray  # (C, H', W') the same for the moved input
    maps_same_place: MapChange  # maps compared cell by cell at the same positions
    maps_aligned: MapChange | None  # new maps vs old maps moved the same way (None if strided)
    pooled_same_place: MapChange  # pooled maps compared cell by cell at the same positions
    prediction_before: int
    prediction_after: int


def shift_experiment(model, image, layer: str, direction: str) -> ShiftExperiment:
    """Trace the input and the input moved one pixel; compare what pooling stage ``layer``
    receives and what it outputs. ``model`` is a CNN (anything with .trace(image))."""
    image = np.asarray(image, dtype=np.float32)
    moved = shift_image(image.reshape(image.shape[-2:]), direction)
    old, new = model.trace(image), model.trace(moved)
    _stage_of_kind(old, layer, "pool")
    maps_old, maps_new = old.input_of(layer), new.input_of(layer)
    aligned = None
    if maps_old.shape[-2:] == moved.shape:  # the map has the input's grid: a pixel is a cell
        aligned = map_change(*_aligned(maps_old, maps_new, *SHIFTS[direction]))
    return ShiftExperiment(
        direction, layer, moved, maps_old, maps_new,
        old.stage(layer).output, new.stage(layer).output,
        map_change(maps_old, maps_new), aligned,
        map_change(old.stage(layer).output, new.stage(layer).output),
        old.prediction, new.prediction,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Toy dense layer


def toy_dense_step(x, weight, bias, output_index: int) -> DenseExplanation:
    """Output ``output_index`` of a tiny dense layer typed in by the learner: the NumPy sum of
    contributions, and PyTorch's F.linear value as the check."""
    import torch  # the oracle; cnn_core may use torch

    x = np.asarray(x, dtype=np.float64).ravel()
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64).ravel()
    ops.linear(x, weight, bias)  # validates the shapes with a sentence
    if not 0 <= output_index < weight.shape[0]:
        raise ValueError(f"output must be between 0 and {weight.shape[0] - 1}, got {output_index}")
    contributions = weight[output_index] * x
    torch_value = torch.nn.functional.linear(
        torch.tensor(x), torch.tensor(weight), torch.tensor(bias)
    )[output_index]
    b = float(bias[output_index])
    return DenseExplanation(
        "toy", output_index, x, weight[output_index], contributions, b,
        float(contributions.sum() + b), float(torch_value), None,
    )  # fmt: skip
