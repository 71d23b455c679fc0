"""The toy grids every stage page offers: edited as text, parsed by cnn_core.toy, errors shown."""

from __future__ import annotations

import numpy as np
import streamlit as st

from cnn_core import toy


def set_grid(key: str, grid: np.ndarray) -> None:
    """Put ``grid`` into the text widget ``key`` (call before the widget is drawn, or from a
    callback such as a preset picker's on_change)."""
    st.session_state[key] = toy.format_grid(grid)


def grid_editor(
    label: str,
    key: str,
    default: np.ndarray,
    *,
    name: str,
    max_size: int = 14,
    shape: tuple[int, int] | None = None,
    height: int | None = None,
    container=None,
) -> np.ndarray | None:
    """A text area holding a small grid (one row per line). Returns the parsed float32 array, or
    None after showing, in the page, why the text is not a valid grid."""
    where = container or st
    if key not in st.session_state:
        set_grid(key, default)
    rows = max(3, np.asarray(default).shape[0])
    text = where.text_area(
        label,
        key=key,
        height=height or (26 * rows + 22),
        help="One row per line; numbers separated by spaces or commas.",
    )
    try:
        return toy.parse_grid(text, name=name, max_size=max_size, shape=shape)
    except ValueError as err:
        where.error(str(err), icon=":material/error:")
        return None


def toy_image(key: str, container=None) -> np.ndarray | None:
    """The shared 7x7 toy image editor (any size up to 14x14 is accepted)."""
    return grid_editor("Toy input", key, toy.TOY_IMAGE, name="toy input", container=container)
