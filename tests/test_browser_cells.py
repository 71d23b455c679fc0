"""Chromium: clicking a cell of a map picks it. A click on the pooled map moves the chosen
window; a click on an occlusion map shows that patch's drop in probability, the value
cnn_core.attribution.occlusion gives; the share link then made reopens the page on that patch
in a fresh browser. Every wait is for something the page shows, never for a length of time."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from cnn_core import attribution, load_default_model
from tests.conftest import VIEWPORT, held_out_digit
from ui import links

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT = 60_000  # ms
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]');
}"""
# The page coordinates of data point (x, y) on a Plotly chart's first axes.
POINT_JS = """([el, x, y]) => {
  const L = el._fullLayout, box = el.getBoundingClientRect();
  return [box.left + L.xaxis._offset + L.xaxis.l2p(x), box.top + L.yaxis._offset + L.yaxis.l2p(y)];
}"""
OCCLUSION = {"attr_class": 7, "attr_compare": False, "attr_patch": 4, "attr_stride": 2}
OCCLUSION |= {"attr_method": "Occlusion"}  # the link opens the page on the occlusion tab


def _open(context, url: str, slug: str, settings: dict):
    """A new tab on page ``slug`` through a link: held-out digit #7 as input, ``settings``."""
    params = links.encode(slug, held_out_digit(), settings)
    page = context.new_page()
    page.goto(f"{url}/{slug}?{urlencode(params)}")
    return page


def _shown(page, text: str) -> None:
    """Wait until ``text`` is on the page, then until its run has finished."""
    page.get_by_text(text).first.wait_for(timeout=WAIT)
    page.wait_for_function(SETTLED_JS, polling=50, timeout=WAIT)


def _click_cell(page, key: str, x: float, y: float) -> None:
    """Click the Plotly chart with this key at data point (x, y)."""
    chart = page.locator(f".st-key-{key} .js-plotly-plot").first
    chart.scroll_into_view_if_needed(timeout=WAIT)
    chart.locator("g.hm image").first.wait_for(timeout=WAIT)
    px, py = page.evaluate(POINT_JS, [chart.element_handle(), x, y])
    page.mouse.click(px, py)


def test_clicking_a_cell_of_the_pooled_map_moves_the_window(context, url):
    """The pooled map of pool1 starts on cell (7, 7); a click on its cell (2, 3) moves the
    chosen window to input rows 4-5 and columns 6-7, and the sliders follow."""
    page = _open(context, url, "pooling", {})
    _shown(page, "The window of output cell (7, 7) covers")
    _click_cell(page, "pool_after_14x14", 3, 2)  # x is the column, y the row
    _shown(page, "The window of output cell (2, 3) covers input rows 4–5 and columns 6–7")
    for key, value in (("pool_row", "2"), ("pool_col", "3")):  # the sliders follow
        thumb = page.locator(f".st-key-{key} [data-testid='stSliderThumbValue']")
        assert thumb.inner_text() == value, key
    assert page.get_by_text("sees input rows 4-5, columns 6-7").count() == 0  # pool1: 4x4 field
    assert page.get_by_text("sees input rows 3-6, columns 5-8").count() == 1
    assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()


def test_a_click_on_an_occlusion_map_shows_its_value_and_the_link_keeps_it(browser, context, url):
    """A click on patch (4, 9) of the occlusion map shows the drop in p that
    attribution.occlusion computes for it; the share link made then reopens on that patch."""
    page = _open(context, url, "attribution", OCCLUSION)
    _shown(page, "Covering patch (6, 6)")
    row, col, (patch, stride) = 4, 9, (OCCLUSION["attr_patch"], OCCLUSION["attr_stride"])
    centre = (patch - 1) / 2  # view.Placement.patches: a patch's cell sits at its centre
    _click_cell(page, "attr_occlusion_0", centre + col * stride, centre + row * stride)
    drop = attribution.occlusion(load_default_model(), held_out_digit(), 7, patch, stride)
    value = f"{float(drop[row, col]):+.4f}"
    value = "+0.0000" if value == "-0.0000" else value
    _shown(page, f"Covering patch ({row}, {col}), rows 8–11 and columns 18–21")
    assert f"a drop of {value} (the map's cell ({row}, {col}))" in page.inner_text("body")

    page.get_by_test_id("stSidebarUserContent").get_by_text("Share this view").click()
    link = page.get_by_test_id("stSidebarUserContent").get_by_test_id("stCode").inner_text()
    assert f"attr_occ_row={row}" in link and f"attr_occ_col={col}" in link
    fresh = browser.new_context(viewport=VIEWPORT)
    try:
        other = fresh.new_page()
        other.goto(link.strip())
        _shown(other, f"Covering patch ({row}, {col}), rows 8–11 and columns 18–21")
        assert other.locator(ERRORS).count() == 0, other.locator(ERRORS).all_inner_texts()
    finally:
        fresh.close()
