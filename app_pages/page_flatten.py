"""Flatten: C x H x W maps unrolled into one vector, in PyTorch's order."""

import numpy as np
import streamlit as st

from cnn_core import explain, ops, toy
from ui import figures, layout, state, theme
from ui import toy as toy_ui

TOY_KERNELS = "the toy kernel and a vertical-edge kernel"


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


def index_changed(shape) -> None:
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


def cell_changed(shape, key: str) -> None:
    """on_change of c, h or w: move the index to where that cell goes (a value outside its
    axis is put back to the one in use, with a note)."""
    axis = CELL_KEYS.index(key)
    if _typed(key, shape[axis]) is None:
        in_use = ops.unflat_index(int(st.session_state["flat_index"]), shape)[axis]
        _refuse(key, shape[axis], in_use)
        return
    cell = (int(st.session_state[k]) for k in CELL_KEYS)
    st.session_state["flat_index"] = ops.flat_index(*cell, shape)


def sync(shape) -> None:
    """Before the widgets: clamp pre-set values to this shape; the index decides the cell."""
    c_, h_, w_ = shape
    example = min(h_ * w_ + w_ + 1, c_ * h_ * w_ - 1)  # cell (1, 1, 1): every term counts
    layout.keep_int("flat_index", 0, c_ * h_ * w_ - 1, example)
    c, h, w = ops.unflat_index(int(st.session_state["flat_index"]), shape)
    st.session_state.update(flat_c=c, flat_h=h, flat_w=w)


def toy_maps():
    """The toy image convolved with two kernels: a small C x H x W stack to flatten by hand."""
    st.markdown(
        f"The toy image convolved with {TOY_KERNELS} (no padding, stride 1) gives two 5x5 maps: "
        "a 2 x 5 x 5 stack, 50 values."
    )
    cols = st.columns([3, 2])
    image = toy_ui.toy_image("flat_toy_image", container=cols[0])
    kernel = toy_ui.grid_editor(
        "Toy kernel (channel 0)", "flat_toy_kernel", toy.TOY_KERNEL, name="toy kernel",
        shape=(3, 3), container=cols[1],
    )  # fmt: skip
    if image is None or kernel is None:
        return None
    second = toy.KERNEL_PRESETS["vertical edge"]
    try:
        return explain.toy_feature_maps(image, [kernel, second]).astype(np.float32)
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return None


def index_widgets(shape) -> None:
    """The index and its (c, h, w), kept in step. No bounds in the widgets themselves: a
    browser does not send a typed value outside them and keeps showing it, so every value
    comes here, and one outside its range is put back with a note."""
    left, right = st.columns([1, 2])
    left.number_input(
        "Index i in the vector", step=1, key="flat_index", on_change=index_changed, args=(shape,)
    )
    for col, key in zip(right.columns(3), CELL_KEYS, strict=True):
        col.number_input(FIELDS[key], step=1, key=key, on_change=cell_changed, args=(shape, key))
    note = st.session_state.pop(state.FLAT_REFUSED, None)
    if note:
        st.warning(note, icon=":material/undo:")


def show(maps, flat, every, what: str) -> None:
    """The formula, the synced index <-> (c, h, w) widgets, the vector and the map."""
    shape = maps.shape
    c_, h_, w_ = shape
    sync(shape)
    st.code(
        f"x = torch.flatten(x, start_dim=1)  # {what}: ({c_}, {h_}, {w_}) -> ({flat.size},) "
        "per image, 0 parameters",
        language="python",
    )
    st.markdown(
        f"Shapes: `{layout.shape_text(shape)}` → `{flat.size}` = {c_}·{h_}·{w_} values, "
        "none of them changed · **0 parameters**. The order is PyTorch's (C-contiguous, "
        "row-major): channel, then row, then column."
    )
    index_widgets(shape)
    i = int(st.session_state["flat_index"])
    c, h, w = (int(st.session_state[k]) for k in CELL_KEYS)
    st.latex(rf"i = c \cdot H W + h \cdot W + w = {c} \cdot {h_ * w_} + {h} \cdot {w_} + {w} = {i}")
    st.markdown(
        f"Index **{i}** ↔ channel **{c}**, row **{h}**, column **{w}** · value "
        f"x[{i}] = maps[{c}, {h}, {w}] = **{float(flat[i]):.5f}**"
    )
    st.plotly_chart(
        figures.channel_vector(
            flat, h_ * w_, i, title=f"the vector of {flat.size} values, coloured by channel"
        ),
        key="flat_vector",
    )
    mode = layout.color_mode("flat_color_mode")
    zrange, scale = layout.color_range(maps[c], mode, maps, every)
    px = 40 if h_ <= 7 else 26 if h_ <= 14 else 12
    left, right = st.columns(2)
    left.plotly_chart(
        figures.annotated_grid(
            maps[c], title=f"channel {c} ({h_} x {w_}); cell ({h}, {w}) outlined",
            boxes=[figures.Box(h, w, h, w)], zrange=zrange, colorscale=scale, cell_px=px,
            show_scale=True,
        ),
        key="flat_map",
    )  # fmt: skip
    titles = [f"ch {k}" + (" (chosen)" if k == c else "") for k in range(c_)]
    right.plotly_chart(
        figures.heatmap_grid(
            maps, titles, theme.map_ranges(maps, mode, every), ncols=min(c_, 4), cell_px=110
        ),
        key="flat_all_maps",
    )


st.title("Flatten")
st.markdown(layout.prose("flatten"))
trace = layout.input_trace()
source = layout.source_switch("flat_source", trace)
if source == "model":
    maps = trace.input_of("flatten")  # (C, H, W) as traced
    show(maps, trace.stage("flatten").output, layout.map_values(trace), "the model")
else:
    maps = toy_maps()
    if maps is not None:
        show(maps, ops.flatten(maps), maps, "the toy")
