"""Activation: the non-linearity applied to every value of a feature map."""

import numpy as np
import streamlit as st

from cnn_core import explain
from ui import figures, layout, theme

FUNCTIONS = {"relu": "ReLU", "leaky_relu": "Leaky ReLU", "sigmoid": "Sigmoid", "tanh": "Tanh"}
FORMULAS = {
    "relu": r"\mathrm{ReLU}(x) = \max(0, x)",
    "leaky_relu": r"\mathrm{LeakyReLU}(x) = \begin{cases} x & x \ge 0 \\ a\,x & x < 0 \end{cases}",
    "sigmoid": r"\sigma(x) = \frac{1}{1 + e^{-x}}",
    "tanh": r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}",
}

st.title("Activation")
st.markdown(layout.prose("activation"))

trace = layout.input_trace()
if trace is not None:
    acts = [s for s in trace.by_kind("activation") if s.output.ndim == 3]
    cols = st.columns(3)
    name = cols[0].selectbox("Activation stage", [s.name for s in acts], key="act_layer")
    stage = trace.stage(name)
    own = stage.params["function"]
    channel = cols[1].number_input("Channel", 0, stage.shape[0] - 1, 0, key="act_channel")
    function = cols[2].selectbox(
        "Function",
        list(FUNCTIONS),
        index=list(FUNCTIONS).index(own),
        format_func=lambda f: FUNCTIONS[f] + (" (the model's)" if f == own else " (what if)"),
        key="act_function",
    )
    slope = 0.01
    if function == "leaky_relu":
        slope = st.slider(
            "Leaky slope a",
            0.0,
            0.5,
            stage.params.get("negative_slope", 0.01),
            0.01,
            key="act_slope",
        )
    e = explain.activation_step(trace, name, int(channel), function, slope)
    st.latex(FORMULAS[function])
    module = {
        "relu": "ReLU()",
        "leaky_relu": f"LeakyReLU({slope})",
        "sigmoid": "Sigmoid()",
        "tanh": "Tanh()",
    }[function]
    st.code(
        f"nn.{module}  # 0 parameters; the shape stays {layout.shape_text(stage.shape)}",
        language="python",
    )

    # one colour scale for both maps (so cells compare), fixed for the squashing functions
    before_range = theme.value_range(e.before, signed=True)
    after_range = {"sigmoid": (0.0, 1.0), "tanh": (-1.0, 1.0)}.get(function, before_range)
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        figures.annotated_grid(
            e.before,
            title="before (conv output)",
            cell_px=12,
            zrange=before_range,
            colorscale=theme.DIVERGING,
            show_scale=True,
        ),
        key="act_before",
    )
    c2.plotly_chart(
        figures.annotated_grid(
            e.after,
            title=f"after {FUNCTIONS[function]}",
            cell_px=12,
            zrange=after_range,
            colorscale=theme.DIVERGING if after_range[0] < 0 else theme.SEQUENTIAL,
            show_scale=True,
        ),
        key="act_after",
    )
    st.plotly_chart(
        figures.annotated_grid(
            e.changed.astype(np.float32),
            cell_px=12,
            title="cells the activation changed (1 = changed)",
            zrange=(0.0, 1.0),
            colorscale="Greys",
        ),
        key="act_changed",
    )
    changed = int(e.changed.sum())
    st.markdown(f"**{changed}** of {e.before.size} cells changed; **{e.zeroed}** were set to 0.")
    if e.is_model_function:
        st.markdown(
            f"This is the model's own activation: |difference| against PyTorch {e.difference:.1e}."
        )
    else:
        st.markdown(f"What if: the model uses {FUNCTIONS[own]}; these values are not in the model.")
    xs, ys = e.curve()
    st.plotly_chart(
        figures.activation_curve(
            xs,
            ys,
            e.before.ravel(),
            e.after.ravel(),
            FUNCTIONS[function],
        ),
        key="act_curve",
    )
