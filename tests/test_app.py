"""AppTest: the app and every page, with the default model, an empty input and a picked digit;
training from the sidebar; two sessions stay isolated."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import load_default_model, ops
from cnn_core.checkpoint import DEFAULT_MODEL_PATH, load_checkpoint
from cnn_core.data import load_bundled
from tests.conftest import (
    app_session,
    live_markup,
    open_page,
    start_training,
    train_to_end,
    wait_until,
)
from ui import pages, state

PAGES = [page.file for page in pages.PAGES]  # the page registry's order: the home page first
HOME = pages.HOME.file
TRAINING = pages.BY_SLUG["training"].file  # the one page that needs no input
TEST_INDEX = 7  # a held-out digit used as the current input


def _app() -> AppTest:
    return app_session()


def _with_input(page: str, index: int = TEST_INDEX) -> AppTest:
    """A session on ``page`` with held-out digit #index as its input."""
    return open_page(None if page == HOME else page, digit=index, check=False)


def _text(at: AppTest) -> str:
    """The page's markdown, captions, info and warning boxes, and the HTML of Draw & predict's
    live elements (its prediction and overview)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [i.value for i in at.info] + [w.value for w in at.warning]
    return "\n".join(parts + list(live_markup(at).values()))


def _expected_trace(index: int = TEST_INDEX):
    return load_default_model().trace(load_bundled().test.images[index] / np.float32(255))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_input(page):
    """Each page runs without an exception on the default model before any input exists."""
    at = _app().run()
    if page != HOME:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    if page not in (HOME, TRAINING):
        assert "There is no input yet" in _text(at)


def test_home_prompts_for_a_drawing_and_shows_the_model_card():
    """With an empty canvas the home page prompts, predicts nothing and shows the model card."""
    at = _app().run()
    assert "Draw a digit in the black square" in _text(at)
    assert "predicted with probability" not in _text(at)
    card = "\n".join(m.value for m in at.sidebar.markdown)
    assert "the default model" in card and "9,098 parameters" in card


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_with_an_input(page):
    """Each page runs without an exception on a held-out digit and names the prediction."""
    at = _with_input(page)
    assert not at.exception, at.exception
    trace = _expected_trace()
    if page == HOME:  # the home page: the class in large type, then its probability
        p = trace.probabilities[trace.prediction]
        assert f"'>{trace.prediction}</div>" in _text(at)
        assert f"predicted with probability <strong>{p:.1%}</strong>" in _text(at)
    elif page != TRAINING:
        assert f"prediction **{trace.prediction}**" in _text(at)


def test_gallery_pick_gives_a_prediction():
    """Pressing 'Use digit 0' in the gallery makes that digit the input and shows its prediction."""
    at = _app()
    at.session_state["draw_input_tab"] = "Pick a sample"  # only the open tab's content runs
    at.run()
    at.button(key="gallery_use_0").click().run()
    trace = _expected_trace(0)
    p = trace.probabilities[trace.prediction]
    assert f"predicted with probability <strong>{p:.1%}</strong>" in _text(at)
    assert at.session_state[state.INPUT_SOURCE].startswith("held-out digit #0")


def test_convolution_page_shows_pytorchs_value():
    """The conv page's value for the chosen cell is the traced conv1 output, difference shown."""
    at = _with_input(pages.BY_SLUG["convolution"].file)
    at.slider(key="conv_row").set_value(10).run()
    at.slider(key="conv_col").set_value(12).run()
    value = _expected_trace().stage("conv1").output[0, 10, 12]
    assert f"PyTorch computed **{value:.6f}**" in _text(at)


def test_dense_page_logit_and_softmax_numbers_equal_the_trace():
    """The dense page shows the traced logit of the chosen class and the cross-entropy."""
    at = _with_input(pages.BY_SLUG["dense"].file)
    trace = _expected_trace()
    at.selectbox(key="dense_class").set_value(3).run()
    assert f"PyTorch's logit: **{trace.logits[3]:.5f}**" in _text(at)
    at.selectbox(key="softmax_label").set_value(trace.prediction).run()
    loss = ops.cross_entropy(trace.logits, trace.prediction)  # -log p[label], from the logits
    assert f"**{loss:.4g}**" in _text(at)


def _start(**widgets) -> AppTest:
    """A fresh session with the sidebar's training settings set, then Train pressed (the run
    goes on in its background job)."""
    return start_training(**widgets)


def _train(**widgets) -> AppTest:
    """_start, then wait for the run's job to end and run the script again (AppTest never
    fires the polling fragment's timer)."""
    return train_to_end(**widgets)


def test_training_one_short_epoch_updates_the_model_card():
    """Training 1 epoch on 200 digits gives this session its own model; the card shows it."""
    at = _train()
    assert not at.exception, at.exception
    assert any("Training finished" in s.value for s in at.success)
    info = at.session_state[state.MODEL]
    assert not info.is_default and "200 images" in info.trained_on
    card = _app()  # a session that starts with that model shows it on the model card
    card.session_state[state.MODEL] = info
    card.run()
    text = "\n".join(m.value for m in card.sidebar.markdown)
    assert "your own model" in text and "200 images" in text
    assert f"{info.test_accuracy:.1%}" in text


def test_two_sessions_are_isolated():
    """One session trains; the other still has the default model and the same prediction."""
    other = _with_input(HOME)
    before = other.session_state[state.INPUT].copy()
    trainer = _train()
    assert not trainer.session_state[state.MODEL].is_default
    other.run()
    assert np.array_equal(other.session_state[state.INPUT], before)
    p = _expected_trace().probabilities
    assert f"predicted with probability <strong>{p.max():.1%}</strong>" in _text(other)
    assert state.MODEL not in other.session_state or other.session_state[state.MODEL] is None
    # the shared default model still holds the weights of its file (training worked on a copy)
    on_disk, _ = load_checkpoint(DEFAULT_MODEL_PATH)
    assert load_default_model().fingerprint() == on_disk.fingerprint()


def test_diverging_learning_rate_is_reported_and_rolled_back():
    """Adam at learning rate 10 diverges; the page says so and the previous model is kept."""
    at = _train(cfg_optimizer="adam", cfg_lr=10.0)
    assert any("Training diverged" in e.value for e in at.error), [e.value for e in at.error]
    info = at.session_state[state.MODEL] if state.MODEL in at.session_state else None  # noqa: SIM401
    assert info is None or np.isfinite(info.model.layer_weights("conv1")).all()


def test_stop_keeps_the_weights_of_the_last_step_and_says_so():
    """A long run, paused, then Stop: the page says where it stopped and the session's model
    holds the weights of the last step (the copy published when it paused)."""
    at = _app().run()
    at.session_state["cfg_epochs"] = 20
    at.sidebar.button(key="train_button").click()
    at.run()
    job = at.session_state[state.TRAINING]
    job.pause()
    _wait(lambda: job.status == "paused")
    held = job.view()
    at.run()
    at.sidebar.button(key="stop_button").click().run()
    assert job.join(120)
    at.run()
    warnings = [w.value for w in at.warning]
    where = f"Training stopped at epoch {held.epoch}, batch {held.batch}/{held.num_batches}."
    assert any(where in w for w in warnings), warnings
    live, _, _ = job.live_model()
    assert at.session_state[state.MODEL].model.fingerprint() == live.fingerprint()


def _wait(condition, seconds: float = 120) -> None:
    """Poll until condition() holds (a state the job reaches at any speed)."""
    wait_until(condition, seconds)
