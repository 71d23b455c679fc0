"""ConvScope: the router and the shared sidebar.

Run with `streamlit run app.py`. Every page shares the sidebar (model card and training panel),
which app.py draws before running the page; a training run starts only after the page is drawn,
so the page stays on screen while the model learns.
"""

import streamlit as st

from ui import sidebar, state

st.set_page_config(page_title="ConvScope", page_icon=":material/grid_on:", layout="wide")

PAGES = [
    st.Page("pages/draw.py", title="Draw & predict", icon=":material/draw:", default=True),
    st.Page("pages/convolution.py", title="Convolution", icon=":material/filter_center_focus:"),
    st.Page("pages/activation.py", title="Activation", icon=":material/show_chart:"),
    st.Page("pages/pooling.py", title="Pooling", icon=":material/grid_view:"),
    st.Page("pages/flatten.py", title="Flatten", icon=":material/view_stream:"),
    st.Page("pages/dense.py", title="Dense & softmax", icon=":material/hub:"),
    st.Page("pages/training.py", title="Training", icon=":material/monitoring:"),
]

page = st.navigation(PAGES)
request, slots = sidebar.render()
for kind, text in state.pop_notices():
    getattr(st, kind)(text)
page.run()
if request is not None:
    sidebar.run_training(request, slots)
