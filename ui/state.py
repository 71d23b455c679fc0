"""Session state in one place: the per-session model, the current input and the trace cache.

The default model is loaded once per process (st.cache_resource) and never mutated: every session
reads it. A session that trains (or edits a filter) gets its own model object, held only in its
own st.session_state, so nothing one learner does reaches another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnn_core import CNN, Trace
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, check_safe_environment, load_checkpoint
from cnn_core.data import Split, load_bundled, load_dataset

# Session-state keys: every key that is not a widget's is named here (a widget's key is the
# key= of its widget; the shareable ones are listed in ui/pages.py).
INPUT = "current_input"  # np.ndarray (28, 28) float32 in [0, 1], or None before any input
INPUT_SOURCE = "input_source"  # what the current input is, in words ("your drawing", ...)
MODEL = "session_model"  # ModelInfo of this session's own model, or None for the default
TRAINING = "training_job"  # cnn_core.job.TrainingJob of the session's last run (ui/live.py)
ADOPTED = "training_adopted"  # the TrainingJob whose end has been handled (model adopted)
LIVE_MODEL = "live_model"  # ((job id, publication), ModelInfo) of the run's latest weights
LIVE_SHOWN = "live_shown"  # (job id, publication) of the live weights the page last drew
LIVE_RERUN_AT = "live_rerun_at"  # time.monotonic() of the last rerun for new live weights
LIVE_CURVES = "live_curves"  # (key, time, figure) of the sidebar's last live-curves figure
LAST_START = "training_last_start"  # (TrainRequest, time.monotonic()) of the last Train press
TRAIN_ASKED = "training_asked"  # a Train press (ui.live.Press) until its run has started
LIVE_DONE_AT = "live_done_at"  # time.monotonic() at the end of the last complete script run
LAST_STROKE_AT = "last_stroke_at"  # time.monotonic() of the last stroke that changed the input
HISTORY = "training_history"  # list of finished runs, each a list of per-epoch dicts
NOTICES = "notices"  # (kind, text) messages to show once on the next run
TRACES = "trace_cache"  # {(model version, input digest): Trace}, a few entries
CANVAS_SEEN = "canvas_seen"  # digest of the last canvas image turned into the input
CANVAS_DRAWING = "canvas_drawing"  # the canvas's last drawing (fabric JSON), or None
CANVAS_INITIAL = "canvas_initial"  # the drawing this page visit's canvas started from
CANVAS_SHOWED_INK = "canvas_showed_ink"  # True once this visit's canvas reported a stroke
FILTER_EDIT = "filter_edit"  # conv page: (session model before the first filter edit, or
#   None for the default; version of the edited model), while an edited filter is in use
UPLOADED_MODEL = "uploaded_model"  # (file id, sha256) of the last model file handled
LINK_APPLIED = "link_applied"  # True once this session's share link was read (ui/links.py)
TEACHER = "teacher_mode"  # True when the session was opened with a class link (mode=class)
CLAIM_CHECKED = "model_claim_checked"  # True once the URL's model claim was read (model_claim)
LOST_MODEL = "lost_model"  # the claimed model kind this server does not have, or absent
DOWNLOAD_CACHE = "model_download_bytes"  # (model version, bytes) of the last model file made
# Pages
DRAW_PREPROCESSED = "draw_last_preprocessed"  # Preprocessed of the last drawing (steps row)
UPLOAD_SEEN = "draw_upload_seen"  # digest of the last uploaded photo turned into the input
GALLERY_PICK = "gallery_pick"  # index of the sample picked in the gallery, for the next run
FLAT_REFUSED = "flat_refused"  # flatten: the note about a typed value that was put back
TRAIN_OPENED = "train_opened"  # training: what "Open" did, said once beside the examples
TRAIN_EPOCH_RUN = "train_epoch_run"  # training: the run the epoch scrubber was last set for
TRAIN_CELL_SEEN = "train_cell_seen"  # training: the last confusion-matrix cell clicked
CELL_PICKS = "cell_picks"  # {chart key: the map cell its click last set} (ui/cell_pick.py)
PICKED = "picked_cells"  # {widget key: value} of the cell pickers, kept over page switches
TOURS = "tours"  # {page slug: ui.tour.Progress} guided-tour progress (ui/tour.py)
TOUR_LINK = "tour_link"  # the page slug a link's tour=1 opens with its tour, until it has
EXERCISES = "exercises"  # {page slug: ui.exercises.Record} exercises shown, answers, score
EXERCISE_SEED = "exercise_seed"  # int: this session's exercise seed (random, or a link's seed)

# What one session keeps is bounded by design (README, Server memory): these caps, the job's
# (cnn_core.job: MAX_CURVE_POINTS live-curve points, a SnapshotLog of at most
# snapshots.MAX_COUNT snapshots and MAX_BYTES bytes), and one model of at most
# limits.MAX_PARAMETERS weights in each of MODEL, LIVE_MODEL, FILTER_EDIT and the job.
TRACE_CACHE_SIZE = 4  # traces kept (TRACES): the current input by up to 4 models or inputs
HISTORY_RUNS = 3  # finished runs whose per-epoch rows are kept (HISTORY)


# Where a model came from: the first part of ModelInfo.version, written only by model_version.
ORIGINS = ("default", "own", "upload", "edited", "live")


def model_version(origin: str, model: CNN, tag: str = "") -> str:
    """'<origin>:[<tag>:]<fingerprint>' (origin one of ORIGINS): changes whenever the weights
    do, so it keys every per-model cache; ModelInfo.origin and .fingerprint read it back."""
    if origin not in ORIGINS:
        raise ValueError(f"unknown model origin {origin!r}; choose one of {', '.join(ORIGINS)}")
    return ":".join([origin, *([tag] if tag else []), model.fingerprint()])


@dataclass(frozen=True)
class ModelInfo:
    """A model and what the model card says about it. Made by the named constructors below (one
    per origin), which stamp ``version`` with model_version."""

    model: CNN
    version: str  # changes whenever the weights change (trace cache key)
    is_default: bool
    trained_on: str
    test_accuracy: float | None  # held-out accuracy, when known
    class_names: tuple[str, ...] = tuple(str(d) for d in range(10))
    live: str = ""  # "epoch E, batch B" when these are a run's weights while it trains

    @classmethod
    def default(cls, model: CNN, trained_on: str, accuracy: float | None) -> ModelInfo:
        """The shipped model (digits 0-9)."""
        return cls(model, model_version("default", model), True, trained_on, accuracy)

    @classmethod
    def own(cls, model: CNN, trained_on: str, accuracy, class_names) -> ModelInfo:
        """A model this session trained."""
        version = model_version("own", model)
        return cls(model, version, False, trained_on, accuracy, class_names)

    @classmethod
    def uploaded(cls, model: CNN, file_name: str, accuracy, class_names) -> ModelInfo:
        """A model read from a file the learner uploaded (file_name already made safe)."""
        version = model_version("upload", model)
        return cls(model, version, False, f"uploaded file {file_name}", accuracy, class_names)

    @classmethod
    def edited(cls, model: CNN, trained_on: str, class_names) -> ModelInfo:
        """A model with a hand-edited filter (its held-out accuracy is not measured)."""
        return cls(model, model_version("edited", model), False, trained_on, None, class_names)

    @classmethod
    def live_copy(cls, model: CNN, publication: str, label: str, class_names) -> ModelInfo:
        """A published copy of the weights of a run still under way."""
        version = model_version("live", model, publication)  # the card shows the fingerprint
        return cls(model, version, False, "training now", None, class_names, label)

    @property
    def origin(self) -> str:
        """Where the model came from: one of ORIGINS (the first part of version)."""
        return self.version.split(":", 1)[0]

    @property
    def fingerprint(self) -> str:
        """The digest of the weights (the last part of version)."""
        return self.version.rsplit(":", 1)[-1]


@st.cache_resource(show_spinner="Loading the default model…")
def default_model_info() -> ModelInfo:
    """The shipped model, shared read-only by every session of this process."""
    check_safe_environment()  # refuse to run if the environment forces unsafe torch loading
    model, meta = load_checkpoint(DEFAULT_MODEL_PATH)
    model.eval()
    accuracy = meta.get("test_accuracy")
    accuracy = float(accuracy) if accuracy is not None else None
    return ModelInfo.default(model, meta.get("trained_on", "bundled MNIST digits"), accuracy)


@st.cache_resource(show_spinner="Loading the bundled digits…")
def bundled_digits() -> Split:
    """The 5,000 bundled MNIST digits (train 4,000 / held-out 1,000), read-only arrays."""
    return load_bundled()


@st.cache_resource(show_spinner="Loading the data set…", max_entries=3)
def dataset_split(name: str) -> Split:
    """A data set's train and held-out split, loaded once per process and shared read-only by
    every session and every run (Fashion-MNIST is about 55 MB: never one copy per session)."""
    return bundled_digits() if name == "digits" else load_dataset(name)


def current_model(live: bool = True) -> ModelInfo:
    """The model in use: while a run is under way, the latest published copy of its weights
    (unless ``live`` is False); else this session's own model if it has one, else the shared
    default model."""
    entry = st.session_state.get(LIVE_MODEL) if live else None
    if entry is not None:
        st.session_state[LIVE_SHOWN] = entry[0]
        return entry[1]
    return st.session_state.get(MODEL) or default_model_info()


def set_session_model(info: ModelInfo | None) -> None:
    """Use ``info`` as this session's model (None goes back to the default model)."""
    st.session_state[MODEL] = info


def current_input() -> np.ndarray | None:
    return st.session_state.get(INPUT)


def input_source() -> str:
    return st.session_state.get(INPUT_SOURCE, "")


def set_input(image: np.ndarray | None, source: str) -> None:
    """Make ``image`` (28x28 floats in [0, 1]) the current input of every page."""
    st.session_state[INPUT] = None if image is None else np.asarray(image, np.float32).copy()
    st.session_state[INPUT_SOURCE] = source if image is not None else ""


def digest(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def cached_trace(version: str, model: CNN, image: np.ndarray) -> Trace:
    """``model``'s trace of ``image`` from the session's one trace cache, keyed by (version,
    input digest): ``version`` must change whenever the weights do (ModelInfo.version, or a
    snapshot's fingerprint). When full, the least recently used entry goes."""
    key = (version, digest(image))
    cache = st.session_state.setdefault(TRACES, {})
    if key in cache:
        cache[key] = cache.pop(key)  # now the most recently used
    else:
        if len(cache) >= TRACE_CACHE_SIZE:
            cache.pop(next(iter(cache)))  # drop the least recently used entry
        cache[key] = model.trace(image)
    return cache[key]


def current_trace(info: ModelInfo | None = None) -> Trace | None:
    """The current input's trace by the model in use, or by ``info`` (e.g. the model before a
    filter edit); None before any input."""
    image = current_input()
    if image is None:
        return None
    info = info or current_model()
    return cached_trace(info.version, info.model, image)


@dataclass(frozen=True)
class CachedModel:
    """A model whose trace() goes through the trace cache, for code that takes a model and
    traces several inputs (experiments.shift_experiment traces the input and the input moved)."""

    info: ModelInfo

    def trace(self, image) -> Trace:
        return cached_trace(self.info.version, self.info.model, image)


def notify(kind: str, text: str) -> None:
    """Queue a message (kind: success, info, warning, error) for the next run of the page."""
    st.session_state.setdefault(NOTICES, []).append((kind, text))


def pop_notices() -> list[tuple[str, str]]:
    return st.session_state.pop(NOTICES, [])


def add_history(rows: list[dict]) -> None:
    """Remember a finished run's per-epoch rows (the last HISTORY_RUNS runs only)."""
    runs = st.session_state.setdefault(HISTORY, [])
    runs.append(rows)
    del runs[:-HISTORY_RUNS]


def history() -> list[list[dict]]:
    return st.session_state.get(HISTORY, [])
