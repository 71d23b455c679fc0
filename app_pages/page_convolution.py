"""Convolution: one filter sliding over the input, one output cell computed in full; a toy
playground for kernel size, stride, padding and dilation; a kernel editor whose kernel can go
into the model's first layer for this session only.

Every widget key (the open tab's too) starts with ``conv_`` and accepts a value set in
st.session_state before the page runs (a share link); values that no longer fit (a channel after
switching layer) are clamped.
"""

import streamlit as st

from cnn_core import attribution, conv_lab, explain, toy
from ui import figures, grids, layout, links, state, theme
from ui.toy import grid_editor, set_grid, toy_image

PLAY_SECONDS = 0.8  # one output position per tick while Play is on
PADDING_FRAME = "#00b4d8"  # outline of the real input inside its zero padding
TARGET = "conv1"  # the layer whose filters the kernel editor can replace


# ----------------------------------------------------------------------------------------------
# Widget state: accept pre-set values, clamp what no longer fits


def _position(label: str, key: str, size: int, default: int, where=st) -> int:
    """A slider over 0..size-1 (a 1-long axis has one position and needs no slider)."""
    layout.keep_int(key, 0, size - 1, default)
    if size == 1:
        return 0
    return int(where.slider(label, 0, size - 1, key=key))


def _size_latex(s: conv_lab.OutputSize, axis: str, name: str) -> str:
    """The output-size formula along one axis, with the chosen numbers substituted."""
    return (
        rf"{axis}_{{\text{{out}}}} = \left\lfloor \frac{{{name} + 2p - d(k-1) - 1}}{{s}}"
        rf"\right\rfloor + 1 = \left\lfloor \frac{{{s.size} + 2\cdot{s.padding} - "
        rf"{s.dilation}\cdot({s.kernel_size}-1) - 1}}{{{s.stride}}}\right\rfloor + 1 = "
        rf"\left\lfloor \frac{{{s.numerator}}}{{{s.stride}}}\right\rfloor + 1 = {s.out}"
    )


# ----------------------------------------------------------------------------------------------
# The model's own layer: pick a filter, step through output positions


def _layer_header(trace, name: str) -> None:
    """Shapes, the PyTorch line, the parameter count and the output-size formula of a layer."""
    stage, p = trace.stage(name), trace.stage(name).params
    c_in, h_in, _ = trace.input_of(name).shape
    k, dil = p["kernel_size"], p["dilation"]
    extra = f", dilation={dil}" if dil != 1 else ""
    st.markdown(
        f"Input `{layout.shape_text((c_in, *trace.input_of(name).shape[1:]))}` → output "
        f"`{layout.shape_text(stage.shape)}` · kernel {k}x{k}, stride {p['stride']}, padding "
        f"{p['padding']} · **{p['num_parameters']:,} parameters** ({p['out_channels']} x "
        f"{p['in_channels']} x {k}x{k} weights + {p['out_channels']} biases)"
    )
    st.code(
        f"nn.Conv2d({p['in_channels']}, {p['out_channels']}, kernel_size={k}, "
        f"stride={p['stride']}, padding={p['padding']}{extra})",
        language="python",
    )
    st.latex(_size_latex(conv_lab.output_size(h_in, k, p["stride"], p["padding"], dil), "H", "H"))


def _filter_weights(stage, channel: int) -> None:
    """The chosen filter's weights, one numeric grid per input channel, and its bias."""
    weight = stage.params["weight"][channel]  # (C_in, kH, kW)
    shown = min(len(weight), 16)
    st.markdown(
        f"**Filter {channel}**: {len(weight)} input channel(s) x {weight.shape[1]}x"
        f"{weight.shape[2]} weights · bias **{stage.params['bias'][channel]:.4f}**"
    )
    rng = theme.value_range(weight)  # each grid in a column of its own width, 4 to a row for 3x3
    cols = grids.grid_columns([figures.grid_width_px(weight[0], digits=3)] * shown)
    for c in range(shown):
        cols[c].plotly_chart(
            figures.annotated_grid(weight[c], title=f"in ch {c}", zrange=rng, digits=3),
            key=f"conv_weights_{c}",
        )
    if shown < len(weight):
        st.caption(f"The first {shown} of {len(weight)} input channels' weights are shown.")


def _advance(size: tuple[int, int]) -> None:
    """Play: move to the next output position (row by row); at the last one, stop playing."""
    h_out, w_out = size
    row, col = st.session_state.get("conv_row", 0), st.session_state.get("conv_col", 0)
    if (row, col) == (h_out - 1, w_out - 1):
        st.rerun()  # a full run sees the last position and switches Play off
    row, col = (row, col + 1) if col + 1 < w_out else (row + 1, 0)
    st.session_state["conv_row"], st.session_state["conv_col"] = row, col


def _input_figure(trace, name: str, step, mode: str):
    """Every input channel, zero-padded as the layer sees it, the receptive field outlined."""
    maps, pad = trace.input_of(name), trace.stage(name).params["padding"]
    padded = conv_lab.pad_map(maps, pad)  # (C_in, H + 2p, W + 2p)
    if trace.names[trace.names.index(name) - 1] == "input":
        ranges, scale = [(0.0, 1.0)] * len(maps), theme.IMAGE
    else:
        ranges = theme.map_ranges(padded, mode, layout.map_values(trace))
        scale = theme.colorscale_for(padded)
    ncols = min(len(maps), 4)
    fig = figures.heatmap_grid(
        padded, [f"input ch {c}" for c in range(len(maps))], ranges, scale, ncols,
        cell_px=360 if ncols == 1 else 170, hover_name="input",
    )  # fmt: skip
    top, left, bottom, right = step.window
    h, w = maps.shape[1:]
    frame = figures.Box(pad, pad, pad + h - 1, pad + w - 1, PADDING_FRAME, 1)
    field = figures.Box(top + pad, left + pad, bottom + pad, right + pad)
    return figures.outline_cells(fig, [frame, field] if pad else [field], len(maps))


def _step_rows(step, in_range, in_scale) -> None:
    """Patch, weights and element-wise products of the first input channels."""
    rng = theme.value_range(step.kernel)
    for c in range(min(len(step.patch), 4)):
        cells = st.columns(3)
        grids = [
            (step.patch[c], f"patch, in ch {c}", in_range, in_scale, 2),
            (step.kernel[c], f"weights, in ch {c}", rng, None, 3),
            (step.products[c], f"products: sum {step.channel_sums[c]:.4f}", None, None, 3),
        ]
        for cell, (values, title, zrange, scale, digits), part in zip(
            cells, grids, ("patch", "kernel", "products"), strict=True
        ):
            cell.plotly_chart(
                figures.annotated_grid(values, title, zrange, scale, digits),
                key=f"conv_{part}_{c}",
            )
    if len(step.patch) > 4:
        sums = ", ".join(f"{c}: {v:.4f}" for c, v in enumerate(step.channel_sums))
        st.caption(f"Grids for the first 4 of {len(step.patch)} input channels. Every sum: {sums}")


def _step_result(e, out_map, out_range) -> None:
    """The sum of the channel sums plus the bias, PyTorch's value, the output map marked."""
    step = e.step
    sums = " + ".join(f"{v:.4f}" for v in step.channel_sums[:8])
    more = " + \\dots" if len(step.channel_sums) > 8 else ""
    st.latex(
        rf"\underbrace{{{sums}{more}}}_{{\text{{channel sums}}}} + "
        rf"\underbrace{{{step.bias:.4f}}}_{{\text{{bias}}}} = {step.value:.6f}"
    )
    st.markdown(
        f"NumPy (by hand): **{step.value:.6f}** · PyTorch computed **{e.torch_value:.6f}** for "
        f"this cell · |difference| = **{e.difference:.2e}** (float32 rounding)"
    )
    st.plotly_chart(
        figures.annotated_grid(
            out_map, f"output channel {step.out_channel}", out_range,
            theme.DIVERGING if out_range[0] < 0 else theme.SEQUENTIAL,
            boxes=[figures.Box(step.row, step.col, step.row, step.col)],
            marks=[(step.row, step.col)], cell_px=12 if out_map.shape[0] > 14 else 26,
        ),
        key="conv_out",
    )  # fmt: skip


def _step_through(trace, name: str, channel: int, mode: str, playing: bool) -> None:
    """Sliders (and Play) over output positions; the chosen cell computed in full."""
    stage = trace.stage(name)
    _, h_out, w_out = stage.shape
    if playing:
        _advance((h_out, w_out))
    cols = st.columns(2)
    row = _position("Output row", "conv_row", h_out, h_out // 2, cols[0])
    col = _position("Output column", "conv_col", w_out, w_out // 2, cols[1])
    e = explain.conv_step(trace, name, channel, row, col)
    st.subheader(f"Output cell ({channel}, {row}, {col}) step by step")
    is_image = trace.names[trace.names.index(name) - 1] == "input"
    in_maps = trace.input_of(name)
    in_range = (0.0, 1.0) if is_image else theme.value_range(in_maps)
    in_scale = theme.IMAGE if is_image else theme.colorscale_for(in_maps)
    st.plotly_chart(_input_figure(trace, name, e.step, mode), key="conv_inputs")
    pad = stage.params["padding"]
    st.caption(
        "The orange square is the receptive field of this output cell"
        + (
            f"; the cyan frame is the real input, its {pad}-cell border the zero padding"
            * bool(pad)
        )
        + ". Hover coordinates count on the padded input."
    )
    _step_rows(e.step, in_range, in_scale)
    out_range = theme.map_ranges(stage.output, mode, layout.map_values(trace))[channel]
    _step_result(e, stage.output[channel], out_range)


def model_section() -> None:
    """The current model's conv layers on the current input."""
    trace = layout.input_trace()
    if trace is None:
        return
    cols = st.columns(3)
    stage, channel = layout.layer_and_channel(
        trace.by_kind("conv"), "conv_layer", "conv_channel",
        ("Conv layer", "Output channel (filter)"), cols,
    )  # fmt: skip
    name = stage.name
    with cols[2]:
        mode = layout.color_mode("conv_color_mode")
    _layer_header(trace, name)
    _filter_weights(stage, channel)
    _, h_out, w_out = stage.shape
    layout.keep_int("conv_row", 0, h_out - 1, h_out // 2)
    layout.keep_int("conv_col", 0, w_out - 1, w_out // 2)
    st.session_state.setdefault("conv_play", False)
    at_end = (st.session_state["conv_row"], st.session_state["conv_col"]) == (h_out - 1, w_out - 1)
    if st.session_state["conv_play"] and at_end:
        st.session_state["conv_play"] = False  # Play stops at the last position
    playing = st.toggle("Play (one position per step, row by row)", key="conv_play")
    run_every = PLAY_SECONDS if playing else None
    st.fragment(_step_through, run_every=run_every)(trace, name, channel, mode, playing)
    st.subheader("Every output channel of this layer")
    layout.stage_maps(stage.output, mode, layout.map_values(trace))
    field_growth(state.current_model().model.config, name)


def field_growth(config, chosen: str) -> None:
    """How the receptive field grows, layer by layer, for the model in use."""
    st.subheader("How much of the input each layer sees")
    row, col = (int(st.session_state[k]) for k in ("conv_row", "conv_col"))
    top, left, bottom, right = attribution.receptive_field(config, chosen, row, col)
    sees = (
        f"input rows {top}-{bottom} and columns {left}-{right}"
        if top <= bottom and left <= right
        else "only padding, no pixel of the input"
    )
    st.markdown(
        "A unit of the first conv layer sees one k x k patch of the input. A unit one layer "
        "deeper sees k x k units of the layer before, each of which saw a patch of its own, "
        "overlapping, so together a larger patch; every stride and pooling window spreads the "
        f"next layer's kernel wider still. Output cell ({row}, {col}) of {chosen} sees {sees}."
    )
    shapes = {name: shape for name, _, shape in attribution.spatial_stages(config)}
    st.dataframe(
        [
            {"stage": name, "output": layout.shape_text(shapes[name]), "sees (pixels)": f"{n}x{n}"}
            for name, n in attribution.field_sizes(config)
        ],
        hide_index=True,
        key="conv_field_growth",
    )


# ----------------------------------------------------------------------------------------------
# Kernel editor: presets on the current input, and into the model for this session


def _fill_from_preset() -> None:
    set_grid("conv_kernel", toy.KERNEL_PRESETS[st.session_state["conv_preset"]])


def _active_edit():
    """(model before the edit, edited version) while the edited model is still in use."""
    edit = st.session_state.get(state.FILTER_EDIT)
    if edit and state.current_model(live=False).version != edit[1]:
        st.session_state.pop(state.FILTER_EDIT)  # trained or loaded another model since
        return None
    return edit


def _use_kernel() -> None:
    """Callback of 'Use in the model': a copy of the current model with one conv1 filter
    replaced becomes this session's model (before the sidebar draws its model card)."""
    try:
        kernel = toy.parse_grid(st.session_state.get("conv_kernel", ""), name="kernel", max_size=7)
        channel = int(st.session_state.get("conv_target", 0))
        info = state.current_model(live=False)  # edits go to the session's model, not a live copy
        model = conv_lab.replace_filter(info.model, channel, kernel, TARGET)
    except ValueError as err:
        state.notify("error", f"The kernel was not put into the model: {err}")
        return
    edit = _active_edit()
    before = edit[0] if edit else st.session_state.get(state.MODEL)
    trained_on = f"{info.trained_on}; {TARGET} filter {channel} replaced by a hand-edited kernel"
    new = state.ModelInfo(
        model, "edited:" + model.fingerprint(), False, trained_on, None, info.class_names
    )
    state.set_session_model(new)
    st.session_state[state.FILTER_EDIT] = (before, new.version)
    state.notify("success", f"Filter {channel} of {TARGET} is now your kernel (this session only).")


def _restore() -> None:
    """Callback of 'Restore learned filter': the model in use before the first edit."""
    edit = _active_edit()
    if edit:
        state.set_session_model(edit[0])
        st.session_state.pop(state.FILTER_EDIT)
        state.notify("info", "The learned filter is back.")


def _kernel_preview(kernel) -> None:
    """The kernel applied to the current 28x28 input (same padding, no bias)."""
    image = state.current_input()
    if image is None:
        st.info("Draw a digit or pick one on Draw & predict to see this kernel applied to it.")
        return
    out = conv_lab.apply_kernel(image, kernel)
    pad = ((kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2)
    cols = st.columns(2)
    cols[0].plotly_chart(
        figures.annotated_grid(image, "current input", (0.0, 1.0), theme.IMAGE, cell_px=10),
        key="conv_preview_in",
    )
    cols[1].plotly_chart(
        figures.annotated_grid(out, "kernel on the current input", cell_px=10, show_scale=True),
        key="conv_preview_out",
    )
    st.code(
        f"F.conv2d(x, kernel, padding={pad})  # x (1, 1, 28, 28) -> "
        f"{layout.shape_text((1, 1, *out.shape))}, kernel {kernel.shape[0]}x{kernel.shape[1]}",
        language="python",
    )
    st.caption(
        f"Output {out.shape[0]}x{out.shape[1]}, values {out.min():.4f} to {out.max():.4f} "
        "(no bias). Hover a cell for its value."
    )


def _use_in_model(kernel) -> None:
    """Put the kernel into one conv1 filter (a copy of the model), or say why it cannot go."""
    info = state.current_model(live=False)
    problem = conv_lab.filter_edit_problem(info.model, kernel.shape, TARGET)
    edit = _active_edit()
    if problem:
        st.info(f"This kernel cannot replace a filter of {TARGET}: {problem}")
    else:
        top = info.model.stages[TARGET].out_channels - 1
        layout.keep_int("conv_target", 0, top, 0)
        cols = st.columns([2, 1, 1], vertical_alignment="bottom")
        cols[0].number_input(f"Replace {TARGET} filter", 0, top, key="conv_target")
        cols[1].button("Use in the model", key="conv_use", on_click=_use_kernel, type="primary")
    if edit:
        st.button("Restore learned filter", key="conv_restore", on_click=_restore)
        _edit_effect(edit)
    st.caption(
        "Only this session's copy of the model changes; other learners, and the default model, "
        "keep the learned filters. The filter's learned bias is kept."
    )


def _edit_effect(edit) -> None:
    """Prediction and stage-by-stage change between the model before the edit and now."""
    before_info = edit[0] or state.default_model_info()
    before, now = state.trace_for(before_info), state.current_trace()
    if before is None or now is None:
        return
    names = state.current_model().class_names
    st.markdown(
        f"Prediction with the learned filter: **{names[before.prediction]}** "
        f"({before.probabilities.max():.1%}) → with your kernel: **{names[now.prediction]}** "
        f"({now.probabilities.max():.1%})"
    )
    rows = [
        {"stage": n, "shape": layout.shape_text(shape), "largest |change|": change}
        for n, shape, change in conv_lab.stage_changes(before, now)
    ]
    st.dataframe(rows, hide_index=True, key="conv_changes")
    cols = st.columns(2)
    cols[0].plotly_chart(
        figures.probability_bars(before.probabilities, names, title="learned filter"),
        key="conv_bars_before",
    )
    cols[1].plotly_chart(
        figures.probability_bars(now.probabilities, names, title="your kernel"),
        key="conv_bars_now",
    )


def editor_section() -> None:
    names = list(toy.KERNEL_PRESETS)
    layout.keep_choice("conv_preset", names, "Sobel x")
    st.selectbox("Preset (fills the editor)", names, key="conv_preset", on_change=_fill_from_preset)
    kernel = grid_editor(
        "Kernel (one row per line; edit any number)",
        "conv_kernel",
        toy.KERNEL_PRESETS[st.session_state["conv_preset"]],
        name="kernel",
        max_size=7,
    )
    if kernel is None:
        return
    _kernel_preview(kernel)
    st.subheader("Use in the model")
    _use_in_model(kernel)


# ----------------------------------------------------------------------------------------------
# Toy playground: kernel size, stride, padding, dilation on a 7x7 grid


def _reset_toy_kernel() -> None:
    set_grid("conv_toy_kernel", conv_lab.toy_kernel(int(st.session_state["conv_toy_k"])))


def _toy_settings() -> tuple[int, int, int, int]:
    """Kernel size, stride, padding and dilation (each clamped to a small range)."""
    cols = st.columns(4)
    specs = [
        ("Kernel size", "conv_toy_k", 1, 9, 3, _reset_toy_kernel),
        ("Stride", "conv_toy_stride", 1, 4, 1, None),
        ("Padding", "conv_toy_padding", 0, 3, 0, None),
        ("Dilation", "conv_toy_dilation", 1, 3, 1, None),
    ]
    values = []
    for col, (label, key, low, high, default, callback) in zip(cols, specs, strict=True):
        layout.keep_int(key, low, high, default)
        values.append(int(col.number_input(label, low, high, key=key, on_change=callback)))
    return tuple(values)


def _toy_result(pg: conv_lab.Playground) -> None:
    """The formula, the padded input with the chosen window, the output, one cell by hand."""
    st.latex(_size_latex(pg.rows, "H", "H"))
    if pg.cols.size != pg.rows.size or pg.cols.kernel_size != pg.rows.kernel_size:
        st.latex(_size_latex(pg.cols, "W", "W"))
    h, w = pg.output.shape
    st.markdown(
        f"The output is **{h}x{w}** (input {pg.image.shape[0]}x{pg.image.shape[1]}, kernel "
        f"{pg.kernel.shape[0]}x{pg.kernel.shape[1]}, stride {pg.stride}, padding {pg.padding}, "
        f"dilation {pg.dilation}) · {pg.kernel.size} weights, no bias"
    )
    st.code(
        f"F.conv2d(x, w, stride={pg.stride}, padding={pg.padding}, dilation={pg.dilation})"
        f"  # x {layout.shape_text((1, 1, *pg.image.shape))} -> "
        f"{layout.shape_text((1, 1, h, w))}",
        language="python",
    )
    for s, axis in ((pg.rows, "row"), (pg.cols, "column")):
        if s.leftover:
            st.warning(
                f"Stride {s.stride} does not fit evenly along the {axis}s: {s.numerator} "
                f"(= {s.size} + 2x{s.padding} - {s.span}) is not a multiple of {s.stride}, so "
                f"the last {s.leftover} {axis}(s) of the padded input are never under the "
                "kernel. PyTorch rounds down and drops them."
            )
    cols = st.columns(2)
    i = _position("Toy output row", "conv_toy_row", h, 0, cols[0])
    j = _position("Toy output column", "conv_toy_col", w, 0, cols[1])
    _toy_step(pg, i, j)


def _digits(values) -> int:
    """No decimals for grids of whole numbers (the 0/1 toy), two otherwise."""
    return 0 if all(float(v).is_integer() for v in values.ravel()) else 2


def _toy_step(pg: conv_lab.Playground, i: int, j: int) -> None:
    """The padded toy with the window of output cell (i, j), the products and the sum."""
    step, p = pg.step(i, j), pg.padding
    h, w = pg.image.shape
    frame = figures.Box(p, p, p + h - 1, p + w - 1, PADDING_FRAME, 2)
    top, left, bottom, right = step.window
    marks = [(int(r) + p, int(c) + p) for r in step.rows for c in step.cols]
    cols = st.columns([3, 2, 2])
    boxes = ([frame] if p else []) + [figures.Box(top + p, left + p, bottom + p, right + p)]
    cols[0].plotly_chart(
        figures.annotated_grid(pg.padded, "padded input", marks=marks, boxes=boxes,
                               digits=_digits(pg.padded), cell_px=26),
        key="conv_toy_padded",
    )  # fmt: skip
    cols[1].plotly_chart(
        figures.annotated_grid(step.products[0], "patch x kernel", digits=_digits(step.products)),
        key="conv_toy_products",
    )
    cols[2].plotly_chart(
        figures.annotated_grid(
            pg.output, "output", boxes=[figures.Box(i, j, i, j)], digits=_digits(pg.output)
        ),
        key="conv_toy_output",
    )
    pairs = zip(step.patch[0].ravel(), step.kernel[0].ravel(), strict=True)
    terms = " + ".join(f"{a:g}\\cdot{b:g}" for a, b in pairs)
    st.latex(rf"\text{{out}}[{i},{j}] = {terms} = {step.value:g}")
    if p:
        st.caption("Cyan frame: the toy image; cells outside it are the zero padding.")


def toy_section() -> None:
    k, stride, padding, dilation = _toy_settings()
    cols = st.columns(2)
    image = toy_image("conv_toy_image", container=cols[0])
    kernel = grid_editor(
        "Toy kernel", "conv_toy_kernel", conv_lab.toy_kernel(k), name="toy kernel",
        max_size=9, shape=(k, k), container=cols[1],
    )  # fmt: skip
    if image is None or kernel is None:
        return
    try:
        pg = conv_lab.playground(image, kernel, stride, padding, dilation)
    except ValueError as err:
        st.error(f"This choice does not work: {err}.")
        return
    _toy_result(pg)


# ----------------------------------------------------------------------------------------------
# The page

st.title("Convolution")
st.markdown(layout.prose("convolution"))
st.latex(
    r"\text{out}[o,i,j] = b_o + \sum_{c}\sum_{u,v} w[o,c,u,v]\,"
    r"x_{\text{pad}}[c,\; i s + u d,\; j s + v d]"
)
# The open tab is a widget value ("conv_tab", a share-link setting): a rerun after "Use in the
# model" or an edit keeps the learner on the tab they acted in, and a link reopens its tab.
TABS = list(links.CONV_TABS.values())
model_tab, editor_tab, toy_tab = st.tabs(TABS, key="conv_tab", on_change="rerun")
with model_tab:
    model_section()
with editor_tab:
    editor_section()
with toy_tab:
    toy_section()
