"""Chromium checks of what only a browser shows (issue 10): a typed Flatten index outside the
vector is put back in the field itself, and "Open" on the Training page says what it did where
the learner pressed it, in view. Every wait is for something the page shows."""

from __future__ import annotations

import pytest

from tests.test_browser import _draw, _one

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT = 60_000  # ms
# The run in front of the learner has finished: script state "notRunning", nothing stale, every
# Plotly chart drawn.
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  return [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
    .every((c) => c.querySelector('.main-svg'));
}"""
SCROLLED = """() => Math.max(window.scrollY, ...[...document.querySelectorAll('*')]
  .filter((e) => e.scrollHeight > e.clientHeight).map((e) => e.scrollTop))"""


def _goto(page, link: str, heading: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=WAIT)


def _in_view(page, locator) -> bool:
    box = locator.bounding_box()
    height = page.evaluate("window.innerHeight")
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= height


def test_a_typed_index_outside_the_vector_is_replaced_in_the_field(page):
    """Type 99999 into Flatten's index: the field shows the index in use again, the note says
    why, and the formula agrees with the field."""
    _draw(page, _one())
    page.locator(".cs-prediction").wait_for(timeout=WAIT)
    _goto(page, "Flatten", "Flatten")
    field = page.get_by_label("Index i in the vector")
    field.wait_for(timeout=WAIT)
    in_use = field.input_value()
    field.fill("99999")
    field.press("Enter")
    note = f"Index i = 99999 is outside 0 to 783, so it was not used; Index i stays {in_use}."
    page.get_by_text(note).wait_for(timeout=WAIT)
    page.wait_for_function(
        "(v) => document.querySelector('input[aria-label=\"Index i in the vector\"]').value === v",
        arg=in_use,
        timeout=WAIT,
    )
    assert page.locator(".katex").filter(has_text=f"= {in_use}").count() >= 1


def test_open_on_the_training_page_says_what_it_did_in_view(page):
    """Scroll to the held-out examples, press the first Open: the sentence saying that this
    image is now the input appears in the viewport, without scrolling back up."""
    _goto(page, "Training", "Training")
    page.wait_for_function(SETTLED_JS, polling=50, timeout=WAIT)  # every chart above drawn
    main = page.get_by_test_id("stMain")  # (a select box's toggle is also a button "Open")
    button = main.locator("[class*='st-key-train_open_'] button").first
    button.scroll_into_view_if_needed()
    assert page.evaluate(SCROLLED) > 900  # well below the top of the page
    button.click()
    said = main.get_by_text("is now the current input").first
    said.wait_for(timeout=WAIT)
    assert _in_view(page, said)
