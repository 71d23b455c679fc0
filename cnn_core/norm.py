"""Batch normalisation explained with its numbers: one channel of a norm stage at inference, and
what the same stage does during training with a batch.

At inference (every trace) a norm stage uses the running statistics it kept during training:

    y = (x - running_mean) / sqrt(running_var + eps) * weight + bias

During training it normalises each channel with the mean and (biased) variance of the batch,
over every image and position, and then moves the running statistics a step towards the batch's:

    running_mean = (1 - momentum) * running_mean + momentum * batch_mean
    running_var  = (1 - momentum) * running_var  + momentum * batch_var * n / (n - 1)

(n = images x rows x columns per channel: the running variance keeps the unbiased estimate).
Each result also holds PyTorch's own numbers for the same step (F.batch_norm), so a page can say
how far apart they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import ops
from .trace import Trace


@dataclass(frozen=True, eq=False)  # eq=False: arrays
class NormStep:
    """One channel of a norm stage for the traced input, at inference."""

    stage: str  # e.g. "norm1"
    channel: int
    before: np.ndarray  # (H, W) the conv output of that channel (what the stage received)
    after: np.ndarray  # (H, W) the stage's output in the trace (PyTorch)
    numpy_after: np.ndarray  # (H, W) the same with ops.batch_norm
    running_mean: float
    running_var: float
    weight: float  # the learned scale, gamma
    bias: float  # the learned shift, beta
    eps: float
    momentum: float
    num_batches_tracked: int  # training steps that have updated the running statistics

    @property
    def scale(self) -> float:
        """What every value is multiplied by: weight / sqrt(running_var + eps)."""
        return self.weight / float(np.sqrt(self.running_var + self.eps))

    @property
    def shift(self) -> float:
        """What is then added: bias - running_mean * scale (so y = x * scale + shift)."""
        return self.bias - self.running_mean * self.scale

    @property
    def difference(self) -> float:
        """Largest |numpy - PyTorch| over the channel's map."""
        return float(np.abs(self.numpy_after - self.after).max())


def norm_step(trace: Trace, name: str, channel: int) -> NormStep:
    """Channel ``channel`` of the norm stage ``name`` of ``trace``, recomputed with NumPy."""
    stage = trace.stage(name)
    if stage.kind != "norm":
        raise ValueError(f"{name!r} is a {stage.kind} stage, not a batch-norm stage")
    p, x = stage.params, trace.input_of(name)  # x: (C, H, W) the conv output
    if not 0 <= channel < x.shape[0]:
        raise ValueError(f"channel must be from 0 to {x.shape[0] - 1}, got {channel}")
    ours = ops.batch_norm(x, p["running_mean"], p["running_var"], p["weight"], p["bias"], p["eps"])
    c = channel
    return NormStep(
        stage=name, channel=c, before=x[c], after=stage.output[c], numpy_after=ours[c],
        running_mean=float(p["running_mean"][c]), running_var=float(p["running_var"][c]),
        weight=float(p["weight"][c]), bias=float(p["bias"][c]), eps=float(p["eps"]),
        momentum=float(p["momentum"]), num_batches_tracked=int(p["num_batches_tracked"]),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)  # eq=False: arrays
class BatchStatistics:
    """What a norm stage does with one training batch (the batch: several traced inputs)."""

    stage: str
    count: int  # n: values per channel, images x rows x columns
    mean: np.ndarray  # (C,) batch mean of each channel
    var: np.ndarray  # (C,) biased batch variance (divides by n): used to normalise
    running_mean: np.ndarray  # (C,) after this batch's update
    running_var: np.ndarray  # (C,) after it (with the unbiased variance, n / (n - 1))
    normalized: np.ndarray  # (C, H, W) the first image as training mode outputs it
    torch_difference: float  # largest |ours - F.batch_norm(training=True)| over all of the above


def batch_statistics(traces: list[Trace], name: str) -> BatchStatistics:
    """The training-mode step of norm stage ``name`` for a batch made of the traced inputs: the
    batch's statistics, the normalised first image, and the running statistics after the update.
    The model is not touched: the running statistics are copies from the traces' params."""
    if len(traces) < 2:
        raise ValueError("a batch needs at least 2 images for its variance")
    p = traces[0].stage(name).params
    x = np.stack([t.input_of(name) for t in traces]).astype(np.float64)  # (N, C, H, W)
    count = x.shape[0] * x.shape[2] * x.shape[3]  # n per channel
    mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))  # (C,) biased variance
    m = p["momentum"]
    running_mean = (1 - m) * p["running_mean"] + m * mean
    running_var = (1 - m) * p["running_var"] + m * var * count / (count - 1)
    normalized = (x[0] - mean[:, None, None]) / np.sqrt(var[:, None, None] + p["eps"])
    normalized = normalized * p["weight"][:, None, None] + p["bias"][:, None, None]
    oracle = _torch_training_step(x, p)
    ours = (normalized, running_mean, running_var)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ours, oracle, strict=True))
    return BatchStatistics(
        name, count, mean, var, running_mean, running_var, normalized.astype(np.float32), diff
    )


def _torch_training_step(x: np.ndarray, p: dict) -> tuple[np.ndarray, ...]:
    """PyTorch's training-mode batch norm of x (N, C, H, W) on copies of the running statistics:
    (first image's output, running mean after, running variance after)."""
    mean, var, weight, bias = (
        torch.tensor(p[k], dtype=torch.float64)
        for k in ("running_mean", "running_var", "weight", "bias")
    )  # mean and var are updated in place
    out = F.batch_norm(
        torch.from_numpy(x), mean, var, weight, bias,
        training=True, momentum=p["momentum"], eps=p["eps"],
    )  # fmt: skip
    return out[0].numpy(), mean.numpy(), var.numpy()
