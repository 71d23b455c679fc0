"""Browser: on the home page at 1400x900, the three ways to make an input are on the first screen
after a stroke, and picking a sample keeps the learner on the tab they used."""

import pytest

from tests.test_browser import _draw, _one, _prediction

pytestmark = pytest.mark.browser
HEIGHT = 900  # the viewport of conftest's page fixture: 1400x900
WAIT = 60_000
SCROLLED = """() => Math.max(window.scrollY, ...[...document.querySelectorAll(
    '[data-testid="stMain"], [data-testid="stAppViewContainer"]')].map(e => e.scrollTop))"""


def _on_first_screen(locator) -> None:
    """The element is shown and lies wholly inside the first screen (no scrolling needed)."""
    locator.wait_for(state="visible", timeout=WAIT)
    box = locator.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= HEIGHT, box


def test_after_a_stroke_every_way_to_make_an_input_is_on_the_first_screen(page):
    """After one stroke (prediction shown), the canvas, the sample gallery and the upload control
    are all within the first 900 px, and the page has not been scrolled to reach them."""
    _draw(page, _one())
    assert _prediction(page) == "1"
    main = page.get_by_test_id("stMain")
    _on_first_screen(page.locator("canvas").first)
    for way in ("Pick a sample", "Upload a photo"):
        _on_first_screen(main.get_by_role("radio", name=way))
    main.get_by_role("radio", name="Pick a sample").click()
    for digit in range(10):
        _on_first_screen(main.get_by_role("button", name=f"Use digit {digit}", exact=True))
    main.get_by_role("radio", name="Upload a photo").click()
    _on_first_screen(main.get_by_test_id("stFileUploaderDropzone"))
    assert page.evaluate(SCROLLED) == 0


def test_picking_a_sample_keeps_the_choice_and_the_drawing(page):
    """Pressing "Use digit 4" makes that digit the input and the learner stays on "Pick a
    sample"; back on "Draw", the stroke is still on the canvas."""
    _draw(page, _one())
    assert _prediction(page) == "1"
    main = page.get_by_test_id("stMain")
    main.get_by_role("radio", name="Pick a sample").click()
    main.get_by_role("button", name="Use digit 4", exact=True).click()
    page.get_by_text("Current input: held-out digit").wait_for(timeout=WAIT)
    assert _prediction(page) == "4"
    selected = main.locator(".st-key-draw_input_tab").get_by_role("radio", checked=True)
    assert selected.inner_text() == "Pick a sample"
    main.get_by_role("radio", name="Draw", exact=True).click()
    canvas = page.locator("canvas.dc-canvas.lower-canvas")  # the layer the strokes are drawn on
    canvas.wait_for(state="visible", timeout=WAIT)
    ink = canvas.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((v, i) => i % 4 === 0 && v > 128).length"
    )
    assert ink > 0  # white stroke pixels are still there
    page.get_by_text("Current input: held-out digit").wait_for(timeout=WAIT)
    assert _prediction(page) == "4"  # the sample stays the input until the next stroke
