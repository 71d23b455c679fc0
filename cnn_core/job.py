"""A training run in the background: one job per session, controlled from the UI.

    job = TrainingJob(request, split, slots=shared_slots())
    job.start()              # joins the queue of training slots; the worker trains when it has one
    job.pause(); job.step_once(); job.resume(); job.set_learning_rate(3e-4); job.stop()
    view = job.view()        # a consistent, immutable picture of the progress (for the page)
    live = job.live_model()  # the latest published copy of the weights (never the trained model)
    job.join()               # after stop(): the worker has ended and given its slot back

Threads: each job has one worker thread. It waits for a training slot, then either trains
``job.model`` itself (``worker="thread"``, cnn_core/job_thread.py) or (``worker="process"``, the
default, see CONVSCOPE_TRAINING_WORKER) starts a worker process (cnn_core/job_worker.py) that trains
a copy and relays what that process reports (cnn_core/job_process.py); the final weights are loaded
into ``job.model`` when the run ends. The process keeps the training loop away from Python's lock in
the server, which every script run of every session holds in turn. Either way nothing but the worker
touches ``job.model`` until the job has finished. Everything the page needs is published under
``job.lock`` as plain values and copies (progress, curves, the snapshot log, a copy of the weights
about once a second, the last step's numbers). The worker never imports or calls Streamlit; the UI
(ui/live.py) never touches the model being trained. A job stops by itself when its session has gone:
``release_after(grace)`` (the session's websocket closed) or no ``touch()`` heartbeat for
``HEARTBEAT_TIMEOUT`` seconds; its process ends with it.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import logging
import math
import subprocess
import threading
import time
import weakref
from dataclasses import dataclass, field
from multiprocessing.connection import Connection

from .estimate import estimate_seconds
from .job_process import WAIT_TICK, WORKER_ENV, WORKERS, ProcessRelay, WorkerFailed, worker_kind
from .job_thread import ThreadTrainer
from .job_worker import PUBLISH_EVERY
from .limits import TrainingSlots
from .model import CNN, ModelConfig
from .snapshots import SnapshotLog, model_from_weights
from .train import (
    BatchEvent,
    EpochEvent,
    StepEvent,
    TrainConfig,
    TrainControl,
    evaluate,
)

CURVE_EVERY = 0.25  # seconds between two points of the live training curve
MAX_CURVE_POINTS = 400  # the live curve is thinned (every other point dropped) beyond this
HEARTBEAT_TIMEOUT = 300.0  # no touch() for this long: the session is taken to be gone

log = logging.getLogger(__name__)

__all__ = [  # the names other modules use; the rest is this module's own
    "ACTIVE",
    "ENDED",
    "PUBLISH_EVERY",
    "WORKER_ENV",
    "WORKERS",
    "Progress",
    "TrainRequest",
    "TrainingJob",
    "WorkerFailed",
    "estimate_seconds",
    "stop_all",
    "worker_kind",
]

ACTIVE = ("queued", "running", "paused")  # statuses of a job that has not ended
ENDED = ("done", "stopped", "diverged", "cancelled", "failed")


@dataclass(frozen=True)
class TrainRequest:
    """What a run trains: plain values, validated by their own constructors."""

    dataset: str  # a data-set name of cnn_core.data ("digits", "mnist", "fashion-mnist")
    model_config: ModelConfig
    train_config: TrainConfig


@dataclass(frozen=True)
class Progress:
    """The job's state at one moment, for display: every field is a plain value or a tuple."""

    status: str  # queued, running, paused, done, stopped, diverged, cancelled, failed
    queue_position: int  # 1 = next in the queue; 0 once the job holds a slot
    epoch: int  # 1-based epoch of the last finished step (0 before the first)
    batch: int  # 1-based batch of that step within its epoch
    num_batches: int  # batches per epoch (0 before the first step)
    loss: float  # running mean loss of the epoch so far
    accuracy: float  # running accuracy of the epoch so far (0-1)
    images_per_second: float
    steps: int  # optimizer steps finished, all epochs
    learning_rate: float  # the rate of the next step
    curve: tuple[tuple[float, float, float], ...]  # (epochs done, loss, accuracy) points
    lr_marks: tuple[tuple[float, float], ...]  # (epochs done, new learning rate) changes
    rows: tuple[dict, ...]  # one dict per finished epoch (train/test loss and accuracy)
    message: str  # how it ended (empty while active): "stopped": why, to follow "stopped
    # because" ('' for the learner's own Stop); "diverged": what went wrong, a clause;
    # "failed", "cancelled": a sentence
    final_accuracy: float | None  # held-out accuracy of the final weights, once ended
    published: int  # how many weight copies have been published (changes about once a second)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def fraction(self) -> float:
        """How far through the planned epochs the run is (0-1)."""
        return self.epochs_done / self.planned_epochs if self.planned_epochs else 0.0

    @property
    def epochs_done(self) -> float:
        return self.epoch - 1 + self.batch / self.num_batches if self.num_batches else 0.0

    planned_epochs: int = 1


@dataclass
class _Published:
    """What the worker has published (all guarded by TrainingJob.lock)."""

    status: str = "queued"
    event: BatchEvent | None = None
    rows: list[dict] = field(default_factory=list)
    curve: list[tuple[float, float, float]] = field(default_factory=list)
    lr_marks: list[tuple[float, float]] = field(default_factory=list)
    weights: dict | None = None  # a copy of the state dict, or None before the first step
    count: int = 0  # number of weight copies published
    label: str = ""  # "epoch E, batch B" of the published copy
    step: StepEvent | None = None  # the last recorded step
    confusion: object = None  # the last epoch's confusion matrix
    message: str = ""
    final_accuracy: float | None = None


_jobs: weakref.WeakSet[TrainingJob] = weakref.WeakSet()  # every job of this process


class TrainingJob(ProcessRelay, ThreadTrainer):
    """One training run: a worker thread, its controls and what it publishes."""

    def __init__(
        self, request: TrainRequest, split, slots: TrainingSlots, worker: str | None = None
    ):
        self.worker = worker_kind() if worker is None else worker
        if self.worker not in WORKERS:
            raise ValueError(f"worker must be one of {', '.join(WORKERS)}, got {worker!r}")
        # One BatchEvent per step: pausing and stepping happen between any two steps.
        config = dataclasses.replace(request.train_config, report_every=1)
        self.request = dataclasses.replace(request, train_config=config)
        self.split = split  # a cnn_core.data.Split: train and held-out test sets
        self.class_names = tuple(split.train.class_names)
        self.model = CNN(request.model_config, seed=request.train_config.seed)  # worker-owned
        self.lock = threading.Lock()
        self._wake = threading.Condition(self.lock)  # wakes a paused or queued worker
        self._slots = slots
        self._ticket = None
        self._control = TrainControl()
        self._stop = False
        self._paused = False
        self._steps_allowed = 0
        self._stepping = False  # a step let through by step_once() has not finished yet
        self._steps_done = 0  # optimizer steps finished
        self._step_tokens = 0  # Step one batch requests ever made (a worker process counts them)
        self._conn: Connection | None = None  # to the worker process while it runs
        self._process: subprocess.Popen | None = None  # the worker process while it runs
        self._held_since: float | None = None  # when the worker process last said "paused"
        self._stop_reason = ""  # why the job itself stopped a worker process ('' = Stop)
        self._orphan_deadline: float | None = None
        self._last_seen = time.monotonic()
        self._curve_time = 0.0  # when the last curve point was taken
        self._pub = _Published()
        self.snapshot_log = SnapshotLog()
        self._thread = threading.Thread(target=self._run, name="convscope-training", daemon=True)
        _jobs.add(self)

    # -- controls (any thread) ----------------------------------------------------------------

    def start(self) -> TrainingJob:
        """Join the slot queue (now, so the queue is first come, first served) and start; a
        job already started is left as it is (a caller may be unsure whether it got that far)."""
        if self._ticket is not None:
            return self
        self._ticket = self._slots.ticket()
        self.snapshot_log.record(0, self.model)  # the random initial weights
        self._publish_weights("the random initial weights")
        self._thread.start()
        return self

    def pause(self) -> None:
        """Hold the run after the current step (it keeps its slot)."""
        with self.lock:
            self._paused = True
            self._send_controls()

    def resume(self) -> None:
        with self.lock:
            self._paused, self._steps_allowed = False, 0
            self._wake.notify_all()
            self._send_controls()

    def step_once(self, seen: int | None = None) -> bool:
        """While paused: let exactly one more optimizer step through and record its numbers.

        seen: the number of steps the caller's button showed (Progress.steps). The request is
        ignored (False) unless the run is paused, no step is pending, and (if given) the run
        has taken exactly ``seen`` steps: Streamlit can deliver one click's callback twice
        when reruns overlap, and that must not take two steps."""
        with self.lock:
            moved = seen is not None and seen != self._steps_done
            if not self._paused or self._steps_allowed or self._stepping or moved:
                return False
            self._steps_allowed = 1
            self._step_tokens += 1
            self._wake.notify_all()
            self._send_controls()
            return True

    def stop(self) -> None:
        """End the run after the current step; the model keeps that step's weights."""
        with self.lock:
            self._stop = True
            self._wake.notify_all()
            self._send_controls()
        if self._ticket is not None and self._ticket.position != 0:
            self._ticket.cancel()  # a queued job leaves the queue at once; a running one
            # keeps its slot until the worker has finished (it releases it then)

    def set_learning_rate(self, lr: float) -> None:
        """Use ``lr`` from the next step on; marked on the live curve."""
        TrainConfig(learning_rate=lr)  # validates: ValueError with a sentence
        with self.lock:
            if self._control.learning_rate == lr:
                return
            self._control.learning_rate = float(lr)
            event = self._pub.event
            done = event.epoch - 1 + event.batch / event.num_batches if event else 0.0
            self._pub.lr_marks.append((done, float(lr)))
            self._send_controls()

    def _send_controls(self) -> None:
        """Tell the worker process the controls as they are now (caller holds the lock)."""
        if self._conn is None:
            return
        message = ("control", self._paused, self._step_tokens, self._stop)
        with contextlib.suppress(OSError):  # the process has ended: the worker thread says how
            self._conn.send((*message, self._control.learning_rate))

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True if it has."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- lifetime -----------------------------------------------------------------------------

    def touch(self) -> None:
        """A heartbeat from the session: it is still there."""
        with self.lock:
            self._last_seen = time.monotonic()
            self._orphan_deadline = None

    def release_after(self, grace: float) -> None:
        """The session's connection closed: stop unless touch() comes within ``grace`` s."""
        with self.lock:
            self._orphan_deadline = time.monotonic() + grace
            self._wake.notify_all()

    def _abandoned(self, paused_since: float | None = None) -> str:
        """Why the run should end without the learner's Stop (caller holds the lock), or ''."""
        now = time.monotonic()
        cap = self.request.train_config.max_seconds
        if paused_since is not None and cap is not None and now - paused_since > cap:
            return f"it was paused for longer than {cap:g} s (the slot is given to others)"
        if self._orphan_deadline is not None and now > self._orphan_deadline:
            return "its browser session closed"
        if now - self._last_seen > HEARTBEAT_TIMEOUT:
            return f"its browser session sent nothing for {HEARTBEAT_TIMEOUT:g} s"
        return ""

    # -- reading (any thread) -----------------------------------------------------------------

    @property
    def status(self) -> str:
        with self.lock:
            return self._pub.status

    @property
    def pause_requested(self) -> bool:
        """True from pause() until resume(): the buttons follow the learner's request at once,
        the status ("paused") follows when the worker has finished its step."""
        with self.lock:
            return self._paused

    @property
    def worker_pid(self) -> int | None:
        """The worker process's id while it runs (worker="process"), else None."""
        with self.lock:
            return self._process.pid if self._process is not None else None

    @property
    def finished(self) -> bool:
        return self.status in ENDED

    @property
    def rows(self) -> list[dict]:
        with self.lock:
            return [dict(r) for r in self._pub.rows]

    @property
    def last_confusion(self):
        with self.lock:
            return self._pub.confusion

    @property
    def last_step(self) -> StepEvent | None:
        with self.lock:
            return self._pub.step

    @property
    def snapshots(self) -> SnapshotLog:
        """A copy of the snapshot log (the list of snapshots; their tensors are never changed)."""
        with self.lock:
            log = SnapshotLog(self.snapshot_log.max_count, self.snapshot_log.max_bytes)
            log.config, log.too_large = self.snapshot_log.config, self.snapshot_log.too_large
            log.snapshots = list(self.snapshot_log.snapshots)
            return log

    def view(self) -> Progress:
        """The progress at this moment, as plain values."""
        with self.lock:
            pub, ev = self._pub, self._pub.event
            position = self._ticket.position if self._ticket is not None else None
            return Progress(
                status=pub.status,
                queue_position=position or 0,
                epoch=ev.epoch if ev else 0,
                batch=ev.batch if ev else 0,
                num_batches=ev.num_batches if ev else 0,
                loss=ev.loss if ev else math.nan,
                accuracy=ev.accuracy if ev else math.nan,
                images_per_second=ev.images_per_second if ev else 0.0,
                steps=self._steps_done,
                learning_rate=self._next_lr(),
                curve=tuple(pub.curve),
                lr_marks=tuple(pub.lr_marks),
                rows=tuple(dict(r) for r in pub.rows),
                message=pub.message,
                final_accuracy=pub.final_accuracy,
                published=pub.count,
                planned_epochs=self.request.train_config.epochs,
            )

    def _next_lr(self) -> float:
        override = self._control.learning_rate
        return self.request.train_config.learning_rate if override is None else override

    def live_model(self) -> tuple[CNN, int, str] | None:
        """(a new CNN holding the latest published weights, its publication number, "epoch E,
        batch B"), or None before anything was published."""
        with self.lock:
            weights, count, label = self._pub.weights, self._pub.count, self._pub.label
        if weights is None:
            return None
        return model_from_weights(self.request.model_config, weights), count, label

    # -- the worker ---------------------------------------------------------------------------

    def _run(self) -> None:
        """The worker: wait for a slot, train, finish; always give the slot back."""
        try:
            if not self._wait_for_slot():
                self._end("cancelled", self._pub.message or "Training was cancelled.", None)
                return
            self._set_status("running")
            if self.worker == "process":
                self._train_in_process()
            else:
                self._train()
        except WorkerFailed as err:
            self._end("failed", f"Training failed: {err}", None)
        except Exception as err:  # noqa: BLE001 -- reported to the learner, never lost
            self._end("failed", f"Training failed: {type(err).__name__}: {err}", None)
        finally:
            if self._ticket is not None:
                self._ticket.release()

    def _wait_for_slot(self) -> bool:
        """Block until this job holds a slot; False if it was stopped or abandoned first."""
        while not self._ticket.wait(WAIT_TICK):
            with self.lock:
                gone = self._abandoned()
                if self._stop or gone:
                    self._pub.message = f"Left the training queue because {gone}." if gone else ""
                    return False
        with self.lock:
            return not self._stop

    def _record_batch(self, event: BatchEvent, steps: int = 1) -> bool:
        """Record the progress of the latest step (``steps`` steps since the last record: the
        worker process sends its progress at most every BATCH_EVERY s) and the curve; True for
        the run's first record."""
        done = event.epoch - 1 + event.batch / event.num_batches
        with self.lock:
            first = self._pub.event is None
            self._pub.event = event
            self._steps_done += steps  # report_every is 1 for a job: one event per step
            curve = self._pub.curve
            if first or time.monotonic() - self._curve_time >= CURVE_EVERY:
                self._curve_time = time.monotonic()
                curve.append((done, event.loss, event.accuracy))
                if len(curve) > MAX_CURVE_POINTS:
                    del curve[1::2]  # keep the first, thin the rest evenly
        return first

    def _on_epoch(self, event: EpochEvent, model: CNN | None = None) -> None:
        """Record an epoch's row and a snapshot of ``model`` (default: the trained model)."""
        row = {
            "epoch": event.epoch,
            "train_loss": event.train_loss,
            "test_loss": event.test_loss,
            "train_accuracy": event.train_accuracy,
            "test_accuracy": event.test_accuracy,
            "seconds": event.seconds,
        }
        with self.lock:
            self._pub.rows.append(row)
            self._pub.confusion = event.confusion
            self.snapshot_log.record(event.epoch, model or self.model)  # the weights evaluated

    def _store_weights(self, weights: dict, label: str) -> None:
        with self.lock:
            self._pub.weights, self._pub.label = weights, label
            self._pub.count += 1

    def _set_status(self, status: str) -> None:
        with self.lock:
            self._pub.status = status

    def _finish(self, outcome: str, reason: str, measured: float | None = None) -> None:
        """Measure the final weights on the held-out set and publish how the run ended
        (``measured``: that accuracy, already measured by a worker process)."""
        with self.lock:
            rows = list(self._pub.rows)
            event = self._pub.event
        if outcome == "diverged" and not rows:
            self._end("diverged", reason, None)  # nothing learned: the old model is kept
            return
        if outcome == "done" and rows:
            accuracy = rows[-1]["test_accuracy"]
        elif event is None:  # stopped before the first step finished
            self._end("cancelled", reason or "Stopped before the first step.", None)
            return
        elif measured is not None:
            accuracy = measured
        else:  # a partial or rolled-back epoch: measure what the weights do now
            accuracy = evaluate(self.model, self.split.test).accuracy
        where = f"epoch {event.epoch}, batch {event.batch}" if event else "the start"
        self._publish_weights(where)
        self._end(outcome, reason, accuracy, where)

    def _end(self, status: str, message: str, accuracy, where: str = "") -> None:
        with self.lock:
            self._pub.status = status
            self._pub.message = message
            self._pub.final_accuracy = accuracy
            self._pub.label = where or self._pub.label
            self._wake.notify_all()


def stop_all(timeout: float = 5.0) -> None:
    """Stop every job of this process and wait for their workers (at interpreter exit: a torch
    thread still running then would abort the process)."""
    jobs = list(_jobs)
    for job in jobs:
        job.stop()
    for job in jobs:
        job.join(timeout)


atexit.register(stop_all)
