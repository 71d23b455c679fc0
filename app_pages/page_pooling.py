"""Pooling: each window of a feature map reduced to one number (its maximum or its mean)."""

import numpy as np
import streamlit as st

from cnn_core import conv_lab, experiments, explain, toy, toy_steps
from ui import cell_pick, exercises, field_view, figures, grids, layout, state, tour
from ui import toy as toy_ui

MODES = {"max": "Max pooling", "avg": "Average pooling"}
TOY_SOURCES = {"conv": "the toy image's conv map (5x5)", "image": "the toy image itself (7x7)"}
DIRECTIONS = list(experiments.SHIFTS)


def settings(own: dict, cols=None) -> tuple[str, int, int, bool]:
    """Mode, window, stride and ceil-mode widgets (in four columns of their own unless ``cols``
    are given); defaults are ``own`` (the model's)."""
    layout.keep_choice("pool_mode", MODES, own["mode"])
    size = layout.keep("pool_size", own["kernel_size"])  # bounds in ui/pages.py
    stride = layout.keep("pool_stride", own["stride"])
    layout.keep_bool("pool_ceil", own["ceil_mode"])
    cols = cols or st.columns(4)
    mode = cols[0].radio("Mode", list(MODES), format_func=MODES.get, key="pool_mode")
    k = cols[1].number_input("Window size k", size.lo, size.hi, step=1, key="pool_size")
    s = cols[2].number_input("Stride s", stride.lo, stride.hi, step=1, key="pool_stride")
    ceil = cols[3].toggle(
        "ceil_mode", key="pool_ceil", help="Keep the partial windows at the right and bottom edges."
    )
    return mode, int(k), int(s), bool(ceil)


def size_formula(n: int, k: int, s: int, ceil: bool, out: int) -> str:
    """The output-size formula with the chosen numbers (LaTeX)."""
    rounding = (r"\left\lceil", r"\right\rceil") if ceil else (r"\left\lfloor", r"\right\rfloor")
    return (
        rf"H_{{out}} = {rounding[0]} \frac{{H - k}}{{s}} {rounding[1]} + 1 = "
        rf"{rounding[0]} \frac{{{n} - {k}}}{{{s}}} {rounding[1]} + 1 = {out}"
    )


def model_view(trace, pools):
    """Layer, channel and the pooling settings on the model's map; returns the PoolView."""
    cols = st.columns([2, 2, 3, 2, 2, 2])  # one row of settings: the figures come sooner
    stage, channel = layout.layer_and_channel(
        pools, "pool_layer", "pool_channel", ("Pooling stage", "Channel"), cols[:2]
    )
    name = stage.name
    p = stage.params
    mode, k, s, ceil = settings(p, cols[2:])
    view = explain.pool_what_if(trace, name, channel, mode, k, s, ceil)
    return view, trace.input_of(name), layout.map_values(trace)


def model_text(trace, view) -> None:
    """The model's own pooling line (and the 'what if' one), shapes and parameters."""
    name, p = view.layer, trace.stage(view.layer).params
    mode, k, s, ceil = view.mode, view.kernel_size, view.stride, view.ceil_mode
    c_in = trace.input_of(name).shape[0]
    own = view.torch_after is not None
    st.code(
        f"{'nn.MaxPool2d' if p['mode'] == 'max' else 'nn.AvgPool2d'}(kernel_size="
        f"{p['kernel_size']}, stride={p['stride']})  # the model's own: 0 parameters"
        + ("" if own else f"\n{torch_line(mode, k, s, ceil)}  # the 'what if' shown above"),
        language="python",
    )
    st.markdown(
        f"Shapes: `{layout.shape_text(trace.input_of(name).shape)}` → "
        f"`{layout.shape_text((c_in, *view.after.shape))}` (each of the {c_in} channels is "
        "pooled on its own) · **0 parameters**: pooling has nothing to learn."
    )
    if not own:
        st.markdown(
            f"**What if**: the model pools with {MODES[p['mode']].lower()}, window "
            f"{p['kernel_size']}, stride {p['stride']}; these numbers are computed here on the "
            "same map and are not in the model."
        )


def torch_line(mode: str, k: int, s: int, ceil: bool) -> str:
    cls = "nn.MaxPool2d" if mode == "max" else "nn.AvgPool2d"
    return f"{cls}(kernel_size={k}, stride={s}{', ceil_mode=True' if ceil else ''})"


def toy_view():
    """The toy grid (its conv map, or the image itself) pooled with the chosen settings."""
    layout.keep_choice("pool_toy_input", TOY_SOURCES, "conv")
    what = st.radio(
        "Pool", list(TOY_SOURCES), format_func=TOY_SOURCES.get, horizontal=True,
        key="pool_toy_input",
    )  # fmt: skip
    cols = st.columns([3, 2])
    image = toy_ui.toy_image("pool_toy_image", container=cols[0])
    kernel = None
    if what == "conv":
        kernel = toy_ui.grid_editor(
            "Toy kernel", "pool_toy_kernel", toy.TOY_KERNEL, name="toy kernel", max_size=7,
            container=cols[1],
        )  # fmt: skip
    mode, k, s, ceil = settings({"mode": "max", "kernel_size": 2, "stride": 2, "ceil_mode": False})
    if image is None or (what == "conv" and kernel is None):
        return None, None, None
    grid = toy_steps.toy_conv_map(image, kernel) if what == "conv" else image
    view = explain.pool_map(grid, mode, k, s, ceil)
    st.code(
        ("z = F.conv2d(image[None, None], kernel[None, None])\n" if what == "conv" else "")
        + f"{torch_line(mode, k, s, ceil)}({'z' if what == 'conv' else 'image[None, None]'})"
        "  # 0 parameters",
        language="python",
    )
    return view, grid, np.concatenate([grid.ravel(), view.after.ravel()])


def chart_key(name: str, view) -> str:
    """A map's chart key with its shape in it ("pool_after_14x14"): a map that changes shape is
    a fresh chart (Streamlit updates a chart with the same key in place; the window chart below
    needed a fresh key per setting for the same reason)."""
    values = view.after if name == "pool_after" else view.before
    return f"{name}_{values.shape[0]}x{values.shape[1]}"


def chosen_cell(view, cols) -> tuple[int, int]:
    """The output cell: a click on the pooled map (read before the sliders), or the sliders
    (in the first two of ``cols``)."""
    h, w = view.after.shape
    cell_pick.apply(chart_key("pool_after", view), ("pool_row", "pool_col"), (h, w))
    layout.keep_int("pool_row", 0, h - 1, h // 2)
    layout.keep_int("pool_col", 0, w - 1, w // 2)
    row = cols[0].slider("Output row", 0, max(h - 1, 1), key="pool_row", disabled=h == 1)
    col = cols[1].slider("Output column", 0, max(w - 1, 1), key="pool_col", disabled=w == 1)
    return min(int(row), h - 1), min(int(col), w - 1)


def window_formula(view, row: int, col: int) -> str:
    """out[row, col] with the window's numbers substituted (LaTeX)."""
    top, left, bottom, right = view.window(row, col)
    values = view.before[top:bottom, left:right].ravel()
    value = float(view.after[row, col])
    if view.mode == "max":
        listed = r",\,".join(f"{v:.3g}" for v in values)
        return rf"\text{{out}}[{row},{col}] = \max({listed}) = {value:.4f}"
    terms = " + ".join(f"{v:.3g}" if v >= 0 else f"({v:.3g})" for v in values)
    return rf"\text{{out}}[{row},{col}] = \tfrac{{1}}{{{values.size}}}({terms}) = {value:.4f}"


def show(view, layer_maps, every) -> None:
    """The maps with the chosen window and winners first, then the window's formula, its numbers,
    the sizes and partial windows."""
    cols = st.columns(3)  # one row: output row, output column, colour range
    row, col = chosen_cell(view, cols)
    layout.keep_bool("pool_all_winners", False)
    show_all = bool(st.session_state["pool_all_winners"])  # its toggle is under the maps
    marks = []
    if view.winners is not None:
        marks = view.decisive_winners() if show_all else [tuple(view.winners[row, col])]
    with cols[2]:
        mode = layout.color_mode("pool_color_mode")
    colours = layout.color_range(view.before, mode, layer_maps, every)
    with st.container(key="main_figure"):  # on the first screen (test_browser_first_screen)
        maps(view, row, col, marks, colours)
    st.toggle("Mark every window's winner", key="pool_all_winners", disabled=view.winners is None)
    cell_result(view, row, col)
    window(view, row, col, colours)
    sizes(view)


def cell_result(view, row: int, col: int) -> None:
    """The chosen output cell: its formula with the window's numbers, PyTorch's value, and
    (max pooling) the winner."""
    st.latex(window_formula(view, row, col))
    value = float(view.after[row, col])
    verb = "largest value" if view.mode == "max" else "mean"
    text = f"Output cell ({row}, {col}): the {verb} of its window is **{value:.5f}**"
    if view.torch_after is not None:
        text += (
            f"; PyTorch computed **{float(view.torch_after[row, col]):.5f}** "
            f"(|difference| over the whole map {view.difference:.1e})"
        )
    st.markdown(text + ".")
    if view.winners is not None:
        r, c = (int(v) for v in view.winners[row, col])
        st.markdown(
            f"The winner (from `return_indices`) is input cell **({r}, {c})** (★ star), value "
            f"**{float(view.before[r, c]):.5f}**: only it gets a gradient in training. "
            "Flat windows (all values equal) have no real winner."
        )


def sizes(view) -> None:
    """The pooling formula, the output size with its rounding, and the partial windows."""
    h, w = view.before.shape
    h_out, w_out = view.after.shape
    k, s = view.kernel_size, view.stride
    reduce = r"\max" if view.mode == "max" else r"\operatorname{mean}"
    st.latex(
        rf"\text{{out}}[c,i,j] = {reduce}_{{0 \le u,v < {k}}}\; x[c,\; {s} i + u,\; {s} j + v]"
    )
    rows = conv_lab.output_size(h, k, s, ceil_mode=view.ceil_mode)
    st.latex(size_formula(h, k, s, view.ceil_mode, rows.by_formula))
    if rows.by_formula != h_out:
        st.caption(
            f"PyTorch keeps {h_out}, not {h_out + 1}: the last window would start past the map, "
            "and a window must start inside it."
        )
    st.markdown(
        f"Input map **{h} x {w}** → output **{h_out} x {w_out}** "
        f"({MODES[view.mode].lower()}, window {k}, stride {s}, ceil_mode {view.ceil_mode})."
    )
    partial = view.partial_cells
    if view.ceil_mode and partial:
        st.markdown(
            f"ceil_mode adds **{len(partial)}** output cells whose windows hang past the edge "
            "(partial windows); "
            + ("they take the max of the cells that exist." if view.mode == "max" else
               "their average divides by the cells that exist, not by k².")
        )  # fmt: skip
    elif view.ceil_mode:
        st.markdown("ceil_mode changes nothing here: the windows fit the map exactly.")


def maps(view, row: int, col: int, marks, colours) -> None:
    """The input map with the window outlined and the pooled map with the chosen cell: side by
    side when both fit with their numbers at full size, else one under the other."""
    (zrange, scale), (top, left, bottom, right) = colours, view.window(row, col)
    before_px = 14 if view.before.shape[0] > 14 else 34
    after_px = 34 if view.after.shape[0] <= 14 else 14
    where = grids.grid_columns(
        [figures.grid_width_px(view.before, cell_px=before_px, show_scale=True),
         figures.grid_width_px(view.after, cell_px=after_px)]
    )  # fmt: skip
    before = figures.annotated_grid(
        view.before, title="input map (window outlined)", zrange=zrange, colorscale=scale,
        cell_px=before_px, boxes=[figures.Box(top, left, bottom - 1, right - 1)],
        marks=marks, show_scale=True,
    )  # fmt: skip
    alt = layout.grid_alt(
        f"{map_name(view)}: the map pooling receives", view.before,
        winner_words(view, row, col, marks),
    )  # fmt: skip
    layout.chart(where[0], before, chart_key("pool_before", view), alt, view.before,
                 "the input map")  # fmt: skip
    pooled = figures.annotated_grid(
        view.after, title="pooled map", zrange=zrange, colorscale=scale,
        cell_px=after_px, boxes=[figures.Box(row, col, row, col)],
    )  # fmt: skip
    alt = layout.grid_alt(
        f"{map_name(view)}: pooled map", view.after, f"the chosen window ({row}, {col}) is outlined"
    )
    figure = cell_pick.add_markers(pooled, view.after)
    layout.chart(
        where[1],
        figure,
        chart_key("pool_after", view),
        alt,
        view.after,
        "the pooled map",
        **cell_pick.PICK,
    )
    where[1].caption("Click a cell of the pooled map to choose its window.")  # not in the
    # title: a 2x2 map's chart is narrower than the words (test_browser_layout)


def map_name(view) -> str:
    """Whose map this is, for alt text: "pool1 channel 3 for your drawing" or "the toy"."""
    if view.layer == "toy":
        return "The toy image"
    channel = int(st.session_state["pool_channel"])
    return f"{view.layer} channel {channel} for {state.input_source()}"


def winner_words(view, row: int, col: int, marks) -> str:
    """The outlined window and its starred winner(s) in words, for the input map's alt text."""
    top, left, bottom, right = view.window(row, col)
    text = f"the window of output cell ({row}, {col}), rows {top}-{bottom - 1} and columns "
    text += f"{left}-{right - 1}, is outlined"
    if len(marks) == 1:
        r, c = marks[0]
        text += f"; its winner, input cell ({r}, {c}) = {float(view.before[r, c]):.4g}, is starred"
    elif marks:
        text += f"; every window's decisive winner ({len(marks)} cells) is marked"
    return text


def window(view, row: int, col: int, colours) -> None:
    """The chosen window's numbers and which input cells it covers."""
    (zrange, scale), (top, left, bottom, right) = colours, view.window(row, col)
    c3, c4 = st.columns([1, 3])
    patch = view.before[top:bottom, left:right]
    with c3:  # a small grid as HTML: its caption, numbers and their places are its own text
        grids.show_html(grids.html_grid(patch, "the window", zrange, scale, digits=3))
        layout.numbers_table(patch, "pool_window", "the window", open_key="pool_window_table")
    cells, k = (bottom - top) * (right - left), view.kernel_size
    partial = f", a **partial** window (a full one has {k * k})."
    c4.markdown(
        f"The window of output cell ({row}, {col}) covers input rows {top}–{bottom - 1} and "
        f"columns {left}–{right - 1}: {cells} cells"
        + (partial if view.is_partial(row, col) else ".")
    )


def field_section(trace, view, channel: int) -> None:
    """The chosen window's receptive field on the input and every map before it."""
    row, col = (int(st.session_state[k]) for k in ("pool_row", "pool_col"))
    top, left, bottom, right = view.window(row, col)  # end-exclusive
    config = state.current_model().model.config
    before = field_view.path(config, view.layer)[-2]  # the stage pooling receives
    rect = (top, left, bottom - 1, right - 1)
    on = f"{before} {field_view.words(rect)}"
    what = f"The window of output cell ({row}, {col}) of {view.layer}, on {on},"
    field_view.show(trace, config, before, rect, channel, what, "pool_fields")


def shift_section(trace, name: str, channel: int) -> None:
    """Move the input one pixel and measure how much the map and the pooled map change."""
    st.subheader("Shift experiment: equivariance and invariance")
    st.markdown(PROSE[1])
    layout.keep_choice("pool_shift", DIRECTIONS, "right")
    direction = st.radio(
        "Move the input by one pixel", DIRECTIONS, horizontal=True, key="pool_shift"
    )
    model = state.CachedModel(state.current_model())  # both traces from the trace cache
    x = experiments.shift_experiment(model, state.current_input(), name, direction)
    shift_table(x)
    st.markdown(
        f"Moved {direction}: the map pooling receives changed by "
        f"**{x.maps_same_place.relative_l1:.1%}** (relative L1) at the same positions, the "
        "pooled map by "
        f"**{x.pooled_same_place.relative_l1:.1%}**. Prediction "
        f"{x.prediction_before} → {x.prediction_after}."
    )
    shift_maps(x, channel)


def shift_table(x) -> None:
    """How much changed: the map pooling receives (in place and moved back) and the pooled map."""
    rows = [
        ("map pooling receives, same positions", x.maps_same_place),
        ("map pooling receives, moved back (aligned)", x.maps_aligned),
        ("pooled map, same positions", x.pooled_same_place),
    ]
    st.dataframe(
        [
            {
                "compared": label,
                "relative L1 change": "n/a (strided)" if c is None else f"{c.relative_l1:.1%}",
                "cells changed > 5% of max": "n/a" if c is None else f"{c.changed_fraction:.1%}",
                "cells": "" if c is None else c.cells,
            }
            for label, c in rows
        ],
        hide_index=True,
    )


def shift_maps(x, channel: int) -> None:
    """One channel before and after the move: the map pooling receives and the pooled map."""
    titles = ["original", f"moved {x.direction}"]
    moved = f"before and after moving the input one pixel {x.direction}"
    box = st.expander(
        f"Show channel {channel}, original and moved", key="pool_shift_maps_open",
        on_change="rerun",
    )  # fmt: skip
    if not box.open:  # two charts fewer when the page opens; drawn once the learner asks
        return
    c1, c2 = box.columns([3, 2])
    c1.markdown(f"**Channel {channel} of the map pooling receives** ({x.maps_before.shape[1]} x "
                f"{x.maps_before.shape[2]})")  # fmt: skip
    c2.markdown(f"**Channel {channel} pooled** ({x.pooled_before.shape[1]} x "
                f"{x.pooled_before.shape[2]})")  # fmt: skip
    maps = np.stack([x.maps_before[channel], x.maps_after[channel]])
    alt = layout.maps_alt(f"Channel {channel} of the map pooling receives, {moved}", maps)
    figure = figures.heatmap_grid(maps, titles, ncols=2, cell_px=220)
    layout.chart(c1, figure, "pool_shift_maps", alt, maps, "the map, original and moved")
    pooled = np.stack([x.pooled_before[channel], x.pooled_after[channel]])
    alt = layout.maps_alt(f"Channel {channel} pooled, {moved}", pooled)
    figure = figures.heatmap_grid(pooled, titles, ncols=2, cell_px=160)
    layout.chart(c2, figure, "pool_shift_pooled", alt, pooled, "the pooled map, original and moved")


st.title("Pooling")
tour.show("pooling")
PROSE = layout.prose("pooling").split("<!-- section -->")
# The mechanism first: two sentences, the longer explanation on demand, then the figures.
st.markdown(layout.prose("pooling_lead"))
with st.expander("How pooling works: invariance and partial windows"):
    st.markdown(PROSE[0])
trace = layout.input_trace()
pools = [] if trace is None else trace.by_kind("pool")
source = layout.source_switch("pool_source", trace)
if source == "model" and not pools:
    st.warning("This model has no pooling stage (pooling is set to 'none' in the sidebar).")
    source = "toy"
try:
    view, layer_maps, every = model_view(trace, pools) if source == "model" else toy_view()
except ValueError as err:
    st.error(str(err), icon=":material/error:")
    view = None
if view is not None:
    show(view, layer_maps, every)
    if source == "model":
        model_text(trace, view)  # under the figures
        field_section(trace, view, int(st.session_state["pool_channel"]))
        shift_section(trace, view.layer, int(st.session_state["pool_channel"]))
exercises.section("pooling")
