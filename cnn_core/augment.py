"""Augmentation of handwritten digits: random stroke thickness, rotation, scale and shift.

Made for digits (bright ink on black): thicker or thinner strokes and a tilt are what another
writer's digit looks like. It does not suit clothing photos (Fashion-MNIST), whose classes differ
in exactly such details; each data set's first run (cnn_core.catalog) says whether it is used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment_batch(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random stroke thickness, then a random small rotation, scale and shift, per image.

    images: (B, C, H, W) floats in [0, 1], bright ink on black. Returns a new tensor of the same
    shape, values in [0, 1]. Every random number comes from ``generator``.
    """
    return random_affine(random_thickness(images, generator), generator)


def _dilate(images: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-level dilation: each pixel becomes the maximum of a size x size window.
    size 2 pads one row and column at the bottom right (a half-pixel shift), keeping H and W."""
    padded = F.pad(images, (0, 1, 0, 1)) if size == 2 else F.pad(images, (1, 1, 1, 1))
    return F.max_pool2d(padded, size, stride=1)  # (B, C, H, W)


def random_thickness(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Per image: much thicker strokes (3x3 dilation) with probability 0.15, a little thicker
    (2x2 dilation) 0.2, thinner (2x2 erosion, the dilation of the negative) 0.15, else unchanged.
    A 3x3 erosion is not used: it wipes out the thin strokes of many MNIST digits."""
    u = torch.rand(images.shape[0], 1, 1, 1, generator=generator)  # (B, 1, 1, 1) one per image
    out = torch.where(u < 0.15, _dilate(images, 3), images)
    out = torch.where((u >= 0.15) & (u < 0.35), _dilate(images, 2), out)
    return torch.where((u >= 0.35) & (u < 0.5), -_dilate(-images, 2), out)


def random_affine(
    images: torch.Tensor,
    generator: torch.Generator,
    max_shift: float = 3.0,
    max_degrees: float = 15.0,
    scale: tuple[float, float] = (0.85, 1.15),
) -> torch.Tensor:
    """Rotate by U(-max_degrees, max_degrees), scale by U(*scale) and shift by U(-max_shift,
    max_shift) pixels in each direction, about the image centre, bilinear, zeros outside."""
    b, _, h, w = images.shape
    u = torch.rand(b, 4, generator=generator)  # (B, 4): angle, scale, dx, dy in [0, 1)
    angle = (2 * u[:, 0] - 1) * math.radians(max_degrees)  # (B,)
    zoom = scale[0] + u[:, 1] * (scale[1] - scale[0])  # (B,) > 1 makes the digit larger
    dx, dy = (2 * u[:, 2] - 1) * max_shift * 2 / w, (2 * u[:, 3] - 1) * max_shift * 2 / h
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # (B,)
    # theta maps output coordinates to input coordinates, in [-1, 1] units: (B, 2, 3)
    theta = torch.stack(
        [torch.stack([cos, -sin, dx], dim=1), torch.stack([sin, cos, dy], dim=1)], dim=1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp_(0.0, 1.0)  # bilinear weights are convex: only rounding can leave [0, 1]
