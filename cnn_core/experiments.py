"""Experiments on the model: move the input one pixel and measure what changes.

Convolution is equivariant (the maps move with the picture), pooling adds a little invariance
(the pooled maps change less); ``shift_experiment`` traces both inputs and measures both with one
definition of "how much a map changed" (MapChange).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .explain import stage_of_kind

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
    stage_of_kind(old, layer, "pool")
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
