"""Chromium: a drawn digit, then the home page's link to "What it looks at": the saliency,
occlusion and Grad-CAM maps (one tab each) are drawn by Plotly and the masked image is shown,
with no error on the page. Every wait is for something the page shows, never for a length of
time."""

from __future__ import annotations

import os

import pytest

from tests.test_browser import _draw, _one, _prediction

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
WAIT = 60_000  # ms
# Each tab (clicked in this order: Saliency is open first), its map and its caption's start.
TABS = (
    ("Saliency", "attr_saliency_0", "Saliency of class 1,"),
    ("Occlusion", "attr_occlusion_0", "Occlusion for class 1:"),
    ("Grad-CAM", "attr_gradcam_0", "Grad-CAM of class 1 at"),
)
MASKED = ".cs-masked img"  # the covered input: an image, not a chart
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
# The script run in front of the learner has finished and nothing shown is left from before.
SETTLED_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]');
}"""


def _heatmap(page, key: str):
    """The drawn heatmap of the Plotly chart with this key (Plotly paints it as an <image>)."""
    return page.locator(f".st-key-{key} .js-plotly-plot g.hm image").first


def test_the_three_maps_of_a_drawn_digit_are_drawn(page):
    """Draw a 1, follow the overview's link: on each method's tab its map is painted with its
    caption (and on Occlusion's the covered input), and only the open tab's map is drawn."""
    _draw(page, _one())
    assert _prediction(page) == "1"
    page.get_by_role("link", name="Why this prediction? What it looks at").click()
    page.get_by_role("heading", name="What it looks at", exact=True).wait_for(timeout=WAIT)
    for k, (tab, key, start) in enumerate(TABS):
        if k:  # Saliency is open on arrival
            page.get_by_role("tab", name=tab, exact=True).click()
        _heatmap(page, key).wait_for(timeout=WAIT)
        page.wait_for_function(SETTLED_JS, polling=50, timeout=WAIT)
        if tab == "Occlusion":
            page.locator(MASKED).wait_for(timeout=WAIT)
            page.wait_for_function(  # loaded and drawn at its size, its text alternative set
                f"""() => {{ const img = document.querySelector('{MASKED}');
                  return img.complete && img.naturalWidth > 0 && img.width >= 280
                    && !!img.alt; }}""",
                timeout=WAIT,
            )
        captions = page.get_by_test_id("stCaptionContainer").filter(has_text=start)
        assert captions.count() == 1, start  # the map's text alternative
        others = [other for _t, other, _s in TABS if other != key]
        assert all(page.locator(f".st-key-{other}").count() == 0 for other in others), tab
        assert "There is no input yet" not in page.inner_text("body")
        assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()
        if os.environ.get("CONVSCOPE_SCREENSHOTS") and tab == "Occlusion":
            page.screenshot(path=f"{os.environ['CONVSCOPE_SCREENSHOTS']}/page_attribution.png",
                            full_page=True)  # fmt: skip
