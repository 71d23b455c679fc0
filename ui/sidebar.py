"""The shared sidebar: the model card and the training panel.

``render()`` draws the widgets and returns what the learner asked for (plain values); app.py runs
the page and only then ``run_training()``, so the page stays on screen while the model trains.

Stopping: Streamlit stops a running script at its next st.* call when a button is pressed. The
run's progress lives in a plain TrainingRun object in session state; the next run of the script
finds it still marked "running", so it was interrupted, and keeps the weights of the last step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st

from cnn_core import CNN, ModelConfig
from cnn_core import data as datasets
from cnn_core.limits import ModelTooLargeError, check_model_size, limit_train_config, load_limits
from cnn_core.limits import shared_slots as training_slots
from cnn_core.snapshots import SnapshotLog
from cnn_core.train import (
    BatchEvent,
    DivergedEvent,
    DoneEvent,
    EpochEvent,
    StoppedEvent,
    TrainConfig,
    evaluate,
    train,
)

from . import figures, model_files, state

DATASET_LABELS = {
    "digits": "Bundled MNIST digits (5,000)",
    "mnist": "MNIST (70,000)",
    "fashion-mnist": "Fashion-MNIST (70,000)",
}
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
MAX_EPOCHS = 20


@dataclass(frozen=True)
class TrainRequest:
    """What the Train button asked for: plain values, validated."""

    dataset: str
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass
class TrainingRun:
    """Progress of one run, kept in session state so an interrupted run can be finished."""

    request: TrainRequest
    model: CNN
    class_names: tuple[str, ...]
    status: str = "running"  # running, done, stopped, diverged
    epoch: int = 0
    batch: int = 0
    rows: list[dict] = field(default_factory=list)  # one dict per finished epoch
    last_confusion: object = None
    snapshots: SnapshotLog = field(default_factory=SnapshotLog)  # epoch 0 and after each epoch


# ----------------------------------------------------------------------------------------------
# Model card


def model_card() -> None:
    """Architecture in one line, parameter count, data, held-out accuracy, default or own."""
    info = state.current_model()
    whose = "the default model" if info.is_default else "your own model (this session only)"
    st.markdown(f"**Model:** {whose}")
    st.caption(info.model.config.describe())
    st.caption(
        f"Weights fingerprint `{info.version.rsplit(':', 1)[-1][:8]}`",
        help="Changes whenever the weights change: two screens showing the same fingerprint "
        "use the same model.",
    )
    accuracy = "not measured" if info.test_accuracy is None else f"{info.test_accuracy:.1%}"
    st.markdown(
        f"{info.model.num_parameters():,} parameters  \n"
        f"Trained on: {info.trained_on}  \nHeld-out accuracy: **{accuracy}**"
    )


# ----------------------------------------------------------------------------------------------
# Training panel widgets -> plain configs


def _architecture_widgets() -> dict:
    """Widgets for the ModelConfig fields; returns the field values."""
    blocks = st.slider("Conv blocks", 1, 3, 2, key="cfg_blocks")
    fields = {"filters": [], "kernel_size": [], "stride": [], "padding": []}
    defaults = ModelConfig()
    for b in range(blocks):
        f0 = defaults.filters[b] if b < len(defaults.filters) else 16
        cols = st.columns(4)
        fields["filters"].append(
            cols[0].selectbox(
                f"Filters {b + 1}",
                (1, 2, 4, 8, 16, 32, 64),
                index=(1, 2, 4, 8, 16, 32, 64).index(f0),
                key=f"cfg_filters_{b}",
            )
        )
        fields["kernel_size"].append(
            cols[1].selectbox(f"Kernel {b + 1}", (1, 3, 5, 7), index=1, key=f"cfg_kernel_{b}")
        )
        fields["stride"].append(cols[2].selectbox(f"Stride {b + 1}", (1, 2), key=f"cfg_stride_{b}"))
        fields["padding"].append(
            cols[3].selectbox(f"Pad {b + 1}", (0, 1, 2, 3), index=1, key=f"cfg_padding_{b}")
        )
    fields["activation"] = st.selectbox(
        "Activation", ("relu", "leaky_relu", "sigmoid", "tanh"), key="cfg_activation"
    )
    cols = st.columns(3)
    fields["pooling"] = cols[0].selectbox("Pooling", ("max", "avg", "none"), key="cfg_pooling")
    fields["pool_size"] = cols[1].selectbox("Pool size", (2, 3, 4, 1), key="cfg_pool_size")
    fields["pool_stride"] = cols[2].selectbox("Pool stride", (2, 1, 3, 4), key="cfg_pool_stride")
    fields["hidden_units"] = st.select_slider(
        "Hidden dense units (0 = none)", (0, 16, 32, 64, 128, 256), key="cfg_hidden"
    )
    fields["dropout"] = st.slider("Dropout", 0.0, 0.5, 0.0, 0.05, key="cfg_dropout")
    return fields


def _training_widgets(dataset: str) -> dict:
    """Widgets for the TrainConfig fields; returns the field values."""
    limits = load_limits()
    largest = min(4000 if dataset == "digits" else 60000, limits.max_train_images)
    largest = max(largest, 200)
    values = {
        "max_images": st.slider(
            "Training images", 200, largest, min(2000, largest), 100, key=f"cfg_images_{dataset}"
        )
    }
    values["optimizer"] = st.selectbox("Optimiser", ("adam", "sgd"), key="cfg_optimizer")
    values["learning_rate"] = st.select_slider("Learning rate", LEARNING_RATES, 1e-3, key="cfg_lr")
    values["batch_size"] = st.select_slider(
        "Batch size", (16, 32, 64, 128, 256), 64, key="cfg_batch"
    )
    values["epochs"] = st.slider(
        "Epochs", 1, max(1, min(MAX_EPOCHS, limits.max_epochs)), 3, key="cfg_epochs"
    )
    values["augment"] = st.checkbox(
        "Augment (shift, rotate, scale, thickness)", True, key="cfg_augment"
    )
    values["seed"] = int(st.number_input("Seed", 0, 2**31 - 1, 0, key="cfg_seed"))
    return values


def _dataset_widget() -> tuple[str, bool]:
    """The data set choice and whether it can be used now (with a message when it cannot)."""
    name = st.selectbox(
        "Data set", tuple(DATASET_LABELS), format_func=DATASET_LABELS.get, key="cfg_dataset"
    )
    if name == "digits" or datasets.available(name):
        return name, True
    st.info(
        f"{DATASET_LABELS[name]} is not on this server. Put its four IDX files in "
        f"{datasets.default_cache_dir() / name}, or download them (about 30-60 MB)."
    )
    if st.button(f"Download {name}", key="download_dataset"):
        try:
            with st.spinner(f"Downloading {name}…"):
                datasets.download(name)
            st.rerun()
        except datasets.DataError as err:
            st.error(str(err))
    return name, False


def training_panel() -> TrainRequest | None:
    """The whole panel; returns a TrainRequest when Train was pressed with valid settings."""
    dataset, usable = _dataset_widget()
    with st.expander("Architecture", expanded=False):
        arch = _architecture_widgets()
    with st.expander("Optimisation", expanded=False):
        opt = _training_widgets(dataset)
    try:
        model_config = ModelConfig(**arch)
        train_config = TrainConfig(report_every=5, **opt)
        check_model_size(model_config, train_config.batch_size)
    except ModelTooLargeError as err:
        st.error(f"This network is too large for this server: {err}")
        return None
    except ValueError as err:
        st.error(f"These settings cannot be trained: {err}")
        return None
    train_config, lowered = limit_train_config(train_config)
    st.caption(f"Will train: {model_config.describe()}")
    limit_note = f"This server stops a run after {train_config.max_seconds:g} s"
    st.caption(limit_note + (f"; {'; '.join(lowered)}." if lowered else "."))
    cols = st.columns(2)
    go_ = cols[0].button("Train", type="primary", disabled=not usable, key="train_button")
    cols[1].button("Stop", key="stop_button", help="Stops after the current step")
    if st.button("Reset to the default model", key="reset_button"):
        state.set_session_model(None)
        state.notify("info", "Back to the default model.")
        st.rerun()
    with st.expander("Model file", expanded=False):
        model_files.model_file_panel()
    return TrainRequest(dataset, model_config, train_config) if go_ else None


# ----------------------------------------------------------------------------------------------
# Running and finishing a run


@dataclass
class Slots:
    """Empty sidebar slots (st.empty) the training loop fills while the page stays on screen."""

    status: object
    progress: object
    chart: object


def render(teacher: bool = False) -> tuple[TrainRequest | None, Slots]:
    """Draw the sidebar; finish a run that a Stop (or any click) interrupted.

    teacher: a class link's session: the model card only, no training panel (the session keeps
    the default model)."""
    run = st.session_state.get(state.TRAINING)
    if run is not None and run.status == "running":
        _finish(run, "stopped")
    if st.session_state.pop(state.TRAINING_WAIT, False):
        state.notify("info", "You left the training queue; nothing was trained.")
    with st.sidebar:
        model_card()
        st.divider()
        if teacher:
            st.caption("Class mode: this link shows the default model; training is switched off.")
            return None, Slots(st.empty(), st.empty(), st.empty())
        st.subheader("Train a model")
        request = training_panel()
        slots = Slots(st.empty(), st.empty(), st.empty())
        run = st.session_state.get(state.TRAINING)
        if run is not None and run.rows:
            slots.chart.plotly_chart(
                figures.training_curves(run.rows, compact=True), key="sidebar_curves"
            )
    return request, slots


def _load_split(dataset: str):
    if dataset == "digits":
        return state.bundled_digits()
    return datasets.load_dataset(dataset)


def run_training(request: TrainRequest, slots: Slots) -> None:
    """Wait for one of the process's training slots (CONVSCOPE_TRAINING_SLOTS), then train.

    While waiting, the sidebar shows the queue position every half second; Stop interrupts the
    script at that call, and leaving the ``with`` block gives the place in the queue back."""
    with training_slots().ticket() as ticket:
        if not ticket.active:
            st.session_state[state.TRAINING_WAIT] = True
            for position in ticket.wait_steps(0.5):
                slots.status.info(
                    f"Waiting for a free training slot: you are number {position} in the "
                    "queue. Other learners are training; Stop cancels your request."
                )
            st.session_state.pop(state.TRAINING_WAIT, None)
        _train(request, slots)


def _train(request: TrainRequest, slots: Slots) -> None:
    """Train a new model for this session, updating the sidebar after every few batches."""
    split = _load_split(request.dataset)
    model = CNN(request.model_config, seed=request.train_config.seed)
    run = TrainingRun(request, model, split.train.class_names)
    run.snapshots.record(0, model)  # the random initial weights
    st.session_state[state.TRAINING] = run
    slots.status.info("Training… the page stays usable to read; Stop keeps the last weights.")
    for event in train(model, split, request.train_config):
        _show(event, run, slots)
        if isinstance(event, DivergedEvent):
            _finish(run, "diverged", event.reason)
        elif isinstance(event, StoppedEvent):
            _finish(run, "stopped", event.reason)
        elif isinstance(event, DoneEvent):
            _finish(run, "done")
    st.rerun()  # every figure on the page now uses the new model


def _show(event, run: TrainingRun, slots: Slots) -> None:
    """Record one event in the run and draw it in the sidebar."""
    if isinstance(event, BatchEvent):
        run.epoch, run.batch = event.epoch, event.batch
        done = ((event.epoch - 1) * event.num_batches + event.batch) / (
            run.request.train_config.epochs * event.num_batches
        )
        slots.progress.progress(
            min(done, 1.0),
            text=(
                f"epoch {event.epoch}, batch {event.batch}/{event.num_batches} · loss "
                f"{event.loss:.3f} · accuracy {event.accuracy:.1%} · "
                f"{event.images_per_second:,.0f} img/s"
            ),
        )
    elif isinstance(event, EpochEvent):
        run.rows.append(
            {
                "epoch": event.epoch,
                "train_loss": event.train_loss,
                "test_loss": event.test_loss,
                "train_accuracy": event.train_accuracy,
                "test_accuracy": event.test_accuracy,
                "seconds": event.seconds,
            }
        )
        run.last_confusion = event.confusion
        run.snapshots.record(event.epoch, run.model)  # the weights just evaluated
        slots.chart.plotly_chart(
            figures.training_curves(run.rows, compact=True), key=f"curves_{event.epoch}"
        )


def _finish(run: TrainingRun, status: str, reason: str = "") -> None:
    """Adopt the run's model (or keep the previous one) and queue the message that says so."""
    run.status = status
    where = f"epoch {run.epoch}, batch {run.batch}"
    if status == "diverged" and not run.rows:
        state.notify(
            "error",
            f"Training diverged: {reason} Nothing was learned before it "
            "diverged, so your previous model is kept.",
        )
        return
    split = _load_split(run.request.dataset)
    accuracy = run.rows[-1]["test_accuracy"] if status == "done" else None
    if accuracy is None:  # a partial or rolled-back epoch: measure what the weights do now
        accuracy = evaluate(run.model, split.test).accuracy
    run.model.eval()
    images = run.request.train_config.max_images or len(split.train)
    trained_on = f"{DATASET_LABELS[run.request.dataset]}: {min(images, len(split.train)):,} images"
    state.set_session_model(
        state.ModelInfo(
            run.model,
            "own:" + run.model.fingerprint(),
            False,
            trained_on,
            accuracy,
            run.class_names,
        )
    )
    state.add_history(run.rows)
    messages = {
        "done": ("success", f"Training finished: held-out accuracy {accuracy:.1%}."),
        "stopped": (
            "warning",
            f"Training stopped at {where}. {reason} Your model keeps the "
            f"weights of the last finished step (held-out accuracy {accuracy:.1%}).",
        ),
        "diverged": (
            "error",
            f"Training diverged: {reason} The weights were rolled back to the "
            f"end of the last good epoch (held-out accuracy {accuracy:.1%}).",
        ),
    }
    state.notify(*messages[status])
    if accuracy <= 1.5 / len(run.class_names):
        state.notify(
            "warning",
            "The held-out accuracy is no better than guessing: the learning "
            "rate is probably too high (the units stopped responding) or too "
            "low. Try 0.001 with Adam.",
        )
