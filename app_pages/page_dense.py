"""Dense & softmax: every class score is a weighted sum of the features; softmax turns the scores
into probabilities."""

import numpy as np
import streamlit as st

from cnn_core import attribution, explain, ops, toy, toy_steps
from ui import charts, exercises, field_view, figures, layout, state, theme, tour
from ui import toy as toy_ui

TOY_X = toy.toy_features()  # the toy image's conv map (toy X kernel), max-pooled 2x2, flattened
TOY_W, TOY_B = toy.DENSE_TOY_W, toy.DENSE_TOY_B  # (classes x features), (1 x classes)
TOP = 8  # contributions listed per sign
SPOT_COLOURS = ("#ffb000", "#00b4d8", "#e040fb", "#76ff03", "#ff1744")  # by rank, repeating


def class_picker(names) -> int:
    layout.keep_int("dense_class", 0, len(names) - 1, 0)
    return int(
        st.selectbox(
            "Class k", range(len(names)), format_func=lambda c: names[c], key="dense_class"
        )
    )


def model_part(trace):
    """The chosen class of the model's last dense layer (its weights are drawn under the
    contributions: weight_matrices)."""
    names = state.current_model().class_names
    if "dense_class" not in st.session_state:
        st.session_state["dense_class"] = trace.prediction
    k = class_picker(names)
    return explain.dense_step(trace, "dense", k), names, trace.logits


def weight_matrices(trace) -> None:
    """Each dense layer's PyTorch line, parameter count and weight matrix."""
    for stage in trace.by_kind("dense"):
        p = stage.params
        rows = "classes" if stage.name == "dense" else "hidden units"
        st.code(
            f"nn.Linear({p['in_features']}, {p['out_features']})  # {stage.name}: "
            f"{p['out_features']} x {p['in_features']} weights + {p['out_features']} biases "
            f"= {p['num_parameters']:,} parameters",
            language="python",
        )
        # The matrix (thousands of cells) is drawn only when asked for: the page opens sooner.
        box = st.expander(
            f"Show {stage.name}'s weight matrix W ({p['out_features']} x {p['in_features']})",
            key=f"dense_weights_{stage.name}_open", on_change="rerun",
        )  # fmt: skip
        if not box.open:
            continue
        figure = figures.annotated_grid(
            p["weight"], square=False, cell_px=22,
            title=f"{stage.name} weight matrix W: {p['out_features']} {rows} x "
            f"{p['in_features']} features (red > 0, blue < 0)",
        )  # fmt: skip
        alt = layout.grid_alt(f"{stage.name} weight matrix W, one row per {rows[:-1]}", p["weight"])
        with box:
            layout.chart(
                st, figure, f"dense_weights_{stage.name}", alt, p["weight"], f"{stage.name} W"
            )


def toy_part():
    """A tiny dense layer typed in by the learner: x (1 x n), W (K x n), b (1 x K)."""
    st.markdown(
        "A tiny dense layer: x is the toy image's conv map (X kernel) max-pooled 2x2 and "
        "flattened, 4 features; W has one row per class, b one bias per class. Edit any of them."
    )
    cols = st.columns([2, 3, 2])
    x = toy_ui.grid_editor("x (features)", "dense_toy_x", TOY_X, name="x", container=cols[0])
    w = toy_ui.grid_editor("W (classes x features)", "dense_toy_w", TOY_W, name="W",
                           container=cols[1])  # fmt: skip
    b = toy_ui.grid_editor("b (one per class)", "dense_toy_b", TOY_B, name="b", container=cols[2])
    if x is None or w is None or b is None:
        return None, None, None
    if x.shape[0] != 1 or b.shape[0] != 1:
        st.error("x and b are single rows of numbers.", icon=":material/error:")
        return None, None, None
    try:
        logits = [toy_steps.toy_dense_step(x, w, b, c).value for c in range(w.shape[0])]
    except ValueError as err:
        st.error(str(err), icon=":material/error:")
        return None, None, None
    n_out, n_in = w.shape
    st.code(
        f"nn.Linear({n_in}, {n_out})  # {n_out} x {n_in} weights + {n_out} biases = "
        f"{n_out * n_in + n_out} parameters; x: ({n_in},) -> z: ({n_out},)",
        language="python",
    )
    names = tuple(str(c) for c in range(n_out))
    figure = figures.annotated_grid(
        w, square=False, cell_px=40, title=f"weight matrix W: {n_out} classes x {n_in} features"
    )
    alt = layout.grid_alt("The toy's weight matrix W, one row per class", w)
    layout.chart(st, figure, "dense_weights_toy", alt, w, "the toy's W")
    k = class_picker(names)
    return toy_steps.toy_dense_step(x, w, b, k), names, np.array(logits)


def contribution_rows(e, items) -> list[dict]:
    """One table row per (feature index, contribution): where the feature came from (for the
    model's flattened maps), x_i, W_k,i and their product."""
    rows = []
    for i, v in items:
        where = e.feature(i)
        row = {"i": i}
        if where is not None:
            row["(c, h, w)"] = f"({where[0]}, {where[1]}, {where[2]})"
        row |= {"x_i": f"{e.x[i]:.4f}", "W_k,i": f"{e.weights[i]:.4f}", "W·x": f"{v:.4f}"}
        rows.append(row)
    return rows


def contributions_alt(labels, values, name: str) -> str:
    """The contributions chart in words: every bar with its label and signed value."""
    bars = ", ".join(f"{label} {v:+.3f}" for label, v in zip(labels, values, strict=True))
    return (
        f"Bar chart of the {len(values)} largest products W·x for class {name}, positive bars "
        f"to the right, negative to the left: {bars}"
    )


def contributions(e, names) -> None:
    """Tables and a chart of the largest +/- contributions, and their sum + bias = logit."""
    k = e.output_index
    st.latex(
        rf"z_{{{k}}} = b_{{{k}}} + \sum_i W_{{{k},i}}\, x_i \quad "
        rf"\text{{({e.x.size} products)}}"
    )
    pos, neg = e.top(TOP, 1), e.top(TOP, -1)
    items = pos + neg[::-1]
    labels = [
        f"i={i}" + ("" if e.feature(i) is None else " (c{}, h{}, w{})".format(*e.feature(i)))
        for i, _ in items
    ]
    with st.container(key="main_figure"):  # on the first screen (test_browser_first_screen)
        values = [v for _, v in items]
        st.plotly_chart(
            charts.contribution_bars(labels, values, f"top contributions to {k}"),
            key="dense_contrib_chart",
            alt=contributions_alt(labels, values, names[k]),
        )
    sign = "+" if e.bias >= 0 else "-"
    st.latex(
        rf"z_{{{k}}} = \underbrace{{{e.contributions.sum():.4f}}}_{{\sum_i W x}} {sign} "
        rf"\underbrace{{{abs(e.bias):.4f}}}_{{|b|}} = {e.value:.5f}"
    )
    if e.x.size <= 8:  # a toy: every product written out
        terms = " + ".join(f"({w:g})({x:g})" for w, x in zip(e.weights, e.x, strict=True))
        st.latex(rf"z_{{{k}}} = {terms} + ({e.bias:g}) = {e.value:g}")
    who = "PyTorch's logit" if e.layer == "dense" else "PyTorch's F.linear gives"
    st.markdown(
        f"{who}: **{e.torch_value:.5f}** · |difference| {e.difference:.1e} · products not "
        f"listed: {e.x.size - len(pos) - len(neg)} (smaller, or exactly zero)."
    )
    left, right = st.columns(2)
    for col, items, title in ((left, pos, "largest positive"), (right, neg, "most negative")):
        col.markdown(f"**{title} contributions**")
        col.dataframe(contribution_rows(e, items), hide_index=True)


def spots(e, config, count: int) -> list[dict]:
    """The ``count`` largest positive contributions as rows: rank, flat index i, its (c, h, w)
    on the flattened maps (ops.unflat_index), W·x, and the input region that cell sees (the
    receptive field of the last conv / activation / pool stage, whose maps are flattened)."""
    last = attribution.spatial_stages(config)[-1][0]
    rows = []
    for rank, (i, value) in enumerate(e.top(count, 1), start=1):
        c, h, w = ops.unflat_index(i, e.feature_shape)
        field = attribution.receptive_field(config, last, h, w)
        rows.append({"rank": rank, "i": i, "(c, h, w)": (c, h, w), "W·x": value,
                     "stage": last, "sees input": field})  # fmt: skip
    return rows


def spots_figure(trace, rows, k_name: str):
    """The input with every spot's field outlined, and each channel that holds a spot with
    its cells outlined, one colour per rank."""
    image, maps = trace.stage("input").output.mean(axis=0), trace.input_of("flatten")
    channels = sorted({r["(c, h, w)"][0] for r in rows})
    colour = {r["rank"]: SPOT_COLOURS[(r["rank"] - 1) % len(SPOT_COLOURS)] for r in rows}
    boxes = [[figures.Box(*r["sees input"], color=colour[r["rank"]]) for r in rows]]
    for c in channels:
        boxes.append([
            figures.Box(h, w, h, w, color=colour[r["rank"]])
            for r in rows for cc, h, w in [r["(c, h, w)"]] if cc == c
        ])  # fmt: skip
    titles = [f"input: what the spots for {k_name} see"] + [
        f"{rows[0]['stage']} ch {c}" for c in channels
    ]
    return figures.field_maps(
        [image] + [maps[c] for c in channels], titles, boxes,
        [(0.0, 1.0)] + [None] * len(channels), [theme.IMAGE] + [None] * len(channels),
    )  # fmt: skip


def spots_numbers(trace, rows) -> None:
    """The numbers of spots_figure's maps: the input and each channel that holds a spot."""
    channels = sorted({r["(c, h, w)"][0] for r in rows})
    maps = trace.input_of("flatten")  # (C, H, W)
    shown = [trace.stage("input").output.mean(axis=0)] + [maps[c] for c in channels]
    names = ["the input"] + [f"{rows[0]['stage']} ch {c}" for c in channels]
    layout.numbers_table(
        shown,
        "dense_spots",
        "the input and the channels",
        names,
        open_key="dense_spots_numbers_open",
    )


def evidence(trace, e, names) -> None:
    """Where the largest contributions to the chosen class sit: back on their (c, h, w) maps
    and on the input region each of those cells sees."""
    k = e.output_index
    st.subheader(f"Where the evidence for {names[k]} sits")
    if e.feature_shape is None:
        st.caption(
            "This model has a hidden dense layer: the class scores read its units, not the "
            "flattened maps, so their contributions have no place on a map."
        )
        return
    spot = layout.keep("dense_spots")
    count = st.slider("Largest contributions shown", spot.lo, spot.hi, key="dense_spots")
    rows = spots(e, state.current_model().model.config, int(count))
    if not rows:
        st.caption(f"No feature adds to the score of {names[k]} for this input.")
        return
    alt = f"The input and the {rows[0]['stage']} channels holding the {len(rows)} largest "
    alt += f"products for {names[k]}, each outlined: " + "; ".join(
        f"rank {r['rank']} cell {r['(c, h, w)']} sees input {field_view.words(r['sees input'])}"
        for r in rows
    )
    st.plotly_chart(spots_figure(trace, rows, names[k]), key="dense_spots_maps", alt=alt)
    spots_numbers(trace, rows)
    st.dataframe(
        [{"rank": r["rank"], "i": r["i"], "(c, h, w)": "({}, {}, {})".format(*r["(c, h, w)"]),
          "W·x": f"{r['W·x']:+.4f}", "sees input": field_view.words(r["sees input"])}
         for r in rows],
        hide_index=True, key="dense_spots_table",
    )  # fmt: skip
    st.caption(
        f"The {len(rows)} largest positive products W·x for class {names[k]}, by rank (one "
        f"outline colour each): index i of the flattened vector is cell (c, h, w) of "
        f"{rows[0]['stage']}, whose receptive field is the region outlined on the input."
    )


def softmax_settings(logits, names) -> tuple[float, int]:
    """The temperature and the true label (for the loss) widgets."""
    cols = st.columns(2)
    t = layout.keep("softmax_temperature")
    temperature = cols[0].slider("Temperature T", t.lo, t.hi, step=0.1, key="softmax_temperature")
    layout.keep_int("softmax_label", 0, len(names) - 1, int(np.argmax(logits)))
    label = cols[1].selectbox(
        "True label (for the loss)", range(len(names)), format_func=lambda c: names[c],
        key="softmax_label",
    )  # fmt: skip
    return float(temperature), int(label)


def softmax_table(s, names) -> None:
    """Per class: the logit, z/T, the shifted exponential and the probability."""
    st.dataframe(
        [
            {
                "class": names[c],
                "logit z": f"{s.logits[c]:.4f}",
                "z / T": f"{s.scaled[c]:.4f}",
                "exp(z/T - max)": f"{s.exps[c]:.5g}",
                "p": f"{s.probabilities[c]:.4%}",
            }
            for c in range(len(names))
        ],
        hide_index=True,
    )


def softmax_part(logits, names) -> None:
    """Softmax with a temperature, its table, the top probability, entropy and the loss."""
    st.subheader("Softmax, step by step")
    st.latex(r"p_k = \frac{e^{z_k / T}}{\sum_j e^{z_j / T}}")
    temperature, label = softmax_settings(logits, names)
    s = explain.softmax_step(logits, temperature, label)
    softmax_table(s, names)
    top = int(np.argmax(s.probabilities))
    st.latex(
        rf"p_{{{top}}} = \frac{{{s.exps[top]:.4g}}}{{{s.total:.6g}}} = "
        rf"{s.probabilities[top]:.4f} \qquad H = -\sum_k p_k \ln p_k = {s.entropy:.3f}"
        rf"\qquad -\ln p_{{{label}}} = {s.cross_entropy:.4g}"
    )
    st.markdown(
        f"Sum of the exponentials: **{s.total:.8g}** (after subtracting the largest z/T, "
        f"{s.shift:.4f}, so nothing overflows; the probabilities are unchanged) · entropy "
        f"**{s.entropy:.3f}** nats (uniform over {len(names)} classes: "
        f"{np.log(len(names)):.3f}) · cross-entropy for label {names[label]}: "
        f"**{s.cross_entropy:.4g}**"
    )
    predicted = f"{names[top]} ({s.probabilities[top]:.1%}), the tallest bar"
    marked = f"the hatched bar is the true label {names[label]} ({s.probabilities[label]:.1%})"
    alt = f"Bar chart of the {len(names)} probabilities at T = {temperature:g}; the predicted "
    alt += f"class is {predicted}; {marked}"
    st.plotly_chart(
        charts.probability_bars(s.probabilities, names, highlight=label),
        key="softmax_bars",
        alt=alt,
    )
    st.caption(f"Predicted: **{predicted}**; {marked}.")


st.title("Dense & softmax")
tour.show("dense")
# The mechanism first: two sentences, the longer explanation on demand, then the figures.
st.markdown(layout.prose("dense_lead"))
with st.expander("How logits and softmax work"):
    st.markdown(layout.prose("dense"))
trace = layout.input_trace()
source = layout.source_switch("dense_source", trace)
e, names, logits = model_part(trace) if source == "model" else toy_part()
if e is not None:
    contributions(e, names)
    if source == "model":
        weight_matrices(trace)  # under the contributions
        evidence(trace, e, names)
    softmax_part(logits, names)
    if source == "model":
        st.info(layout.prose("softmax_scribble"))
exercises.section("dense")
