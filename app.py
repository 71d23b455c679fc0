"""ConvScope: the router and the shared sidebar.

Run with `streamlit run app.py`. Every page shares the sidebar (model card and training panel),
which app.py draws before running the page. Training runs in a background job per session
(ui/live.py, cnn_core/job.py): the learner keeps exploring while the model learns, and every page
shows the current input through the newest published weights.
"""

import streamlit as st

from cnn_core.runtime import configure_torch
from ui import links, live, sidebar, state

configure_torch()  # CONVSCOPE_THREADS (default 1); per script thread, so on every run

st.set_page_config(page_title="ConvScope", page_icon=":material/grid_on:", layout="wide")

# The page scripts live in app_pages/, not pages/: a folder named pages/ next to app.py makes
# Streamlit run its old auto-discovery on the first request to a fresh server, before app.py has
# called st.navigation. A deep link such as /training then showed a "Page not found" dialog (or,
# if a file name matched the URL, ran that page alone without this sidebar). Tested in Chromium.
PAGES = [
    st.Page("app_pages/page_draw.py", title="Draw & predict", icon=":material/draw:", default=True),
    st.Page(
        "app_pages/page_convolution.py",
        title="Convolution",
        url_path="convolution",
        icon=":material/filter_center_focus:",
    ),
    st.Page(
        "app_pages/page_activation.py",
        title="Activation",
        url_path="activation",
        icon=":material/show_chart:",
    ),
    st.Page(
        "app_pages/page_pooling.py",
        title="Pooling",
        url_path="pooling",
        icon=":material/grid_view:",
    ),
    st.Page(
        "app_pages/page_flatten.py",
        title="Flatten",
        url_path="flatten",
        icon=":material/view_stream:",
    ),
    st.Page(
        "app_pages/page_dense.py", title="Dense & softmax", url_path="dense", icon=":material/hub:"
    ),
    st.Page(
        "app_pages/page_attribution.py",
        title="What it looks at",
        url_path="attribution",
        icon=":material/visibility:",
    ),
    st.Page(
        "app_pages/page_training.py",
        title="Training",
        url_path="training",
        icon=":material/monitoring:",
    ),
]

page = st.navigation(PAGES)
slug = page.url_path or "draw"
target = links.apply(slug)  # a share link, on the session's first run only
if target is not None:
    st.switch_page(next(p for p in PAGES if (p.url_path or "draw") == target))
share_slot = st.sidebar.container()  # "Share this view" first: in sight at 1400x900 everywhere
sidebar.render(teacher=links.teacher_mode())
with share_slot:
    links.share_box(slug)
# Messages and the live-training banner go into one container that is always there, so that
# they never shift the page's own elements: Streamlit places elements by their position, and a
# shifted canvas is mounted afresh, empty (the drawing was wiped when a run ended).
with st.container():
    for kind, text in state.pop_notices():
        getattr(st, kind)(text)
    live.live_banner()
page.run()
live.page_done()  # the page is complete: a live rerun may now redraw it
