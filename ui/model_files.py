"""Download this session's model as a .safetensors file, or upload one to use in this session.

A model file holds only tensors and text (safetensors never runs code); an upload is checked
before it replaces anything -- size, format, configuration, tensor names and shapes, finite values,
and that the model takes 28x28 grey images and gives 10 classes -- and a refused file leaves the
session's model as it was. Only the uploading session gets the model.
"""

from __future__ import annotations

import hashlib
import json
import re

import streamlit as st

from cnn_core.checkpoint import (
    MAX_BYTES,
    CheckpointError,
    load_compatible,
    metadata_accuracy,
    save_checkpoint,
)
from cnn_core.share import safe_name
from cnn_core.train import evaluate

from . import state

UPLOAD_KEY = "model_upload"  # the st.file_uploader
DOWNLOAD_KEY = "model_download"  # the st.download_button
_SAFE_CLASS = re.compile(r"^[\w\-/ ]{1,24}$")  # "T-shirt/top"; no markdown


def model_bytes(info: state.ModelInfo) -> bytes:
    """The model as a .safetensors file, with what the model card says in its metadata."""
    extra = {"trained_on": info.trained_on, "class_names": list(info.class_names)}
    if info.test_accuracy is not None:
        extra["test_accuracy"] = info.test_accuracy
    return save_checkpoint(info.model, extra_metadata=extra)


def safe_file_name(name: str) -> str:
    """An uploaded file's name as the model card shows it (markdown): share.safe_name, at most
    60 characters, "model" when nothing is left."""
    return safe_name(name, 60) or "model"


def _class_names(metadata: dict[str, str], count: int) -> tuple[str, ...]:
    """The file's class names if they are ``count`` short plain words; else the digits."""
    try:
        names = json.loads(metadata.get("class_names", "null"))
    except ValueError:
        names = None
    plain = isinstance(names, list) and all(
        isinstance(n, str) and _SAFE_CLASS.match(n) for n in names
    )
    return tuple(names) if plain and len(names) == count else tuple(str(k) for k in range(count))


def model_from_upload(data: bytes, name: str) -> state.ModelInfo:
    """A ModelInfo for an uploaded file's bytes; CheckpointError (one sentence) if the file is
    not a usable ConvScope model. The held-out accuracy is the file's own claim when it is a
    number in [0, 1], else measured on the bundled held-out digits."""
    model, metadata = load_compatible(data, MAX_BYTES, input_size=28, in_channels=1, num_classes=10)
    accuracy = metadata_accuracy(metadata)
    if accuracy is None:
        accuracy = evaluate(model, state.bundled_digits().test).accuracy
    class_names = _class_names(metadata, model.config.num_classes)
    return state.ModelInfo.uploaded(model, safe_file_name(name), accuracy, class_names)


def _download_data(info: state.ModelInfo) -> bytes:
    """model_bytes(info), remembered for the model version (not rebuilt on every rerun)."""
    cached = st.session_state.get(state.DOWNLOAD_CACHE)
    if cached is None or cached[0] != info.version:
        cached = (info.version, model_bytes(info))
        st.session_state[state.DOWNLOAD_CACHE] = cached
    return cached[1]


def _use_upload(uploaded) -> None:
    """Check an uploaded file once (by its digest) and, if it is usable, make it the model."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    if st.session_state.get(state.UPLOADED_MODEL) == (uploaded.file_id, digest):
        return  # already handled on an earlier rerun (used, or refused with a message)
    st.session_state[state.UPLOADED_MODEL] = (uploaded.file_id, digest)
    try:
        info = model_from_upload(data, uploaded.name)
    except CheckpointError as err:
        state.notify("error", f"This file was refused, your model is unchanged: {err}.")
    else:
        state.set_session_model(info)
        state.notify("success", f"Now using the model from {safe_file_name(uploaded.name)}.")
    st.rerun()


def model_file_panel() -> None:
    """Download button for the current model and an uploader for a .safetensors file (during a
    run: the model in use before it; the run's model can be downloaded when it ends)."""
    info = state.current_model(live=False)
    st.download_button(
        "Download this model (.safetensors)",
        data=_download_data(info),
        file_name="convscope_default_model.safetensors"
        if info.is_default
        else "convscope_model.safetensors",
        mime="application/octet-stream",
        key=DOWNLOAD_KEY,
        on_click="ignore",
    )
    uploaded = st.file_uploader(
        "Use a model file (.safetensors from ConvScope)",
        type=["safetensors"],
        key=UPLOAD_KEY,
        max_upload_size=max(1, MAX_BYTES // 1_000_000),
        help="Only this session uses it. Pickle files (.pt, .pth, .pkl) are never opened.",
    )
    if uploaded is not None:
        _use_upload(uploaded)
