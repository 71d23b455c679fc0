"""Accessibility pieces without a browser: the keyboard grid's image, the text alternatives of
maps and probability bars, the hatched predicted bar, and the numbers tables on the home page."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_core import load_default_model, preprocess_canvas
from tests.conftest import open_page
from ui import charts, keyboard_digit

SIDE = keyboard_digit.SIDE


def _bar(rows=range(2, 12), col=6) -> str:
    """A grid string with one vertical bar of inked cells."""
    cells = np.zeros((SIDE, SIDE), int)
    cells[list(rows), col] = 1
    return "".join(map(str, cells.ravel()))


def test_grid_to_rgba_inks_exactly_the_cells_sent():
    """Each "1" becomes a white cell_px square of opaque pixels, each "0" a black one."""
    rgba = keyboard_digit.grid_to_rgba(_bar(rows=[3], col=5), cell_px=4)
    assert rgba.shape == (SIDE * 4, SIDE * 4, 4) and rgba.dtype == np.uint8
    white = np.argwhere(rgba[..., 0] == 255)
    assert (white.min(0) == [12, 20]).all() and (white.max(0) == [15, 23]).all()
    assert (rgba[..., 3] == 255).all() and len(white) == 16


@pytest.mark.parametrize("bits", ["", "2" * SIDE * SIDE, "1" * (SIDE * SIDE - 1)])
def test_grid_to_rgba_refuses_anything_but_the_grid(bits):
    """A string of the wrong length or with other characters than 0 and 1 is refused."""
    with pytest.raises(ValueError, match="0 and 1"):
        keyboard_digit.grid_to_rgba(bits)


def test_a_keyed_vertical_bar_is_read_as_a_one():
    """The grid's bar, preprocessed as a drawing is, is a 1 for the default model."""
    pre = preprocess_canvas(keyboard_digit.grid_to_rgba(_bar()))
    assert load_default_model().trace(pre.image).prediction == 1


def test_probability_alt_names_the_predicted_class_first():
    """The bars' text alternative names the most probable class and its probability."""
    text = charts.probability_alt([0.1, 0.7, 0.2], ["a", "b", "c"])
    assert "predicted class is b" in text and text.index("b 70.0%") < text.index("c 20.0%")


def test_the_predicted_bar_is_hatched_not_only_coloured():
    """Only the highlighted bar carries a pattern, so it is marked without colour."""
    bars = charts.probability_bars([0.1, 0.7, 0.2], "abc").data[0]
    assert list(bars.marker.pattern.shape) == ["", "/", ""]


def test_home_page_images_have_alt_text_and_maps_have_tables():
    """With a digit, every image of the home page has alt text naming what it shows, and every
    stage of maps has a "Numbers as a table" expander."""
    at = open_page(digit=7)
    alts = [img.alt for element in at.get("image") for img in element.proto.imgs]
    assert alts and all(alts), alts
    assert any(alt.startswith("conv1: ") and "feature maps of" in alt for alt in alts)
    tables = [e.label for e in at.expander if e.label.startswith("Numbers as a table")]
    assert len(tables) >= 3, tables
