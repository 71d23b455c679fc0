"""Flatten: C x H x W maps unrolled into one vector, in PyTorch's order."""

import numpy as np
import streamlit as st

from cnn_core import ops, toy, toy_steps
from ui import cell_pick, charts, exercises, figures, flat_index, grids, layout, theme, tour
from ui import toy as toy_ui

TOY_KERNELS = "the toy kernel and a vertical-edge kernel"
PICK_ALL = "flat_pick_all"  # the toggle that draws every channel as a clickable chart


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
        return toy_steps.toy_feature_maps(image, [kernel, second]).astype(np.float32)
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return None


def show(maps, flat, every, what: str) -> None:
    """The formula, the synced index <-> (c, h, w) widgets, the vector and the map."""
    c_, h_, w_ = maps.shape
    i, (c, h, w) = flat_index.index_widgets(maps.shape)
    st.latex(rf"i = c \cdot H W + h \cdot W + w = {c} \cdot {h_ * w_} + {h} \cdot {w_} + {w} = {i}")
    st.markdown(
        f"Index **{i}** ↔ channel **{c}**, row **{h}**, column **{w}** · value "
        f"x[{i}] = maps[{c}, {h}, {w}] = **{float(flat[i]):.5f}**"
    )
    with st.container(key="main_figure"):  # on the first screen (test_browser_first_screen)
        alt = layout.grid_alt(
            f"The flattened vector of {what}, {c_} channels of {h_ * w_} values in a row",
            flat, f"index {i} (channel {c}, row {h}, column {w}) = {float(flat[i]):.4g} is marked",
        )  # fmt: skip
        figure = charts.channel_vector(
            flat, h_ * w_, i, title=f"the vector of {flat.size} values, coloured by channel"
        )
        layout.chart(st, figure, "flat_vector", alt, flat, "the vector")
        show_maps(maps, (c, h, w), every, what)
    st.code(
        f"x = torch.flatten(x, start_dim=1)  # {what}: ({c_}, {h_}, {w_}) -> ({flat.size},) "
        "per image, 0 parameters",
        language="python",
    )
    st.markdown(
        f"Shapes: `{layout.shape_text(maps.shape)}` → `{flat.size}` = {c_}·{h_}·{w_} values, "
        "none of them changed · **0 parameters**. The order is PyTorch's (C-contiguous, "
        "row-major): channel, then row, then column."
    )


def show_maps(maps, cell, every, what: str) -> None:
    """The chosen channel with the cell outlined, beside every channel of the stack."""
    (c, h, w), (c_, h_, w_) = cell, maps.shape
    mode = layout.color_mode("flat_color_mode")
    zrange, scale = layout.color_range(maps[c], mode, maps, every)
    px = 40 if h_ <= 7 else 26 if h_ <= 14 else 12
    left, right = st.columns(2)
    fig = figures.annotated_grid(
        maps[c], title=f"channel {c} ({h_} x {w_}); cell ({h}, {w}) outlined",
        boxes=[figures.Box(h, w, h, w)], zrange=zrange, colorscale=scale, cell_px=px,
        show_scale=True,
    )  # fmt: skip
    alt = layout.grid_alt(f"Channel {c} of {what}'s maps", maps[c],
                          f"cell ({h}, {w}) = {float(maps[c, h, w]):.4g} is outlined")  # fmt: skip
    fig = cell_pick.add_markers(fig, maps[c])
    layout.chart(left, fig, "flat_map", alt, maps[c], f"channel {c}", **cell_pick.PICK)
    titles = [f"ch {k}" + (" (chosen)" if k == c else "") for k in range(c_)]
    ranges = theme.map_ranges(maps, mode, every)
    with right:
        # Every channel as small images; the chart of them (hover values, a click picks a cell
        # of any channel: a marker per cell, hundreds of elements to draw) on demand.
        layout.keep_bool(PICK_ALL, False)
        clickable = st.toggle("Click a cell of any channel", key=PICK_ALL)
    if not clickable:
        alt = f"Every channel of {what}'s maps"
        right.markdown(
            grids.html_maps(maps, titles, ranges, c, alt, px=96 if h_ <= 14 else 160),
            unsafe_allow_html=True,
        )
        right.caption(layout.range_note(maps, mode, every))
        with right:
            layout.numbers_table(maps, "flat_all_maps", "every channel", open_key=PICK_ALL + "_t")
        return
    fig = figures.heatmap_grid(maps, titles, ranges, ncols=min(c_, 4), cell_px=110)
    for k in range(c_):  # a marker per cell of every channel: customdata [k, row, col]
        cell_pick.add_markers(
            fig, maps[k], size_px=110 / max(h_, w_), prefix=(k,), xref=f"x{k + 1 if k else ''}",
            yref=f"y{k + 1 if k else ''}",
            hovertemplate=f"ch {k}<br>" + cell_pick.HOVER,
        )  # fmt: skip
    alt = layout.grid_alt(f"Every channel of {what}'s maps", maps, f"channel {c} is the chosen one")
    layout.chart(right, fig, "flat_all_maps", alt, maps, "every channel", **cell_pick.PICK)


st.title("Flatten")
tour.show("flatten")
# The mechanism first: two sentences, the longer explanation on demand, then the figures.
st.markdown(layout.prose("flatten_lead"))
with st.expander("How flattening orders the numbers, and why the order matters"):
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
exercises.section("flatten")
