"""Share links: a URL that reopens the same page, input and stage settings in a fresh session.

``apply()`` runs once per session, on its first script run, before the sidebar and the page: it
reads ``st.query_params``, puts every valid value into session state (the pages' widgets read
their keys from there) and queues one note listing whatever was ignored and why. ``share_box()``
draws the link for the current view. Query values are untrusted (cnn_core.share validates them).

Parameters: ``page`` (a page slug), ``img`` (the 28x28 input, cnn_core.share.encode_image),
``mode=class`` (teacher mode: the default model, no training panel, no model upload), and the
stage settings below, each named after the widget key it sets.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

import streamlit as st

from cnn_core import toy
from cnn_core.ops import ACTIVATIONS
from cnn_core.share import LinkError, Setting, decode_image, encode_image, safe_name

from . import state, theme

APPLIED = "link_applied"  # session flag: the link of this session was read
TEACHER = "teacher_mode"  # session flag: opened with mode=class

PAGE_SLUGS = (
    "draw", "convolution", "activation", "pooling", "flatten", "dense", "attribution", "training"
)  # fmt: skip
# The Convolution page's tabs (its st.tabs key is "conv_tab"): the word a link uses -> the label.
CONV_TABS = {"model": "Your input and model", "editor": "Kernel editor", "toy": "Toy playground"}

_INDEX = Setting("int", 0, 64)  # row / column / channel indices: every model map fits in 0..64
_COLOR = Setting("choice", choices=theme.COLOR_MODES)
_SOURCE = Setting("choice", choices=("model", "toy"))  # the pages' "Work on" switch

# Shareable settings per page, keyed by the widget key they set. Pages clamp what depends on the
# model (a channel beyond this model's filters, a position outside this map).
SETTINGS: dict[str, dict[str, Setting]] = {
    "draw": {"draw_center": Setting("bool"), "draw_brush": Setting("int", 8, 40)},
    "convolution": {
        "conv_tab": Setting("choice", choices=tuple(CONV_TABS.values()), names=tuple(CONV_TABS)),
        "conv_layer": Setting("choice", choices=("conv1", "conv2", "conv3")),
        "conv_channel": _INDEX,
        "conv_row": _INDEX,
        "conv_col": _INDEX,
        "conv_color_mode": _COLOR,
        "conv_preset": Setting("choice", choices=tuple(toy.KERNEL_PRESETS)),
        "conv_kernel": Setting("grid", max_size=7),
        "conv_target": _INDEX,
        "conv_toy_image": Setting("grid", max_size=14),
        "conv_toy_kernel": Setting("grid", max_size=9),
        "conv_toy_k": Setting("int", 1, 9),
        "conv_toy_stride": Setting("int", 1, 4),
        "conv_toy_padding": Setting("int", 0, 3),
        "conv_toy_dilation": Setting("int", 1, 3),
        "conv_toy_row": _INDEX,
        "conv_toy_col": _INDEX,
    },
    "activation": {
        "act_source": _SOURCE,
        "act_layer": Setting("choice", choices=("act1", "act2", "act3")),
        "act_channel": _INDEX,
        "act_function": Setting("choice", choices=tuple(ACTIVATIONS)),
        "act_slope": Setting("float", 0.0, 0.5),
        "act_row": _INDEX,
        "act_col": _INDEX,
        "act_color_mode": _COLOR,
        "act_toy_bias": Setting("float", -10.0, 10.0),
        "act_toy_image": Setting("grid", max_size=14),
        "act_toy_kernel": Setting("grid", max_size=7),
    },
    "pooling": {
        "pool_source": _SOURCE,
        "pool_layer": Setting("choice", choices=("pool1", "pool2", "pool3")),
        "pool_channel": _INDEX,
        "pool_mode": Setting("choice", choices=("max", "avg")),
        "pool_size": Setting("int", 1, 5),
        "pool_stride": Setting("int", 1, 5),
        "pool_ceil": Setting("bool"),
        "pool_row": _INDEX,
        "pool_col": _INDEX,
        "pool_all_winners": Setting("bool"),
        "pool_shift": Setting("choice", choices=("up", "down", "left", "right")),
        "pool_color_mode": _COLOR,
        "pool_toy_input": Setting("choice", choices=("conv", "image")),
        "pool_toy_image": Setting("grid", max_size=14),
        "pool_toy_kernel": Setting("grid", max_size=7),
    },
    "flatten": {
        "flat_source": _SOURCE,
        "flat_index": Setting("int", 0, 64 * 28 * 28),
        "flat_c": _INDEX,
        "flat_h": _INDEX,
        "flat_w": _INDEX,
        "flat_color_mode": _COLOR,
        "flat_toy_image": Setting("grid", max_size=14),
        "flat_toy_kernel": Setting("grid", max_size=3),
    },
    "dense": {
        "dense_source": _SOURCE,
        "dense_class": _INDEX,
        "softmax_temperature": Setting("float", 0.1, 10.0),
        "softmax_label": _INDEX,
        "dense_toy_x": Setting("grid", max_size=14),
        "dense_toy_w": Setting("grid", max_size=14),
        "dense_toy_b": Setting("grid", max_size=14),
    },
    "attribution": {
        "attr_class": _INDEX,
        "attr_compare": Setting("bool"),
        "attr_other": _INDEX,
        "attr_patch": Setting("int", 1, 64),  # the core refuses a patch larger than the image
        "attr_stride": Setting("int", 1, 64),
        "attr_fill": Setting("float", 0.0, 1.0),
        "attr_occ_row": _INDEX,
        "attr_occ_col": _INDEX,
        "attr_stage": Setting(
            "choice", choices=tuple(f"{s}{b}" for b in (1, 2, 3) for s in ("conv", "act", "pool"))
        ),
    },
    "training": {
        "train_true": Setting("int", 0, 9),
        "train_pred": Setting("int", 0, 9),
    },
}
RESERVED = {"page", "img", "mode"}
MAX_PARAMS = 40  # a link with more parameters than this is not one of ours


def _all_settings() -> dict[str, Setting]:
    merged: dict[str, Setting] = {}
    for settings in SETTINGS.values():
        merged.update(settings)
    return merged


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
    known = _all_settings()
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
    if st.session_state.get(APPLIED):
        return None
    st.session_state[APPLIED] = True
    raw = {name: st.query_params.get_all(name) for name in st.query_params}
    if not raw:
        return None
    values, notes = read(raw)
    if "img" in values:
        state.set_input(values.pop("img"), "the image from the shared link")
    if values.pop("mode", None) == "class":
        st.session_state[TEACHER] = True
        state.set_session_model(None)
    target = values.pop("page", None)
    for key, value in values.items():
        st.session_state[key] = value
    if notes:
        state.notify("warning", " ".join(["Some of this link could not be used.", *notes]))
    return target if target and target != current_slug else None


def teacher_mode() -> bool:
    return bool(st.session_state.get(TEACHER))


def encode(slug: str, image, values: dict, teacher: bool = False) -> dict[str, str]:
    """The query parameters of a view: page, image, the page's settings that have values."""
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
    return params


def link_for(slug: str, params: dict[str, str]) -> str:
    """Absolute URL when the browser told us where the app is, else a path."""
    query = urlencode(params)
    url = st.context.url
    if url:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    return f"/{'' if slug == 'draw' else slug}?{query}"


def share_box(slug: str) -> None:
    """Sidebar expander with the link to this view (st.code has a copy button)."""
    with st.expander("Share this view", icon=":material/link:"):
        teacher = st.toggle(
            "Class link",
            value=teacher_mode(),
            key="share_class",
            help="The link opens with the default model and without the training panel.",
        )
        params = encode(slug, state.current_input(), dict(st.session_state), teacher)
        st.code(link_for(slug, params), language=None, wrap_lines=True)
        st.caption(
            "Copy it with the button at the top right of the box. It holds this page, the current "
            "input and the page's settings; it opens with the default model."
        )
