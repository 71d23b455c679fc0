"""The training worker process of a TrainingJob: ``python -m cnn_core.job_worker FD``.

Why a process: a training loop in a thread of the Streamlit server shares Python's lock (the
GIL) with every script run of every session. Each small torch call of a step needs the lock back
and waits behind figure building and serialisation; bench/live_training.py measured the thread
at 0.39-0.64x a bare loop while one learner browsed. In its own process the loop waits for
nobody's Python.

FD is one end of a socket pair (the job holds the other end). Both sides speak pickled tuples
through multiprocessing's Connection. The job sends, in order:

    ("setup", TrainRequest, Split, initial weights {name: ndarray})
    ("control", paused, step_tokens, stop, learning_rate or None)   # then after every change

and this process answers, as it trains:

    ("status", "running" | "paused", steps honoured)   # when it starts or stops holding
    ("batch", BatchEvent, steps)                         # the latest step's progress and the
                                                         # steps since the last such message
    ("weights", "epoch E, batch B", {name: ndarray})     # about once a second, and while paused
    ("step", StepEvent)                                  # a step asked for with Step one batch
    ("epoch", EpochEvent, {name: ndarray})               # the weights just evaluated (snapshot)
    ("trained", outcome, reason)                         # training is over: the slot is free
    ("final", held-out accuracy or None, {name: ndarray}) # the final weights; then it exits
    ("error", exception type name, message)              # instead, if training raised

Progress goes out at most every BATCH_EVERY s while the run goes on (a step takes a few ms:
one message each would cost the server an unpickling and a lock 100 times a second), and always
before any other message, so the job sees the steps in order and the last one before a pause.
The controls are read without waiting between two steps, and waited for while paused. When the
job's end of the socket closes (its server went away) the process stops at the next step.
"""

from __future__ import annotations

import math
import sys
import time
from multiprocessing.connection import Connection

import numpy as np
import torch

from .model import CNN
from .runtime import configure_torch
from .train import BatchEvent, EpochEvent, StepEvent, TrainControl, ending, evaluate, train

PUBLISH_EVERY = 1.0  # seconds between two published copies of the weights (either worker)
BATCH_EVERY = 0.1  # seconds between two progress messages of this process while it runs


def weights_to_arrays(model: CNN) -> dict[str, np.ndarray]:
    """A copy of the state dict as NumPy arrays (plain pickles, no shared-memory handles)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}


def arrays_to_weights(arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.array(v, copy=True)) for k, v in arrays.items()}


def needs_measuring(outcome: str, has_rows: bool, has_event: bool) -> bool:
    """True when a finished run's held-out accuracy must be measured on its final weights: not
    for a run that diverged in its first epoch (nothing learned, the old model stays), not for
    a run that did every epoch (its last epoch's evaluation is the answer), not before the
    first step."""
    if outcome == "diverged" and not has_rows:
        return False
    if outcome == "done" and has_rows:
        return False
    return has_event


class _Run:
    """One run in this process: the model, the controls as last received, the event loop."""

    def __init__(self, conn: Connection, request, split, weights: dict[str, np.ndarray]):
        self.conn, self.request, self.split = conn, request, split
        self.model = CNN(request.model_config, seed=request.train_config.seed)
        self.model.load_state_dict(arrays_to_weights(weights))
        self.control = TrainControl()
        self.paused, self.tokens, self.stop = False, 0, False
        self.honoured = 0  # step tokens used
        self.status = "running"
        self.pending: BatchEvent | None = None  # the latest step's progress, not yet sent
        self.pending_steps = 0  # steps taken since the last progress message
        self.progress_sent = -math.inf  # time.monotonic() of the last progress message

    # -- controls -------------------------------------------------------------------------------

    def apply(self, message) -> None:
        kind, *values = message
        if kind != "control":
            raise ValueError(f"the training worker got an unknown message {kind!r}")
        self.paused, self.tokens, self.stop, lr = values
        self.control.learning_rate = lr

    def read_controls(self, wait: bool) -> None:
        """Apply every control message waiting (and, if ``wait``, wait for one first). A
        closed socket (the job's server went away) stops the run."""
        try:
            if wait:
                self.apply(self.conn.recv())
            while self.conn.poll(0):
                self.apply(self.conn.recv())
        except (EOFError, OSError):
            self.stop = True

    # -- messages ---------------------------------------------------------------------------------

    def send(self, message: tuple) -> None:
        """Send one message, the progress not yet sent first (the job sees events in order)."""
        self.flush()
        self.conn.send(message)

    def flush(self) -> None:
        if self.pending is not None:
            self.conn.send(("batch", self.pending, self.pending_steps))
            self.pending, self.pending_steps = None, 0
            self.progress_sent = time.monotonic()

    def progress(self, event: BatchEvent) -> None:
        """One step done: say so now if BATCH_EVERY s have passed, else with the next message."""
        self.pending = event
        self.pending_steps += 1
        if time.monotonic() - self.progress_sent >= BATCH_EVERY:
            self.flush()

    def set_status(self, status: str) -> None:
        if status != self.status:
            self.status = status
            self.send(("status", status, self.honoured))

    def hold(self) -> bool:
        """Between two steps: wait while paused (one step token lets one step through).
        Returns False to stop."""
        self.read_controls(wait=False)
        held = time.monotonic()
        if self.paused and self.honoured == self.tokens and not self.stop:
            self.status = "paused"  # said after every step taken while paused: the job lets
            self.send(("status", "paused", self.honoured))  # the next Step through then
        while self.paused and self.honoured == self.tokens and not self.stop:
            self.read_controls(wait=True)
        self.control.paused_seconds += time.monotonic() - held
        if self.stop:
            return False
        if self.honoured < self.tokens:  # one step while paused: the run stays "paused"
            self.honoured += 1
            self.control.record_next_step = True
        else:
            self.set_status("running")
        return True

    # -- the run ----------------------------------------------------------------------------------

    def run(self) -> None:
        self.read_controls(wait=True)  # the job's controls as they were when it started us
        events = train(self.model, self.split, self.request.train_config, self.control)
        outcome, reason, has_rows, has_event = "stopped", "", False, False
        last_publish = -math.inf
        try:
            for event in events:
                if isinstance(event, BatchEvent):
                    has_event = True
                    self.progress(event)
                    last_publish = self.publish(event, last_publish)
                    if not self.hold():
                        break
                elif isinstance(event, EpochEvent):
                    has_rows = True
                    self.send(("epoch", event, weights_to_arrays(self.model)))
                elif isinstance(event, StepEvent):
                    self.send(("step", event))
                elif (end := ending(event)) is not None:
                    outcome, reason = end
        finally:
            events.close()  # the model keeps the last finished step's weights, in eval mode
        self.send(("trained", outcome, reason))
        measure = needs_measuring(outcome, has_rows, has_event)
        accuracy = evaluate(self.model, self.split.test).accuracy if measure else None
        self.conn.send(("final", accuracy, weights_to_arrays(self.model)))

    def publish(self, event: BatchEvent, last: float) -> float:
        """Send a copy of the weights about once a second (and after every step while paused)."""
        now = time.monotonic()
        if now - last >= PUBLISH_EVERY or self.paused:
            label = f"epoch {event.epoch}, batch {event.batch}"
            self.send(("weights", label, weights_to_arrays(self.model)))
            return now
        return last


def serve(conn: Connection) -> None:
    """Receive one run's setup, train it, report how it ended."""
    configure_torch()  # CONVSCOPE_THREADS, as in the server
    try:
        kind, request, split, weights = conn.recv()
    except (EOFError, OSError):
        return  # the job went away before it sent anything
    if kind != "setup":
        raise ValueError(f"the training worker expected its setup, got {kind!r}")
    try:
        _Run(conn, request, split, weights).run()
    except (EOFError, BrokenPipeError, ConnectionResetError):
        return  # the job's server went away: nobody to report to
    except Exception as err:  # noqa: BLE001 -- reported to the learner through the job
        conn.send(("error", type(err).__name__, str(err)))


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m cnn_core.job_worker FD  (started by cnn_core.job)", file=sys.stderr)
        return 2
    conn = Connection(int(argv[0]))
    try:
        serve(conn)
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
