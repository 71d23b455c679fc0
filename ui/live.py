"""The session's training job, seen from Streamlit: start it, control it, show it, adopt its model.

The job (cnn_core.job.TrainingJob) is kept in st.session_state[state.TRAINING]; its worker thread
(which relays a worker process's training by default) never touches Streamlit. This module
runs only on the session's own script thread:

- ``train_pressed(request)`` after the sidebar's Train (its press waits in session state): a
                          new run (a run still under way is stopped first and its weights kept)
- ``adopt_finished()``    each script run: a job that ended hands its model to the session, once
- ``refresh_live_model()`` while a run is under way: its latest published weights become the
                          model of every page (state.current_model)
- ``progress_panel()``    the one polling fragment (sidebar): progress line, live curves and the
                          Pause / Resume / Step one batch / Stop buttons; it reruns the whole app
                          when new weights are published (about once a second, but not while
                          the learner is drawing: ``drawing()``) and when the run ends, so every
                          page shows the input through the newest weights
- ``keep_alive()``        ties the job to the session: when the browser's connection closes the
                          job stops unless the session comes back within
                          server.disconnectedSessionTTL seconds
"""

from __future__ import annotations

import time

import streamlit as st

from cnn_core import data as datasets
from cnn_core.job import TrainingJob, TrainRequest
from cnn_core.limits import shared_slots

from . import figures, layout, state

REFRESH = 0.5  # seconds between two polls of a run under way
PAGE_REFRESH = 1.0  # at most one full rerun a second for newly published weights
STROKE_QUIET = 3.0  # no such rerun until this long after the learner's last stroke
REPEAT_SECONDS = 2.0  # the same Train request again this soon is the same press
CURVES_EVERY = 0.9  # seconds between two rebuilds of the sidebar's live curves (every other tick)
STATUS_WORDS = {
    "queued": "Waiting for a free training slot",
    "running": "Training",
    "paused": "Paused",
}


def current_job() -> TrainingJob | None:
    return st.session_state.get(state.TRAINING)


def active_job() -> TrainingJob | None:
    """The session's job if it has not ended."""
    job = current_job()
    return job if job is not None and not job.finished else None


class Press:
    """A Train press waiting in state.TRAIN_ASKED, and the job made for it once there is one
    (set as a plain attribute: not an access to session state)."""

    def __init__(self):
        self.job: TrainingJob | None = None


def train_pressed(request: TrainRequest | None) -> bool:
    """At the end of the training panel: act on a Train press waiting in state.TRAIN_ASKED.
    Starts its run (``start``) when the widgets' ``request`` can be trained; a press whose
    settings cannot (None) is dropped. True when a run was started by this call."""
    press = st.session_state.get(state.TRAIN_ASKED)
    if press is None:
        return False
    if request is None:
        st.session_state.pop(state.TRAIN_ASKED, None)
        return False
    return start(request, press)


def start(request: TrainRequest, press: Press) -> bool:
    """Start a run for the Train press ``press``; True if a run was started.

    A run still under way is stopped first (its weights are kept, as with Stop), so the session
    never has two jobs. Another press with the same request within REPEAT_SECONDS is a double
    press and starts nothing.

    Streamlit may end a script run at any access to session state when another rerun has been
    asked for meanwhile (the learner changed a widget, a component sent a value). So every step
    here may be the last of its run, and the next run, finding the press still waiting, goes on
    from where this one stopped: the press keeps the job made for it, and is taken from session
    state only once that job has been stored and started. Before, a run ended between two steps
    lost the press, or left the session with a job that never started (its progress
    "Starting…" for ever)."""
    if press.job is None:  # this press has no job yet
        last = st.session_state.get(state.LAST_START)
        if last is not None and last[0] == request and time.monotonic() - last[1] < REPEAT_SECONDS:
            st.session_state.pop(state.TRAIN_ASKED, None)
            return False
        old = active_job()
        if old is not None:
            old.stop()
            old.join(30)  # one step and an evaluation at most
            adopt_finished()
        press.job = TrainingJob(request, state.dataset_split(request.dataset), shared_slots())
    st.session_state[state.TRAINING] = press.job
    st.session_state.pop(state.ADOPTED, None)
    press.job.start()  # once: a job already started is left as it is
    st.session_state[state.LAST_START] = (request, time.monotonic())
    keep_alive()
    st.session_state.pop(state.TRAIN_ASKED, None)
    return True


# ----------------------------------------------------------------------------------------------
# Lifetime: a job never outlives its session


class _SessionLease:
    """Exists while the session's browser is connected (a session-scoped cached resource)."""

    def __init__(self):
        self.job: TrainingJob | None = None


def _released(lease: _SessionLease) -> None:
    """The session's connection closed: stop its job unless it reconnects within the TTL."""
    if lease.job is not None:
        lease.job.release_after(float(st.get_option("server.disconnectedSessionTTL")))


@st.cache_resource(scope="session", on_release=_released, show_spinner=False)
def _lease() -> _SessionLease:
    return _SessionLease()


def keep_alive() -> None:
    """Heartbeat of the session's job, and register it for the end of the session."""
    job = active_job()
    if job is None:
        return
    _lease().job = job
    job.touch()


# ----------------------------------------------------------------------------------------------
# Live weights and adoption


def refresh_live_model() -> None:
    """At the start of a script run: while a run is under way, make its latest published
    weights (a copy, never the model the worker is stepping) the model every page uses
    (state.current_model); built once per publication."""
    job = active_job()
    if job is None:
        return
    cached = st.session_state.get(state.LIVE_MODEL)
    if cached is not None and cached[0] == (id(job), job.view().published):
        return
    live = job.live_model()
    if live is not None:
        model, count, label = live
        info = state.ModelInfo.live_copy(model, f"{id(job)}:{count}", label, job.class_names)
        st.session_state[state.LIVE_MODEL] = ((id(job), count), info)


def adopt_finished() -> None:
    """A job that has ended gives its model to the session (once) and says how it ended."""
    job = current_job()
    if job is None or not job.finished or st.session_state.get(state.ADOPTED) is job:
        return
    st.session_state[state.ADOPTED] = job
    st.session_state.pop(state.LIVE_MODEL, None)
    view = job.view()
    if view.final_accuracy is None:  # cancelled, failed, or diverged before learning anything
        _notify_nothing_kept(view)
        return
    split = job.split
    images = min(job.request.train_config.max_images or len(split.train), len(split.train))
    label = datasets.DATASET_LABELS[job.request.dataset]
    trained_on = f"{label}: {images:,} images"
    job.model.eval()
    state.set_session_model(
        state.ModelInfo.own(job.model, trained_on, view.final_accuracy, job.class_names)
    )
    state.add_history(list(view.rows))
    _notify_outcome(view, len(job.class_names))


def _notify_nothing_kept(view) -> None:
    if view.status == "diverged":
        state.notify(
            "error",
            f"Training diverged: {view.message}. Nothing was learned before it diverged, so "
            "your previous model is kept.",
        )
    elif view.status == "failed":
        state.notify("error", f"{sentence(view.message)} Your previous model is kept.")
    else:
        cancelled = view.message or "Training was cancelled; nothing was trained"
        state.notify("info", sentence(cancelled))


def _notify_outcome(view, num_classes: int) -> None:
    accuracy = view.final_accuracy
    where = f"epoch {view.epoch}, batch {view.batch}/{view.num_batches}"
    if view.status == "done":
        state.notify("success", f"Training finished: held-out accuracy {accuracy:.1%}.")
    elif view.status == "stopped":
        because = f" because {view.message}" if view.message else ""
        state.notify(
            "warning",
            f"Training stopped at {where}{because}. Your model keeps the weights of that step "
            f"(held-out accuracy {accuracy:.1%}).",
        )
    else:
        state.notify(
            "error",
            f"Training diverged: {view.message}. The weights were rolled back to the end of "
            f"the last good epoch (held-out accuracy {accuracy:.1%}).",
        )
    if accuracy <= 1.5 / num_classes:
        state.notify(
            "warning",
            "The held-out accuracy is no better than guessing: the learning rate is probably "
            "too high (the units stopped responding) or too low. Try 0.001 with Adam.",
        )


def sentence(text: str) -> str:
    """``text`` ending in a full stop (a message built from a reason may lack one)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def live_banner() -> None:
    """Above every page while a run is under way: the numbers below use its newest weights."""
    info = state.current_model()
    if info.live:
        st.info(
            f"Live: {info.live}. Every number on this page uses the newest weights of the run "
            "under way; they change about once a second while it trains (while you draw, they "
            "wait until you pause).",
            icon=":material/autorenew:",
        )


# ----------------------------------------------------------------------------------------------
# The polling fragment


def progress_line(view) -> str:
    """One line: epoch, batch, loss, accuracy, images per second (or the queue position)."""
    if view.status == "queued":
        return (
            f"Waiting for a free training slot: you are number {view.queue_position} in the "
            "queue. Other learners are training; Stop cancels your request."
        )
    if not view.num_batches:
        return "Starting…"
    word = "Paused at" if view.status == "paused" else "Training:"
    return (
        f"{word} epoch {view.epoch}, batch {view.batch}/{view.num_batches} · loss "
        f"{view.loss:.3f} · accuracy {view.accuracy:.1%} · {view.images_per_second:,.0f} img/s"
    )


def _controls(job: TrainingJob, view) -> None:
    """Pause or Resume beside Stop; Step one batch below them while paused."""
    left, right = st.columns(2)
    if job.pause_requested:
        left.button("Resume", key="resume_button", on_click=job.resume, width="stretch")
    else:
        left.button(
            "Pause", key="pause_button", on_click=job.pause, disabled=view.status == "queued",
            help="Hold the run after the current step; it keeps its place", width="stretch",
        )  # fmt: skip
    right.button(
        "Stop", key="stop_button", on_click=job.stop, width="stretch",
        help="End the run after the current step; your model keeps its weights",
    )  # fmt: skip
    if job.pause_requested:
        st.button(
            "Step one batch", key="step_button", on_click=job.step_once, args=(view.steps,),
            width="stretch",
            help="One optimizer step on the next batch; the Training page shows its numbers",
        )  # fmt: skip


def _panel_body() -> None:
    job = current_job()
    if job is None:
        return
    keep_alive()
    view = job.view()
    if not view.active:
        if st.session_state.get(state.ADOPTED) is not job:
            st.rerun()  # the run ended: a full run adopts its model and stops this timer
        return
    st.progress(min(view.fraction, 1.0), text=progress_line(view))
    _controls(job, view)
    if view.curve:
        st.plotly_chart(
            _sidebar_curves(job, view), key="sidebar_curves",
            alt=layout.curves_alt(view.rows, view.curve),
        )  # fmt: skip
    shown = st.session_state.get(state.LIVE_SHOWN)
    if shown is not None and shown != (id(job), view.published) and _page_idle():
        st.session_state[state.LIVE_RERUN_AT] = time.monotonic()
        st.rerun()  # newer weights: redraw the page in front of the learner with them


def _page_idle() -> bool:
    """True when the page's last full run has completed since the last live rerun, and has
    been on screen for PAGE_REFRESH s: a live rerun never interrupts a page that is still being
    drawn (on a busy server a page can take longer than a second); and when the learner has
    not drawn for STROKE_QUIET s (``drawing``)."""
    return live_rerun_due(
        done=st.session_state.get(state.LIVE_DONE_AT, 0.0),
        asked=st.session_state.get(state.LIVE_RERUN_AT, 0.0),
        stroke=st.session_state.get(state.LAST_STROKE_AT),
        now=time.monotonic(),
    )


def live_rerun_due(done: float, asked: float, stroke: float | None, now: float) -> bool:
    """The decision of ``_page_idle`` from its times (time.monotonic()): the page's last full
    run ended at ``done``, the last live rerun was asked at ``asked``, the last stroke was at
    ``stroke`` (None: none yet)."""
    quiet = stroke is None or now - stroke >= STROKE_QUIET
    return done >= asked and now - done >= PAGE_REFRESH and quiet


def drawing() -> None:
    """A stroke changed the input. Live reruns wait until the learner has not drawn for
    STROKE_QUIET s: a stroke that came while the page was being redrawn for new weights would
    wait for that whole run (a fragment's run waits for a full run), and on a busy server that
    took a second. The stroke itself is shown through the weights the page shows, so every
    number on the page stays from one model, named in the banner and the sidebar."""
    st.session_state[state.LAST_STROKE_AT] = time.monotonic()


def page_done() -> None:
    """At the very end of every full script run: the page is complete."""
    st.session_state[state.LIVE_DONE_AT] = time.monotonic()


def _sidebar_curves(job: TrainingJob, view):
    """The compact live curves, rebuilt at most every CURVES_EVERY s (building the figure holds
    Python's lock for about 25 ms, which every other session's script run waits for, and the
    training too with CONVSCOPE_TRAINING_WORKER=thread; bench/live_training.py)."""
    key = (id(job), len(view.rows), view.lr_marks)
    cached = st.session_state.get(state.LIVE_CURVES)
    if cached is not None and cached[0] == key and time.monotonic() - cached[1] < CURVES_EVERY:
        return cached[2]
    figure = figures.training_curves(
        view.rows, compact=True, live=view.curve, lr_marks=view.lr_marks
    )
    st.session_state[state.LIVE_CURVES] = (key, time.monotonic(), figure)
    return figure


def progress_panel() -> None:
    """The polling fragment: every REFRESH s while a run is under way, never otherwise."""
    job = active_job()
    every = REFRESH if job is not None else None
    st.fragment(_panel_body, run_every=every)()
