"""Training slots in the app: a session that presses Train while the only slot is busy waits in
the queue, and gives its place back when its script is stopped. (Two real sessions training at
once are in tests/test_concurrency.py: AppTest sessions cannot run in parallel threads, because
each run installs and removes a process-wide test Runtime.)"""

import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import limits

APP = str(Path(__file__).resolve().parent.parent / "app.py")
pytestmark = pytest.mark.timeout(300)


def _session(seed: int) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=240)
    settings = {"cfg_images_digits": 400, "cfg_epochs": 1, "cfg_batch": 64, "cfg_seed": seed}
    for key, value in settings.items():
        at.session_state[key] = value
    return at.run()


def _wait_for(condition, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the queue")
        time.sleep(0.02)


def test_waiting_shows_the_queue_position_and_leaving_gives_the_place_back(monkeypatch):
    pool = limits.TrainingSlots(1)
    monkeypatch.setattr(limits, "_shared", pool)
    holder = pool.ticket()
    at = _session(seed=3)
    seen: list[int | None] = []

    timed_out: list[bool] = []

    def press() -> None:
        try:
            at.sidebar.button(key="train_button").click().run(timeout=5)
        except RuntimeError as err:  # AppTest stops a script that outlives its timeout
            timed_out.append("timed out" in str(err))

    thread = threading.Thread(target=press)
    thread.start()
    _wait_for(lambda: pool.waiting == 1)
    seen.append(pool.waiting)
    thread.join(30)  # AppTest gives up after 5 s: the script is stopped while it waits
    _wait_for(lambda: pool.waiting == 0, seconds=30)  # its place in the queue was given back
    holder.release()
    assert seen == [1] and pool.running == 0
    assert timed_out == [True]  # it was still waiting when AppTest stopped it
