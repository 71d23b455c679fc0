"""AppTest of the live-training wiring (ui/live.py, ui/sidebar.py): the job a Train press starts,
what the pages show while it runs, the controls, the per-data-set defaults, and the end of a
session. AppTest never fires the polling fragment's timer, so every test runs the script itself;
every run that must still be under way is long by its settings and held with Pause."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import streamlit
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from cnn_core import job as jobs
from tests.conftest import app_session, live_markup, wait_until
from ui import live, state
from ui.sidebar import RUN_DEFAULTS, RUN_KEYS

pytestmark = pytest.mark.timeout(300)


def _paused_session(**widgets) -> tuple[AppTest, object]:
    """A session with a held-out digit as input and a long run (20 epochs) started, then paused
    and the script run again; returns (app, job). The caller stops the job."""
    at = app_session(digit=0, settings={"cfg_epochs": 20} | widgets).run()
    at.sidebar.button(key="train_button").click().run()
    job = at.session_state[state.TRAINING]
    job.pause()
    wait_until(lambda: job.status == "paused")
    at.run()
    assert not at.exception, at.exception
    return at, job


def _stop(job) -> None:
    job.stop()
    assert job.join(60)


def _text(at: AppTest) -> str:
    """The page's markdown, info boxes and captions, and the HTML of Draw & predict's live
    elements (its prediction and overview)."""
    parts = [m.value for m in [*at.markdown, *at.info, *at.caption]]
    return "\n".join(parts + list(live_markup(at).values()))


def test_changing_the_data_set_puts_its_defaults_into_the_widgets():
    """Picking Fashion-MNIST sets its default epochs, batch size, learning rate, schedule and
    augmentation; going back to the bundled digits restores theirs."""
    at = app_session().run()
    for name in ("fashion-mnist", "digits"):
        at.sidebar.selectbox(key="cfg_dataset").select(name).run()
        for field, key in RUN_KEYS.items():
            assert at.session_state[key] == RUN_DEFAULTS[name][field], (name, key)


def test_pages_show_the_input_through_the_live_weights_and_say_so():
    """While a run is under way, the model card says so, the page says "Live: epoch E, batch B",
    and the prediction on Draw & predict is the live copy's prediction of the input."""
    at, job = _paused_session()
    try:
        model, _, label = job.live_model()
        assert any(f"Live: {label}." in i.value for i in at.info), [i.value for i in at.info]
        assert "training now (live weights after" in "\n".join(m.value for m in at.sidebar.markdown)
        trace = model.trace(at.session_state[state.INPUT])
        probability = f"predicted with probability <strong>{trace.probabilities.max():.1%}</strong>"
        assert probability in _text(at)
    finally:
        _stop(job)


def test_the_learning_rate_can_change_during_a_run_and_other_changes_wait():
    """A new learning rate in the sidebar reaches the run under way (marked on its curve); a new
    architecture does not, and the panel says it needs a new run; Reset is disabled."""
    at, job = _paused_session()
    try:
        at.session_state["cfg_lr"] = 3e-4
        at.session_state["cfg_blocks"] = 1
        at.run()
        view = job.view()
        assert view.learning_rate == 3e-4 and [lr for _, lr in view.lr_marks] == [3e-4]
        assert job.request.model_config.filters == (8, 16)
        assert "take effect with a new run" in _text(at)
        assert at.sidebar.button(key="reset_button").disabled
    finally:
        _stop(job)


def test_a_second_train_stops_the_first_run_and_keeps_its_weights():
    """Train while a run is under way: the first run ends as stopped and its model is adopted
    (its message is shown); a new job runs."""
    at, first = _paused_session()
    second = None
    try:
        at.session_state["cfg_seed"] = 7  # another run, as a learner would try
        at.sidebar.button(key="train_button").click().run()
        second = at.session_state[state.TRAINING]
        assert second is not first and first.status == "stopped"
        assert any("Training stopped at epoch" in w.value for w in at.warning)
        assert at.session_state[state.MODEL].model is first.model
    finally:
        _stop(first)
        if second is not None:
            _stop(second)


def test_a_closed_session_releases_its_job_after_the_ttl():
    """The session-scoped lease's release (Streamlit calls it when the browser's connection
    closes) stops the session's job once server.disconnectedSessionTTL has passed without the
    session coming back."""
    at, job = _paused_session()
    lease = live._SessionLease()
    lease.job = job
    st_config.set_option("server.disconnectedSessionTTL", 0)
    try:
        live._released(lease)
        assert job.join(60)
        assert job.status == "stopped" and "session closed" in job.view().message
    finally:
        st_config.set_option("server.disconnectedSessionTTL", 120)
        _stop(job)


def test_the_same_train_press_seen_twice_starts_one_run(monkeypatch):
    """Streamlit can replay a click when reruns overlap: the same request again within
    REPEAT_SECONDS starts no second run (the first is neither stopped nor replaced). The window
    is widened here so that the test does not depend on how fast two script runs are."""
    monkeypatch.setattr(live, "REPEAT_SECONDS", 600.0)
    at, job = _paused_session()
    try:
        at.sidebar.button(key="train_button").click().run()
        assert at.session_state[state.TRAINING] is job and job.status == "paused"
    finally:
        _stop(job)


class _RunEnded(Exception):
    """Stands for Streamlit ending a script run early (another rerun was asked for): it does
    so at an access to session state, before the access."""


class _EndingSessionState:
    """st.session_state for ui/live.py that ends the script run at the ``end_at``-th access made
    inside live.start (once; None: never) and counts those accesses."""

    def __init__(self, end_at: int | None):
        self.end_at, self.count, self.inside = end_at, 0, False

    def _access(self):
        if self.inside:
            self.count += 1
            if self.count == self.end_at:
                raise _RunEnded(f"the run ended at access {self.count} of live.start")
        return streamlit.session_state

    def get(self, *args):
        return self._access().get(*args)

    def pop(self, *args):
        return self._access().pop(*args)

    def __getitem__(self, key):
        return self._access()[key]

    def __setitem__(self, key, value):
        self._access()[key] = value

    def __contains__(self, key):
        return key in self._access()


def _press_train_ending_at(monkeypatch, at: AppTest, end_at: int | None) -> int:
    """Press Train with live.start's run ending at its ``end_at``-th access to session state,
    then run the script once more as Streamlit would (the button no longer pressed); returns
    how many accesses an uninterrupted start made."""
    ending = _EndingSessionState(end_at)
    real_start = live.start

    def start(*args):
        ending.inside = True
        try:
            return real_start(*args)
        finally:
            ending.inside = False

    with monkeypatch.context() as patch:
        patch.setattr(live, "st", SimpleNamespace(**{**vars(streamlit), "session_state": ending}))
        patch.setattr(live, "start", start)
        at.sidebar.button(key="train_button").click().run()
        if end_at is not None:
            assert len(at.exception) == 1  # the page shows it (its message redacted)
            at.run()
    assert not at.exception, at.exception
    return ending.count


def test_a_train_press_is_carried_out_wherever_its_script_run_ends(monkeypatch):
    """Streamlit ends a script run at any access to session state when another rerun was asked
    for meanwhile (a widget changed while the page was drawn). For every access live.start makes,
    a run ended there: the next run starts the press's job, exactly one job is started, it is
    the session's, and the press is not left waiting (before, the press was lost or the
    session kept a job that never started)."""
    monkeypatch.setenv(jobs.WORKER_ENV, "thread")
    started = []
    real = jobs.TrainingJob.start

    def start(self):
        if self._ticket is None:
            started.append(self)
        return real(self)

    monkeypatch.setattr(jobs.TrainingJob, "start", start)
    at = app_session(digit=0, settings={"cfg_epochs": 20}).run()

    def press(end_at: int | None) -> int:
        at.session_state["cfg_seed"] = before = len(started)  # a new request: not a repeat
        at.run()
        accesses = _press_train_ending_at(monkeypatch, at, end_at)
        job = at.session_state[state.TRAINING]
        assert len(started) == before + 1 and started[-1] is job, end_at
        assert state.TRAIN_ASKED not in at.session_state, end_at  # nothing left waiting
        _stop(job)
        at.run()
        return accesses

    try:
        accesses = press(None)
        assert accesses >= 7  # the last start (read, written), the job (read, stored, read
        # again by keep_alive), the adopted model, the press
        for end_at in range(1, accesses + 1):
            press(end_at)
    finally:
        for job in started:
            _stop(job)


def test_step_one_batch_appears_only_while_paused():
    """Running: Pause and Stop; paused: Resume, Step one batch and Stop (the accessible names
    that tests and outside checks use)."""
    at, job = _paused_session()
    try:
        labels = {b.label for b in at.sidebar.button}
        assert {"Resume", "Step one batch", "Stop"} <= labels and "Pause" not in labels
        at.sidebar.button(key="resume_button").click().run()
        labels = {b.label for b in at.sidebar.button}
        assert {"Pause", "Stop"} <= labels and "Step one batch" not in labels
    finally:
        _stop(job)


def test_a_live_rerun_waits_for_the_page_and_for_a_pause_in_drawing():
    """New weights redraw the page (a full rerun) only when its last run has ended since the
    last live rerun was asked, has been on screen PAGE_REFRESH s, and the learner has not
    drawn for STROKE_QUIET s: a stroke never waits behind a live redraw while they draw."""
    due, quiet, shown = live.live_rerun_due, live.STROKE_QUIET, live.PAGE_REFRESH
    assert due(done=10.0, asked=9.0, stroke=None, now=10.0 + shown)
    assert not due(done=10.0, asked=9.0, stroke=None, now=10.0 + shown / 2)  # just drawn
    assert not due(done=10.0, asked=10.5, stroke=None, now=20.0)  # the live rerun still runs
    assert not due(done=10.0, asked=9.0, stroke=19.0, now=19.0 + quiet / 2)  # drawing
    assert due(done=10.0, asked=9.0, stroke=19.0, now=19.0 + quiet)  # a pause: redraw
