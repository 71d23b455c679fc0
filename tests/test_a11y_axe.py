"""axe-core (WCAG 2.1 A and AA) on every page of the app, after a digit is chosen, in the light
and in the dark theme: no serious or critical violation. The theme follows the browser's colour
scheme (.streamlit/config.toml sets both [theme.light] and [theme.dark])."""

from __future__ import annotations

import os

import pytest

from bench.common import PAGES
from tests import a11y

pytestmark = [pytest.mark.browser, pytest.mark.timeout(400)]
BACKGROUND = "() => getComputedStyle(document.querySelector('.stApp')).backgroundColor"


def _luminance(css_rgb: str) -> float:
    """The mean of the red, green and blue of a CSS rgb()/rgba() colour, 0-255."""
    parts = css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")
    return sum(float(p) for p in parts[:3]) / 3


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_serious_axe_violation_on_any_page(browser, app_url, scheme):
    """With held-out digit 4 as the input and the browser in the light (dark) colour scheme, the
    app is drawn light (dark), and axe-core finds no serious or critical WCAG 2.1 A/AA violation
    on any of the pages."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, color_scheme=scheme)
    found = {}
    try:
        page = context.new_page()
        page.goto(app_url)
        page.locator("canvas").first.wait_for(timeout=a11y.WAIT)
        a11y.pick_sample(page)
        background = _luminance(page.evaluate(BACKGROUND))
        for title, _ in PAGES:
            if title != PAGES[0][0]:
                a11y.open_from_nav(page, title)
            violations = a11y.axe_violations(page)
            if os.environ.get("CONVSCOPE_AXE_REPORT"):  # the figures for a report
                print(f"\n[{scheme}] {title}: {a11y.summary(violations)}")
            if a11y.blocking(violations):
                found[title] = a11y.describe(a11y.blocking(violations))
    finally:
        context.close()
    assert background > 200 if scheme == "light" else background < 60, background
    assert not found, "\n".join(f"== {title}\n{text}" for title, text in found.items())
