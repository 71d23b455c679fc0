"""Tests of cnn_core.job: a training run in the background, without Streamlit.

Every behaviour test runs twice: with the worker process the app uses (worker="process") and
with the training in the job's own thread (worker="thread"), through CONVSCOPE_TRAINING_WORKER.

No test races the worker: a run that must still be under way is made long by its settings and
held with Pause (the worker pauses after its first step when Pause comes before start()), and
every wait is for a state the job reaches whatever the machine's speed, with a generous timeout.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cnn_core import job as jobs
from cnn_core.data import Split, load_bundled
from cnn_core.job import TrainingJob, TrainRequest
from cnn_core.limits import TrainingSlots
from cnn_core.model import ModelConfig
from cnn_core.snapshots import model_from_weights
from cnn_core.train import TrainConfig

pytestmark = pytest.mark.timeout(300)
LONG = 100  # epochs: far more than any test lets a run do


@pytest.fixture(autouse=True, params=jobs.WORKERS)
def worker(request, monkeypatch) -> str:
    """Each test once per kind of worker (the environment variable the app reads)."""
    monkeypatch.setenv(jobs.WORKER_ENV, request.param)
    return request.param


@pytest.fixture(scope="module")
def split() -> Split:
    """256 training and 200 test digits from the bundled set."""
    data = load_bundled()
    return Split(train=data.train.subset(256, seed=1), test=data.test.subset(200, seed=2))


def request(epochs: int = LONG, **train) -> TrainRequest:
    config = TrainConfig(epochs=epochs, batch_size=32, report_every=1, **train)
    return TrainRequest("digits", ModelConfig(), config)


def wait_until(condition, seconds: float = 120) -> None:
    """Poll until condition() is true; fail after ``seconds`` (a hang, not a slow machine)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the job never reached the expected state"
        time.sleep(0.01)


def paused_job(split, slots=None, **train) -> TrainingJob:
    """A long run, paused after its first step."""
    job = TrainingJob(request(**train), split, slots or TrainingSlots(1))
    job.pause()
    job.start()
    wait_until(lambda: job.status == "paused")
    return job


def finish(job: TrainingJob) -> None:
    job.stop()
    assert job.join(60)


def test_a_short_run_finishes_with_its_held_out_accuracy(split):
    """Two epochs run to the end: status done, one row per epoch, the final accuracy is the
    last epoch's held-out accuracy, snapshots of epochs 0-2, the slot is free again."""
    slots = TrainingSlots(1)
    job = TrainingJob(request(epochs=2), split, slots).start()
    assert job.join(120)
    view = job.view()
    assert view.status == "done" and [r["epoch"] for r in view.rows] == [1, 2]
    assert view.final_accuracy == view.rows[-1]["test_accuracy"]
    assert job.snapshots.epochs == [0, 1, 2]
    assert slots.running == 0 and not job.model.training


def test_pause_holds_the_run_and_resume_continues_it(split):
    """Paused after its first step, the run takes no more steps until Resume; then it does."""
    job = paused_job(split)
    try:
        held = job.view()
        assert (held.epoch, held.batch) == (1, 1)
        time.sleep(0.3)  # a paused worker must not move at all in the meantime
        assert (job.view().epoch, job.view().batch) == (1, 1)
        job.resume()
        wait_until(lambda: job.view().batch > 1 or job.view().epoch > 1)
    finally:
        finish(job)


def test_step_one_batch_takes_exactly_one_step_and_records_it(split):
    """Each Step one batch while paused advances the run by one batch and publishes that step's
    numbers; the run is paused again afterwards."""
    job = paused_job(split)
    try:
        for expected in (2, 3):
            # Accepted once the previous step is done: the status stays "paused" during a step,
            # so waiting for "paused" does not say the worker is back between two steps.
            wait_until(job.step_once)
            wait_until(lambda e=expected: job.last_step is not None and job.last_step.batch == e)
            wait_until(lambda: job.status == "paused")
            assert job.view().batch == expected
    finally:
        finish(job)


def test_a_step_request_delivered_twice_takes_one_step(split):
    """Two step requests carrying the same step count (one click whose callback Streamlit ran
    twice) take one step; a request with a stale count is refused; a fresh one is taken."""
    job = paused_job(split)
    try:
        seen = job.view().steps
        assert job.step_once(seen) and not job.step_once(seen)
        wait_until(lambda: job.view().steps == seen + 1 and job.status == "paused")
        assert not job.step_once(seen)  # the run has moved on since that button was drawn
        time.sleep(0.2)
        assert job.view().steps == seen + 1
        assert job.step_once(seen + 1)
        wait_until(lambda: job.view().steps == seen + 2)
    finally:
        finish(job)


def test_a_recorded_step_matches_autograd_and_the_optimizer(split):
    """The gradients of a stepped batch equal torch.autograd.grad of the batch loss at the
    weights before the step (atol 1e-6); weights before + update = weights after (atol 1e-6);
    the live copy published after the step holds the weights after."""
    job = paused_job(split, optimizer="sgd", learning_rate=0.05, momentum=0.9)
    try:
        job.step_once()
        wait_until(lambda: job.last_step is not None and job.status == "paused")
        step = job.last_step
        before = {n: torch.from_numpy(w) for n, w in step.weights_before.items()}
        model = model_from_weights(ModelConfig(), before)
        x = torch.from_numpy(step.images).unsqueeze(1)  # (B, 1, 28, 28)
        loss = F.cross_entropy(model(x), torch.from_numpy(step.labels))
        names = [n for n, _ in model.named_parameters()]
        grads = torch.autograd.grad(loss, [p for _, p in model.named_parameters()])
        for name, grad in zip(names, grads, strict=True):
            np.testing.assert_allclose(step.gradients[name], grad.numpy(), atol=1e-6)
            moved = step.weights_before[name] + step.update[name]
            np.testing.assert_allclose(moved, step.weights_after[name], atol=1e-6)
        assert step.loss_after < step.loss_before  # one SGD step on its own batch
        live, _, label = job.live_model()
        assert label == "epoch 1, batch 2"
        for name, p in live.named_parameters():
            assert np.array_equal(p.detach().numpy(), step.weights_after[name])
    finally:
        finish(job)


def test_a_learning_rate_change_applies_to_the_next_step_and_is_marked(split):
    """set_learning_rate while paused: the next recorded step uses it, the curve marks it, and
    an invalid rate is refused with a sentence."""
    job = paused_job(split, optimizer="sgd", learning_rate=0.01, momentum=0.0)
    try:
        job.set_learning_rate(0.1)
        job.step_once()
        wait_until(lambda: job.last_step is not None and job.status == "paused")
        step = job.last_step
        assert step.learning_rate == 0.1 and job.view().learning_rate == 0.1
        assert job.view().lr_marks == ((1 / 8, 0.1),)  # after batch 1 of 8
        name = "stages.conv1.weight"
        np.testing.assert_allclose(step.update[name], -0.1 * step.gradients[name], atol=1e-7)
        with pytest.raises(ValueError, match="learning rate"):
            job.set_learning_rate(-1.0)
    finally:
        finish(job)


def test_stop_keeps_the_weights_of_the_last_finished_step(split):
    """Stop while paused: the run ends as stopped, its model holds the weights published after
    the last step, and its held-out accuracy is measured on them."""
    job = paused_job(split)
    job.step_once()
    wait_until(lambda: job.last_step is not None and job.status == "paused")
    after = job.last_step.weights_after
    finish(job)
    view = job.view()
    assert view.status == "stopped" and view.final_accuracy is not None
    for name, p in job.model.named_parameters():
        assert np.array_equal(p.detach().numpy(), after[name])


def test_a_diverging_run_ends_and_says_why(split):
    """A loss over the divergence threshold in the first step ends the run as diverged, with the
    reason; nothing was learned, so no accuracy is claimed and the slot is free."""
    slots = TrainingSlots(1)
    job = TrainingJob(request(epochs=3, divergence_threshold=0.5), split, slots).start()
    assert job.join(120)
    view = job.view()
    assert view.status == "diverged" and "over 0.5" in view.message
    assert view.final_accuracy is None and slots.running == 0


def test_jobs_share_slots_first_come_first_served(split):
    """With one slot, a second and a third job queue in order (positions 1 and 2); stopping
    the first lets the second run while the third still waits; a stopped queued job leaves."""
    slots = TrainingSlots(1)
    first = paused_job(split, slots)
    second = TrainingJob(request(), split, slots)
    second.pause()
    second.start()
    third = TrainingJob(request(), split, slots).start()
    try:
        assert second.view().queue_position == 1 and third.view().queue_position == 2
        assert second.status == "queued"
        finish(first)
        wait_until(lambda: second.status == "paused")
        assert third.view().queue_position == 1
        finish(third)
        assert third.status == "cancelled" and slots.waiting == 0
    finally:
        finish(second)
    assert slots.running == 0


def test_a_job_whose_session_left_stops_and_frees_its_slot(split):
    """release_after(grace): a paused job with no touch() in time stops by itself and gives its
    slot back; a touch() within the grace keeps it."""
    slots = TrainingSlots(1)
    job = paused_job(split, slots)
    job.release_after(60)
    job.touch()  # the session reconnected
    time.sleep(0.2)
    assert job.status == "paused"
    job.release_after(0.05)
    assert job.join(30)
    assert job.status == "stopped" and "session closed" in job.view().message
    assert slots.running == 0


def test_a_queued_job_of_a_gone_session_leaves_the_queue(split, monkeypatch):
    """A job waiting for a slot whose heartbeat stops leaves the queue."""
    monkeypatch.setattr(jobs, "HEARTBEAT_TIMEOUT", 0.2)
    slots = TrainingSlots(1)
    holder = slots.ticket()
    job = TrainingJob(request(), split, slots).start()
    try:
        assert job.join(30)
        assert job.status == "cancelled" and "sent nothing" in job.view().message
        assert slots.waiting == 0
    finally:
        holder.release()


def test_stop_all_ends_every_worker(split):
    """stop_all (run at interpreter exit) stops every job of the process and joins it."""
    a, b = paused_job(split), paused_job(split)
    jobs.stop_all(timeout=60)
    assert a.status == "stopped" and b.status == "stopped"
    assert not a._thread.is_alive() and not b._thread.is_alive()
