"""The shared sidebar: the model card and the training panel.

``render()`` draws the model card, turns the training widgets into a TrainRequest (plain values)
and hands a pressed Train to ui/live.py, which runs it in a background job; the job's progress,
live curves and its Pause / Resume / Step one batch / Stop buttons are ui/live.py's polling
fragment. Nothing here trains.
"""

from __future__ import annotations

import streamlit as st

from cnn_core import ModelConfig
from cnn_core import data as datasets
from cnn_core.activations import ACTIVATIONS
from cnn_core.catalog import PRESETS
from cnn_core.data import DATASET_LABELS, DATASETS
from cnn_core.job import TrainRequest, estimate_seconds
from cnn_core.limits import ModelTooLargeError, check_model_size, limit_train_config, load_limits
from cnn_core.train import LR_SCHEDULES, TrainConfig

from . import figures, layout, live, model_files, state

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0)
MAX_EPOCHS = 20
# The first press of Train should end well: each data set's default run (its row's first_run in
# cnn_core.catalog, measured with bench/sidebar_defaults.py) on all its training images. Changing
# the data set puts its defaults into the widgets; the first data set's are the widgets' own.
RUN_DEFAULTS = {name: {"images": d.train_size, **d.first_run} for name, d in DATASETS.items()}
FIRST_RUN = RUN_DEFAULTS[next(iter(DATASETS))]
RUN_KEYS = {"epochs": "cfg_epochs", "batch": "cfg_batch", "lr": "cfg_lr",
            "schedule": "cfg_schedule", "augment": "cfg_augment"}  # fmt: skip
# The architecture widgets' choices (a preset's values must be among them).
FILTERS, KERNELS, STRIDES, PADDINGS = (1, 2, 4, 8, 16, 32, 64), (1, 3, 5, 7), (1, 2), (0, 1, 2, 3)
POOLINGS = ("max", "avg", "none")
BATCH_SIZES = (16, 32, 64, 128, 256)


# ----------------------------------------------------------------------------------------------
# Model card


def model_card() -> None:
    """Architecture in one line, parameter count, data, held-out accuracy, default or own."""
    info = state.current_model()
    if info.live:
        whose = f"training now (live weights after {info.live})"
    else:
        whose = "the default model" if info.is_default else "your own model (this session only)"
    st.markdown(f"**Model:** {whose}")
    st.caption(info.model.config.describe())
    st.caption(
        f"Weights fingerprint `{info.fingerprint[:8]}`",
        help="Changes whenever the weights change: two screens showing the same fingerprint "
        "use the same model.",
    )
    accuracy = "not measured" if info.test_accuracy is None else f"{info.test_accuracy:.1%}"
    if info.live:
        accuracy = "measured at the end of each epoch (Training page)"
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
                f"Filters {b + 1}", FILTERS, index=FILTERS.index(f0), key=f"cfg_filters_{b}"
            )
        )
        fields["kernel_size"].append(
            cols[1].selectbox(f"Kernel {b + 1}", KERNELS, index=1, key=f"cfg_kernel_{b}")
        )
        fields["stride"].append(
            cols[2].selectbox(f"Stride {b + 1}", STRIDES, key=f"cfg_stride_{b}")
        )
        fields["padding"].append(
            cols[3].selectbox(f"Pad {b + 1}", PADDINGS, index=1, key=f"cfg_padding_{b}")
        )
    fields["batch_norm"] = st.checkbox(
        "Batch norm after each conv", False, key="cfg_batch_norm",
        help="BatchNorm2d between each conv and its activation: normalises each channel with "
        "the batch's statistics while training (the Activation page shows its numbers); "
        "it lets a higher learning rate train stably.",
    )  # fmt: skip
    fields["activation"] = st.selectbox("Activation", tuple(ACTIVATIONS), key="cfg_activation")
    cols = st.columns(3)
    fields["pooling"] = cols[0].selectbox("Pooling", POOLINGS, key="cfg_pooling")
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
    largest = min(datasets.TRAIN_SIZES[dataset], limits.max_train_images)
    largest = max(largest, 200)
    start = min(RUN_DEFAULTS[dataset]["images"], largest)
    values = {
        "max_images": st.slider(
            "Training images", 200, largest, start, 100, key=f"cfg_images_{dataset}"
        )
    }
    values["optimizer"] = st.selectbox("Optimiser", ("adam", "sgd"), key="cfg_optimizer")
    values["learning_rate"] = st.select_slider(
        "Learning rate", LEARNING_RATES, FIRST_RUN["lr"], key="cfg_lr",
        help="Can be changed while a run is under way: it applies from the next step (and "
        "replaces the schedule); the curves mark the change.",
    )  # fmt: skip
    schedule = LR_SCHEDULES.index(FIRST_RUN["schedule"])
    values["lr_schedule"] = st.selectbox(
        "Learning-rate schedule", LR_SCHEDULES, schedule, key="cfg_schedule",
        help="cosine: from the learning rate down towards 0 by the last step; onecycle: up "
        "to the learning rate in the first 20% of the steps, then the same way down",
    )  # fmt: skip
    values["batch_size"] = st.select_slider(
        "Batch size", BATCH_SIZES, FIRST_RUN["batch"], key="cfg_batch"
    )
    most = max(1, min(MAX_EPOCHS, limits.max_epochs))
    values["epochs"] = st.slider(
        "Epochs", 1, most, min(FIRST_RUN["epochs"], most), key="cfg_epochs"
    )
    values["augment"] = st.checkbox(
        "Augment (shift, rotate, scale, thickness)", FIRST_RUN["augment"],
        key="cfg_augment",
    )  # fmt: skip
    values["seed"] = int(st.number_input("Seed", 0, 2**31 - 1, 0, key="cfg_seed"))
    return values


def _dataset_defaults() -> None:
    """on_change of the data-set choice: that data set's default run into the widgets."""
    defaults = RUN_DEFAULTS[st.session_state["cfg_dataset"]]
    for name, key in RUN_KEYS.items():
        st.session_state[key] = defaults[name]


def _apply_preset(name: str) -> None:
    """on_click of a preset button: its data set, architecture and run into the widgets."""
    preset = PRESETS[name]
    config = ModelConfig(**preset.model)
    state_ = st.session_state
    state_["cfg_dataset"], state_["cfg_optimizer"] = preset.dataset, "adam"
    for field, key in RUN_KEYS.items():
        state_[key] = preset.run[field]
    state_.pop(f"cfg_images_{preset.dataset}", None)  # the slider's default: all it allows
    state_["cfg_blocks"] = len(config.filters)
    for b, (f, k, s, p) in enumerate(config.blocks()):
        state_[f"cfg_filters_{b}"], state_[f"cfg_kernel_{b}"] = f, k
        state_[f"cfg_stride_{b}"], state_[f"cfg_padding_{b}"] = s, p
    state_["cfg_batch_norm"], state_["cfg_pooling"] = config.batch_norm, config.pooling
    state_["cfg_activation"], state_["cfg_hidden"] = config.activation, config.hidden_units
    state_["cfg_dropout"] = config.dropout


def _preset_buttons() -> None:
    """One button per preset (cnn_core.catalog.PRESETS)."""
    for name, preset in PRESETS.items():
        st.button(
            preset.label, key=f"preset_{name}", on_click=_apply_preset, args=(name,),
            help="Sets the data set, the architecture and the optimisation below; press Train.",
        )  # fmt: skip


def _dataset_widget() -> tuple[str, bool]:
    """The data set choice and whether it can be used now (with a message when it cannot)."""
    name = st.selectbox(
        "Data set", tuple(DATASET_LABELS), format_func=DATASET_LABELS.get, key="cfg_dataset",
        on_change=_dataset_defaults,
    )  # fmt: skip
    if DATASETS[name].bundled or datasets.available(name):
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


def _request(dataset: str, arch: dict, opt: dict) -> TrainRequest | None:
    """The widgets' values as a TrainRequest within this server's limits, or None (with the
    reason on the page) when they cannot be trained."""
    try:
        model_config = ModelConfig(**arch)
        train_config = TrainConfig(report_every=1, **opt)
        check_model_size(model_config, train_config.batch_size)
        model_config.check_batch_size(train_config.batch_size)
    except ModelTooLargeError as err:
        st.error(f"This network is too large for this server: {err}")
        return None
    except ValueError as err:
        st.error(f"These settings cannot be trained: {err}")
        return None
    train_config, lowered = limit_train_config(train_config)
    st.caption(f"Will train: {model_config.describe()}")
    request = TrainRequest(dataset, model_config, train_config)
    limit = f"this server stops a run after {train_config.max_seconds:g} s of training"
    st.caption(
        f"A run takes about {_duration(request)} on this server when it is not busy; {limit}"
        + (f"; {'; '.join(lowered)}." if lowered else ".")
    )
    return request


def _duration(request: TrainRequest) -> str:
    """About how long the run takes here, in words ("an unknown time" without its data)."""
    try:
        split = state.dataset_split(request.dataset)
    except datasets.DataError:
        return "an unknown time (its data set is not on this server)"
    seconds = estimate_seconds(request, len(split.train), len(split.test))
    return f"{seconds:,.0f} s" if seconds < 120 else f"{seconds / 60:,.1f} minutes"


def _follow_the_run(request: TrainRequest | None) -> None:
    """While a run is under way: a new learning rate applies to it; other changes wait for the
    next run, and the panel says so."""
    job = live.active_job()
    if job is None or request is None:
        return
    lr = request.train_config.learning_rate
    if lr != job.view().learning_rate:
        job.set_learning_rate(lr)
    running = job.request
    if (running.dataset, running.model_config) != (request.dataset, request.model_config):
        st.caption(
            "The run under way keeps its data set and architecture: changes to them take "
            "effect with a new run (press Train)."
        )


def _ask_to_train() -> None:
    """on_click of Train: keep the press in session state until its run has started
    (ui/live.start). The button's return value is not enough: Streamlit ends a script run
    early when another rerun is asked for meanwhile, and the next run reads the button as not
    pressed."""
    st.session_state[state.TRAIN_ASKED] = live.Press()


def training_panel() -> TrainRequest | None:
    """The whole panel; returns the widgets' TrainRequest, or None when they cannot be trained
    (the reason is on the page)."""
    _preset_buttons()
    dataset, usable = _dataset_widget()
    with st.expander("Architecture", expanded=False):
        arch = _architecture_widgets()
    with st.expander("Optimisation", expanded=False):
        opt = _training_widgets(dataset)
    request = _request(dataset, arch, opt)
    _follow_the_run(request)
    active = live.active_job() is not None
    st.button(
        "Train", type="primary", disabled=not usable or request is None, key="train_button",
        help="Starts a new run" + (" (the run under way is stopped first)" if active else ""),
        on_click=_ask_to_train,
    )  # fmt: skip
    if st.button(
        "Reset to the default model", key="reset_button", disabled=active,
        help="Stop the run under way first" if active else None,
    ):  # fmt: skip
        state.set_session_model(None)
        state.notify("info", "Back to the default model.")
        st.rerun()
    with st.expander("Model file", expanded=False):
        model_files.model_file_panel()
    return request if usable else None


def render(teacher: bool = False) -> None:
    """Draw the sidebar; adopt the model of a run that has ended; start a requested run.

    teacher: a class link's session: the model card only, no training panel (the session keeps
    the default model)."""
    live.adopt_finished()
    live.refresh_live_model()
    with st.sidebar:
        model_card()
        if teacher:
            st.divider()
            st.caption("Class mode: this link shows the default model; training is switched off.")
            return
        progress = st.container()  # under the model card, in sight while the learner explores
        st.divider()
        st.subheader("Train a model")
        request = training_panel()
        if live.train_pressed(request):
            live.refresh_live_model()
        with progress:
            live.progress_panel()
        job = live.current_job()
        if job is not None and job.finished and job.rows:
            st.plotly_chart(
                figures.training_curves(job.rows, compact=True), key="sidebar_curves_final",
                alt=layout.curves_alt(job.rows),
            )  # fmt: skip
