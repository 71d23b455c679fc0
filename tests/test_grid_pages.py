"""AppTest for what the stage pages ask their grids and formulas to show: the average-pooling
formula adds plain numbers (it once printed '\\+' between them), and every grid that prints its
numbers on a stage page prints them at 14 px or more."""

from __future__ import annotations

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import load_default_model, toy, toy_steps
from tests.test_page_stages import _image, _open

POOL = "app_pages/page_pooling.py"


def _mean_formula(at: AppTest) -> str:
    """The one formula of the page that is a mean (AppTest gives it between $$ lines)."""
    found = [x.value.strip("$\n") for x in at.latex if r"\tfrac{1}" in x.value]
    assert len(found) == 1, [x.value for x in at.latex]
    return found[0]


def test_average_pooling_formula_adds_the_window_numbers():
    """Average pooling of the model's map: out[r, c] = 1/4 (a + b + c + d) with the window's
    numbers joined by plain plus signs, and the value is their mean."""
    at = _open(POOL, pool_mode="avg", pool_row=6, pool_col=8, pool_channel=2)
    maps = load_default_model().trace(_image()).input_of("pool1")[2]
    window = maps[12:14, 16:18].ravel()
    terms = " + ".join(f"{v:.3g}" if v >= 0 else f"({v:.3g})" for v in window)
    expected = rf"\text{{out}}[6,8] = \tfrac{{1}}{{4}}({terms}) = {window.mean():.4f}"
    assert _mean_formula(at) == expected


def test_average_pooling_formula_on_the_toy_puts_negative_numbers_in_brackets():
    """On the toy conv map with an edge kernel (negative numbers in the window) a negative term
    is bracketed, so no '+ -' appears, and no command KaTeX does not know ('\\+')."""
    edge = "-1 0 1\n-1 0 1\n-1 0 1"
    at = _open(POOL, pool_source="toy", pool_mode="avg", pool_row=0, pool_col=1,
               pool_toy_kernel=edge)  # fmt: skip
    kernel = np.array([[-1, 0, 1]] * 3, np.float32)
    window = toy_steps.toy_conv_map(toy.TOY_IMAGE, kernel)[0:2, 2:4].ravel()
    assert (window < 0).any() and (window >= 0).any()
    terms = " + ".join(f"{v:.3g}" if v >= 0 else f"({v:.3g})" for v in window)
    assert _mean_formula(at) == (
        rf"\text{{out}}[0,1] = \tfrac{{1}}{{4}}({terms}) = {window.mean():.4f}"
    )


def _grid_fonts(at: AppTest) -> dict[str, float]:
    """The cell-text font size of every chart on the page that prints numbers in its cells."""
    found = {}
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            if trace.get("type") == "heatmap" and trace.get("texttemplate"):
                found[chart.proto.id] = trace.get("textfont", {}).get("size", 12)
    return found


@pytest.mark.parametrize(
    ("page", "preset"),
    [
        (POOL, {}),
        (POOL, {"pool_source": "toy"}),
        ("app_pages/page_activation.py", {"act_source": "toy"}),
        ("app_pages/page_activation.py", {"act_layer": "act2"}),
        ("app_pages/page_flatten.py", {}),
        ("app_pages/page_dense.py", {"dense_source": "toy"}),
    ],
)
def test_grid_numbers_on_the_stage_pages_are_14_px(page, preset):
    """Every grid that prints its numbers on a stage page (model and toy) uses 14 px or more."""
    fonts = _grid_fonts(_open(page, **preset))
    assert fonts, "the page shows no grid with numbers"
    assert all(size >= 14 for size in fonts.values()), fonts
