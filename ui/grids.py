"""Placing numeric grids on a page so that their numbers keep their size: side by side while
they fit in the page's width, each in a column about as wide as it needs, otherwise on a row of
their own (a 3x3 filter does not stretch over a whole row, a 14x14 grid is not squeezed)."""

from __future__ import annotations

from html import escape

import numpy as np
import streamlit as st

from . import images, light, theme

CONTENT_PX = 900  # about the width of the main column at 1400 px with the sidebar open (940)


def grid_columns(widths) -> list:
    """One container per grid, in reading order, for grids of these widths in pixels (see
    figures.grid_width_px): consecutive grids share a row while their widths add up to at most
    CONTENT_PX, and each gets a column of about its own width."""
    rows, row = [], []
    for width in widths:
        if row and sum(row) + width > CONTENT_PX:
            rows.append(row)
            row = []
        row.append(min(int(width), CONTENT_PX))
    rows.append(row)
    containers = []
    for row in rows:
        spare = CONTENT_PX - sum(row)
        containers += st.columns(row + ([spare] if spare > 0 else []))[: len(row)]
    return containers


# Small numeric grids as HTML: a Plotly chart costs the browser tens of milliseconds to draw, a
# table of a few dozen cells next to nothing, and its text is its own text alternative (a screen
# reader reads the caption, the row and column numbers and every value). The cells are coloured
# with the heatmaps' colour scales (ui/images.py), their numbers printed as the heatmaps print
# them (theme.cell_text) in black or white, whichever contrasts more with the cell.

GRID_TABLE_CSS = (
    "border-collapse:collapse;margin:0 0 0.5rem 0;font-size:14px;font-variant-numeric:tabular-nums"
)
CELL_CSS = "padding:2px 5px;min-width:2.6em;text-align:center;border:1px solid transparent"
HEAD_CSS = "padding:0 4px;font-weight:400;font-size:11px;opacity:0.75;text-align:center"


def html_grid(values, title: str, zrange=None, colorscale=None, digits: int = 2, boxes=()) -> str:
    """A (H, W) grid (or a vector, as one row) as a <table>: its title as the caption, column
    numbers on top and row numbers on the left (counted from 0, as in PyTorch), each cell
    coloured by its value and printing it with ``digits`` decimals. A cell's ``title`` (shown on
    hover) has the value to 5 decimals, its ``data-value`` the value in full. ``boxes``
    (figures.Box) are outlined with a border in their colour."""
    z = np.asarray(values, dtype=np.float32)
    z = z[None, :] if z.ndim == 1 else z
    lo, hi = zrange or theme.value_range(z)
    scale = colorscale or theme.colorscale_for(z)
    rgb = images.scale_colors(z, lo, hi, scale).tolist()
    edges = _box_edges(z.shape, boxes)
    head = "".join(f"<th scope='col' style='{HEAD_CSS}'>{c}</th>" for c in range(z.shape[1]))
    rows = []
    for r, row in enumerate(z):
        cells = []
        for c, v in enumerate(row):
            colour = tuple(rgb[r][c])
            border = edges.get((r, c), "")
            cells.append(
                f"<td title='row {r}, col {c}: {float(v):.5f}' data-value='{float(v)!r}' "
                f"style='{CELL_CSS};"
                f"background:rgb{colour};color:{light.text_colour(colour)}{border}'>"
                f"{theme.cell_text(v, digits)}</td>"
            )
        rows.append(f"<tr><th scope='row' style='{HEAD_CSS}'>{r}</th>{''.join(cells)}</tr>")
    return (
        f"<table class='cs-grid' data-title='{escape(title, quote=True)}' "
        f"style='{GRID_TABLE_CSS}'><caption style='caption-side:top;text-align:left;"
        f"font-size:13px'>{escape(title)}</caption><thead><tr><td></td>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _box_edges(shape, boxes) -> dict[tuple[int, int], str]:
    """CSS borders (';border-top:3px solid #ffb000' ...) of the cells on each Box's edges."""
    edges: dict[tuple[int, int], str] = {}
    for b in boxes:
        line = f"{b.width}px solid {b.color}"
        for r in range(max(b.top, 0), min(b.bottom, shape[0] - 1) + 1):
            for c in range(max(b.left, 0), min(b.right, shape[1] - 1) + 1):
                sides = [
                    side
                    for side, on in (
                        ("top", r == b.top), ("bottom", r == b.bottom),
                        ("left", c == b.left), ("right", c == b.right),
                    )
                    if on
                ]  # fmt: skip
                edges[(r, c)] = edges.get((r, c), "") + "".join(
                    f";border-{side}:{line}" for side in sides
                )
    return edges


def html_grid_row(tables) -> str:
    """Grids side by side, wrapping onto the next line when the page is too narrow."""
    return (
        "<div class='cs-grid-row' style='display:flex;flex-wrap:wrap;gap:6px 24px;"
        f"align-items:flex-start'>{''.join(tables)}</div>"
    )


def show_html(html: str) -> None:
    """Put grids made here on the page (one element, no request of its own)."""
    st.markdown(html, unsafe_allow_html=True)


def html_maps(maps, titles, ranges, chosen: int, alt: str, px: int = 96, ncols: int = 4) -> str:
    """Maps (C, H, W) as small images, ``ncols`` to a row, each over its title, the ``chosen``
    one framed (and said so in its title and alt text): coloured as a heatmap_grid colours
    them (one (zmin, zmax) per map in ``ranges``, diverging when the stack is signed). Each
    image is a PNG data URI of one pixel per value, enlarged by the browser."""
    maps = np.asarray(maps, dtype=np.float32)
    signed = theme.is_signed(maps)
    cells = []
    for k, (m, (lo, hi)) in enumerate(zip(maps, ranges, strict=True)):
        uri = images.data_uri(images.colorize(m, lo, hi, signed))
        frame = "outline:3px solid #ffb000;outline-offset:1px;" if k == chosen else ""
        text = f"{alt}: {titles[k]}, {m.shape[0]}x{m.shape[1]} values from {m.min():.3g} to "
        text += f"{m.max():.3g}"
        cells.append(
            f"<figure style='margin:0;text-align:center'><img src='{uri}' "
            f"alt='{escape(text, quote=True)}' style='width:{px}px;max-width:100%;object-fit:fill;"
            f"image-rendering:pixelated;display:block;margin:auto;{frame}'>"
            f"<figcaption style='font-size:12px'>{escape(titles[k])}</figcaption></figure>"
        )
    return (
        f"<div class='cs-maps' style='display:grid;grid-template-columns:repeat({ncols},"
        f"{px + 8}px);gap:6px'>{''.join(cells)}</div>"
    )
