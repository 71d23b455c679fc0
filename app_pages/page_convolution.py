"""Convolution: one filter sliding over the input, one output cell computed in full; a toy
playground for kernel size, stride, padding and dilation; a kernel editor whose kernel can go
into the model's first layer for this session only. Each tab is a module of its own
(ui/conv_model.py, ui/conv_editor.py, ui/conv_toy.py); this page lays them out.

Every widget key (the open tab's too) starts with ``conv_`` and accepts a value set in
st.session_state before the page runs (a share link); values that no longer fit (a channel after
switching layer) are clamped.
"""

import streamlit as st

from ui import (
    cell_pick,
    conv_editor,
    conv_model,
    conv_rgb,
    conv_toy,
    exercises,
    layout,
    links,
    tour,
)

# The tabs' widgets, kept over a run that does not draw their tab (the model tab's cell pick is
# kept by conv_model itself).
TAB_KEYS = (
    "conv_layer", "conv_channel", "conv_color_mode",
    "conv_preset", "conv_kernel", "conv_target",
    "conv_toy_image", "conv_toy_kernel", "conv_toy_k", "conv_toy_stride", "conv_toy_padding",
    "conv_toy_dilation", "conv_toy_row", "conv_toy_col",
    "conv_rgb_filter", "conv_rgb_row", "conv_rgb_col",
)  # fmt: skip

st.title("Convolution")
tour.show("convolution")
# The mechanism first: two sentences, the longer explanation on demand, then the figures.
st.markdown(layout.prose("convolution_lead"))
with st.expander("How convolution works, and why it suits images"):
    st.markdown(layout.prose("convolution"))
    st.latex(
        r"\text{out}[o,i,j] = b_o + \sum_{c}\sum_{u,v} w[o,c,u,v]\,"
        r"x_{\text{pad}}[c,\; i s + u d,\; j s + v d]"
    )
# The open tab is a widget value ("conv_tab", a share-link setting): a rerun after "Use in the
# model" or an edit keeps the learner on the tab they acted in, and a link reopens its tab. Only
# the open tab is drawn (a click on another tab reruns the page): the three together were 23
# Plotly charts. Streamlit drops the values of widgets a run does not draw, so the other tabs'
# settings are kept aside and put back when their tab is drawn again (cell_pick.keep).
TABS = list(links.CONV_TABS.values())
cell_pick.keep(TAB_KEYS)
model_tab, editor_tab, toy_tab = st.tabs(TABS, key="conv_tab", on_change="rerun")
if model_tab.open:
    with model_tab:
        conv_model.model_section()
if editor_tab.open:
    with editor_tab:
        conv_editor.editor_section()
if toy_tab.open:
    with toy_tab:
        conv_toy.toy_section()
        conv_rgb.rgb_section()
exercises.section("convolution")
