"""Share links: a URL that reopens the same page, input and stage settings in a fresh session.

``apply()`` runs once per session, on its first script run, before the sidebar and the page: it
reads ``st.query_params``, puts every valid value into session state (the pages' widgets read
their keys from there) and queues one note listing whatever was ignored and why. ``share_box()``
draws the link for the current view. Query values are untrusted (cnn_core.share validates them).

Parameters: ``page`` (a page slug), ``img`` (the 28x28 input, cnn_core.share.encode_image),
``mode=class`` (teacher mode: the default model, no training panel, no model upload), ``tour=1``
(open the page's guided tour), ``seed`` (the exercises' seed; pages.LINK_EXTRAS), and the page's
settings in the page registry (ui/pages.py), each named after the widget key it sets.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from cnn_core.share import LinkError, Setting, decode_image, encode_image, safe_name

from . import pages, state

PAGE_SLUGS = tuple(pages.BY_SLUG)
CONV_TABS = pages.CONV_TABS  # the Convolution page's tabs (the page and the tests read it here)
# Shareable settings per page slug, keyed by the widget key they set (the page registry's).
SETTINGS: dict[str, dict[str, Setting]] = {page.slug: page.settings for page in pages.PAGES}
RESERVED = {"page", "img", "mode", *pages.LINK_EXTRAS}
MAX_PARAMS = 40  # a link with more parameters than this is not one of ours


def _reason(text: str) -> str:
    """A LinkError's message to follow a colon: no final full stop, no capital unless the word
    is one ("NaN")."""
    text = str(text).strip().rstrip(".")
    if text[:1].isupper() and text[1:2].islower():
        text = text[:1].lower() + text[1:]
    return text


def _read_one(name: str, text: str, known: dict[str, Setting]):
    """The value of one known parameter, or LinkError."""
    if name == "page":
        if text not in PAGE_SLUGS:
            raise LinkError(f"there is no page '{safe_name(text)}'")
        return text
    if name == "img":
        return decode_image(text)
    if name == "mode":
        if text != "class":
            raise LinkError("the only mode is 'class'")
        return text
    if name in pages.LINK_EXTRAS:
        return pages.LINK_EXTRAS[name].parse(text)
    return known[name].parse(text)


def read(params: dict[str, str]) -> tuple[dict, list[str]]:
    """Validate raw query parameters. Returns (values, notes): values has 'page', 'img',
    'mode' and widget keys; notes are sentences about what was ignored. Pure: no session state."""
    values: dict = {}
    notes: list[str] = []
    items = list(params.items())
    if len(items) > MAX_PARAMS:
        notes.append(
            f"The link has {len(items)} parameters; only the first {MAX_PARAMS} were read."
        )
        items = items[:MAX_PARAMS]
    known = pages.WIDGETS
    unknown = []
    for name, raw in items:
        text = raw[-1] if isinstance(raw, list) and raw else raw
        if name not in known and name not in RESERVED:
            unknown.append(safe_name(name))
        elif not isinstance(text, str):
            notes.append(f"`{safe_name(name)}` has no usable value.")
        else:
            try:
                values[name] = _read_one(name, text, known)
            except LinkError as err:
                notes.append(f"`{safe_name(name)}` was ignored: {_reason(err)}.")
    if unknown:
        shown = ", ".join(f"`{n}`" for n in unknown[:8]) + (" and more" if len(unknown) > 8 else "")
        notes.append(f"The link has unknown parameters, which were ignored: {shown}.")
    return values, notes


def apply(current_slug: str) -> str | None:
    """On a session's first run: apply the link in st.query_params. Returns the slug of the page
    the link asks for when that is not the page being shown (the caller switches to it)."""
    if st.session_state.get(state.LINK_APPLIED):
        return None
    st.session_state[state.LINK_APPLIED] = True
    raw = {name: st.query_params.get_all(name) for name in st.query_params}
    if not raw:
        return None
    values, notes = read(raw)
    if "img" in values:
        state.set_input(values.pop("img"), "the image from the shared link")
    if values.pop("mode", None) == "class":
        st.session_state[state.TEACHER] = True
        state.set_session_model(None)
    target = values.pop("page", None)
    if values.pop("tour", False):
        st.session_state[state.TOUR_LINK] = target or current_slug
    if "seed" in values:
        st.session_state[state.EXERCISE_SEED] = values.pop("seed")
    for key, value in values.items():
        st.session_state[key] = value
    if notes:
        state.notify("warning", " ".join(["Some of this link could not be used.", *notes]))
    return target if target and target != current_slug else None


def teacher_mode() -> bool:
    return bool(st.session_state.get(state.TEACHER))


def encode(
    slug: str, image, values: dict, teacher: bool = False, tour: bool = False, seed=None
) -> dict[str, str]:
    """The query parameters of a view: page, image, the page's settings that have values; with
    ``tour`` the link opens the page's guided tour, with ``seed`` its exercises."""
    params = {"page": slug}
    if image is not None:
        params["img"] = encode_image(image)
    for key, setting in SETTINGS.get(slug, {}).items():
        if key in values and values[key] is not None:
            try:
                params[key] = setting.format(values[key])
            except (ValueError, TypeError):
                continue  # a value the page has not validated yet is simply not shared
    if teacher:
        params["mode"] = "class"
    if tour:
        params["tour"] = "1"
    if seed is not None:
        params["seed"] = pages.LINK_EXTRAS["seed"].format(seed)
    return params


def link_for(slug: str, params: dict[str, str]) -> str:
    """Absolute URL when the browser told us where the app is, else a path."""
    query = urlencode(params)
    url = st.context.url
    if url:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return f"/{pages.BY_SLUG[slug].url_path}?{query}"


def share_box(slug: str) -> None:
    """Sidebar expander with the link to this view (st.code has a copy button)."""
    with st.expander("Share this view", icon=":material/link:"):
        teacher = st.toggle(
            "Class link",
            value=teacher_mode(),
            key="share_class",
            help="The link opens with the default model and without the training panel.",
        )
        tour = st.toggle(
            "Open with the guided tour",
            key="share_tour",
            help="The page opens at the first card of its guided tour.",
        )
        seed = st.session_state.get(state.EXERCISE_SEED)
        params = encode(slug, state.current_input(), dict(st.session_state), teacher, tour, seed)
        st.code(link_for(slug, params), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button at the top right of the box. It holds this page, the current "
            "input, the page's settings and the exercises' seed (everyone who opens it gets the "
            "same exercises); it opens with the default model."
        )
