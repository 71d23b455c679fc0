"""Dense & softmax: every class score is a weighted sum of the features; softmax turns the scores
into probabilities."""

import streamlit as st

from cnn_core import explain
from ui import figures, layout, state

st.title("Dense & softmax")
st.markdown(layout.prose("dense"))

trace = layout.input_trace()
if trace is not None:
    names = state.current_model().class_names
    stage = trace.stage("dense")
    weight = stage.params["weight"]
    st.latex(r"z_k = b_k + \sum_i W_{k,i}\, x_i")
    st.code(
        f"nn.Linear({stage.params['in_features']}, {stage.params['out_features']})  "
        f"# {stage.params['num_parameters']:,} parameters",
        language="python",
    )
    st.plotly_chart(
        figures.annotated_grid(
            weight,
            square=False,
            title=f"weight matrix W: {weight.shape[0]} classes x {weight.shape[1]} features",
            cell_px=22,
        ),
        key="dense_weights",
    )
    k = st.selectbox(
        "Class",
        range(len(names)),
        index=trace.prediction,
        format_func=lambda c: names[c],
        key="dense_class",
    )
    e = explain.dense_step(trace, "dense", k)
    pos, neg = st.columns(2)
    for col, sign, title in ((pos, 1, "largest positive"), (neg, -1, "most negative")):
        rows = []
        for i, v in e.top(8, sign):
            where = e.feature(i)
            rows.append(
                {
                    "feature i": i,
                    "from (c, h, w)": "" if where is None else str(where),
                    "x_i": f"{e.x[i]:.4f}",
                    "W_k,i": f"{e.weights[i]:.4f}",
                    "W·x": f"{v:.4f}",
                }
            )
        col.markdown(f"**{title} contributions**")
        col.dataframe(rows, hide_index=True)
    sign = "+" if e.bias >= 0 else "-"
    st.latex(
        rf"z_{{{k}}} = \underbrace{{{e.contributions.sum():.4f}}}_{{\sum_i W x}} {sign} "
        rf"\underbrace{{{abs(e.bias):.4f}}}_{{|b|}} = {e.value:.5f}"
    )
    st.markdown(f"PyTorch's logit: **{e.torch_value:.5f}** · |difference| {e.difference:.1e}")

    st.subheader("Softmax, step by step")
    st.latex(r"p_k = \frac{e^{z_k / T}}{\sum_j e^{z_j / T}}")
    cols = st.columns(2)
    temperature = cols[0].slider("Temperature T", 0.1, 10.0, 1.0, 0.1, key="softmax_temperature")
    label = cols[1].selectbox(
        "True label (for the loss)",
        range(len(names)),
        index=trace.prediction,
        format_func=lambda c: names[c],
        key="softmax_label",
    )
    s = explain.softmax_step(trace.logits, temperature, label)
    rows = [
        {
            "class": names[c],
            "logit z": f"{s.logits[c]:.4f}",
            "z / T": f"{s.scaled[c]:.4f}",
            "exp(z/T - max)": f"{s.exps[c]:.5g}",
            "p": f"{s.probabilities[c]:.4%}",
        }
        for c in range(len(names))
    ]
    st.dataframe(rows, hide_index=True)
    st.markdown(
        f"Sum of the exponentials: **{s.total:.8g}** (after subtracting the largest, "
        f"{s.shift:.4f}, so nothing overflows) · entropy **{s.entropy:.3f}** nats "
        f"(uniform: 2.303) · cross-entropy for label {names[label]}: "
        f"**{s.cross_entropy:.4g}**"
    )
    st.plotly_chart(
        figures.probability_bars(s.probabilities, names, highlight=label), key="softmax_bars"
    )
    st.info(layout.prose("softmax_scribble"))
