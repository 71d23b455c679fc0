"""Convolution page, tab "Kernel editor": a kernel (a preset or typed in) applied to the current
input, and put into one filter of the model's first conv layer for this session only."""

import streamlit as st

from cnn_core import conv_lab, toy
from ui import charts, figures, layout, state, theme
from ui.toy import grid_editor, set_grid

TARGET = "conv1"  # the layer whose filters the kernel editor can replace


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
    new = state.ModelInfo.edited(model, trained_on, info.class_names)
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
    source = state.input_source()
    fig = figures.annotated_grid(image, "current input", (0.0, 1.0), theme.IMAGE, cell_px=10)
    layout.chart(
        cols[0], fig, "conv_preview_in",
        layout.grid_alt(f"The current input, {source}", image, "white ink = 1"),
        image, "the current input",
    )  # fmt: skip
    layout.chart(
        cols[1], figures.annotated_grid(out, "kernel on the current input", cell_px=10,
                                        show_scale=True),
        "conv_preview_out",
        layout.grid_alt(f"Your {layout.shape_text(kernel.shape)} kernel on {source}, no bias", out),
        out, "the kernel's output",
    )  # fmt: skip
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
    before, now = state.current_trace(before_info), state.current_trace()
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
        charts.probability_bars(before.probabilities, names, title="learned filter"),
        key="conv_bars_before",
        alt="With the learned filter: " + charts.probability_alt(before.probabilities, names),
    )
    cols[1].plotly_chart(
        charts.probability_bars(now.probabilities, names, title="your kernel"),
        key="conv_bars_now",
        alt="With your kernel: " + charts.probability_alt(now.probabilities, names),
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
