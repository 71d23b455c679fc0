"""Clicks set through a chart's selection state in AppTest (as the browser sets it): each page's
sliders follow a new click, a slider moved later stands, the pick survives a page switch; the
receptive-field captions name attribution.receptive_field's bounds; the Dense page's spots are
the largest contributions computed here from the weights and the flattened maps."""

import re

import numpy as np
import pytest

from cnn_core import attribution, load_default_model
from tests.conftest import held_out_digit, open_page, page_text
from ui import state

POOLING = "app_pages/page_pooling.py"

POOLED = "pool_after_14x14"  # the pooled map's chart key: pool1 of the default model is 14x14
OCCLUSION_TAB = {"attr_method": "Occlusion"}  # What it looks at: the occlusion maps' tab


def _click(at, chart_key: str, *data):
    """Set a chart's selection state as a click in the browser does, and run the script."""
    points = [{"customdata": list(data), "point_index": 0}]
    at.session_state[chart_key] = {
        "selection": {"points": points, "point_indices": [0], "box": [], "lasso": []}
    }
    return at.run()


def _cell(at, keys) -> tuple[int, ...]:
    return tuple(int(at.session_state[k]) for k in keys)


@pytest.mark.parametrize(
    "page, chart, data, keys, settings",
    [
        ("app_pages/page_pooling.py", POOLED, (2, 5), ("pool_row", "pool_col"), {}),
        ("app_pages/page_activation.py", "act_after", (4, 20), ("act_row", "act_col"), {}),
        ("app_pages/page_activation.py", "act_changed", (27, 1), ("act_row", "act_col"),
         {"act_view": "Changed cells"}),  # the map is drawn on its tab
        ("app_pages/page_convolution.py", "conv_out", (0, 13), ("conv_row", "conv_col"),
         {"conv_layer": "conv2"}),
        ("app_pages/page_flatten.py", "flat_map", (6, 2), ("flat_h", "flat_w"), {}),
        ("app_pages/page_flatten.py", "flat_all_maps", (3, 2, 5), ("flat_c", "flat_h", "flat_w"),
         {"flat_pick_all": True}),  # the clickable chart of every channel is switched on
        ("app_pages/page_attribution.py", "attr_occlusion_1", (3, 9, 6, 18, 9, 21, 0.5, 0.1),
         ("attr_occ_row", "attr_occ_col"), {"attr_method": "Occlusion"}),  # drawn on its tab
    ],
)  # fmt: skip
def test_a_click_on_a_map_sets_its_sliders(page, chart, data, keys, settings):
    """A new click on a map sets the cell its sliders (or number inputs) show."""
    at = open_page(page, digit=7, settings=settings)
    expected = tuple(data[: len(keys)])
    assert _cell(at, keys) != expected
    _click(at, chart, *data)
    assert not at.exception, at.exception
    assert _cell(at, keys) == expected


def test_flatten_click_moves_the_index():
    """A click on cell (c, h, w) of the stack moves the index to c*H*W + h*W + w."""
    page = open_page("app_pages/page_flatten.py", digit=7, settings={"flat_pick_all": True})
    at = _click(page, "flat_all_maps", 3, 2, 5)
    _, h, w = load_default_model().trace(held_out_digit()).input_of("flatten").shape
    assert at.session_state["flat_index"] == 3 * h * w + 2 * w + 5


def test_a_slider_moved_after_a_click_stands_and_a_new_click_counts():
    """The chart keeps reporting its last click on every run: after a slider moves, that old
    click does not put the slider back; a click on another cell, or on the same cell after
    the selection was cleared, is applied."""
    at = _click(open_page(POOLING, digit=7), POOLED, 2, 5)
    at.slider(key="pool_row").set_value(6).run()
    assert _cell(at, ("pool_row", "pool_col")) == (6, 5)
    at.run()  # the selection state still holds (2, 5)
    assert _cell(at, ("pool_row", "pool_col")) == (6, 5)
    _click(at, POOLED, 1, 1)
    assert _cell(at, ("pool_row", "pool_col")) == (1, 1)
    at.slider(key="pool_col").set_value(4).run()
    at.session_state[POOLED] = {"selection": {"points": [], "point_indices": []}}
    at.run()  # a click on the chosen point clears Plotly's selection
    _click(at, POOLED, 1, 1)
    assert _cell(at, ("pool_row", "pool_col")) == (1, 1)


def test_a_click_shows_in_the_page_text():
    """After a click on the pooled map, the window's words name the clicked cell."""
    at = _click(open_page(POOLING, digit=7), POOLED, 3, 4)
    assert "The window of output cell (3, 4) covers input rows 6–7 and columns 8–9" in (
        page_text(at)
    )


@pytest.mark.parametrize(
    "page, chart, data, keys",
    [
        (POOLING, POOLED, (3, 4), ("pool_row", "pool_col")),
        ("app_pages/page_convolution.py", "conv_out", (2, 25), ("conv_row", "conv_col")),
        ("app_pages/page_flatten.py", "flat_all_maps", (5, 1, 6), ("flat_c", "flat_h", "flat_w")),
        ("app_pages/page_attribution.py", "attr_occlusion_0", (1, 11), ("attr_occ_row",
         "attr_occ_col")),
    ],
)  # fmt: skip
def test_a_pick_survives_a_page_switch(page, chart, data, keys):
    """A clicked cell is still the chosen one after going to another page and back (Streamlit
    drops the values of widgets a run does not draw; cell_pick.keep puts them back)."""
    shown = {"flat_all_maps": {"flat_pick_all": True}, "attr_occlusion_0": OCCLUSION_TAB}
    shown = shown.get(chart, {})  # its chart is drawn (and its tab kept over the switch)
    at = _click(open_page(page, digit=7, settings=shown), chart, *data)
    at.switch_page("app_pages/page_dense.py").run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert _cell(at, keys) == data


def _seen(at, stage: str) -> tuple[int, int, int, int]:
    """The input bounds a page's receptive-field caption names for ``stage``."""
    caption = next(c.value for c in at.caption if f"of {stage}" in c.value and "sees" in c.value)
    found = re.search(r"sees input rows? (\d+)(?:-(\d+))?, columns? (\d+)(?:-(\d+))?", caption)
    top, bottom, left, right = found.groups()
    return int(top), int(left), int(bottom or top), int(right or left)


@pytest.mark.parametrize(
    "page, settings, stage, cell",
    [
        ("app_pages/page_convolution.py", {"conv_layer": "conv2", "conv_row": 0, "conv_col": 13},
         "conv2", (0, 13)),
        ("app_pages/page_activation.py", {"act_layer": "act2", "act_row": 13, "act_col": 4},
         "act2", (13, 4)),
        (POOLING, {"pool_layer": "pool2", "pool_row": 6, "pool_col": 0}, "pool2", (6, 0)),
    ],
)  # fmt: skip
def test_field_captions_name_the_receptive_field(page, settings, stage, cell):
    """Each stage page's caption names the input rows and columns attribution.receptive_field
    gives for the chosen cell (for pooling: its window, with the model's own pooling)."""
    at = open_page(page, digit=7, settings=settings)
    config = state.default_model_info().model.config
    assert _seen(at, stage) == attribution.receptive_field(config, stage, *cell)


def test_dense_spots_are_the_largest_contributions_and_see_their_fields():
    """The Dense page's table of spots lists the largest W_k,i x_i for the chosen class,
    computed here from the dense weights and the flattened maps, with their (c, h, w) by
    np.unravel_index and the input rows and columns receptive_field gives."""
    model = load_default_model()
    trace = model.trace(held_out_digit())
    k = 3
    at = open_page(
        "app_pages/page_dense.py", digit=7, settings={"dense_class": k, "dense_spots": 4}
    )
    table = next(d.value for d in at.dataframe if "sees input" in d.value.columns)
    products = trace.stage("dense").params["weight"][k] * trace.stage("flatten").output
    order = np.argsort(-products, kind="stable")[:4]
    maps = trace.input_of("flatten")
    assert list(table["i"]) == [int(i) for i in order if products[i] > 0]
    for (_, row), i in zip(table.iterrows(), order, strict=False):
        c, h, w = np.unravel_index(i, maps.shape)
        assert row["(c, h, w)"] == f"({c}, {h}, {w})"
        top, left, bottom, right = attribution.receptive_field(model.config, "pool2", h, w)
        assert row["sees input"] == f"rows {top}-{bottom}, columns {left}-{right}"
