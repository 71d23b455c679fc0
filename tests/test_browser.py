"""Browser tests: Debian's Chromium draws on the real canvas of a running ConvScope."""

import math
import os

import pytest

from tests.conftest import browser_page

pytestmark = pytest.mark.browser
STROKE_STEPS = 4


@pytest.fixture
def page(browser, app_url):
    """A new browser session at 1400x1000 on the home page (taller than conftest's ``page``, so
    the prediction and the canvas are both in view), its canvas ready."""
    with browser_page(browser, app_url, height=1000) as pg:
        yield pg


def _draw(page, points) -> None:
    """Press the mouse at the first point of a stroke, move through the rest, release."""
    upper = page.locator("canvas.upper-canvas").first  # fabric's event layer over the drawing
    upper.wait_for(state="visible", timeout=60_000)  # a live rerun may be mounting it afresh
    box = upper.bounding_box()
    xy = [(box["x"] + x, box["y"] + y) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=STROKE_STEPS)
    page.mouse.up()


def _prediction(page) -> str:
    el = page.locator(".cs-prediction")
    el.wait_for(timeout=60_000)
    return el.inner_text().strip()


def _one():
    return [(140, 50 + 9 * k) for k in range(21)]


def _zero():
    return [(140 + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 85 * math.cos(t / 20 * 2 * math.pi))
            for t in range(22)]  # fmt: skip


def test_drawn_one_is_predicted_as_one(page):
    """A vertical stroke in the middle of the canvas is read as a 1."""
    _draw(page, _one())
    assert _prediction(page) == "1"


def test_drawn_zero_is_predicted_as_zero(page):
    """An oval drawn in one stroke is read as a 0."""
    _draw(page, _zero())
    assert _prediction(page) == "0"


def _overview_images(page) -> list[str]:
    """The sources of the overview's images (one per stage of maps), in page order."""
    return page.locator(".st-key-draw_overview img").evaluate_all(
        "(imgs) => imgs.map((img) => img.getAttribute('src'))"
    )


def test_a_stroke_changes_the_prediction_and_overview_in_place(page):
    """A stroke reruns only the canvas's fragment, whose relay (ui/live_html.relay, hidden: it
    takes no room) puts the new prediction and overview into their elements beside and below.
    A full run between strokes (here the colour range) redraws them for the same input, and
    an Undo and a stroke after it change them again: nothing stale is left either way."""
    relay = page.locator(".st-key-draw_relay")
    relay.wait_for(state="attached", timeout=60_000)
    assert relay.bounding_box() is None  # display: none
    _draw(page, _one())
    assert _prediction(page) == "1"
    first = _overview_images(page)
    assert len(first) >= 3 and page.locator(".st-key-draw_result img").count() >= 3
    page.get_by_test_id("stRadio").filter(has_text="Colour range").get_by_text(
        "per map", exact=True
    ).click()
    page.wait_for_function(  # the app has rerun and redrawn the maps in the other mode
        """(before) => {
          const app = document.querySelector('[data-testid="stApp"]');
          const now = [...document.querySelectorAll('.st-key-draw_overview img')]
            .map((img) => img.getAttribute('src'));
          return app.getAttribute('data-test-script-state') === 'notRunning'
            && now.length === before.length && now.some((src, i) => src !== before[i]);
        }""",
        arg=first,
        timeout=60_000,
    )
    assert _prediction(page) == "1"
    page.locator(".dc-icon-button[title='Undo']").click()
    page.locator(".cs-prediction").wait_for(state="detached", timeout=60_000)
    page.locator(".st-key-draw_overview").get_by_text("No input yet").wait_for(timeout=60_000)
    page.locator(".st-key-draw_result").get_by_text("Draw a digit").wait_for(timeout=60_000)
    _draw(page, _zero())
    assert _prediction(page) == "0"
    assert len(_overview_images(page)) == len(first)
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def test_input_survives_a_page_switch(page):
    """After drawing, switching to another page and back keeps the input and the prediction."""
    _draw(page, _one())
    assert _prediction(page) == "1"
    page.get_by_role("link", name="Convolution").first.click()
    page.get_by_text("PyTorch computed").wait_for(timeout=60_000)
    assert "There is no input yet" not in page.inner_text("body")
    page.get_by_role("link", name="Draw & predict").first.click()
    assert _prediction(page) == "1"


def test_a_deep_link_to_a_fresh_server_has_the_sidebar(browser):
    """The very first request of a new server process, straight to /training, runs app.py
    (sidebar, model card) and the page, with no "Page not found" dialog."""
    from tests.conftest import running_app

    with running_app() as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url + "/training")
        sidebar = page.get_by_test_id("stSidebarUserContent")
        sidebar.get_by_text("Train a model").wait_for(timeout=60_000)
        # The sidebar can arrive a moment before the page body; wait for the page's heading
        # (a page script run alone would never draw the sidebar, so both together is the proof).
        heading = page.get_by_role("heading", name="Training", exact=True)
        heading.first.wait_for(timeout=60_000)
        assert heading.count() == 1
        page.wait_for_timeout(1500)  # the old pages/ discovery showed its dialog about now
        assert "Page not found" not in page.inner_text("body")
        context.close()


STAGE_TOURS = [  # (sidebar link, screenshot name, text that appears once the page has run)
    ("Convolution", "convolution", "PyTorch computed"),
    ("Activation", "activation", "cells changed"),
    ("Pooling", "pooling", "Shift experiment"),
    ("Flatten", "flatten", "coloured by channel"),
    ("Dense & softmax", "dense", "Softmax, step by step"),
    ("Training", "training", "Training"),
]
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _full_page_screenshot(page, path) -> None:
    """Streamlit scrolls inside its main block, so grow the viewport to its height first."""
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
        '[data-testid="stAppViewContainer"]\')].map(e => e.scrollHeight), 1000)'
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 12000)})
    page.wait_for_timeout(800)  # let Plotly resize to the new viewport
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_stage_page_renders_a_drawn_digit(page):
    """Draw a 1, then open each stage page from the sidebar: it renders with no exception or
    error alert, and a full-page screenshot is saved to screenshots/page_<name>.png (or the folder
    in $CONVSCOPE_SCREENSHOTS). The README's docs/page_*.png are copies
    of these, refreshed by hand: a test run never rewrites tracked files."""
    from pathlib import Path

    docs = Path(
        os.environ.get("CONVSCOPE_SCREENSHOTS")
        or Path(__file__).resolve().parent.parent / "screenshots"
    )
    docs.mkdir(parents=True, exist_ok=True)
    _draw(page, _one())
    assert _prediction(page) == "1"
    for link, name, marker in STAGE_TOURS:
        page.get_by_test_id("stSidebarNav").get_by_role("link", name=link, exact=True).click()
        page.get_by_role("heading", name=link, exact=True).first.wait_for(timeout=60_000)
        page.get_by_text(marker).first.wait_for(timeout=60_000)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(1500)  # Plotly draws after the script has finished
        assert "There is no input yet" not in page.inner_text("body"), name
        assert page.locator(ERRORS).count() == 0, (name, page.locator(ERRORS).all_inner_texts())
        _full_page_screenshot(page, docs / f"page_{name}.png")


def test_what_is_outside_the_canvas_follows_a_stroke(page):
    """A stroke reruns only the canvas and what it changes (the prediction and the overview);
    the tour card and an open numbers table, drawn around it, still follow the stroke: the
    tour's first card ("Draw a digit") completes, and the open table shows the new input's
    numbers (its stage chooser is there, and it says nothing of a missing input)."""
    page.get_by_role("button", name="Guided tour").click()
    card = page.get_by_text("Guided tour · step 1 of")
    card.wait_for(timeout=60_000)
    page.get_by_text("Numbers as a table (any stage)").click()
    page.get_by_text("No input yet: the numbers of each stage").wait_for(timeout=60_000)
    _draw(page, _one())
    assert _prediction(page) == "1"
    page.get_by_text("Done: Draw a digit.").wait_for(timeout=60_000)
    page.get_by_text("Guided tour · step 2 of").wait_for(timeout=60_000)
    page.get_by_role("combobox", name="Stage").or_(page.get_by_label("Stage")).first.wait_for(
        timeout=60_000
    )
    assert page.get_by_text("No input yet: the numbers of each stage").count() == 0
    # A change outside the canvas (here the centring switch) reruns the app; a stroke after it
    # still reruns only the canvas and fills the places made outside it, with no error.
    page.get_by_text("Centre by mass, as MNIST did").click()
    page.wait_for_function(  # the app has rerun with the switch off
        """() => !document.querySelector('.st-key-draw_center input').checked
          && document.querySelector('[data-testid="stApp"]')
               .getAttribute('data-test-script-state') === 'notRunning'""",
        timeout=60_000,
    )
    page.locator(".dc-icon-button[title='Undo']").click()
    page.locator(".cs-prediction").wait_for(state="detached", timeout=60_000)
    _draw(page, _zero())
    assert _prediction(page) == "0"
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()
