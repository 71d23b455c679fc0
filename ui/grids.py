"""Placing numeric grids on a page so that their numbers keep their size: side by side while
they fit in the page's width, each in a column about as wide as it needs, otherwise on a row of
their own (a 3x3 filter does not stretch over a whole row, a 14x14 grid is not squeezed)."""

from __future__ import annotations

import streamlit as st

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
