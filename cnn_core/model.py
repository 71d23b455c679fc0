"""ModelConfig -> CNN: a small PyTorch network built from named stages, and its trace().

The network is a list of named stages run in order, the same names the pages use:

    conv1 [-> norm1] -> act1 -> pool1 -> conv2 [-> norm2] -> act2 -> pool2 -> flatten
        [-> hidden -> act_hidden] -> dense

(normN, batch normalisation, only with ``ModelConfig(batch_norm=True)``.)

``CNN.trace(image)`` runs that list explicitly (no hooks) and records every stage's output, so
each number a page shows is the number PyTorch computed.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .activations import ACTIVATIONS, activation_named
from .ops import check_number, conv_output_size
from .trace import Stage, Trace

POOLINGS = ("max", "avg", "none")

# ----------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class ModelConfig:
    """Everything that defines the network's architecture. Every field has the default model's
    value; per-block fields hold one entry per conv block (an int is used for every block)."""

    filters: tuple[int, ...] = (8, 16)  # output channels of each conv block (1-3 blocks, 1-64)
    kernel_size: tuple[int, ...] | int = 3  # square kernel side per block (odd, 1-7)
    stride: tuple[int, ...] | int = 1  # convolution stride per block (1-2)
    padding: tuple[int, ...] | int = 1  # zero padding per block (0-3)
    batch_norm: bool = False  # BatchNorm2d after each conv, before its activation (stage normN)
    activation: str = "relu"  # relu, leaky_relu, sigmoid or tanh, after every conv and hidden
    negative_slope: float = 0.01  # slope of leaky_relu for negative inputs (0-1)
    pooling: str = "max"  # max, avg or none, after every block's activation
    pool_size: int = 2  # pooling window side (1-4)
    pool_stride: int = 2  # pooling stride (1-4)
    hidden_units: int = 0  # units of an optional hidden dense layer (0 = none, up to 256)
    dropout: float = 0.0  # dropout before each dense layer, training only (0-0.5)
    num_classes: int = 10  # outputs of the last dense layer
    in_channels: int = 1  # channels of the input image (grayscale)
    input_size: int = 28  # side of the square input image

    def __post_init__(self):
        blocks = self.filters if isinstance(self.filters, (tuple, list)) else (self.filters,)
        n = len(blocks)
        if not 1 <= n <= 3:
            raise ValueError(f"a model has 1 to 3 conv blocks, got {n}")
        for name in ("filters", "kernel_size", "stride", "padding"):
            value = getattr(self, name)
            value = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
            if len(value) != n:
                raise ValueError(f"{name} needs one value per conv block ({n}), got {len(value)}")
            object.__setattr__(self, name, value)
        self._validate()

    def _validate(self) -> None:
        for b, (f, k, s, p) in enumerate(self.blocks(), start=1):
            check_number(f"block {b}: filters", f, 1, 64)
            check_number(f"block {b}: kernel size", k, 1, 7)
            if k % 2 == 0:
                raise ValueError(f"block {b}: kernel size must be odd (1, 3, 5 or 7), got {k}")
            check_number(f"block {b}: stride", s, 1, 2)
            check_number(f"block {b}: padding", p, 0, 3)
        if not isinstance(self.batch_norm, bool):
            raise ValueError(f"batch_norm must be True or False, got {self.batch_norm!r}")
        if self.activation not in ACTIVATIONS:  # the table in activations.py
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
        check_number("negative slope", self.negative_slope, 0.0, 1.0, whole=False)
        check_number("pool size", self.pool_size, 1, 4)
        check_number("pool stride", self.pool_stride, 1, 4)
        check_number("hidden units", self.hidden_units, 0, 256)
        check_number("dropout", self.dropout, 0.0, 0.5, whole=False)
        check_number("number of classes", self.num_classes, 2, 100)
        check_number("input channels", self.in_channels, 1, 3)
        check_number("input size", self.input_size, 8, 64)
        self.shapes()  # raises, naming the block, if a block's output would be empty

    def blocks(self) -> list[tuple[int, int, int, int]]:
        """(filters, kernel_size, stride, padding) of each conv block."""
        return list(zip(self.filters, self.kernel_size, self.stride, self.padding, strict=True))

    def shapes(self) -> list[tuple[str, str, tuple[int, ...]]]:
        """(stage name, kind, output shape) of every stage, checking each block is non-empty."""
        c, size = self.in_channels, self.input_size
        out = [("input", "input", (c, size, size))]
        for b, (f, k, s, p) in enumerate(self.blocks(), start=1):
            try:
                size = conv_output_size(size, k, s, p)
                out.append((f"conv{b}", "conv", (f, size, size)))
                if self.batch_norm:
                    out.append((f"norm{b}", "norm", (f, size, size)))
                out.append((f"act{b}", "activation", (f, size, size)))
                if self.pooling != "none":
                    size = conv_output_size(size, self.pool_size, self.pool_stride)
                    out.append((f"pool{b}", "pool", (f, size, size)))
            except ValueError as err:
                raise ValueError(f"block {b} would have an empty output: {err}") from None
            c = f
        features = c * size * size
        out.append(("flatten", "flatten", (features,)))
        if self.hidden_units:
            out += [
                ("hidden", "dense", (self.hidden_units,)),
                ("act_hidden", "activation", (self.hidden_units,)),
            ]
        out += [
            ("dense", "dense", (self.num_classes,)),
            ("softmax", "softmax", (self.num_classes,)),
        ]
        return out

    @property
    def flat_features(self) -> int:
        """Length of the flattened vector that enters the dense layers (C * H * W)."""
        return next(shape[0] for name, _, shape in self.shapes() if name == "flatten")

    def single_value_norms(self) -> list[str]:
        """The batch-norm stages whose map is 1x1: one value per channel and image, so training
        them needs batches of at least 2 images."""
        return [n for n, kind, shape in self.shapes() if kind == "norm" and shape[1:] == (1, 1)]

    def check_batch_size(self, batch_size: int) -> None:
        """ValueError, saying why, when this network cannot train with batches of this size."""
        single = self.single_value_norms()
        if single and batch_size == 1:
            raise ValueError(
                f"batch normalisation at {single[0]} sees a 1x1 map: it needs batches of at "
                "least 2 images (or a larger map, or no batch norm)"
            )

    def batches_per_epoch(self, images: int, batch_size: int) -> int:
        """How many optimizer steps an epoch of ``images`` takes: the last batch may be smaller,
        but a last batch of one image joins the batch before it when a batch-norm stage sees a
        1x1 map (check_batch_size)."""
        self.check_batch_size(batch_size)
        count = math.ceil(images / batch_size)
        merge = self.single_value_norms() and count > 1 and images % batch_size == 1
        return count - 1 if merge else count

    def describe(self) -> str:
        """The architecture in one line, e.g. 'conv 8@3x3 -> ReLU -> max 2x2 -> ... -> dense 10'."""
        act, parts = ACTIVATIONS[self.activation].torch_module, []
        for f, k, s, p in self.blocks():
            extra = "".join([f" s{s}" if s != 1 else "", f" p{p}" if p else ""])
            parts.append(f"conv {f}@{k}x{k}{extra}")
            parts += ["BatchNorm2d", act] if self.batch_norm else [act]
            if self.pooling != "none":
                stride = "" if self.pool_stride == self.pool_size else f" s{self.pool_stride}"
                parts.append(f"{self.pooling} {self.pool_size}x{self.pool_size}{stride}")
        parts.append(f"flatten {self.flat_features}")
        if self.hidden_units:
            parts += [f"dense {self.hidden_units}", act]
        return " -> ".join(parts + [f"dense {self.num_classes}"])

    def to_dict(self) -> dict:
        """Plain JSON-able values (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """Build from to_dict() output; unknown keys are an error, not silently ignored."""
        if not isinstance(data, dict):
            raise ValueError("a model configuration must be a JSON object")
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown model configuration field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


# ----------------------------------------------------------------------------------------------
# The network


def _activation_module(config: ModelConfig) -> nn.Module:
    """The torch.nn module of the configured activation (ops.ACTIVATIONS names its class)."""
    act = activation_named(config.activation)
    module = getattr(nn, act.torch_module)
    return module(config.negative_slope) if act.uses_slope else module()


def _build_stages(config: ModelConfig) -> tuple[nn.ModuleDict, dict[str, str]]:
    """The named stages in order, and the kind of each."""
    stages, kinds = nn.ModuleDict(), {}
    c = config.in_channels
    for b, (f, k, s, p) in enumerate(config.blocks(), start=1):
        stages[f"conv{b}"], kinds[f"conv{b}"] = nn.Conv2d(c, f, k, s, p), "conv"
        if config.batch_norm:
            stages[f"norm{b}"], kinds[f"norm{b}"] = nn.BatchNorm2d(f), "norm"
        stages[f"act{b}"], kinds[f"act{b}"] = _activation_module(config), "activation"
        if config.pooling != "none":
            pool = nn.MaxPool2d if config.pooling == "max" else nn.AvgPool2d
            stages[f"pool{b}"] = pool(config.pool_size, config.pool_stride)
            kinds[f"pool{b}"] = "pool"
        c = f
    features = config.flat_features
    stages["flatten"], kinds["flatten"] = nn.Flatten(), "flatten"
    if config.hidden_units:
        stages["hidden"], kinds["hidden"] = nn.Linear(features, config.hidden_units), "dense"
        stages["act_hidden"], kinds["act_hidden"] = _activation_module(config), "activation"
        features = config.hidden_units
    stages["dense"], kinds["dense"] = nn.Linear(features, config.num_classes), "dense"
    return stages, kinds


def empty_on_cpu(module: nn.Module) -> nn.Module:
    """``module``, built on the meta device, given uninitialised CPU tensors of the same shapes
    and dtypes. As module.to_empty(device="cpu"), whose empty_like of a meta tensor goes through
    torch's Python reference ops and imports sympy: about 40 MB more in the server's memory."""
    return module._apply(lambda t: torch.empty(t.shape, dtype=t.dtype, device="cpu"))


class CNN(nn.Module):
    """A small CNN built from a ModelConfig as named stages (see the module docstring)."""

    def __init__(self, config: ModelConfig | None = None, seed: int | None = 0):
        super().__init__()
        self.config = config or ModelConfig()
        if seed is None:  # PyTorch's own initialisation, from the process-wide RNG
            self.stages, self.kinds = _build_stages(self.config)
        else:  # build without initialising (the global RNG stays untouched), then draw our own
            with torch.device("meta"):
                stages, self.kinds = _build_stages(self.config)
            self.stages = empty_on_cpu(stages)
            self.reset_parameters(torch.Generator().manual_seed(seed))

    def reset_parameters(self, generator: torch.Generator) -> None:
        """PyTorch's default initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from the
        given generator instead of the process-wide one (sessions share a process). Batch norm
        starts as the identity: scale 1, shift 0, running mean 0 and variance 1."""
        with torch.no_grad():
            for module in self.stages.values():
                if isinstance(module, nn.BatchNorm2d):
                    module.reset_parameters()  # no random numbers: ones, zeros, fresh stats
                elif isinstance(module, (nn.Conv2d, nn.Linear)):
                    bound = 1 / math.sqrt(module.weight[0].numel())  # 1/sqrt(fan_in)
                    for p in (module.weight, module.bias):
                        p.copy_(torch.rand(p.shape, generator=generator) * 2 * bound - bound)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """(N, C, H, W) images -> (N, num_classes) logits. Dropout (before each dense layer, in
        training mode only) draws its mask from ``generator``."""
        for name, module in self.stages.items():
            if self.training and self.config.dropout > 0 and self.kinds[name] == "dense":
                keep = 1 - self.config.dropout
                mask = torch.rand(x.shape, generator=generator) < keep
                x = x * mask / keep
            x = module(x)
        return x

    def layer_weights(self, name: str) -> np.ndarray:
        """A NumPy copy of the weights of the conv or dense stage called name."""
        module = self.stages[name] if name in self.stages else None  # noqa: SIM401 (ModuleDict)
        if not isinstance(module, (nn.Conv2d, nn.Linear)):
            raise ValueError(f"{name!r} is not a conv or dense stage of this model")
        return module.weight.detach().numpy().copy()

    def fingerprint(self) -> str:
        """A short digest of the weights: equal digests, equal models (for caching traces)."""
        digest = hashlib.sha1(repr(self.config.to_dict()).encode())
        for tensor in self.state_dict().values():
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()[:16]

    @torch.no_grad()
    def trace(self, image) -> Trace:
        """Run one image through every stage and record each output; mutates nothing.

        image: (28, 28) or (1, 28, 28) floats in [0, 1] (any array-like). Dropout is never applied
        in a trace and batch norm always uses its running statistics (inference), whatever the
        module's mode, so this is safe on a model other sessions share (or one in training).
        """
        x = torch.as_tensor(_check_image(image, self.config)).reshape(
            1, *self.config.shapes()[0][2]
        )
        stages = [Stage("input", "input", x[0].numpy().copy(), {})]
        for name, module in self.stages.items():
            params = _stage_params(module, tuple(x.shape[1:]))
            x = _inference(module, x)
            stages.append(Stage(name, self.kinds[name], x[0].numpy().copy(), params))
        logits = x[0]
        probabilities = torch.softmax(x, dim=1)[0]
        stages.append(Stage("softmax", "softmax", probabilities.numpy().copy(), {"dim": 1}))
        return Trace(stages, logits.numpy().copy(), probabilities.numpy().copy())


def _inference(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x) as at inference: batch norm with its running statistics even in train mode
    (which would normalise with this one image's statistics and update the running ones)."""
    if isinstance(module, nn.BatchNorm2d):
        return F.batch_norm(
            x, module.running_mean, module.running_var, module.weight, module.bias,
            training=False, eps=module.eps,
        )  # fmt: skip
    return module(x)


def _check_image(image, config: ModelConfig) -> np.ndarray:
    """Validate a traced image and return it as float32 (C, H, W)."""
    a = np.asarray(image, dtype=np.float32)
    size, c = config.input_size, config.in_channels
    if a.shape not in {(size, size), (c, size, size), (1, c, size, size)} or a.size != c * size**2:
        raise ValueError(f"the image must be {size}x{size} (or {c}x{size}x{size}); got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError("the image contains NaN or infinite values")
    if a.min() < -1e-6 or a.max() > 1 + 1e-6:
        raise ValueError(f"pixel values must be in [0, 1]; got {a.min():.3g} to {a.max():.3g}")
    return a.reshape(c, size, size)


def _stage_params(module: nn.Module, in_shape: tuple[int, ...]) -> dict:
    """The weights (as NumPy copies) and settings of one stage, for explanations."""
    if isinstance(module, nn.Conv2d):
        return {
            "weight": module.weight.detach().numpy().copy(),  # (C_out, C_in, kH, kW)
            "bias": module.bias.detach().numpy().copy(),  # (C_out,)
            "stride": module.stride[0],
            "padding": module.padding[0],
            "kernel_size": module.kernel_size[0],
            "dilation": module.dilation[0],
            "in_channels": module.in_channels,
            "out_channels": module.out_channels,
            "num_parameters": module.weight.numel() + module.bias.numel(),
        }
    if isinstance(module, nn.Linear):
        return {
            "weight": module.weight.detach().numpy().copy(),  # (out_features, in_features)
            "bias": module.bias.detach().numpy().copy(),  # (out_features,)
            "in_features": module.in_features,
            "out_features": module.out_features,
            "num_parameters": module.weight.numel() + module.bias.numel(),
        }
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return _pool_params(module)
    if isinstance(module, nn.Flatten):
        return {"input_shape": in_shape}
    if isinstance(module, nn.BatchNorm2d):
        return _norm_params(module)
    act = next(a for a in ACTIVATIONS.values() if type(module).__name__ == a.torch_module)
    params = {"function": act.name}
    if act.uses_slope:
        params["negative_slope"] = module.negative_slope
    return params


def _pool_params(module: nn.MaxPool2d | nn.AvgPool2d) -> dict:
    """A pooling stage's settings."""
    k, s = module.kernel_size, module.stride
    return {
        "mode": "max" if isinstance(module, nn.MaxPool2d) else "avg",
        "kernel_size": k if isinstance(k, int) else k[0],
        "stride": s if isinstance(s, int) else s[0],
        "padding": 0,
        "ceil_mode": False,
    }


def _norm_params(module: nn.BatchNorm2d) -> dict:
    """A batch-norm stage's scale and shift (learned), its running statistics (buffers, updated
    by training and used at inference) and settings, as NumPy copies."""
    return {
        "weight": module.weight.detach().numpy().copy(),  # (C,) the scale, gamma
        "bias": module.bias.detach().numpy().copy(),  # (C,) the shift, beta
        "running_mean": module.running_mean.numpy().copy(),  # (C,)
        "running_var": module.running_var.numpy().copy(),  # (C,) unbiased batch variances
        "num_batches_tracked": int(module.num_batches_tracked),  # training steps that updated them
        "eps": module.eps,
        "momentum": module.momentum,  # running = (1 - momentum) * running + momentum * batch
        "num_features": module.num_features,
        "num_parameters": module.weight.numel() + module.bias.numel(),
    }
