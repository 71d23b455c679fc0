"""Clearing the drawing canvas. ui/canvas.py reports a canvas without strokes as no image; the home
page (app_pages/page_draw.py) then drops the drawn input, but only when this visit's canvas had
shown a stroke (a canvas freshly mounted after a page switch reports nothing at first) and only
when the input is still the drawing (a picked sample stays).

The browser component is replaced by a stand-in that returns what a canvas sends: its drawing as
fabric JSON and its image as PNG bytes."""

from __future__ import annotations

import binascii
import io
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import app_session, live_markup
from ui import state

STROKE = {"version": "4.4.0", "objects": [{"type": "path", "stroke": "#FFFFFF"}]}
EMPTY = {"version": "4.4.0", "objects": []}


def _png_of_a_one() -> tuple[np.ndarray, bytes]:
    """A 280x280 opaque black RGBA canvas with one white vertical stroke, and its PNG bytes."""
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[40:240, 128:152, :3] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    return rgba, buffer.getvalue()


class _Result:
    """What st_canvas returns: ``json_data`` and ``image_bytes`` (which may raise)."""

    def __init__(self, json_data, image):
        self.json_data = json_data
        self._image = image

    @property
    def image_bytes(self):
        if isinstance(self._image, Exception):
            raise self._image
        return self._image


class FakeCanvas:
    """Stands in for st_canvas: returns ``drawing`` and ``image`` as the browser sent them; in an
    app run it also holds the widget's session key, as the real component does."""

    def __init__(self, drawing=None, image=None, in_app: bool = False):
        self.drawing, self.image, self.in_app = drawing, image, in_app
        self.calls = 0

    def __call__(self, *, key, **_options):
        self.calls += 1
        if self.in_app:
            import streamlit as st

            st.session_state[key] = self.drawing
        return _Result(self.drawing, self.image)


@pytest.fixture(scope="module")
def canvas_module():
    """ui.canvas as the app imports it: its component registers only inside a Streamlit
    runtime, so one app run imports it first."""
    if "ui.canvas" not in sys.modules:
        app_session().run()
    return sys.modules["ui.canvas"]


# ----------------------------------------------------------------------------------------------
# ui/canvas.py: what the canvas reports


def test_a_canvas_without_strokes_reports_no_image(canvas_module, monkeypatch):
    """No stroke objects (a cleared canvas, or none sent yet) gives (None, None) even when the
    component still holds image bytes."""
    _, png = _png_of_a_one()
    for drawing in (EMPTY, None, {"objects": None}):
        monkeypatch.setattr(canvas_module, "st_canvas", FakeCanvas(drawing, png))
        assert canvas_module.drawing_canvas("c", 20) == (None, None)


def test_a_canvas_with_a_stroke_reports_its_decoded_image_and_drawing(canvas_module, monkeypatch):
    """A stroke and its PNG give the (H, W, 4) uint8 pixels of that PNG and the fabric JSON."""
    rgba, png = _png_of_a_one()
    monkeypatch.setattr(canvas_module, "st_canvas", FakeCanvas(STROKE, png))
    image, drawing = canvas_module.drawing_canvas("c", 20)
    assert image.dtype == np.uint8 and image.shape == (280, 280, 4)
    np.testing.assert_array_equal(image, rgba)
    assert drawing == STROKE


def test_a_stroke_before_the_image_arrives_reports_nothing_yet(canvas_module, monkeypatch):
    """Strokes but no image bytes yet (the first send) give (None, None), not an error."""
    monkeypatch.setattr(canvas_module, "st_canvas", FakeCanvas(STROKE, None))
    assert canvas_module.drawing_canvas("c", 20) == (None, None)


@pytest.mark.parametrize(
    ("image", "words"),
    [
        (binascii.Error("Incorrect padding"), "did not send a valid image"),
        (ValueError("not a data URL"), "did not send a valid image"),
        (b"GIF89a" + bytes(64), "refused"),
    ],
)
def test_a_bad_canvas_image_is_a_canvas_error(canvas_module, monkeypatch, image, words):
    """Bytes that do not decode, or that are not a PNG, raise CanvasImageError with a reason."""
    monkeypatch.setattr(canvas_module, "st_canvas", FakeCanvas(STROKE, image))
    with pytest.raises(canvas_module.CanvasImageError, match=words):
        canvas_module.drawing_canvas("c", 20)


# ----------------------------------------------------------------------------------------------
# The home page: clearing the canvas clears the drawn input


@pytest.fixture
def fake_canvas(canvas_module, monkeypatch):
    """The app's canvas replaced by a FakeCanvas that starts empty; set its ``drawing`` and
    ``image`` between runs as a learner's strokes would."""
    fake = FakeCanvas(EMPTY, None, in_app=True)
    monkeypatch.setattr(canvas_module, "st_canvas", fake)
    return fake


def _draw(fake: FakeCanvas) -> None:
    """The learner draws a 1 on the canvas."""
    fake.drawing, fake.image = STROKE, _png_of_a_one()[1]


def _clear(fake: FakeCanvas) -> None:
    """The learner presses the toolbar's clear button."""
    fake.drawing, fake.image = EMPTY, None


def test_clearing_the_canvas_clears_the_drawn_input(fake_canvas):
    """A stroke becomes the input ('your drawing', predicted 1); clearing the canvas then drops
    the input and the kept drawing, and the page prompts for a new one."""
    at = app_session()
    _draw(fake_canvas)
    at.run()
    assert not at.exception, at.exception
    assert fake_canvas.calls >= 1
    assert at.session_state[state.INPUT_SOURCE] == "your drawing"
    assert at.session_state[state.INPUT] is not None
    assert at.session_state[state.CANVAS_DRAWING] == STROKE
    _clear(fake_canvas)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[state.INPUT] is None and at.session_state[state.INPUT_SOURCE] == ""
    assert at.session_state[state.CANVAS_DRAWING] is None
    assert "Draw a digit in the black square" in live_markup(at)["draw_result"]


def test_a_stroke_holds_live_reruns_and_a_canvas_unchanged_does_not(fake_canvas):
    """A stroke that changes the input, and a clear, mark the learner as drawing (ui/live.py
    then holds live reruns for new weights until a pause); a run in which the canvas sends
    the same drawing again does not."""
    at = app_session()
    at.run()
    assert state.LAST_STROKE_AT not in at.session_state  # nothing drawn yet
    _draw(fake_canvas)
    at.run()
    first = at.session_state[state.LAST_STROKE_AT]
    assert first is not None
    at.run()  # the same drawing again
    assert at.session_state[state.LAST_STROKE_AT] == first
    _clear(fake_canvas)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[state.LAST_STROKE_AT] > first


def test_a_fresh_canvas_that_reports_nothing_keeps_the_drawn_input(fake_canvas):
    """A canvas mounted for a new visit reports no strokes before it redraws the kept drawing:
    that is not a clear, so the drawn input and the kept drawing stay."""
    image = np.zeros((28, 28), np.float32)
    image[4:24, 13:15] = 1.0
    kept = {state.CANVAS_DRAWING: STROKE}
    at = app_session(image=image, source="your drawing", settings=kept)
    at.run()
    at.run()
    assert not at.exception, at.exception
    np.testing.assert_array_equal(at.session_state[state.INPUT], image)
    assert at.session_state[state.INPUT_SOURCE] == "your drawing"
    assert at.session_state[state.CANVAS_DRAWING] == STROKE


def test_clearing_the_canvas_keeps_a_sample_picked_after_drawing(fake_canvas):
    """Draw, then pick a sample from the gallery, then clear the canvas: the sample stays the
    input, since the canvas no longer holds the input."""
    at = app_session()
    _draw(fake_canvas)
    at.run()
    at.session_state["draw_input_tab"] = "Pick a sample"  # only the open tab's content runs
    at.run()
    at.button(key="gallery_use_0").click().run()
    assert at.session_state[state.INPUT_SOURCE].startswith("held-out digit #0")
    picked = at.session_state[state.INPUT].copy()
    at.session_state["draw_input_tab"] = "Draw"
    _clear(fake_canvas)
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[state.INPUT_SOURCE].startswith("held-out digit #0")
    np.testing.assert_array_equal(at.session_state[state.INPUT], picked)
