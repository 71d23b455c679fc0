"""The process half of a TrainingJob (worker="process", the default): start
``python -m cnn_core.job_worker``, relay what it reports into the job's published state, and
end it.

``ProcessRelay`` is a mixin of cnn_core.job.TrainingJob: its methods run on the job's worker
thread and use the job's lock, published state and controls exactly as the thread worker's
methods do (see TrainingJob for the attributes). The messages are those of job_worker's
docstring.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from .job_worker import arrays_to_weights, weights_to_arrays
from .snapshots import model_from_weights

WORKER_ENV = "CONVSCOPE_TRAINING_WORKER"  # "process" (default) or "thread"
WORKERS = ("process", "thread")
PROCESS_EXIT_WAIT = 10.0  # seconds a worker process is given to exit before it is killed
WAIT_TICK = 0.5  # seconds between two checks of a waiting or paused worker (either kind)

log = logging.getLogger("cnn_core.job")


class ProcessRelay:
    """The worker thread's side of a run trained in a worker process (a TrainingJob mixin)."""

    def _train_in_process(self) -> None:
        """Train in a worker process and relay what it reports (see cnn_core/job_worker.py)."""
        process, conn = _start_worker_process()
        with self.lock:
            self._process = process
        try:
            try:
                conn.send(("setup", self.request, self.split, weights_to_arrays(self.model)))
            except OSError as err:
                code = process.wait()
                failure = f"the training process did not start (exit code {code})"
                raise WorkerFailed(failure) from err
            with self.lock:
                self._conn = conn
                self._send_controls()  # the controls as they are now; then after every change
            outcome, reason, accuracy = self._relay(process, conn)
        finally:
            with self.lock:
                self._conn = self._process = None
            _end_worker_process(process, conn)
        self._finish(outcome, self._stop_reason or reason, measured=accuracy)

    def _relay(self, process: subprocess.Popen, conn: Connection):
        """Handle the worker process's messages until it sends its final weights; returns
        (outcome, reason, measured accuracy or None)."""
        trained = None
        while True:
            self._stop_if_abandoned()
            try:
                if not conn.poll(WAIT_TICK):
                    if process.poll() is not None:
                        raise EOFError
                    continue
                message = conn.recv()
            except (EOFError, OSError) as err:
                code = process.wait()
                failure = f"the training process ended unexpectedly (exit code {code})"
                raise WorkerFailed(failure) from err
            kind = message[0]
            if kind == "trained":
                trained = message[1:]
                self._ticket.release()  # the next learner need not wait for the evaluation
            elif kind == "final":
                self.model.load_state_dict(arrays_to_weights(message[2]))
                self.model.eval()
                return (*trained, message[1])
            elif kind == "error":
                raise WorkerFailed(f"{message[1]}: {message[2]}")
            else:
                self._on_message(kind, message[1:])

    def _on_message(self, kind: str, values: tuple) -> None:
        """Publish one progress message of the worker process."""
        if kind == "batch":
            self._record_batch(values[0], steps=values[1])
        elif kind == "weights":
            self._store_weights(arrays_to_weights(values[1]), values[0])
        elif kind == "epoch":
            model = model_from_weights(self.request.model_config, arrays_to_weights(values[1]))
            self._on_epoch(values[0], model)
        elif kind == "step":
            with self.lock:
                self._pub.step = values[0]
        elif kind == "status":
            with self.lock:
                self._pub.status = values[0]
                paused = values[0] == "paused"
                self._held_since = time.monotonic() if paused else None
                if paused and values[1] == self._step_tokens:
                    self._steps_allowed = 0  # the step let through has been taken
        else:
            raise WorkerFailed(f"the training process sent an unknown message {kind!r}")

    def _stop_if_abandoned(self) -> None:
        """Stop the worker process if the session has gone or the pause lasted too long."""
        with self.lock:
            if self._stop:
                return
            gone = self._abandoned(paused_since=self._held_since)
            if gone:
                self._stop, self._stop_reason = True, gone
                self._send_controls()


class WorkerFailed(RuntimeError):
    """The worker process raised, or ended without saying how the run ended."""


def worker_kind(environ=None) -> str:
    """Where runs train: CONVSCOPE_TRAINING_WORKER, "process" (default) or "thread"."""
    raw = (os.environ if environ is None else environ).get(WORKER_ENV, "").strip().lower()
    if raw in WORKERS:
        return raw
    if raw:
        log.warning("%s=%r is not one of %s; using process", WORKER_ENV, raw, ", ".join(WORKERS))
    return "process"


def _start_worker_process() -> tuple[subprocess.Popen, Connection]:
    """A new ``python -m cnn_core.job_worker`` and our end of the socket pair it was given."""
    ours, theirs = socket.socketpair()
    root = Path(__file__).resolve().parents[1]  # the repository: cnn_core is importable from it
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "cnn_core.job_worker", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    return process, Connection(ours.detach())


def _end_worker_process(process: subprocess.Popen, conn: Connection) -> None:
    """Close our end (the process stops at its next step if it has not ended) and reap it."""
    conn.close()
    try:
        process.wait(PROCESS_EXIT_WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
