"""The training queue is first come, first served across sessions: three sessions press Train in
turn while the server has one training slot; their runs hold the slot in the order Train was
pressed, each waiting "queued" (with its place in the sidebar) until the run before it ends.

No test races a run: every job the app starts here is paused before its worker begins (the
worker then holds its slot after its first step, whatever the machine's speed), and a run ends
only by the session's Stop button.
"""

import pytest

from cnn_core import job as jobs
from cnn_core import limits
from tests.conftest import start_training, wait_until
from ui import state

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def pool(monkeypatch) -> limits.TrainingSlots:
    """A fresh one-slot pool as the process's shared pool, and every job the app starts held
    after its first step (Pause before start(), as tests/test_job.py holds runs)."""
    slots = limits.TrainingSlots(1)
    monkeypatch.setattr(limits, "_shared", slots)
    original = jobs.TrainingJob.start

    def start_paused(job):
        job.pause()
        return original(job)

    monkeypatch.setattr(jobs.TrainingJob, "start", start_paused)
    return slots


def _progress(at) -> str:
    found = list(at.get("progress"))
    assert len(found) == 1, found
    return found[0].proto.text


def test_runs_hold_the_slot_in_the_order_train_was_pressed(pool):
    """A, B and C press Train in that order: A runs, B is number 1 and C number 2 in the queue;
    A's Stop gives the slot to B (not C), B's Stop to C; every run ends stopped, none is lost."""
    sessions = {name: start_training() for name in "ABC"}
    job = {name: at.session_state[state.TRAINING] for name, at in sessions.items()}
    try:
        wait_until(lambda: job["A"].status == "paused")  # A holds the slot
        assert job["B"].status == job["C"].status == "queued"
        assert job["B"].view().queue_position == 1 and job["C"].view().queue_position == 2
        for name, place in (("B", 1), ("C", 2)):
            text = _progress(sessions[name].run())
            assert f"you are number {place} in the queue" in text, (name, text)
        order = ["A"]
        for ended, following in (("A", "B"), ("B", "C")):
            at = sessions[ended]
            at.sidebar.button(key="stop_button").click().run()
            assert job[ended].join(120) and job[ended].status == "stopped"
            wait_until(lambda f=following: job[f].status == "paused")  # the next one runs
            order.append(following)
            waiting = [n for n in "ABC" if job[n].status == "queued"]
            assert waiting == (["C"] if following == "B" else [])
            if waiting:
                assert job["C"].view().queue_position == 1
                assert "you are number 1 in the queue" in _progress(sessions["C"].run())
        assert order == ["A", "B", "C"]
        sessions["C"].sidebar.button(key="stop_button").click().run()
        assert job["C"].join(120) and job["C"].status == "stopped"
        assert pool.running == 0 and pool.waiting == 0
        for at in sessions.values():
            assert not at.run().exception
    finally:
        for j in job.values():
            j.stop()
            j.join(60)
