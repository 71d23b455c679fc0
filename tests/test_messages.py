"""Every learner-facing message about a run's end is whole sentences: each test asserts the
whole text, so a repeated clause, a missing full stop or a "-0" cannot come back (issue 10.8).

No test races a run: a run that must stop is held with Pause first, or ended by a time limit far
below what its settings need on any machine, or by a loss over the divergence threshold.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from cnn_core import ops
from tests.conftest import app_session, open_page, start_training, train_to_end, wait_until
from tests.conftest import page_text as _text
from ui import state
from ui.live import sentence

pytestmark = pytest.mark.timeout(300)


def _ended(at, level: str) -> list[str]:
    return [m.value for m in getattr(at, level)]


def test_a_diverged_run_says_what_happened_in_sentences():
    """Adam at learning rate 10: "Training diverged: <what went wrong>. Nothing was learned
    ...": the reason names the loss, where, and the advice, and ends with a full stop."""
    at = train_to_end(cfg_optimizer="adam", cfg_lr=10.0)
    view = at.session_state[state.TRAINING].view()
    assert view.status == "diverged"
    assert re.fullmatch(
        r"the loss became \S+ \(over \d+\) at epoch 1, batch \d+; "
        r"the learning rate 10 is probably too high",
        view.message,
    ), view.message
    expected = (
        f"Training diverged: {view.message}. Nothing was learned before it diverged, so your "
        "previous model is kept."
    )
    assert expected in _ended(at, "error"), _ended(at, "error")


def test_a_stopped_run_says_where_once():
    """Stop while paused: one sentence says where, one what the model keeps."""
    at = app_session().run()
    at.session_state["cfg_epochs"] = 20
    at.sidebar.button(key="train_button").click().run()
    job = at.session_state[state.TRAINING]
    job.pause()
    wait_until(lambda: job.status == "paused")
    at.run()
    at.sidebar.button(key="stop_button").click().run()
    assert job.join(120)
    at.run()
    view = job.view()
    expected = (
        f"Training stopped at epoch {view.epoch}, batch {view.batch}/{view.num_batches}. Your "
        f"model keeps the weights of that step (held-out accuracy {view.final_accuracy:.1%})."
    )
    assert expected in _ended(at, "warning"), _ended(at, "warning")


def test_the_time_limit_is_said_once_with_one_batch_number(monkeypatch):
    """A run cut by CONVSCOPE_MAX_TRAIN_SECONDS (1 s of training; its settings need far more
    on any machine: 20 epochs of 4,000 digits) says where and why in one sentence."""
    monkeypatch.setenv("CONVSCOPE_MAX_TRAIN_SECONDS", "1")
    at = start_training(cfg_images_digits=4000, cfg_epochs=20, cfg_batch=16)
    job = at.session_state[state.TRAINING]
    assert job.join(120)
    at.run()
    view = job.view()
    assert view.status == "stopped"
    expected = (
        f"Training stopped at epoch {view.epoch}, batch {view.batch}/{view.num_batches} "
        "because it reached its time limit of 1 s of training. Your model keeps the weights "
        f"of that step (held-out accuracy {view.final_accuracy:.1%})."
    )
    assert expected in _ended(at, "warning"), _ended(at, "warning")


def test_a_failed_run_ends_its_message_with_a_full_stop():
    """A message made from an error without a full stop gets one, and is not doubled."""
    failed = "Training failed: the training process ended unexpectedly (exit code -9)"
    assert sentence(failed) == failed + "."
    assert sentence("Left the training queue because its browser session closed.") == (
        "Left the training queue because its browser session closed."
    )


def test_a_certain_answer_has_a_loss_and_an_entropy_of_0_not_minus_0():
    """-ln 1 and -1 ln 1 are 0, and print as 0 (a float -0.0 would print "-0")."""
    logits = np.array([1000.0, 0.0, 0.0], dtype=np.float32)  # exp(-1000) is 0.0 in float64
    for value in (ops.cross_entropy(logits, 0), ops.entropy(ops.softmax(logits))):
        assert value == 0.0 and math.copysign(1.0, value) == 1.0
        assert f"{value:.4g}" == "0" and f"{value:.3f}" == "0.000"


def test_the_dense_page_at_the_lowest_temperature_shows_no_minus_0():
    """At T = 0.1 the predicted class is certain: its cross-entropy and the entropy show 0."""
    at = open_page("app_pages/page_dense.py", digit=7)
    at.slider(key="softmax_temperature").set_value(0.1).run()
    text = _text(at) + "\n".join(m.value for m in at.latex)
    assert not at.exception, at.exception
    assert "-0 " not in text and "-0.000" not in text and "**-0**" not in text
