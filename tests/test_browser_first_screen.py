"""The mechanism first (issue 13): on every stage page, at 1400x900 after a digit is chosen, the
page's main figure (the stage working on the learner's input, marked st.container(key=
"main_figure"): the convolution step-through, the maps before and after the activation, the input
and pooled maps, the flattened vector, the dense layer's contributions) starts within the first
screen, with the page scrolled to the top; the guided tour's button and the exercises stay on the
page. One server and one browser session for the module; every wait is for a state the page
reaches, never for a length of time."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests import a11y
from tests.conftest import browser_page

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
STAGE_PAGES = ["Convolution", "Activation", "Pooling", "Flatten", "Dense & softmax"]
SCREEN = (1400, 900)  # px: width, height of the first screen
FIGURE = ".st-key-main_figure"
# Everything that can scroll the page back to its top (the window, or Streamlit's main area).
SCROLLERS = '[data-testid="stMain"], [data-testid="stAppViewContainer"]'
TO_TOP = f"""() => {{ window.scrollTo(0, 0);
  const scrollers = [...document.querySelectorAll('{SCROLLERS}')];
  for (const el of scrollers) el.scrollTop = 0;
  return window.scrollY === 0 && scrollers.every((el) => el.scrollTop === 0); }}"""


def _measure(pg, title: str) -> dict:
    """Open ``title`` from the navigation, wait for its main figure's charts to be drawn, scroll
    to the top; the figure's box, and whether the tour button and the exercises are there."""
    a11y.open_from_nav(pg, title)
    figure = pg.locator(FIGURE)
    figure.locator('[data-testid="stPlotlyChart"] .main-svg').first.wait_for(timeout=a11y.WAIT)
    a11y.settle(pg)
    pg.wait_for_function(TO_TOP, timeout=a11y.WAIT)
    main = pg.get_by_test_id("stMain")
    tour = main.get_by_role("button", name="Guided tour")
    exercises = main.get_by_test_id("stExpander").filter(has_text="Predict, then reveal")
    return {
        "count": figure.count(),
        "box": figure.first.bounding_box(),
        "tour": _count_once_there(tour),
        "exercises": _count_once_there(exercises),
    }


def _count_once_there(locator) -> int:
    """How many elements match, once the first is attached (0 if none comes within the wait):
    the end of the page may still be arriving when the figure at its top is drawn."""
    try:
        locator.first.wait_for(state="attached", timeout=a11y.WAIT)
    except PlaywrightTimeout:
        return 0
    return locator.count()


@pytest.fixture(scope="module")
def measured(browser, app_url) -> dict:
    """Choose held-out digit 4 on the home page, then visit every stage page: {title: _measure}."""
    found = {}
    with browser_page(browser, app_url, *SCREEN) as pg:
        a11y.pick_sample(pg)
        for title in STAGE_PAGES:
            found[title] = _measure(pg, title)
    return found


@pytest.mark.parametrize("title", STAGE_PAGES)
def test_main_figure_starts_on_the_first_screen(measured, title):
    """The page has one main figure, shown, and its top is within the first 900 px."""
    m = measured[title]
    assert m["count"] == 1, f"{title}: {m['count']} elements marked main_figure"
    box = m["box"]
    assert box is not None and box["height"] > 0, f"{title}: the main figure is not shown"
    assert 0 <= box["y"] < SCREEN[1], f"{title}: the main figure starts at y = {box['y']:.0f}"


@pytest.mark.parametrize("title", STAGE_PAGES)
def test_tour_and_exercises_stay_on_the_page(measured, title):
    """The guided tour's button and the 'Predict, then reveal' exercises are still there."""
    m = measured[title]
    assert m["tour"] == 1, f"{title}: no guided tour button"
    assert m["exercises"] == 1, f"{title}: no exercises section"
