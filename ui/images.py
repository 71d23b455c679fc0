"""Maps to coloured images for the overview strip (fast in the browser: one PNG per stage).

Pages that explain a stage use Plotly heatmaps with hover values (ui/figures.py); the overview
shows every stage at once, where dozens of interactive heatmaps would take seconds to render.
"""

from __future__ import annotations

import numpy as np

from . import theme

# Anchor colours (RGB) of the two scales, interpolated linearly.
_DIVERGING = np.array(
    [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]],
    dtype=np.float32,
)
_SEQUENTIAL = np.array(
    [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32
)


def colorize(values, zmin: float, zmax: float, signed: bool) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours on the diverging or sequential scale."""
    anchors = _DIVERGING if signed else _SEQUENTIAL
    t = (np.asarray(values, np.float32) - zmin) / max(zmax - zmin, 1e-12)  # 0..1
    pos = np.clip(t, 0, 1) * (len(anchors) - 1)
    low = np.minimum(pos.astype(int), len(anchors) - 2)
    frac = (pos - low)[..., None]
    return (anchors[low] * (1 - frac) + anchors[low + 1] * frac).astype(np.uint8)


def montage(maps, mode: str = "per layer", global_values=None, scale: int = 3, ncols: int = 8):
    """(C, H, W) maps -> one RGB image: the maps tiled in a grid, each enlarged ``scale`` times,
    separated by white lines, coloured with the colour-range mode."""
    maps = np.asarray(maps, np.float32)
    ranges = theme.map_ranges(maps, mode, global_values)
    signed = theme.is_signed(maps if mode != "global" else global_values)
    count, height, width = maps.shape
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    cell_h, cell_w = height * scale + 2, width * scale + 2  # 2 px of white between maps
    out = np.full((nrows * cell_h, ncols * cell_w, 3), 255, np.uint8)
    for k, (m, (lo, hi)) in enumerate(zip(maps, ranges, strict=True)):
        tile = colorize(m, lo, hi, signed).repeat(scale, 0).repeat(scale, 1)
        r, c = divmod(k, ncols)
        out[r * cell_h : r * cell_h + height * scale, c * cell_w : c * cell_w + width * scale] = (
            tile
        )
    return out


def grayscale(image, scale: int = 4) -> np.ndarray:
    """A (H, W) image in [0, 1] as an enlarged uint8 image (nearest neighbour, crisp pixels)."""
    img = (np.clip(np.asarray(image, np.float32), 0, 1) * 255).astype(np.uint8)
    return img.repeat(scale, 0).repeat(scale, 1)
