"""The Flatten page's index i and cell (c, h, w) widgets, kept in step through ops.flat_index
and ops.unflat_index (PyTorch's C-contiguous order); a typed value outside its range is put back
with a note."""

import numpy as np
import streamlit as st

from cnn_core import ops
from ui import cell_pick, layout, state

FIELDS = {"flat_index": "Index i", "flat_c": "Channel c", "flat_h": "Row h", "flat_w": "Column w"}
CELL_KEYS = ("flat_c", "flat_h", "flat_w")


def _typed(key: str, size: int) -> int | None:
    """The whole number typed into ``key`` if it is in 0..size-1, else None."""
    value = st.session_state.get(key)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < size else None


def _refuse(key: str, size: int, in_use: int) -> None:
    """Put the value in use back into the field and say why the typed one was refused."""
    typed = st.session_state.get(key)
    shown = f"{typed:g}" if isinstance(typed, float) else str(typed)
    st.session_state[key] = in_use
    st.session_state[state.FLAT_REFUSED] = (
        f"{FIELDS[key]} = {shown} is outside 0 to {size - 1}, so it was not used; "
        f"{FIELDS[key]} stays {in_use}."
    )


def _index_changed(shape) -> None:
    """on_change of the index: move (c, h, w) to the cell it came from (an index outside the
    vector is put back to the one in use, with a note)."""
    size = int(np.prod(shape))
    i = _typed("flat_index", size)
    if i is None:
        cell = (int(st.session_state[k]) for k in CELL_KEYS)
        _refuse("flat_index", size, ops.flat_index(*cell, shape))
        return
    c, h, w = ops.unflat_index(i, shape)
    st.session_state.update(flat_index=i, flat_c=c, flat_h=h, flat_w=w)


def _cell_changed(shape, key: str) -> None:
    """on_change of c, h or w: move the index to where that cell goes (a value outside its
    axis is put back to the one in use, with a note)."""
    axis = CELL_KEYS.index(key)
    if _typed(key, shape[axis]) is None:
        in_use = ops.unflat_index(int(st.session_state["flat_index"]), shape)[axis]
        _refuse(key, shape[axis], in_use)
        return
    cell = (int(st.session_state[k]) for k in CELL_KEYS)
    st.session_state["flat_index"] = ops.flat_index(*cell, shape)


def _sync(shape) -> None:
    """Before the widgets: clamp pre-set values to this shape (the index kept over a page
    switch, ui/cell_pick.py); the index decides the cell."""
    cell_pick.keep(("flat_index",))
    c_, h_, w_ = shape
    example = min(h_ * w_ + w_ + 1, c_ * h_ * w_ - 1)  # cell (1, 1, 1): every term counts
    layout.keep_int("flat_index", 0, c_ * h_ * w_ - 1, example)
    c, h, w = ops.unflat_index(int(st.session_state["flat_index"]), shape)
    st.session_state.update(flat_c=c, flat_h=h, flat_w=w)


def _clicked(shape) -> None:
    """A new click on one of the page's maps (ui/cell_pick.py) moves the index to that cell:
    on the stack of every channel it is (c, h, w), on the chosen channel's map (h, w)."""
    cell = cell_pick.take("flat_all_maps", shape)
    if cell is None:
        spot = cell_pick.take("flat_map", shape[1:])
        cell = None if spot is None else (int(st.session_state["flat_c"]), *spot)
    if cell is not None:
        c, h, w = cell
        i = ops.flat_index(c, h, w, shape)
        st.session_state.update(flat_index=i, flat_c=c, flat_h=h, flat_w=w)
        cell_pick.keep(("flat_index",))  # the copy kept over a page switch
        cell_pick.rerun()


def index_widgets(shape) -> tuple[int, tuple[int, int, int]]:
    """The index and its (c, h, w), kept in step; returns (i, (c, h, w)). No bounds in the
    widgets themselves: a browser does not send a typed value outside them and keeps showing
    it, so every value comes here, and one outside its range is put back with a note."""
    _sync(shape)
    _clicked(shape)
    left, right = st.columns([1, 2])
    left.number_input(
        "Index i in the vector", step=1, key="flat_index", on_change=_index_changed, args=(shape,)
    )
    for col, key in zip(right.columns(3), CELL_KEYS, strict=True):
        col.number_input(FIELDS[key], step=1, key=key, on_change=_cell_changed, args=(shape, key))
    note = st.session_state.pop(state.FLAT_REFUSED, None)
    if note:
        st.warning(note, icon=":material/undo:")
    cell = tuple(int(st.session_state[k]) for k in CELL_KEYS)
    return int(st.session_state["flat_index"]), cell
