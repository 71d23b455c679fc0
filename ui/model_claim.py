"""A learner's own model that did not come along, said on the page instead of hidden.

A model the learner trained, uploaded or edited lives only in the memory of the server process
that holds the session. While the session has one, the page's URL carries ``model=<kind>``
(trained, uploaded or edited): ``sync()`` puts it back on every full run, since Streamlit drops
query parameters on a page switch. When the session is gone and the browser starts a new one
from that URL (the replica behind a load balancer died and the browser reconnected to another,
the server restarted, the session expired, the tab was reloaded), ``arrive()`` finds the claim
in the new session's first run: this server has no such model, so every page warns that the
model is gone and the default model is in use, until the learner has a model again.

Side effect: Streamlit records a change of the query string in the browser's history, so while a
session has its own model each page switch adds one history entry (the same page with the claim).
"""

from __future__ import annotations

import streamlit as st

from . import state

PARAM = "model"  # the query parameter (a share link never carries it: links open with the default)
KIND_OF_ORIGIN = {"own": "trained", "live": "trained", "upload": "uploaded", "edited": "edited"}
_NEW_SESSION = (
    "This is a new session: a model lives only in the memory of the server that held your "
    "session, and that session is gone (the server stopped or was replaced, the session expired, "
    "or the page was reloaded). The pages now use the default model."
)
LOST = {  # claim -> what the page says when this server has no such model for the session
    "trained": f"The model you trained is not here any more. {_NEW_SESSION} Train again in the "
    "sidebar to have a model of your own.",
    "uploaded": f"The model you uploaded is not here any more. {_NEW_SESSION} Upload its file "
    "again to use it.",
    "edited": f"The filter you edited is not here any more. {_NEW_SESSION} Edit it again on the "
    "Convolution page.",
}


def session_kind() -> str | None:
    """What this session's own model is ("trained", "uploaded", "edited"), None for the default.
    A run under way counts as trained. Reads session state only (no model is loaded)."""
    job = st.session_state.get(state.TRAINING)
    if job is not None and not job.finished:
        return "trained"
    info = st.session_state.get(state.MODEL)
    if info is None or info.is_default:
        return None
    return KIND_OF_ORIGIN.get(info.origin, "trained")


def arrive() -> None:
    """On the session's first run, before the share link is read: take the claim out of the URL
    and remember it when this session has no model of its own (always, in a new session)."""
    if st.session_state.get(state.CLAIM_CHECKED):
        return
    st.session_state[state.CLAIM_CHECKED] = True
    if PARAM not in st.query_params:
        return
    claim = st.query_params.get(PARAM)
    del st.query_params[PARAM]
    if claim not in LOST:
        state.notify("warning", f"Some of this link could not be used. `{PARAM}` was ignored: "
                     f"it should be one of {', '.join(LOST)}.")  # fmt: skip
    elif session_kind() is None:
        st.session_state[state.LOST_MODEL] = claim


def sync() -> None:
    """Every full run: keep the URL's claim in step with the session's model, and while a
    claimed model is missing say so (in the caller's container)."""
    kind = session_kind()
    if kind is not None:
        st.session_state.pop(state.LOST_MODEL, None)
        if st.query_params.get(PARAM) != kind:
            st.query_params[PARAM] = kind
        return
    if PARAM in st.query_params:
        del st.query_params[PARAM]
    lost = st.session_state.get(state.LOST_MODEL)
    if lost:
        st.warning(LOST[lost], icon=":material/cloud_off:")
