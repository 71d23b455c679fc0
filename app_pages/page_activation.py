"""Activation: the non-linearity applied to every value of a feature map."""

import numpy as np
import streamlit as st

from cnn_core import explain, toy, toy_steps
from cnn_core.activations import ACTIVATIONS
from ui import (
    cell_pick,
    charts,
    exercises,
    field_view,
    figures,
    grids,
    layout,
    norm_view,
    pages,
    state,
    tour,
)
from ui import toy as toy_ui

FUNCTIONS = {name: a.label for name, a in ACTIVATIONS.items()}  # name -> label, menu order
PICK_CHARTS = ("act_after", "act_changed")  # a click on either of them picks a cell
VIEWS = tuple(pages.ACT_VIEWS.values())  # the tabs under the maps (key "act_view", a link setting)


def function_picker(own: str | None, cols=None) -> tuple[str, float]:
    """Function and leaky slope widgets (in two columns of their own unless ``cols`` are given);
    own is the model's function (None for the toy)."""
    layout.keep_choice("act_function", FUNCTIONS, own or "relu")
    cols = cols or st.columns(2)
    # The labels stay the same in model and toy mode: a select box whose labels change under
    # the same key keeps showing the old label in the browser; what the model uses is said below.
    function = cols[0].selectbox(
        "Function", list(FUNCTIONS), format_func=FUNCTIONS.get, key="act_function"
    )
    if own is not None:
        whose = (
            "the model's own" if function == own else f"what if (the model uses {FUNCTIONS[own]})"
        )
        cols[0].caption(f"{FUNCTIONS[function]}: {whose}.")
    slope = 0.01
    if function == "leaky_relu":
        a = layout.keep("act_slope")
        slope = cols[1].slider("Leaky slope a", a.lo, a.hi, step=0.01, key="act_slope")
    return function, float(slope)


def model_view(trace):
    """Widgets for the model's own maps; returns the explanation and the colour sources."""
    acts = [s for s in trace.by_kind("activation") if s.output.ndim == 3]
    cols = st.columns([2, 2, 2, 2, 3])  # one row of settings: the figures come sooner
    stage, channel = layout.layer_and_channel(
        acts, "act_layer", "act_channel", ("Activation stage", "Channel"), cols[:2]
    )
    own = stage.params["function"]
    if "act_slope" not in st.session_state:
        st.session_state["act_slope"] = float(stage.params.get("negative_slope", 0.01))
    function, slope = function_picker(own, cols[2:4])
    e = explain.activation_step(trace, stage.name, channel, function, slope)
    previous = trace.previous(stage.name)
    source = "conv" if trace.stage(previous).kind == "conv" else "batch-norm"
    ranges = model_ranges(trace, stage.name, e, cols[4])
    return e, ranges, f"{source} output {previous}"


def model_text(trace, stage, channel: int, e, own: str) -> None:
    """Shapes, the PyTorch line, and how far these numbers are from the model's own."""
    name, function = stage.name, e.function
    st.markdown(
        f"Shape before and after: `{layout.shape_text(stage.shape)}` (an activation never "
        f"changes the shape) · **0 parameters** · map of channel {channel} of `{name}`, which "
        f"receives the output of `{trace.previous(name)}`."
    )
    st.code(
        f"x = {ACTIVATIONS[function].module_text(e.negative_slope)}(x)  # applied to every value",
        language="python",
    )
    if e.is_model_function:
        st.markdown(
            f"This is the model's own activation: largest |difference| between these numbers "
            f"and PyTorch's over the map: {e.difference:.1e}."
        )
    else:
        st.markdown(
            f"**What if**: the model uses {FUNCTIONS[own]}; the map after {FUNCTIONS[function]} "
            "is computed here on the same pre-activation values and is not in the model."
        )


def model_ranges(trace, name: str, e, where) -> dict:
    """The colour range of the maps before and after, in the colour-range mode chosen in
    ``where``."""
    function, slope = e.function, e.negative_slope
    with where:
        mode = layout.color_mode("act_color_mode")
    every = layout.map_values(trace) if mode == "global" else None
    layer = {"before": trace.input_of(name), "after": None}
    if mode == "per layer":
        layer["after"] = explain.activation_step(trace, name, None, function, slope).after
    ranges = {
        "before": layout.color_range(e.before, mode, layer["before"], every),
        "after": layout.color_range(e.after, mode, layer["after"], every),
    }
    return ranges


def toy_view():
    """The toy: 7x7 image * 3x3 kernel + bias -> 5x5 map, then the activation."""
    st.markdown(
        "The toy image is convolved with the toy kernel (no padding, stride 1) and a bias "
        "is added, giving a 5x5 map with negative and positive values. Edit any of them."
    )
    cols = st.columns([3, 2, 2])
    image = toy_ui.toy_image("act_toy_image", container=cols[0])
    kernel = toy_ui.grid_editor(
        "Toy kernel", "act_toy_kernel", toy.TOY_KERNEL, name="toy kernel", max_size=7,
        container=cols[1],
    )  # fmt: skip
    b = layout.keep("act_toy_bias")
    bias = cols[2].number_input("Bias b", b.lo, b.hi, step=0.5, key="act_toy_bias")
    function, slope = function_picker(None)
    if image is None or kernel is None:
        return None, None, None
    try:
        before = toy_steps.toy_conv_map(image, kernel, float(bias))
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return None, None, None
    e = toy_steps.activation_map(before, function, slope)
    h, w = before.shape
    st.markdown(
        f"Shapes: toy image `{layout.shape_text(image.shape)}` → conv map `{h} x {w}` → "
        f"after {FUNCTIONS[function]} `{h} x {w}` · the activation has **0 parameters**."
    )
    st.code(
        f"z = F.conv2d(image[None, None], kernel[None, None], bias=torch.tensor([{bias:g}]))\n"
        f"a = {ACTIVATIONS[function].module_text(slope)}(z)",
        language="python",
    )
    mode = layout.color_mode("act_color_mode")
    both = np.concatenate([e.before.ravel(), e.after.ravel()])
    ranges = {
        "before": layout.color_range(e.before, mode, None, both),
        "after": layout.color_range(e.after, mode, None, both),
    }
    return e, ranges, "toy conv map"


def chosen_cell(e) -> tuple[int, int]:
    """The cell: a click on any of the three maps (read before the sliders), or the sliders."""
    h, w = e.before.shape
    cell_pick.apply(PICK_CHARTS, ("act_row", "act_col"), (h, w))
    layout.keep_int("act_row", 0, h - 1, h // 2)
    layout.keep_int("act_col", 0, w - 1, w // 2)
    cols = st.columns(2)
    row = cols[0].slider("Cell row", 0, h - 1, key="act_row")
    col = cols[1].slider("Cell column", 0, w - 1, key="act_col")
    return int(row), int(col)


def show(e, ranges, source_name: str, row: int, col: int) -> None:
    """The formula with the chosen cell's numbers, the maps, the changes and the curve."""
    x, y = float(e.before[row, col]), float(e.after[row, col])
    act = ACTIVATIONS[e.function]
    with st.container(key="main_figure"):  # on the first screen (test_browser_first_screen)
        st.latex(act.cell_formula(x, y, e.negative_slope, rf"x_{{{row},{col}}}"))
        grids_of(e, ranges, source_name, [figures.Box(row, col, row, col)])
    if e.torch_after is not None:
        st.markdown(
            f"Cell ({row}, {col}): before **{x:.5f}**, after **{y:.5f}**; "
            f"PyTorch computed **{float(e.torch_after[row, col]):.5f}**."
        )
    else:
        st.markdown(f"Cell ({row}, {col}): before **{x:.5f}**, after **{y:.5f}**.")
    st.latex(act.formula)
    changed = int(e.changed.sum())
    zeroed = f"; **{e.zeroed}** were set to 0" if e.function == "relu" else ""
    st.markdown(f"**{changed}** of {e.before.size} cells changed{zeroed}.")
    # One of the two secondary figures at a time (only the open tab is drawn: each is a Plotly
    # chart of hundreds of points, and the page opens sooner without the other).
    curve_tab, changed_tab = st.tabs(VIEWS, key="act_view", on_change="rerun")
    if curve_tab.open:
        with curve_tab:
            curve(e, row, col, x, y)
    if changed_tab.open:
        with changed_tab:
            changed_map(e, [figures.Box(row, col, row, col)])


def curve(e, row: int, col: int, x: float, y: float) -> None:
    """The function's curve with the map's values as dots on it, the chosen cell a star."""
    xs, ys = e.curve()
    fig = charts.activation_curve(xs, ys, e.before.ravel(), e.after.ravel(), FUNCTIONS[e.function])
    fig.add_scatter(
        x=[x], y=[y], mode="markers", name=f"cell ({row}, {col})",
        marker={"size": 14, "symbol": "star", "color": "#ffb000", "line": {"width": 1}},
    )  # fmt: skip
    alt = (
        f"The {FUNCTIONS[e.function]} curve, output against input, with the map's {e.before.size}"
        f" cells as dots on it (cells of equal value share a dot); cell ({row}, {col}) is the "
        f"star at input {x:.4g}, output {y:.4g}"
    )
    st.plotly_chart(fig, key="act_curve", alt=alt)


def grids_of(e, ranges, source_name: str, box) -> None:
    """The map before and after the activation: side by side while they fit with their numbers
    at full size (14x14 maps with numbers take a row each)."""
    px = 40 if e.before.shape[0] <= 14 else 12
    cell = f"({box[0].top}, {box[0].left})"
    where = grids.grid_columns(
        [figures.grid_width_px(e.before, cell_px=px, show_scale=True),
         figures.grid_width_px(e.after, cell_px=px, show_scale=True)]
    )  # fmt: skip
    for where_, values, title, part in (
        (where[0], e.before, f"before ({source_name})", "before"),
        (where[1], e.after, f"after {FUNCTIONS[e.function]}", "after"),
    ):
        zrange, scale = ranges[part]
        fig = figures.annotated_grid(
            values, title=title, cell_px=px, zrange=zrange, colorscale=scale, show_scale=True,
            boxes=box,
        )  # fmt: skip
        alt = layout.grid_alt(title, values, f"the chosen cell {cell} is outlined")
        if part == "before":  # not clickable: its 784 click targets cost as much as the map
            layout.chart(where_, fig, "act_before", alt, values, "the map before")
            continue
        fig = cell_pick.add_markers(fig, values)
        layout.chart(where_, fig, f"act_{part}", alt, values, f"the map {part}", **cell_pick.PICK)
        where_.caption("Click a cell of this map to choose it.")


def changed_map(e, box) -> None:
    """Which cells the activation changed (1) and which it kept (0)."""
    px = 40 if e.before.shape[0] <= 14 else 12
    changed = e.changed.astype(np.float32)
    fig = figures.annotated_grid(
        changed, cell_px=px, title="changed cells (1 = changed)", zrange=(0.0, 1.0),
        colorscale="Greys", digits=0, boxes=box,
    )  # fmt: skip
    alt = layout.grid_alt(
        "Changed cells, 1 where the activation changed the value",
        changed,
        f"{int(changed.sum())} of {changed.size} changed",
    )
    fig = cell_pick.add_markers(fig, changed)
    place = grids.grid_columns([figures.grid_width_px(changed, digits=0, cell_px=px)])[0]
    layout.chart(place, fig, "act_changed", alt, changed, "the changed cells", **cell_pick.PICK)
    place.caption("Click a cell of this map to choose it.")


st.title("Activation")
tour.show("activation")
# The mechanism first: two sentences, the longer explanation on demand, then the figures.
st.markdown(layout.prose("activation_lead"))
with st.expander("Why an activation, and how the functions differ"):
    st.markdown(layout.prose("activation"))
trace = layout.input_trace()
source = layout.source_switch("act_source", trace)
if source == "model":
    e, ranges, source_name = model_view(trace)
else:
    e, ranges, source_name = toy_view()
if e is not None:
    row, col = chosen_cell(e)
    show(e, ranges, source_name, row, col)
    if source == "model":
        stage = trace.stage(e.layer)
        channel = int(st.session_state["act_channel"])
        model_text(trace, stage, channel, e, stage.params["function"])  # under the figures
        field_view.show(
            trace, state.current_model().model.config, e.layer, (row, col, row, col),
            channel, f"Cell ({row}, {col}) of {e.layer}",
            "act_fields",
        )  # fmt: skip
        norm_view.section(trace, row, col)
exercises.section("activation")
