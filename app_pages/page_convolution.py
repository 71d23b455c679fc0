"""Convolution: one filter sliding over the input, one output cell computed in full; a toy
playground for kernel size, stride, padding and dilation; a kernel editor whose kernel can go
into the model's first layer for this session only. Each tab is a module of its own
(ui/conv_model.py, ui/conv_editor.py, ui/conv_toy.py); this page lays them out.

Every widget key (the open tab's too) starts with ``conv_`` and accepts a value set in
st.session_state before the page runs (a share link); values that no longer fit (a channel after
switching layer) are clamped.
"""

import streamlit as st

from ui import conv_editor, conv_model, conv_rgb, conv_toy, exercises, layout, links, tour

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
# model" or an edit keeps the learner on the tab they acted in, and a link reopens its tab.
TABS = list(links.CONV_TABS.values())
model_tab, editor_tab, toy_tab = st.tabs(TABS, key="conv_tab", on_change="rerun")
with model_tab:
    conv_model.model_section()
with editor_tab:
    conv_editor.editor_section()
with toy_tab:
    conv_toy.toy_section()
    conv_rgb.rgb_section()
exercises.section("convolution")
