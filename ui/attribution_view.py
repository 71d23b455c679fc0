"""Pure Plotly builders for the "What it looks at" page: plain arrays in, ``go.Figure`` or text
out. No streamlit, no torch (cnn_core.attribution computes the maps; this module only draws them).

Every map is drawn over the input in input-pixel coordinates (-0.5 .. size - 0.5 on both axes),
so a saliency pixel, an occlusion patch and a Grad-CAM cell all sit over the pixels they are
about. The ink of the input (pixels brighter than INK_LEVEL) is outlined on top, a black line
under a white one, so the digit's shape shows whatever the colour beneath it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from . import theme

INK_LEVEL = 0.5  # the outline of the input is drawn at this brightness
CELL_PX = 11  # screen pixels per input pixel: a 28x28 map is 308 px square
BAR_PX = 96  # room at the right for the colour bar, its ticks and its title
PICK = {"color": "#ffb000", "width": 3, "dash": "dash"}  # a chosen patch: colour and dashes
FONT = {"size": 12}


@dataclass(frozen=True)
class Placement:
    """Where the cells of an (h, w) map sit over the input: the centre of cell (0, 0) and the
    spacing of the cells, in input pixels (a cell is drawn ``step`` pixels wide)."""

    first: float
    step: float

    @classmethod
    def pixels(cls) -> Placement:
        """One cell per input pixel (saliency)."""
        return cls(0.0, 1.0)

    @classmethod
    def patches(cls, patch: int, stride: int) -> Placement:
        """Occlusion cell (i, j) at the centre of the patch it covered, one stride apart."""
        return cls((patch - 1) / 2, float(stride))

    @classmethod
    def spread(cls, cells: int, size: int) -> Placement:
        """A coarse map spread evenly over the image (Grad-CAM): each cell over size/cells px."""
        step = size / cells
        return cls(step / 2 - 0.5, step)


def patch_box(row: int, col: int, patch: int, stride: int, size: int):
    """Inclusive (top, left, bottom, right) pixels covered by occlusion patch (row, col)."""
    top, left = row * stride, col * stride
    return top, left, min(top + patch, size) - 1, min(left + patch, size) - 1


def patch_grid(n: int, patch: int, stride: int, size: int) -> np.ndarray:
    """(n, n, 4): the inclusive bounds (top, left, bottom, right) of every occlusion patch."""
    return np.array(
        [[patch_box(i, j, patch, stride, size) for j in range(n)] for i in range(n)], np.float32
    )


def masked_image(image, box, fill: float) -> np.ndarray:
    """A copy of the input with the pixels of ``box`` (inclusive bounds) set to ``fill``."""
    out = np.array(image, dtype=np.float32, copy=True)
    top, left, bottom, right = box
    out[top : bottom + 1, left : right + 1] = fill
    return out


def overlay(values, image, place: Placement, zrange, colorscale, *, title: str, bar: str,
            hover: str, customdata=None, boxes=()) -> go.Figure:  # fmt: skip
    """A map over the input: a heatmap of ``values`` placed by ``place``, the ink outlined, each
    box (inclusive pixel bounds) dashed. ``hover`` is the heatmap's hovertemplate; ``bar`` names
    the colour bar's quantity."""
    z = np.asarray(values, dtype=np.float32)
    heat = go.Heatmap(
        z=z, x0=place.first, dx=place.step, y0=place.first, dy=place.step,
        zmin=zrange[0], zmax=zrange[1], colorscale=colorscale, customdata=customdata,
        hovertemplate=hover + "<extra></extra>",
        colorbar={"thickness": 14, "title": {"text": bar, "side": "right"}},
    )  # fmt: skip
    fig = go.Figure(heat)
    _ink_outline(fig, image)
    for box in boxes:
        _outline(fig, box)
    fig.update_layout(_layout(np.shape(image)[-1], title))
    return fig


def image_figure(image, *, title: str, boxes=()) -> go.Figure:
    """The input itself in grey (0 black to 1 white), each box dashed, the value on hover."""
    fig = go.Figure(
        go.Heatmap(
            z=np.asarray(image, dtype=np.float32), zmin=0.0, zmax=1.0, colorscale=theme.IMAGE,
            hovertemplate="pixel (%{y}, %{x})<br>value %{z:.3f}<extra></extra>",
            colorbar={"thickness": 14, "title": {"text": "pixel value", "side": "right"}},
        )
    )  # fmt: skip
    for box in boxes:
        _outline(fig, box)
    fig.update_layout(_layout(np.shape(image)[-1], title))
    return fig


def ink_edges(image) -> str:
    """The ink's outline as an SVG path in data coordinates: the edges between a pixel brighter
    than INK_LEVEL and one that is not (or the image's border), one unit segment each, joined
    into runs along rows and columns. Pixel (r, c) spans r +- 0.5, c +- 0.5."""
    ink = np.pad(np.asarray(image, dtype=np.float32) > INK_LEVEL, 1)  # a border of no ink
    parts = []
    # Horizontal edges: between rows r-1 and r (padded), where exactly one of the two is ink.
    for r, row in enumerate(ink[1:] != ink[:-1]):
        y = r - 0.5
        for start, stop in _runs(row[1:-1]):
            parts.append(f"M{start - 0.5},{y}H{stop - 0.5}")
    for c, col in enumerate((ink[:, 1:] != ink[:, :-1]).T):
        x = c - 0.5
        for start, stop in _runs(col[1:-1]):
            parts.append(f"M{x},{start - 0.5}V{stop - 0.5}")
    return "".join(parts)


def _runs(flags) -> list[tuple[int, int]]:
    """(start, stop) of every run of True in a 1-D boolean array (stop exclusive)."""
    edges = np.diff(np.concatenate([[0], np.asarray(flags, dtype=np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _ink_outline(fig: go.Figure, image) -> None:
    """The ink's outline: a wide black line under a narrow white one (seen on any colour), as
    one SVG path each (cheap to draw, where a go.Contour is traced in the browser)."""
    path = ink_edges(image)
    if not path:
        return
    for colour, width in (("black", 3.5), ("white", 1.5)):
        fig.add_shape(type="path", path=path, xref="x", yref="y",
                      line={"color": colour, "width": width})  # fmt: skip


def _outline(fig: go.Figure, box) -> None:
    top, left, bottom, right = box
    fig.add_shape(type="rect", x0=left - 0.5, x1=right + 0.5, y0=top - 0.5, y1=bottom + 0.5,
                  line=PICK)  # fmt: skip


def _layout(size: int, title: str) -> dict:
    """A square plot of size x size input pixels, rows downwards, the colour bar at the right."""
    plot = size * CELL_PX
    axis = {"range": [-0.5, size - 0.5], "showgrid": False, "zeroline": False, "dtick": 7}
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 13}},
        "width": plot + 30 + BAR_PX,
        "height": plot + 40 + 30,
        "margin": {"l": 30, "r": BAR_PX, "t": 40, "b": 30},
        "font": FONT,
        "showlegend": False,
        "xaxis": {**axis, "side": "bottom", "title": None},
        "yaxis": {**axis, "range": [size - 0.5, -0.5], "scaleanchor": "x"},
    }


# ----------------------------------------------------------------------------------------------
# Colour ranges, hover data and words (the text alternative of each map)


def shared_range(maps, signed: bool) -> tuple[tuple[float, float], str]:
    """One (zmin, zmax) and colour scale for maps shown side by side: from 0 (sequential) for
    non-negative maps, symmetric around 0 (diverging) for signed ones."""
    values = np.concatenate([np.ravel(m) for m in maps])
    zrange = theme.value_range(values, signed=signed)
    return zrange, theme.DIVERGING if signed else theme.SEQUENTIAL


def scale_words(zrange, signed: bool) -> str:
    """The colour scale in words, with its range."""
    if signed:
        return (f"blue = negative, white = 0, red = positive, from {zrange[0]:.3g} to "
                f"{zrange[1]:.3g}")  # fmt: skip
    return f"dark = 0 to bright = {zrange[1]:.3g}"


def number(value: float, spec: str = ".4g") -> str:
    """A value in the format ``spec``, never a negative zero ("-0.0000" is shown as 0)."""
    text = f"{float(value):{spec}}"
    return f"{0.0:{spec}}" if float(text.rstrip("%")) == 0 else text


def tidy(values, decimals: int = 4) -> np.ndarray:
    """Values rounded for hover text, without negative zeros (the map keeps its exact values)."""
    return np.round(np.asarray(values, dtype=np.float64), decimals) + 0.0


def largest(values, count: int = 3) -> list[tuple[float, int, int]]:
    """The ``count`` largest values of a 2-D map as (value, row, col), largest first."""
    v = np.asarray(values)
    order = np.argsort(v, axis=None, kind="stable")[::-1][:count]
    return [(float(v.flat[i]), *(int(x) for x in np.unravel_index(i, v.shape))) for i in order]


def stack_data(*layers) -> np.ndarray:
    """Per-cell hover data: (h, w) arrays stacked into (h, w, k) for a heatmap's customdata."""
    return np.stack([np.asarray(a, dtype=np.float32) for a in layers], axis=-1)
