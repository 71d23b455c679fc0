"""Maps to coloured images for the overview strip (fast in the browser: one PNG per stage).

Pages that explain a stage use Plotly heatmaps with hover values (ui/figures.py); the overview
shows every stage at once, where dozens of interactive heatmaps would take seconds to render.
The maps' PNGs are coloured with the same Plotly colour scales (theme.DIVERGING and
theme.SEQUENTIAL), read from plotly.colors and interpolated in RGB between their stops as Plotly
does, so a value has one colour in a heatmap and in a PNG. Digit thumbnails stay plain 0..255
grey.
"""

from __future__ import annotations

import base64
import struct
import zlib
from functools import cache

import numpy as np
from plotly import colors

from . import theme


@cache
def color_stops(scale: str) -> tuple[np.ndarray, np.ndarray]:
    """A named Plotly colour scale as (positions (N,) in 0..1, RGB colours (N, 3) float64)."""
    stops = colors.get_colorscale(scale)  # [[position, "rgb(r, g, b)" or "#rrggbb"], ...]
    positions = np.array([position for position, _ in stops], np.float64)
    rgb = [colors.unlabel_rgb(colors.convert_colors_to_same_type(c, "rgb")[0][0]) for _, c in stops]
    return positions, np.array(rgb, np.float64)


def colorize(values, zmin, zmax, signed: bool) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours on the diverging or sequential scale (zmin and
    zmax: numbers, or arrays that broadcast against the values, e.g. one range per map)."""
    scale = theme.DIVERGING if signed else theme.SEQUENTIAL
    return scale_colors(values, zmin, zmax, scale)


def scale_colors(values, zmin, zmax, scale: str) -> np.ndarray:
    """(H, W) values -> (H, W, 3) uint8 colours of a Plotly colour scale over zmin..zmax (numbers,
    or arrays that broadcast against the values)."""
    positions, rgb = color_stops(scale)
    span = np.maximum(np.subtract(zmax, zmin, dtype=np.float64), 1e-12)
    t = np.clip((np.asarray(values, np.float64) - zmin) / span, 0, 1)
    channels = [np.interp(t, positions, rgb[:, c]) for c in range(3)]  # linear between stops
    return np.rint(np.stack(channels, axis=-1)).astype(np.uint8)


def montage(
    maps, mode: str = "per layer", global_values=None, scale: int = 3, ncols: int = 8, gap: int = 2
):
    """(C, H, W) maps -> one RGB image: the maps tiled in a grid, each enlarged ``scale`` times,
    separated by ``gap`` pixels of white, coloured with the colour-range mode. With scale 1 and
    gap 1 it is one pixel per value, for a browser to enlarge (light.image's ``width``): 16x
    fewer pixels to encode than at scale 4."""
    maps = np.asarray(maps, np.float32)
    ranges = theme.map_ranges(maps, mode, global_values)
    signed = theme.is_signed(maps if mode != "global" else global_values)
    count, height, width = maps.shape
    ncols = min(ncols, count)
    nrows = -(-count // ncols)
    # Every map coloured at once (a stroke draws several montages), each over its own range.
    lo, hi = (np.array(bound, np.float64)[:, None, None] for bound in zip(*ranges, strict=True))
    tiles = colorize(maps, lo, hi, signed).repeat(scale, 1).repeat(scale, 2)  # (C, H*s, W*s, 3)
    # Each tile on a white cell of gap pixels more; cells in rows of ncols (the last row
    # filled with white cells).
    cells = np.full((nrows * ncols, height * scale + gap, width * scale + gap, 3), 255, np.uint8)
    cells[:count, : height * scale, : width * scale] = tiles
    cells = cells.reshape(nrows, ncols, *cells.shape[1:]).transpose(0, 2, 1, 3, 4)
    return np.ascontiguousarray(cells).reshape(nrows * cells.shape[1], -1, 3)


def grayscale(image, scale: int = 4) -> np.ndarray:
    """A (H, W) image in [0, 1] as an enlarged uint8 image (nearest neighbour, crisp pixels)."""
    img = (np.clip(np.asarray(image, np.float32), 0, 1) * 255).astype(np.uint8)
    return img.repeat(scale, 0).repeat(scale, 1)


def square_thumbnail(image, size_px: int = 84) -> np.ndarray:
    """A (H, W) image in [0, 1] centred on a black square of side max(H, W), brought to about
    ``size_px``: thumbnails of different shapes then line up. A smaller square is enlarged
    (crisp pixels); a larger one (the 280x280 canvas) is reduced by averaging blocks of
    ceil(side / size_px) pixels a side, which keeps a thin stroke visible where a browser's
    crisp-pixel reduction would drop rows, and is a fraction of the pixels to encode and send."""
    image = np.asarray(image, np.float32)
    side = max(image.shape)
    factor = -(-side // size_px) if side > size_px else 1
    padded = -(-side // factor) * factor  # a whole number of blocks
    square = np.zeros((padded, padded), np.float32)  # the image in the middle, black around
    top, left = (padded - image.shape[0]) // 2, (padded - image.shape[1]) // 2
    square[top : top + image.shape[0], left : left + image.shape[1]] = image
    if factor > 1:  # block sums along one axis, then the other: a third of .mean(axis=(1, 3))
        n = padded // factor
        rows = square.reshape(n, factor, padded).sum(axis=1)  # (n, padded)
        blocks = rows.reshape(n, n, factor).sum(axis=2) / np.float32(factor * factor)
        return grayscale(blocks, 1)
    return grayscale(square, max(1, size_px // side))


def strip(vector, height: int = 16) -> np.ndarray:
    """A 1-D vector as a coloured strip (height, N, 3), one column of pixels per value, in the
    scale a one-row heatmap of it would have (diverging around 0 when signed)."""
    v = np.asarray(vector, np.float32)[None, :]  # (1, N)
    lo, hi = theme.value_range(v)
    return colorize(v, lo, hi, theme.is_signed(v)).repeat(height, 0)


def data_uri(image) -> str:
    """A uint8 image (H, W) grey or (H, W, 3) RGB as a PNG data URI, for an <img> inside HTML:
    it arrives with the HTML, with no request of its own to the server."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(image) -> bytes:
    """A uint8 image (H, W) grey or (H, W, 3) RGB as PNG bytes: 8 bits per channel, every row
    unfiltered, zlib level 1. A stroke encodes about 14 small images; written here directly
    this takes a third of the time PIL takes for the same pixels (0.16 against 0.48 ms for a
    montage of 16 maps), for a few hundred bytes more."""
    image = np.asarray(image, np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3) or not image.size:
        raise ValueError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    height, width = image.shape[:2]
    rows = np.zeros((height, 1 + image[0].size), np.uint8)  # filter byte 0: the row as is
    rows[:, 1:] = image.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if image.ndim == 2 else 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + _chunk(b"IEND", b"")
    )
