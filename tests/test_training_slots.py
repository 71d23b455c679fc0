"""Training slots in the app: a session that presses Train while the only slot is busy waits in
the queue, says where it stands, and leaves the queue with Stop. (Two real sessions training
through one slot are in tests/test_concurrency.py.)"""

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import limits
from tests.conftest import app_session
from ui import state

pytestmark = pytest.mark.timeout(300)


def _progress_text(at: AppTest) -> str:
    """The text of the sidebar's progress line."""
    found = [e for e in at.get("progress")]
    assert len(found) == 1, found
    return found[0].proto.text


def test_a_queued_run_shows_its_place_and_stop_leaves_the_queue(monkeypatch):
    """With the only slot held elsewhere, Train queues the session's job (number 1 in the
    queue, said in the sidebar); Stop takes it out of the queue, nothing is trained, the slot
    holder is untouched."""
    pool = limits.TrainingSlots(1)
    monkeypatch.setattr(limits, "_shared", pool)
    holder = pool.ticket()
    try:
        at = app_session().run()
        at.sidebar.button(key="train_button").click().run()
        job = at.session_state[state.TRAINING]
        assert job.status == "queued" and pool.waiting == 1
        assert "you are number 1 in the queue" in _progress_text(at)
        at.sidebar.button(key="stop_button").click().run()
        assert job.join(60) and job.status == "cancelled"
        assert pool.waiting == 0 and pool.running == 1  # only the holder
        at.run()
        assert not at.exception, at.exception
        assert state.MODEL not in at.session_state or at.session_state[state.MODEL] is None
    finally:
        holder.release()
