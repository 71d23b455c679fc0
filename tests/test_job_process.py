"""Tests of cnn_core.job's worker process (worker="process", the app's default): it trains a
copy of the model in ``python -m cnn_core.job_worker``, the job relays what it reports, and the
process never outlives its job or its server. The behaviour both kinds share is in test_job.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from cnn_core import job as jobs
from cnn_core import job_worker
from cnn_core.data import Split, load_bundled
from cnn_core.job import TrainingJob
from cnn_core.limits import TrainingSlots
from cnn_core.runtime import configure_torch
from cnn_core.train import (
    BatchEvent,
    DivergedEvent,
    DoneEvent,
    EpochEvent,
    StoppedEvent,
    ending,
)

from .test_job import finish, paused_job, request, wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(autouse=True)
def process_worker(monkeypatch) -> None:
    """Jobs made without a worker kind use the process, whatever the machine's environment."""
    monkeypatch.setenv(jobs.WORKER_ENV, "process")


@pytest.fixture(scope="module")
def split() -> Split:
    """256 training and 200 test digits from the bundled set (as in test_job.py)."""
    data = load_bundled()
    return Split(train=data.train.subset(256, seed=1), test=data.test.subset(200, seed=2))


@pytest.mark.parametrize("worker", jobs.WORKERS)
def test_the_worker_kind_comes_from_the_environment(worker, split, caplog, monkeypatch):
    """CONVSCOPE_TRAINING_WORKER picks the kind; anything else is logged and means "process";
    a wrong kind given in code is refused with the kinds that exist."""
    monkeypatch.setenv(jobs.WORKER_ENV, worker)
    assert jobs.worker_kind() == worker
    assert TrainingJob(request(), split, TrainingSlots(1)).worker == worker
    assert jobs.worker_kind({jobs.WORKER_ENV: "fork"}) == "process"
    assert "CONVSCOPE_TRAINING_WORKER='fork'" in caplog.text
    assert jobs.worker_kind({}) == "process"
    with pytest.raises(ValueError, match="process, thread"):
        TrainingJob(request(), split, TrainingSlots(1), worker="fork")


def test_a_process_run_equals_a_thread_run_number_for_number(split):
    """The same request trained in a worker process and in a thread ends with the same
    weights, the same per-epoch rows and the same snapshots: the relay loses nothing."""
    configure_torch()  # the worker process's thread count (1), for the thread run too: other
    done = {}  # counts sum in other orders, and 16 Adam steps turn that into 1e-5 differences
    for kind in jobs.WORKERS:
        job = TrainingJob(request(epochs=2), split, TrainingSlots(1), worker=kind).start()
        assert job.join(120) and job.status == "done"
        done[kind] = job
    a, b = done["process"], done["thread"]
    theirs = b.model.state_dict()
    for name, x in a.model.state_dict().items():
        np.testing.assert_allclose(x.numpy(), theirs[name].numpy(), rtol=0, atol=1e-6, err_msg=name)
    assert [r["test_accuracy"] for r in a.rows] == [r["test_accuracy"] for r in b.rows]
    assert a.view().steps == b.view().steps == 2 * 8
    assert a.snapshots.epochs == b.snapshots.epochs == [0, 1, 2]
    for sa, sb in zip(a.snapshots.snapshots, b.snapshots.snapshots, strict=True):
        for name in sa.weights:
            np.testing.assert_allclose(sa.weights[name], sb.weights[name], atol=1e-6)


def test_the_worker_process_trains_a_copy_and_ends_with_its_job(split):
    """While a process run is paused its process is alive and the job's own model is still the
    initial one (only published copies are read); after Stop the process has exited and the
    job's model holds the trained weights."""
    job = paused_job(split)
    initial = {k: v.clone() for k, v in job.model.state_dict().items()}
    pid = job.worker_pid
    assert pid is not None and _alive(pid)
    assert all(torch.equal(initial[k], v) for k, v in job.model.state_dict().items())
    published, _, _ = job.live_model()
    finish(job)
    assert job.worker_pid is None and not _alive(pid)
    trained = job.model.state_dict()
    assert not all(torch.equal(initial[k], trained[k]) for k in initial)
    for name, value in published.state_dict().items():
        assert torch.equal(value, trained[name]), name


def test_a_killed_worker_process_fails_the_run_with_a_sentence(split):
    """If the worker process dies (killed, out of memory), the run ends as failed with a
    sentence, its slot is free and the job's model is untouched."""
    slots = TrainingSlots(1)
    job = paused_job(split, slots)
    initial = {k: v.clone() for k, v in job.model.state_dict().items()}
    os.kill(job.worker_pid, signal.SIGKILL)
    assert job.join(60)
    view = job.view()
    assert view.status == "failed" and "training process ended unexpectedly" in view.message
    assert slots.running == 0
    assert all(torch.equal(initial[k], v) for k, v in job.model.state_dict().items())


HOST = """
import sys, time
from cnn_core.data import Split, load_bundled
from cnn_core.job import TrainingJob, TrainRequest
from cnn_core.limits import TrainingSlots
from cnn_core.model import ModelConfig
from cnn_core.train import TrainConfig
data = load_bundled()
split = Split(train=data.train.subset(256, seed=1), test=data.test.subset(200, seed=2))
request = TrainRequest("digits", ModelConfig(), TrainConfig(epochs=100, batch_size=32))
job = TrainingJob(request, split, TrainingSlots(1), worker="process")
job.start()
while job.worker_pid is None or job.view().steps == 0:
    time.sleep(0.05)
print(job.worker_pid, flush=True)
time.sleep(600)
"""


def test_a_worker_process_ends_when_its_server_is_killed():
    """A server killed outright (no atexit) leaves no training process behind: the worker sees
    its socket close and ends at its next step."""
    root = Path(__file__).resolve().parents[1]
    host = subprocess.Popen(
        [sys.executable, "-c", HOST], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        pid = int(host.stdout.readline())
        assert _alive(pid)
    finally:
        host.kill()
        host.wait()
    wait_until(lambda: not _alive(pid), seconds=60)


def test_needs_measuring_follows_how_the_run_ended():
    """The final accuracy is measured only for weights a learner gets that no epoch measured."""
    assert not job_worker.needs_measuring("diverged", has_rows=False, has_event=True)
    assert job_worker.needs_measuring("diverged", has_rows=True, has_event=True)
    assert not job_worker.needs_measuring("done", has_rows=True, has_event=True)
    assert job_worker.needs_measuring("stopped", has_rows=False, has_event=True)
    assert not job_worker.needs_measuring("stopped", has_rows=False, has_event=False)


def _alive(pid: int) -> bool:
    """True while process ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class _Recorder:
    """A stand-in for the worker's end of the socket: keeps what is sent."""

    def __init__(self):
        self.sent = []

    def send(self, message) -> None:
        self.sent.append(message)


def test_the_worker_sends_progress_at_most_every_batch_every_and_before_anything_else(
    monkeypatch,
):
    """Steps in quick succession make one progress message with their count; any other message
    (here a status) first sends the progress held back, so the job sees every step in order."""
    monkeypatch.setattr(job_worker, "BATCH_EVERY", 3600.0)  # however slow this machine is
    run = job_worker._Run.__new__(job_worker._Run)  # only the message half of a run
    run.conn, run.pending, run.pending_steps = _Recorder(), None, 0
    run.progress_sent = -np.inf

    def event(batch: int) -> BatchEvent:
        return BatchEvent(epoch=1, batch=batch, num_batches=9, loss=1.0, accuracy=0.5,
                          images_per_second=10.0, images_seen=64 * batch)  # fmt: skip

    run.progress(event(1))  # the first step is said at once
    for batch in range(2, 6):
        run.progress(event(batch))  # within BATCH_EVERY of the first
    assert [m[0] for m in run.conn.sent] == ["batch"]
    run.send(("status", "paused", 0))
    assert run.conn.sent[1][0] == "batch" and run.conn.sent[1][1].batch == 5
    assert run.conn.sent[1][2] == 4  # steps 2..5
    assert run.conn.sent[2] == ("status", "paused", 0)
    assert sum(m[2] for m in run.conn.sent if m[0] == "batch") == 5


def test_ending_names_how_a_run_ended_and_nothing_else():
    """Both workers read a run's end through train.ending: done, diverged or stopped with
    the event's reason; progress events are not an ending."""
    assert ending(DoneEvent(3)) == ("done", "")
    diverged = DivergedEvent(2, 5, "the loss became nan", restored=True)
    assert ending(diverged) == ("diverged", "the loss became nan")
    assert ending(StoppedEvent("it reached its time limit")) == (
        "stopped",
        "it reached its time limit",
    )
    batch = BatchEvent(epoch=1, batch=1, num_batches=2, loss=1.0, accuracy=0.5,
                       images_per_second=1.0, images_seen=64)  # fmt: skip
    assert ending(batch) is None
    confusion = np.zeros((10, 10), np.int64)
    epoch = EpochEvent(epoch=1, train_loss=1.0, train_accuracy=0.5, test_loss=1.0,
                       test_accuracy=0.5, confusion=confusion, seconds=1.0)  # fmt: skip
    assert ending(epoch) is None  # an epoch's end is not the run's
