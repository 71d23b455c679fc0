"""What the Training page shows, as plain values: the run whose curves and snapshots it shows (the
session's last run, or the shipped default model's own training, loaded once per process), the
current model's held-out predictions (cached per model version), the examples of one
confusion-matrix cell, and a snapshot's view of the input.

The page lays these out; nothing here draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from cnn_core import Trace
from cnn_core.data import DATASETS, Dataset
from cnn_core.snapshots import DEFAULT_HISTORY_PATH, SnapshotLog, TrainingHistory, load_history
from cnn_core.train import Evaluation, evaluate

from . import state


@dataclass(frozen=True)
class HeldOut:
    """A held-out data set and the current model's predictions on it."""

    dataset_name: str  # a name of cnn_core.data.DATASETS
    label: str  # in words, for the page
    data: Dataset  # images (N, 28, 28) uint8, labels (N,)
    evaluation: Evaluation  # probabilities (N, K), predictions (N,), confusion (K, K)


def _dataset_of_current_model() -> str:
    """The data set the current model was trained on: the last run's when the current model is
    that run's model, else the bundled digits (the default and uploaded models)."""
    run = st.session_state.get(state.TRAINING)
    info = state.current_model(live=False)  # never a live copy: evaluated once per model
    if run is not None and not info.is_default and info.model is run.model:
        return run.request.dataset
    return "digits"


def _test_split(name: str) -> Dataset:
    return state.dataset_split(name).test


@st.cache_data(max_entries=32, show_spinner="Predicting the held-out digits…")
def _evaluate(version: str, dataset_name: str, _model) -> Evaluation:
    """The evaluation of the model with this version (a digest of its weights) on a test set.
    Shared by the sessions of the process: equal versions are equal weights, equal results."""
    return evaluate(_model, _test_split(dataset_name))


def held_out() -> HeldOut:
    """The current model's predictions on the held-out split of its data set (cached)."""
    info = state.current_model(live=False)  # never a live copy: evaluated once per model
    name = _dataset_of_current_model()
    label = DATASETS[name].held_out
    return HeldOut(name, label, _test_split(name), _evaluate(info.version, name, info.model))


def cell_examples(held: HeldOut, true_class: int, predicted: int, limit: int = 12) -> np.ndarray:
    """Indices (into the held-out set) of up to ``limit`` examples of class ``true_class``
    predicted as ``predicted``, the most confident predictions first."""
    ev = held.evaluation
    idx = np.flatnonzero((held.data.labels == true_class) & (ev.predictions == predicted))
    order = np.argsort(-ev.probabilities[idx, predicted], kind="stable")
    return idx[order][:limit]


def held_out_image(held: HeldOut, index: int) -> np.ndarray:
    """Held-out example ``index`` as the app's input: (28, 28) float32 in [0, 1]."""
    return held.data.images[index] / np.float32(255)


def biggest_mistake(confusion: np.ndarray) -> tuple[int, int]:
    """(true, predicted) of the largest off-diagonal count (the first on a tie; (0, 0) if none)."""
    off = np.array(confusion, copy=True)
    np.fill_diagonal(off, -1)
    t, p = np.unravel_index(int(np.argmax(off)), off.shape)
    return (int(t), int(p)) if off[t, p] > 0 else (0, 0)


def per_class_rows(confusion: np.ndarray, class_names) -> list[dict]:
    """One row per class: images, correct, accuracy and the class it is most often taken for."""
    rows = []
    for k, name in enumerate(class_names):
        total, right = int(confusion[k].sum()), int(confusion[k, k])
        wrong = np.array(confusion[k], copy=True)
        wrong[k] = -1
        other = int(np.argmax(wrong))
        rows.append(
            {
                "class": str(name),
                "images": total,
                "correct": right,
                "accuracy": right / total if total else float("nan"),
                "most often taken for": (
                    f"{class_names[other]} ({int(wrong[other])})" if wrong[other] > 0 else "-"
                ),
            }
        )
    return rows


def conv_filters(model, layer: str, in_channel: int | None) -> np.ndarray:
    """The (C_out, kH, kW) filters of a conv layer: one input channel, or (None) the mean over
    the input channels."""
    w = model.layer_weights(layer)  # (C_out, C_in, kH, kW)
    return w.mean(axis=1) if in_channel is None else w[:, in_channel]


def snapshot_trace(view: RunView, epoch: int, image: np.ndarray) -> tuple[Trace, np.ndarray]:
    """The input's trace by the run's weights after ``epoch`` (from the session's trace cache,
    keyed by the snapshot's fingerprint), and that epoch's conv1 filters (C_out, C_in, kH, kW)."""
    model = view.snapshots.model_at(epoch)
    trace = state.cached_trace("snapshot:" + model.fingerprint(), model, image)
    return trace, model.layer_weights("conv1")


# ----------------------------------------------------------------------------------------------
# The run shown by the curves and the epoch scrubber


@dataclass(frozen=True, eq=False)
class RunView:
    """The facts the curves and the epoch scrubber show of one training run."""

    rows: Sequence[dict]  # one dict per finished epoch: epoch, losses, accuracies, seconds
    snapshots: SnapshotLog  # weights of epoch 0 (before training) and after epochs
    class_names: tuple[str, ...]
    heading: str  # markdown line above the curves: whose run, architecture, epochs
    key: object  # identifies the run: the scrubber starts at the last epoch of a new one
    previous: Sequence[dict] | None = None  # the run before it (dotted), if any
    replaced: bool = False  # the model in use now is not this run's model
    live: Sequence[tuple] = ()  # (epochs done, loss, accuracy) of a run under way
    lr_marks: Sequence[tuple] = ()  # (epochs done, learning rate) changes during the run


@st.cache_resource(show_spinner="Loading the default model's training history…")
def default_history() -> TrainingHistory | None:
    """The shipped model's own training (assets/default_history.safetensors), loaded once per
    process and shared read-only by every session; None if it is missing, unreadable or not the
    history of the shipped weights (then the page shows no curves until the session trains)."""
    try:
        history = load_history(DEFAULT_HISTORY_PATH)
    except ValueError:
        return None
    log = history.snapshots
    if not log.epochs or log.model_at(log.epochs[-1]).fingerprint() != (
        state.default_model_info().model.fingerprint()
    ):
        return None
    return history


def run_view(run, info: state.ModelInfo) -> RunView | None:
    """The run the curves and the scrubber show: this session's last run once it has finished an
    epoch; before the session's first run, while the default model is in use, the default
    model's own training; else None."""
    if run is not None:
        return _session_view(run, info) if run.rows or not run.finished else None
    history = default_history() if info.is_default else None
    if history is None:
        return None
    trained_on = history.metadata.get("trained_on", "the bundled digits")
    heading = (
        f"**The default model's own training**, shipped with the app (on {trained_on}): "
        f"{history.config.describe()} · {len(history.rows)} epochs. The model in use now is "
        "its last epoch. Train a model in the sidebar to see your own run here."
    )
    return RunView(history.rows, history.snapshots, history.class_names, heading, "default")


def _session_view(run, info: state.ModelInfo) -> RunView:
    """This session's last run (st.session_state[state.TRAINING], a cnn_core.job.TrainingJob:
    the only place that reads it for the curves), with the run before it if any; a run under
    way brings its live curve."""
    view, past = run.view(), state.history()
    if run.finished:  # its rows are already the newest entry of the history
        previous = past[-2] if len(past) >= 2 and past[-1] == list(view.rows) else None
        state_words = f"**{view.status}** · {len(view.rows)} epoch(s)"
    else:
        previous = past[-1] if past else None
        state_words = f"**{view.status}** · epoch {view.epoch} of {view.planned_epochs}"
    heading = (
        f"{'Last run' if run.finished else 'Run under way'}: {state_words} · "
        f"{run.request.model_config.describe()}"
        + (" · the previous run dotted" if previous else "")
    )
    replaced = run.finished and info.model is not run.model
    return RunView(
        view.rows, run.snapshots, run.class_names, heading, id(run), previous, replaced,
        live=view.curve if view.active else (), lr_marks=view.lr_marks,
    )  # fmt: skip
