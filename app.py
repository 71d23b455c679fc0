"""ConvScope: the router and the shared sidebar.

Run with `streamlit run app.py`. Every page shares the sidebar (model card and training panel),
which app.py draws before running the page. Training runs in a background job per session
(ui/live.py, cnn_core/job.py): the learner keeps exploring while the model learns, and every page
shows the current input through the newest published weights.
"""

import streamlit as st

from cnn_core.runtime import configure_torch
from ui import links, live, model_claim, pages, sidebar, state
from ui.layout import app_styles

configure_torch()  # CONVSCOPE_THREADS (default 1); per script thread, so on every run

st.set_page_config(page_title="ConvScope", page_icon=":material/grid_on:", layout="wide")
app_styles()  # the app's CSS on every page: code colours with AA contrast (ui/theme.py APP_CSS)

# The page scripts live in app_pages/, not pages/: a folder named pages/ next to app.py makes
# Streamlit run its old auto-discovery on the first request to a fresh server, before app.py has
# called st.navigation. A deep link such as /training then showed a "Page not found" dialog (or,
# if a file name matched the URL, ran that page alone without this sidebar). Tested in Chromium.
# One st.Page per row of the page registry (ui/pages.py); its first page is the home page, at /.
ROUTES = {  # slug -> st.Page
    page.slug: st.Page(
        page.file,
        title=page.title,
        icon=page.icon,
        url_path=page.url_path or None,
        default=page is pages.HOME,
    )
    for page in pages.PAGES
}

current = st.navigation(list(ROUTES.values()))
slug = pages.BY_URL[current.url_path].slug
model_claim.arrive()  # a URL claiming a model this new session lacks (ui/model_claim.py)
target = links.apply(slug)  # a share link, on the session's first run only
if target is not None:
    st.switch_page(ROUTES[target])
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
    model_claim.sync()  # the URL's claim of an own model; says so when it is lost
    live.live_banner()
current.run()
live.page_done()  # the page is complete: a live rerun may now redraw it
