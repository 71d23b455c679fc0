"""Chromium as a phone (390x844, touch, mobile): a digit drawn with touch events on the canvas
(streamlit-drawable-canvas: fabric.js in an iframe) is read, and no page scrolls sideways as a
whole. Touches go through the DevTools protocol, as a finger's would."""

from __future__ import annotations

import pytest

from bench.common import PAGES
from tests import a11y

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
PHONE = {"width": 390, "height": 844}


def _touch_stroke(page, points) -> None:
    """One finger: down at the first point of the canvas, through the rest, up."""
    box = page.locator("canvas").first.bounding_box()
    xy = [{"x": box["x"] + x, "y": box["y"] + y} for x, y in points]
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [xy[0]]})
    for point in xy[1:]:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()


def _open_page(page, title: str) -> None:
    """Open the sidebar with a tap, tap the page's link, then close the sidebar again (it
    stays open over the page on a phone)."""
    page.get_by_test_id("stExpandSidebarButton").tap()
    nav = page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name=title, exact=True).tap()
    a11y.heading(page, title).wait_for(timeout=a11y.WAIT)
    page.get_by_test_id("stSidebarCollapseButton").get_by_role("button").tap()
    page.get_by_test_id("stExpandSidebarButton").wait_for(timeout=a11y.WAIT)
    a11y.settle(page)


def test_touch_drawing_predicts_and_no_page_scrolls_sideways(browser, app_url):
    """A vertical stroke drawn with touch events becomes "your drawing" and is read as a 1; on
    every page, with that input, the document is no wider than the 390 px screen."""
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(app_url)
        page.locator("canvas").first.wait_for(timeout=a11y.WAIT)
        page.locator("canvas").first.scroll_into_view_if_needed()
        _touch_stroke(page, [(140, 50 + 9 * k) for k in range(21)])
        page.get_by_text("Current input: your drawing").wait_for(timeout=a11y.WAIT)
        assert page.locator(".cs-prediction").inner_text().strip() == "1"
        wide = {}
        for title, _ in PAGES:
            if title != PAGES[0][0]:
                _open_page(page, title)
            a11y.settle(page)
            if not page.evaluate(a11y.NO_SIDEWAYS_SCROLL):
                wide[title] = page.evaluate(a11y.WIDEST)
        assert not wide, wide
    finally:
        context.close()
