"""ui.state's one trace cache: pages that trace more than the current input (the pooling page's
shift experiment, the training page's epoch scrubber, the conv page's filter edit) trace each
(weights, input) pair once, not on every rerun."""

import pytest

from cnn_core import CNN
from tests.conftest import HELD_OUT_INDEX, open_page
from ui import state


@pytest.fixture
def traced(monkeypatch):
    """A list that gets one entry per CNN.trace call made from now on."""
    calls, trace = [], CNN.trace

    def counting(self, image):
        calls.append(image)
        return trace(self, image)

    monkeypatch.setattr(CNN, "trace", counting)
    return calls


def test_shift_experiment_traces_once_per_direction(traced):
    """The pooling page traces the moved input once: a rerun traces nothing, a new direction
    traces only its moved input, and going back to the first direction traces nothing."""
    at = open_page("app_pages/page_pooling.py", digit=HELD_OUT_INDEX)
    traced.clear()
    at.run()
    assert traced == []
    at.radio(key="pool_shift").set_value("down").run()
    assert len(traced) == 1
    at.radio(key="pool_shift").set_value("right").run()
    assert len(traced) == 1, "the first direction's moved input was traced again"
    assert len(at.session_state[state.TRACES]) <= state.TRACE_CACHE_SIZE


def test_epoch_scrubber_traces_each_snapshot_once(traced):
    """The training page's scrubber traces the input by an epoch's weights once: a rerun
    traces nothing, another epoch traces once, and the first epoch again traces nothing."""
    at = open_page("app_pages/page_training.py", digit=HELD_OUT_INDEX)
    epochs = at.select_slider(key="train_epoch").options
    assert len(epochs) >= 2, "the shipped history has snapshots"
    traced.clear()
    at.run()
    assert traced == []
    last = at.select_slider(key="train_epoch").value
    at.select_slider(key="train_epoch").set_value(epochs[0]).run()
    assert len(traced) == 1
    at.select_slider(key="train_epoch").set_value(last).run()
    assert len(traced) == 1, "the last epoch's trace was not kept"
