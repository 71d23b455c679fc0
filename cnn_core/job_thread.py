"""The thread half of a TrainingJob (worker="thread", CONVSCOPE_TRAINING_WORKER=thread): the
job's worker thread iterates cnn_core.train's events on ``job.model`` itself, publishing as it
goes and holding between two steps while paused.

``ThreadTrainer`` is a mixin of cnn_core.job.TrainingJob: its methods run on the job's worker
thread and use the job's lock, published state and controls (see TrainingJob).
"""

from __future__ import annotations

import time

from .job_process import WAIT_TICK
from .job_worker import PUBLISH_EVERY
from .snapshots import snapshot_weights
from .train import BatchEvent, EpochEvent, StepEvent, ending, train


class ThreadTrainer:
    """The worker thread's side of a run trained in the server's own process (a mixin)."""

    def _train(self) -> None:
        """Iterate the training generator, publishing as it goes and obeying the controls."""
        events = train(self.model, self.split, self.request.train_config, self._control)
        last = time.monotonic()
        outcome, reason = "stopped", ""
        try:
            for event in events:
                if isinstance(event, BatchEvent):
                    last = self._on_batch(event, last)
                    reason = self._hold()
                    if reason is not None:
                        break
                elif isinstance(event, EpochEvent):
                    self._on_epoch(event)
                elif isinstance(event, StepEvent):
                    with self.lock:
                        self._pub.step = event
                elif (end := ending(event)) is not None:
                    outcome, reason = end
        finally:
            events.close()  # the model keeps the last finished step's weights, in eval mode
        self._ticket.release()  # training is over: the next learner need not wait for the
        # held-out evaluation below (its session may even be gone)
        self._finish(outcome, reason or "")

    def _on_batch(self, event: BatchEvent, last_publish: float) -> float:
        """Record progress; publish a copy of the weights about once a second."""
        first = self._record_batch(event)
        now = time.monotonic()
        if first or now - last_publish >= PUBLISH_EVERY or self._paused:
            self._publish_weights(f"epoch {event.epoch}, batch {event.batch}")
            return now
        return last_publish

    def _publish_weights(self, label: str) -> None:
        self._store_weights(snapshot_weights(self.model), label)  # a copy, between two steps

    def _hold(self) -> str | None:
        """Between two steps: wait while paused (Step one batch lets one step through).
        Returns None to go on, or a reason to stop ('' for the learner's own Stop)."""
        with self.lock:
            self._stepping = False  # the step let through last time (if any) is done
            held = time.monotonic()
            gone = ""
            while self._paused and not self._steps_allowed and not self._stop:
                gone = self._abandoned(paused_since=held)
                if gone:
                    break
                self._pub.status = "paused"
                self._wake.wait(WAIT_TICK)
            self._control.paused_seconds += time.monotonic() - held
            gone = gone or self._abandoned()
            if self._stop or gone:
                return gone  # '' for the learner's own Stop
            if self._steps_allowed:  # one step while paused: the run stays "paused"
                self._steps_allowed -= 1
                self._stepping = True
                self._control.record_next_step = True
            else:
                self._pub.status = "running"
            return None
