"""Flatten: C x H x W maps unrolled into one vector, in PyTorch's order."""

import streamlit as st

from cnn_core import explain
from ui import figures, layout

st.title("Flatten")
st.markdown(layout.prose("flatten"))

trace = layout.input_trace()
if trace is not None:
    c_, h_, w_ = explain.flatten_shape(trace)
    flat = trace.stage("flatten").output
    st.latex(rf"i = c \cdot H W + h \cdot W + w = c \cdot {h_ * w_} + h \cdot {w_} + w")
    st.code(
        f"x = torch.flatten(x, start_dim=1)  # ({c_}, {h_}, {w_}) -> ({flat.size},), 0 parameters",
        language="python",
    )
    st.plotly_chart(
        figures.vector_strip(
            flat,
            title=f"the vector of {flat.size} values; lines separate the channels",
            boundaries=[k * h_ * w_ for k in range(1, c_)],
        ),
        key="flat_strip",
    )
    left, right = st.columns(2)
    with left:
        i = int(st.number_input("Index i in the vector", 0, flat.size - 1, 0, key="flat_index"))
        c, h, w = explain.flatten_index(trace, i)
        st.markdown(
            f"i = {i} comes from channel **{c}**, row **{h}**, column **{w}**: "
            f"{c}·{h_ * w_} + {h}·{w_} + {w} = {i}; value {flat[i]:.5f}"
        )
    with right:
        cols = st.columns(3)
        cc = int(cols[0].number_input("Channel", 0, c_ - 1, c, key="flat_c"))
        hh = int(cols[1].number_input("Row", 0, h_ - 1, h, key="flat_h"))
        ww = int(cols[2].number_input("Column", 0, w_ - 1, w, key="flat_w"))
        j = explain.flatten_position(trace, cc, hh, ww)
        st.markdown(f"Cell ({cc}, {hh}, {ww}) goes to index **{j}**.")
    st.plotly_chart(
        figures.annotated_grid(
            trace.input_of("flatten")[c], title=f"channel {c}", boxes=[figures.Box(h, w, h, w)]
        ),
        key="flat_map",
    )
