"""Convolution page, tab "The model's layer": pick a conv layer and a filter, see its weights,
step (or Play) through the output positions with one cell computed in full, and how far each
layer sees into the input."""

import streamlit as st

from cnn_core import attribution, conv_lab, explain
from ui import cell_pick, field_view, figures, grids, layout, state, theme
from ui.conv_widgets import PADDING_FRAME, position, size_latex

PLAY_SECONDS = 0.8  # one output position per tick while Play is on


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
    st.latex(size_latex(conv_lab.output_size(h_in, k, p["stride"], p["padding"], dil), "H", "H"))


def _filter_weights(stage, channel: int) -> None:
    """The chosen filter's weights, one numeric grid per input channel, and its bias."""
    weight = stage.params["weight"][channel]  # (C_in, kH, kW)
    shown = min(len(weight), 16)
    st.markdown(
        f"**Filter {channel}**: {len(weight)} input channel(s) x {weight.shape[1]}x"
        f"{weight.shape[2]} weights · bias **{stage.params['bias'][channel]:.4f}**"
    )
    rng = theme.value_range(weight)  # one colour range for every input channel's weights
    grids.show_html(
        grids.html_grid_row(
            grids.html_grid(weight[c], f"in ch {c}", rng, digits=3) for c in range(shown)
        )
    )
    layout.numbers_table(
        weight, "conv_weights", f"filter {channel}'s weights, by input channel",
        open_key="conv_weights_table",
    )  # fmt: skip
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
    if trace.previous(name) == "input":
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
    rows = []
    for c in range(min(len(step.patch), 4)):
        rows.append(
            grids.html_grid_row(
                [
                    grids.html_grid(step.patch[c], f"patch, in ch {c}", in_range, in_scale, 2),
                    grids.html_grid(step.kernel[c], f"weights, in ch {c}", rng, None, 3),
                    grids.html_grid(
                        step.products[c], f"products: sum {step.channel_sums[c]:.4f}", None,
                        None, 3,
                    ),
                ]
            )
        )  # fmt: skip
    grids.show_html("".join(rows))
    for part, values in (
        ("patch", step.patch),
        ("kernel", step.kernel),
        ("products", step.products),
    ):
        layout.numbers_table(
            values, f"conv_{part}", f"the {part} by input channel", open_key=f"conv_{part}_table"
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
    fig = figures.annotated_grid(
        out_map, f"output channel {step.out_channel} (click a cell)", out_range,
        theme.DIVERGING if out_range[0] < 0 else theme.SEQUENTIAL,
        boxes=[figures.Box(step.row, step.col, step.row, step.col)],
        marks=[(step.row, step.col)], cell_px=12 if out_map.shape[0] > 14 else 26,
    )  # fmt: skip
    alt = layout.grid_alt(
        f"Output channel {step.out_channel}: {out_map.shape[0]}x{out_map.shape[1]} map",
        out_map,
        f"the chosen cell ({step.row}, {step.col}) is outlined and marked, {step.value:.4f}",
    )
    figure = cell_pick.add_markers(fig, out_map)
    layout.chart(st, figure, "conv_out", alt, out_map, "the output map", **cell_pick.PICK)


def _step_through(trace, name: str, channel: int, mode: str, playing: bool) -> None:
    """Sliders (and Play) over output positions; the chosen cell computed in full."""
    stage = trace.stage(name)
    _, h_out, w_out = stage.shape
    cell_pick.apply("conv_out", ("conv_row", "conv_col"), (h_out, w_out))  # before the sliders
    if playing:
        _advance((h_out, w_out))
    cols = st.columns(2)
    row = position("Output row", "conv_row", h_out, h_out // 2, cols[0])
    col = position("Output column", "conv_col", w_out, w_out // 2, cols[1])
    e = explain.conv_step(trace, name, channel, row, col)
    with st.container(key="main_figure"):  # on the first screen (test_browser_first_screen)
        _step_figure(trace, name, e, mode)
    config = state.current_model().model.config
    what = f"Output cell ({row}, {col}) of {name}"
    field_view.show(trace, config, name, (row, col, row, col), channel, what, "conv_fields")


def _step_figure(trace, name: str, e, mode: str) -> None:
    """The chosen output cell step by step: the input with its receptive field, the patch,
    weights and products, their sum plus the bias, and the output map."""
    stage, channel = trace.stage(name), e.step.out_channel
    row, col = e.step.row, e.step.col
    st.subheader(f"Output cell ({channel}, {row}, {col}) step by step")
    is_image = trace.previous(name) == "input"
    in_maps = trace.input_of(name)
    in_range = (0.0, 1.0) if is_image else theme.value_range(in_maps)
    in_scale = theme.IMAGE if is_image else theme.colorscale_for(in_maps)
    pad = stage.params["padding"]
    padded = conv_lab.pad_map(in_maps, pad)  # (C_in, H + 2p, W + 2p), as drawn
    top, left, bottom, right = e.step.window
    alt = layout.maps_alt(f"Input of {name}, zero-padded by {pad}", padded) + (
        f"; the receptive field of output cell ({row}, {col}), padded rows {top + pad}-"
        f"{bottom + pad} and columns {left + pad}-{right + pad}, is outlined"
    )
    figure = _input_figure(trace, name, e.step, mode)
    layout.chart(st, figure, "conv_inputs", alt, padded, f"the padded input of {name}")
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
    _, h_out, w_out = stage.shape
    cell_pick.keep(("conv_row", "conv_col"))  # the pick, back after a page switch
    layout.keep_int("conv_row", 0, h_out - 1, h_out // 2)
    layout.keep_int("conv_col", 0, w_out - 1, w_out // 2)
    st.session_state.setdefault("conv_play", False)
    at_end = (st.session_state["conv_row"], st.session_state["conv_col"]) == (h_out - 1, w_out - 1)
    if st.session_state["conv_play"] and at_end:
        st.session_state["conv_play"] = False  # Play stops at the last position
    playing = st.toggle("Play (one position per step, row by row)", key="conv_play")
    run_every = PLAY_SECONDS if playing else None
    st.fragment(_step_through, run_every=run_every)(trace, name, channel, mode, playing)
    st.subheader("The layer and its filter")  # after the step-through: the mechanism first
    _layer_header(trace, name)
    _filter_weights(stage, channel)
    st.subheader("Every output channel of this layer")
    layout.stage_maps(stage.output, mode, layout.map_values(trace), name=stage.name)
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
