"""What the network looks at: saliency, occlusion, Grad-CAM and receptive fields.

    saliency(model, image, target) -> (28, 28)          |d logit_target / d image|
    occlusion(model, image, target, patch=4, stride=2, fill=0.0) -> (n, n)
        n = (28 - patch) // stride + 1; out[i, j] = p_target(image) - p_target(image with rows
        i*stride .. i*stride+patch-1 and columns j*stride .. j*stride+patch-1 set to fill)
    grad_cam(model, image, target, stage) -> (h, w)     ReLU(sum_k a_k A_k), A = output of
        `stage` (a conv, activation or pool stage), a_k = mean over (h, w) of d logit / d A_k
    receptive_field(config, stage, row, col) -> (top, left, bottom, right)
        inclusive input-pixel bounds, clipped to the image, of every pixel unit (row, col) of
        `stage` (any channel) depends on; a unit that sees only padding has top > bottom or
        left > right
    field_on(config, stage, row, col, source) -> the same bounds on an earlier stage's maps
    field_sizes(config) -> [(stage, side)]               the unclipped side of each stage's field

``image`` is a (28, 28) float32 array in [0, 1]; ``model`` is a CNN (the default model, a
session's own, or a live copy). Nothing here changes the model: the forward passes run the
model's stages one by one without dropout (as CNN.trace does), so its mode is never touched,
and gradients are taken with torch.autograd.grad for the image or a stage's output only, so
no parameter is left with a gradient. Arguments are checked like cnn_core.ops checks them: a
ValueError with a sentence a learner can act on.
"""

from __future__ import annotations

import numpy as np
import torch

from .model import CNN, ModelConfig, _check_image

SPATIAL_KINDS = ("conv", "norm", "activation", "pool")  # stages whose output is a stack of maps
MAX_OCCLUSION_IMAGES = 4096  # masked images in one forward pass (patch 1, stride 1: 784)


# ----------------------------------------------------------------------------------------------
# Checks


def _whole(name: str, value, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return int(value)


def _input(model: CNN, image) -> torch.Tensor:
    """The image as a (1, C, H, W) float32 tensor, checked as CNN.trace checks it."""
    config = model.config
    a = _check_image(image, config)  # (C, H, W)
    return torch.from_numpy(a.copy()).reshape(1, config.in_channels, *a.shape[-2:])


def _target(model: CNN, target) -> int:
    return _whole("the class", target, 0, model.config.num_classes - 1)


def spatial_stages(config: ModelConfig) -> list[tuple[str, str, tuple[int, int, int]]]:
    """(name, kind, (C, H, W)) of every conv, activation and pool stage that outputs maps (the
    activation after a hidden dense layer outputs a vector: not one of them)."""
    return [(n, k, s) for n, k, s in config.shapes() if k in SPATIAL_KINDS and len(s) == 3]


def _spatial_stage(config: ModelConfig, stage: str) -> tuple[str, tuple[int, ...]]:
    """(kind, output shape) of a conv, activation or pool stage; ValueError otherwise."""
    found = {name: (kind, shape) for name, kind, shape in spatial_stages(config)}
    if stage not in found:
        allowed = list(found)
        raise ValueError(
            f"{stage!r} is not a conv, activation or pool stage (or a batch norm) of this model; "
            f"choose one of "
            f"{', '.join(allowed)}"
        )
    return found[stage]


# ----------------------------------------------------------------------------------------------
# Forward passes that never touch the model's mode


def _run(model: CNN, x: torch.Tensor, names) -> torch.Tensor:
    """Apply the named stages, in order, to x (no dropout: as CNN.trace)."""
    for name in names:
        x = model.stages[name](x)
    return x


def _split_at(model: CNN, stage: str) -> tuple[list[str], list[str]]:
    """The stage names up to and including ``stage``, and the rest."""
    names = list(model.stages.keys())
    cut = names.index(stage) + 1
    return names[:cut], names[cut:]


# ----------------------------------------------------------------------------------------------
# Attribution maps


def saliency(model: CNN, image, target: int) -> np.ndarray:
    """|d logit_target / d image| per pixel: (H, W) float32 (the largest over input channels)."""
    x = _input(model, image).requires_grad_(True)
    target = _target(model, target)
    with torch.enable_grad():
        logits = _run(model, x, model.stages.keys())
        (grad,) = torch.autograd.grad(logits[0, target], x)
    return grad[0].abs().amax(dim=0).numpy().astype(np.float32)


def occlusion(model: CNN, image, target: int, patch: int = 4, stride: int = 2, fill=0.0):
    """How much the target's probability drops when each square patch is covered: (n, n) float32,
    n = (size - patch) // stride + 1. Every masked image goes through one forward pass."""
    x = _input(model, image)
    target = _target(model, target)
    size = x.shape[-1]
    patch = _whole("the patch size", patch, 1, size)
    stride = _whole("the patch stride", stride, 1, size)
    fill = _fill(fill)
    n = (size - patch) // stride + 1
    masked = x.repeat(n * n, 1, 1, 1)  # (n*n, C, H, W)
    for i in range(n):
        for j in range(n):
            r, c = i * stride, j * stride
            masked[i * n + j, :, r : r + patch, c : c + patch] = fill
    with torch.no_grad():
        p = torch.softmax(_run(model, torch.cat([x, masked]), model.stages.keys()), dim=1)
    drop = p[0, target] - p[1:, target]  # (n*n,)
    return drop.reshape(n, n).numpy().astype(np.float32)


def _fill(fill) -> float:
    try:
        value = float(fill)
    except (TypeError, ValueError):
        raise ValueError(f"the fill must be a number from 0 to 1, got {fill!r}") from None
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"the fill must be a number from 0 (black) to 1 (white), got {fill!r}")
    return value


def grad_cam(model: CNN, image, target: int, stage: str) -> np.ndarray:
    """Grad-CAM of ``stage``: ReLU(sum_k a_k A_k) with a_k the mean over the map of
    d logit_target / d A_k (Selvaraju et al. 2017): (h, w) float32, as coarse as the stage."""
    _spatial_stage(model.config, stage)
    x = _input(model, image)
    target = _target(model, target)
    before, after = _split_at(model, stage)
    with torch.no_grad():
        a = _run(model, x, before)  # (1, K, h, w)
    a = a.detach().requires_grad_(True)
    with torch.enable_grad():
        logits = _run(model, a, after)
        (grad,) = torch.autograd.grad(logits[0, target], a)
    weights = grad[0].mean(dim=(1, 2))  # (K,)
    cam = torch.relu((weights[:, None, None] * a[0].detach()).sum(dim=0))  # (h, w)
    return cam.numpy().astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Receptive fields


def _layers(config: ModelConfig, stage: str) -> list[tuple[int, int, int]]:
    """(kernel, stride, padding) of every layer from the input to ``stage``, in order (an
    activation or a batch norm has the geometry of the identity: kernel 1, stride 1, no
    padding)."""
    layers = []
    for name, kind, _ in spatial_stages(config):
        block = int(name[-1]) - 1  # conv1, act1, pool1 belong to block 1
        if kind == "conv":
            layers.append((config.kernel_size[block], config.stride[block], config.padding[block]))
        elif kind == "pool":
            layers.append((config.pool_size, config.pool_stride, 0))
        if name == stage:
            return layers
    raise AssertionError(f"{stage} was checked to be a stage")  # pragma: no cover


def receptive_field(config: ModelConfig, stage: str, row: int, col: int):
    """Inclusive (top, left, bottom, right) input-pixel bounds, clipped to the image, of every
    pixel that unit (row, col) of ``stage`` depends on, whatever its channel."""
    return field_on(config, stage, row, col, "input")


def field_on(config: ModelConfig, stage: str, row: int, col: int, source: str):
    """Inclusive (top, left, bottom, right) bounds, clipped to ``source``'s maps, of the cells
    of ``source`` that unit (row, col) of ``stage`` depends on (any channel of either).

    ``source`` is "input" (then this is receptive_field) or a conv, activation or pool stage at
    or before ``stage``: the cells CNN Explainer draws as a unit's connections. An empty field
    (a unit that reads only padding) has top > bottom or left > right.
    """
    _, shape = _spatial_stage(config, stage)
    row = _whole(f"the row of {stage}", row, 0, shape[1] - 1)
    col = _whole(f"the column of {stage}", col, 0, shape[2] - 1)
    layers = _layers(config, stage)
    if source == "input":
        skip, height, width = 0, config.input_size, config.input_size
    else:
        order = [name for name, _, _ in spatial_stages(config)]
        _, source_shape = _spatial_stage(config, source)
        if order.index(source) > order.index(stage):
            raise ValueError(f"{source} comes after {stage}: a unit depends only on earlier maps")
        skip, (_, height, width) = len(_layers(config, source)), source_shape
    (top, bottom), (left, right) = (row, row), (col, col)
    for k, s, p in reversed(layers[skip:]):  # output cells -> the cells they read
        top, bottom = top * s - p, bottom * s - p + k - 1
        left, right = left * s - p, right * s - p + k - 1
    return max(top, 0), max(left, 0), min(bottom, height - 1), min(right, width - 1)


def field_sizes(config: ModelConfig) -> list[tuple[str, int]]:
    """(stage, side of its receptive field in input pixels, before clipping) for every conv,
    activation and pool stage: the side grows by (k - 1) times the product of the strides
    before a layer, at every layer with a kernel k."""
    sizes, side, jump = [], 1, 1
    for name, kind, _ in spatial_stages(config):
        identity = kind in ("activation", "norm")  # one value in, one value out
        k, s, _ = (1, 1, 0) if identity else _layers(config, name)[-1]
        side, jump = side + (k - 1) * jump, jump * s
        sizes.append((name, side))
    return sizes
