"""Pooling: each window of a feature map reduced to one number (its maximum or its mean)."""

import streamlit as st

from cnn_core import explain
from ui import figures, layout

st.title("Pooling")
st.markdown(layout.prose("pooling"))

trace = layout.input_trace()
pools = [] if trace is None else trace.by_kind("pool")
if trace is not None and not pools:
    st.warning("This model has no pooling stage (pooling is set to 'none' in the sidebar).")
elif trace is not None:
    cols = st.columns(3)
    name = cols[0].selectbox("Pooling stage", [s.name for s in pools], key="pool_layer")
    stage = trace.stage(name)
    p = stage.params
    channel = int(cols[1].number_input("Channel", 0, stage.shape[0] - 1, 0, key="pool_channel"))
    e = explain.pool_step(trace, name, channel)
    h_out, w_out = e.after.shape
    reduce = "max" if e.mode == "max" else "mean"
    k, s_ = p["kernel_size"], p["stride"]
    st.latex(
        rf"\text{{out}}[c,i,j] = \operatorname{{{reduce}}}_{{0 \le u,v < {k}}}\;"
        rf" x[c,\; {s_} i + u,\; {s_} j + v]"
    )
    torch_name = "MaxPool2d" if e.mode == "max" else "AvgPool2d"
    st.code(
        f"nn.{torch_name}(kernel_size={p['kernel_size']}, stride={p['stride']})  "
        f"# 0 parameters; {layout.shape_text(trace.input_of(name).shape)} -> "
        f"{layout.shape_text(stage.shape)}",
        language="python",
    )
    row = st.slider("Output row", 0, h_out - 1, h_out // 2, key="pool_row")
    col = st.slider("Output column", 0, w_out - 1, w_out // 2, key="pool_col")
    show_all = st.toggle(
        "Mark every window's winner", False, key="pool_all_winners", disabled=e.winners is None
    )
    top, left, bottom, right = e.window(row, col)
    marks = []
    if e.winners is not None and show_all:
        marks = e.decisive_winners()
    elif e.winners is not None:
        marks = [tuple(e.winners[row, col])]
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        figures.annotated_grid(
            e.before,
            title="input map",
            cell_px=14 if e.before.shape[0] > 14 else 26,
            boxes=[figures.Box(top, left, bottom - 1, right - 1)],
            marks=marks,
        ),
        key="pool_before",
    )
    c2.plotly_chart(
        figures.annotated_grid(
            e.after, title="pooled map", cell_px=26, boxes=[figures.Box(row, col, row, col)]
        ),
        key="pool_after",
    )
    window = e.before[top:bottom, left:right]
    c3, c4 = st.columns(2)
    c3.plotly_chart(
        figures.annotated_grid(
            window, title=f"window rows {top}-{bottom - 1}, columns {left}-{right - 1}", digits=3
        ),
        key="pool_window",
    )
    verb = "largest" if e.mode == "max" else "mean"
    c4.markdown(
        f"The {verb} value of the window is **{e.after[row, col]:.5f}**; PyTorch "
        f"computed **{e.torch_after[row, col]:.5f}** (|difference| over the whole map "
        f"{e.difference:.1e})."
    )
    if e.winners is not None:
        r, c = e.winners[row, col]
        c4.markdown(
            f"The winner is input cell ({r}, {c}) (star). Only it gets a gradient in training."
        )
