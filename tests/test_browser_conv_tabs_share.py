"""Chromium: the Convolution page keeps the learner on the tab they acted in ("Use in the model",
a further edit, "Restore learned filter"); a link made on the Toy playground reopens on that tab
in a fresh browser; "Share this view" is in sight at 1400x900 without scrolling. Every wait is for
something the page shows, then for the run in front of the learner to have finished."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pytest

from cnn_core.data import load_bundled
from tests.conftest import VIEWPORT
from ui import links

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT = 60_000  # ms
# The run in front of the learner has finished and nothing on the page is left over from before.
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]');
}"""
SCROLLED_JS = """() => Math.max(window.scrollY, ...[...document.querySelectorAll('*')]
  .filter((e) => e.scrollHeight > e.clientHeight).map((e) => e.scrollTop))"""


def _conv_page(context, url: str):
    """The Convolution page in a new tab, a held-out digit as input (through a link)."""
    digit = load_bundled().test.images[7] / np.float32(255)
    page = context.new_page()
    page.goto(f"{url}/convolution?{urlencode(links.encode('convolution', digit, {}))}")
    page.get_by_role("tab", name="Kernel editor").wait_for(timeout=WAIT)
    _settle(page)
    return page


def _settle(page) -> None:
    page.wait_for_function(SETTLED_JS, polling=50, timeout=WAIT)


def _shown(page, text: str) -> None:
    """Wait until ``text`` is on the page, then until its run has finished."""
    page.get_by_text(text).first.wait_for(timeout=WAIT)
    _settle(page)


def _open_tab(page) -> str:
    return page.get_by_role("tab", selected=True).inner_text().strip()


def _assert_on_the_editor_with_the_comparison(page) -> None:
    assert _open_tab(page) == "Kernel editor"
    assert page.get_by_role("button", name="Restore learned filter").is_visible()
    assert page.get_by_text("Prediction with the learned filter").is_visible()


def test_use_in_the_model_and_a_further_edit_stay_on_the_kernel_editor(context, url):
    """In Chromium, 'Use in the model', a further kernel edit and 'Restore learned filter' each
    leave the learner on the Kernel editor tab."""
    page = _conv_page(context, url)
    page.get_by_role("tab", name="Kernel editor").click()
    page.get_by_role("button", name="Use in the model").click()
    _shown(page, "Filter 0 of conv1 is now your kernel")
    _assert_on_the_editor_with_the_comparison(page)

    kernel = page.get_by_role("textbox", name="Kernel (one row per line; edit any number)")
    kernel.fill("\n".join(["0 0 1 0 0"] * 5))  # a 5x5 kernel: a new preview, the edit stays
    kernel.press("Control+Enter")
    _shown(page, "kernel 5x5")
    _assert_on_the_editor_with_the_comparison(page)

    page.get_by_role("button", name="Restore learned filter").click()
    _shown(page, "The learned filter is back.")
    assert _open_tab(page) == "Kernel editor"
    assert page.get_by_text("This kernel cannot replace a filter of conv1").is_visible()


def _share_control(page):
    return page.get_by_test_id("stSidebarUserContent").get_by_text("Share this view")


def test_a_link_made_on_the_toy_playground_reopens_on_it(browser, context, url):
    """A share link copied on the Toy playground with stride 2 opens a fresh browser on that tab
    with the same 3x3 output."""
    page = _conv_page(context, url)
    page.get_by_role("tab", name="Toy playground").click()
    stride = page.get_by_role("spinbutton", name="Stride", exact=True)
    stride.fill("2")
    stride.press("Enter")
    _shown(page, "The output is 3x3")
    _share_control(page).click()
    link = page.get_by_test_id("stSidebarUserContent").get_by_test_id("stCode").inner_text()
    assert "conv_tab=toy" in link and "conv_toy_stride=2" in link

    fresh = browser.new_context(viewport=VIEWPORT)
    try:
        other = fresh.new_page()
        other.goto(link.strip())
        _shown(other, "The output is 3x3")
        assert _open_tab(other) == "Toy playground"
        assert other.get_by_text("The output is 3x3").is_visible()
        assert other.get_by_test_id("stException").count() == 0
    finally:
        fresh.close()


@pytest.mark.parametrize("path", ["", "/convolution", "/training?mode=class"])
def test_share_this_view_is_in_sight_without_scrolling(context, url, path):
    """On the first screen at 1400x900 (a class link too), without scrolling anything."""
    page = context.new_page()
    page.goto(url + path)
    control = _share_control(page)
    control.wait_for(timeout=WAIT)
    _settle(page)
    assert page.evaluate(SCROLLED_JS) == 0
    box = control.bounding_box()
    assert box is not None and control.is_visible()
    assert box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], box
