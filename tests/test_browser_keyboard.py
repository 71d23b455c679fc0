"""Chromium, keyboard only: one whole lesson with Tab, Enter, Space and the arrow keys. Make a
digit on the Keyboard grid, read the prediction, open Convolution, step an output cell,
train one short run. No mouse, no clicks; every wait is for something the page shows."""

from __future__ import annotations

import re

import pytest

from tests import a11y

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
MAX_TABS = 400  # Tab presses to reach any element of a page (the sidebar comes first)
# The element that has the keyboard focus, also inside a component's shadow root.
FOCUSED = """() => { let a = document.activeElement;
  while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
  return a; }"""


def _focused_is(page, test: str) -> bool:
    """Whether the focused element ``a`` passes the JavaScript expression ``test``."""
    return page.evaluate(f"() => {{ const a = ({FOCUSED})(); return !!a && ({test}); }}")


def _tab_to(page, test: str) -> None:
    """Press Tab until the focused element passes ``test`` (a JavaScript expression of ``a``)."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if _focused_is(page, test):
            return
    raise AssertionError(f"no element passing {test!r} in {MAX_TABS} Tab presses")


def _press(page, key: str, times: int = 1) -> None:
    for _ in range(times):
        page.keyboard.press(key)


def _slider_is(label: str) -> str:
    return f"a.tagName === 'INPUT' && (a.getAttribute('aria-label') || '').includes({label!r})"


def _slider_down_to(page, label: str, lowest: int) -> None:
    """Tab to the slider ``label`` and press ArrowLeft until it shows ``lowest``."""
    _tab_to(page, _slider_is(label))
    for _ in range(200):
        if _focused_is(page, f"String(a.value) === '{lowest}'"):
            return
        page.keyboard.press("ArrowLeft")
    raise AssertionError(f"{label} never reached {lowest}")


def _make_a_one(page) -> None:
    """On the home page: Keyboard (the ways to make an input are one radio group: Tab reaches
    the chosen one, the arrow keys the others), then a vertical bar of ten inked cells, then
    Enter."""
    _tab_to(page, "a.getAttribute('role') === 'radio' && a.innerText.trim() === 'Draw'")
    _press(page, "ArrowRight", 3)
    assert _focused_is(page, "a.innerText.trim() === 'Keyboard'")
    _press(page, "Enter")  # chooses it: the grid replaces the canvas
    page.locator(".kd-cell").first.wait_for(timeout=a11y.WAIT)
    _tab_to(page, "a.classList.contains('kd-cell')")  # the grid's one tab stop: row 1, col 1
    _press(page, "ArrowRight", 6)
    _press(page, "ArrowDown", 2)
    for _ in range(10):  # rows 3-12 of column 7
        _press(page, "Space")
        _press(page, "ArrowDown")
    _press(page, "Enter")


def _train_one_short_run(page) -> None:
    """In the sidebar: Optimisation opened, 200 training images, 1 epoch, Train; waits for the
    end of the run."""
    _tab_to(page, "a.tagName === 'SUMMARY' && a.innerText.includes('Optimisation')")
    _press(page, "Enter")
    _slider_down_to(page, "Training images", 200)
    _slider_down_to(page, "Epochs", 1)
    _tab_to(page, "a.tagName === 'BUTTON' && a.innerText.trim() === 'Train'")
    _press(page, "Enter")
    page.get_by_text("Training finished").first.wait_for(timeout=a11y.WAIT)


def test_a_whole_lesson_with_the_keyboard_only(browser, app_url):
    """Keyboard only: a 1 keyed into the grid is read as a 1; the Convolution page opens from
    the navigation with Enter; ArrowRight on "Output column" steps the output cell one column
    right; a short run trains from the sidebar to "Training finished"."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(app_url)
        page.locator("canvas").first.wait_for(timeout=a11y.WAIT)
        _make_a_one(page)
        page.get_by_text("Current input: your keyboard drawing").wait_for(timeout=a11y.WAIT)
        assert page.locator(".cs-prediction").inner_text().strip() == "1"

        _tab_to(page, "a.tagName === 'A' && /\\/convolution$/.test(a.getAttribute('href'))")
        _press(page, "Enter")
        cell = page.get_by_text(re.compile(r"^Output cell \(\d+, \d+, \d+\) step by step$"))
        cell.wait_for(timeout=a11y.WAIT)
        before = [int(n) for n in re.findall(r"\d+", cell.inner_text())]
        _tab_to(page, _slider_is("Output column"))
        _press(page, "ArrowRight")
        stepped = f"Output cell ({before[0]}, {before[1]}, {before[2] + 1}) step by step"
        page.get_by_text(stepped, exact=True).wait_for(timeout=a11y.WAIT)

        _train_one_short_run(page)
        assert "your own model" in page.get_by_test_id("stSidebar").inner_text()
    finally:
        context.close()
