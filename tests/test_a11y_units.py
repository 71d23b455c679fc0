"""Accessibility pieces without a browser: the keyboard grid's image, the text alternatives of
maps and probability bars, the hatched predicted bar, and the numbers tables on the home page."""

from __future__ import annotations

import base64
import html as html_lib
import json
import re

import numpy as np
import pytest

from cnn_core import explain, load_default_model, preprocess_canvas
from tests.conftest import (
    held_out_digit,
    live_markup,
    open_page,
    start_training,
    train_to_end,
    wait_until,
)
from ui import charts, keyboard_digit, layout, state

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
    stage of maps has its numbers as a table (one expander, the stage chosen inside)."""
    at = open_page(digit=7)
    alts = [img.alt for element in at.get("image") for img in element.proto.imgs]
    # the steps' and the overview's images are inside the HTML of the page's live elements
    html = "".join([m.value for m in at.markdown] + list(live_markup(at).values()))
    assert html.count("<img ") == len(re.findall(r"<img [^>]*alt='[^']+'", html)) > 0
    alts += [html_lib.unescape(a) for a in re.findall(r"<img [^>]*alt='([^']+)'", html)]
    assert alts and all(alts), alts
    assert any(alt.startswith("conv1: ") and "feature maps of" in alt for alt in alts)
    tables = [e.label for e in at.main.expander if e.label.startswith("Numbers as a table")]
    assert tables == ["Numbers as a table (any stage)"]  # every stage's, one at a time


# ----------------------------------------------------------------------------------------------
# The stage pages: every Plotly chart has a text alternative, every heatmap its numbers as a table

POOL = "app_pages/page_pooling.py"
STAGE_PAGES = [
    ("app_pages/page_convolution.py", {}),  # only the open tab is drawn: each tab in turn
    ("app_pages/page_convolution.py", {"conv_tab": "Kernel editor"}),
    ("app_pages/page_convolution.py", {"conv_tab": "Toy playground"}),
    ("app_pages/page_activation.py", {"act_source": "model"}),
    ("app_pages/page_activation.py", {"act_source": "model", "act_view": "Changed cells"}),
    ("app_pages/page_activation.py", {"act_source": "toy"}),
    ("app_pages/page_pooling.py", {"pool_source": "model"}),
    ("app_pages/page_pooling.py", {"pool_source": "toy"}),
    ("app_pages/page_flatten.py", {"flat_source": "model"}),
    ("app_pages/page_flatten.py", {"flat_source": "model", "flat_pick_all": True}),
    ("app_pages/page_flatten.py", {"flat_source": "toy"}),
    ("app_pages/page_dense.py", {"dense_source": "model"}),
    ("app_pages/page_dense.py", {"dense_source": "model", "dense_weights_dense_open": True}),
    ("app_pages/page_dense.py", {"dense_source": "toy"}),
    ("app_pages/page_attribution.py", {}),
]


def _heatmaps(chart) -> list[np.ndarray]:
    """The z arrays of a Plotly chart element's heatmap traces (None cells as NaN)."""
    data = json.loads(chart.proto.spec)["data"]
    return [_array(t["z"]) for t in data if t.get("type") == "heatmap"]


def _array(z) -> np.ndarray:
    """A Plotly array: a nested list, or a typed array {"dtype", "bdata" (base64), "shape"}."""
    if not isinstance(z, dict):
        return np.array(z, dtype=float)
    flat = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).astype(float)
    return flat.reshape([int(n) for n in str(z.get("shape", flat.size)).split(",")])


def _tables(at) -> list[np.ndarray]:
    """The dataframes shown in the page's "Numbers as a table" expanders, as float arrays. The
    expanders filled only while open (keyed ones, "$$ID-<hash>-<key>") are opened first, as a
    learner's clicks open them, and the page run again."""
    found = [e for e in at.expander if e.label.startswith("Numbers as a table")]
    keys = [e.proto.id.split("-", 2)[2] for e in found if e.proto.id]
    if keys:
        for key in keys:
            at.session_state[key] = True
        at.run()
        assert not at.exception, at.exception
        found = [e for e in at.expander if e.label.startswith("Numbers as a table")]
    return [df.value.to_numpy(dtype=float) for e in found for df in e.dataframe]


def _same(z: np.ndarray, table: np.ndarray) -> bool:
    z = z.reshape(1, -1) if z.ndim == 1 else z
    # atol: the attribution page's tables are rounded to 5 decimals
    return z.shape == table.shape and np.allclose(z, table, rtol=1e-5, atol=1e-5, equal_nan=True)


@pytest.mark.parametrize(("page", "settings"), STAGE_PAGES)
def test_stage_page_charts_have_alt_text_and_heatmaps_their_numbers(page, settings):
    """On each stage page (model and toy), every Plotly chart has a text alternative, and the
    first heatmap of every chart has a "Numbers as a table" expander whose dataframe holds the
    same numbers as the drawn trace (a chart of several maps: its first, the table's map 0)."""
    _assert_described(open_page(page, digit=7, settings=settings))


def _assert_described(at) -> None:
    """Every Plotly chart of the page (the sidebar's are not part of this issue's pages) has
    alt text; each chart's first heatmap has its numbers in a table."""
    charts, tables = at.main.get("plotly_chart"), _tables(at)
    assert charts
    missing = [c.proto.id or i for i, c in enumerate(charts) if not c.proto.alt.strip()]
    assert not missing, f"{len(missing)} of {len(charts)} charts without alt"
    for chart in charts:
        z = _heatmaps(chart)[:1]
        assert all(any(_same(m, t) for t in tables) for m in z), chart.proto.alt


def test_training_page_step_in_numbers_is_described():
    """A paused run stepped by one batch: the Training page's "one step of learning" grids and
    strips (and every other chart) have text alternatives and their numbers as tables."""
    from ui import state

    at = start_training("app_pages/page_training.py", cfg_epochs=20)
    job = at.session_state[state.TRAINING]
    try:
        job.pause()
        wait_until(lambda: job.status == "paused")
        assert job.step_once()
        wait_until(lambda: job.last_step is not None and job.status == "paused")
        at.run()
        assert "Numbers as a table (gradient dl/dw)" in [e.label for e in at.expander]
        _assert_described(at)
    finally:
        job.stop()
        assert job.join(60)


def test_pooling_winner_is_named_with_its_value_not_only_coloured():
    """Max pooling's winner of the chosen window is said in words with its value (★ in the text)
    and in the input map's alt text, as return_indices finds it."""
    at = open_page(POOL, digit=7, settings={"pool_row": 6, "pool_col": 8})
    view = explain.pool_what_if(load_default_model().trace(held_out_digit(7)), "pool1", 0)
    r, c = (int(v) for v in view.winners[6, 8])
    value = float(view.before[r, c])
    text = "\n".join(m.value for m in at.markdown)
    assert f"input cell **({r}, {c})** (★ star), value **{value:.5f}**" in text
    alts = [chart.proto.alt for chart in at.get("plotly_chart")]
    assert any(f"winner, input cell ({r}, {c}) = {value:.4g}, is starred" in a for a in alts), alts


def test_softmax_bars_name_the_predicted_class_in_words():
    """Dense & softmax: the hatched bar is the true label, so the predicted class (the tallest
    bar) is named in the caption and the alt text, not left to colour."""
    at = open_page("app_pages/page_dense.py", digit=7, settings={"softmax_label": 3})
    trace = load_default_model().trace(held_out_digit(7))
    p = trace.probabilities[trace.prediction]
    said = f"Predicted: **{trace.prediction} ({p:.1%}), the tallest bar**"
    assert any(said in caption.value for caption in at.caption)
    assert any("the hatched bar is the true label 3" in c.proto.alt for c in at.get("plotly_chart"))


def test_activation_page_with_batch_norm_is_described():
    """With a batch-norm model, the Activation page's norm section (before/after maps) and the
    rest of the page have text alternatives and numbers tables."""
    from tests.test_page_norm import _norm_model
    from ui import state

    names = tuple(str(d) for d in range(10))
    info = state.ModelInfo.own(_norm_model(), "test digits", None, names)
    settings = {"act_source": "model", "norm_layer": "norm2", "norm_channel": 3}
    at = open_page("app_pages/page_activation.py", digit=7, model=info, settings=settings)
    assert "Numbers as a table (after norm2)" in [e.label for e in at.expander]
    _assert_described(at)


def test_the_sidebar_curves_have_a_text_alternative_with_their_last_figures():
    """After a finished run the sidebar's curves chart has alt text naming the last epoch's
    held-out accuracy and loss (the figures the run recorded); live points are named too."""
    at = train_to_end()
    rows = at.session_state[state.TRAINING].rows
    alts = [c.proto.alt for c in at.sidebar.get("plotly_chart")]
    assert alts == [layout.curves_alt(rows)]
    assert f"{rows[-1]['test_accuracy']:.1%}" in alts[0] and f"epoch {rows[-1]['epoch']}" in alts[0]
    assert "live: 0.50 epochs done, loss 1.000" in layout.curves_alt(rows, [(0.5, 1.0, 0.25)])
