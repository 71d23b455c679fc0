"""Browser: a share link copied from one session opens the same page and input in a fresh one."""

import pytest

from tests.test_browser import _draw, _one, _prediction

pytestmark = pytest.mark.browser


def test_a_copied_link_reopens_the_view_in_a_fresh_browser(browser, app_url):
    first = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = first.new_page()
    page.goto(app_url)
    page.locator("canvas").first.wait_for(timeout=60_000)
    _draw(page, _one())
    assert _prediction(page) == "1"
    page.get_by_role("link", name="Pooling").first.click()
    page.get_by_role("heading", name="Pooling", exact=True).first.wait_for(timeout=60_000)
    sidebar = page.get_by_test_id("stSidebarUserContent")
    sidebar.get_by_text("Share this view").click()
    code = sidebar.get_by_test_id("stCode")
    code.wait_for(timeout=30_000)
    link = code.inner_text().strip()
    assert link.startswith(app_url + "/pooling?") and "img=" in link
    assert len(link) < 1500
    first.close()

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.goto(link)
    other.get_by_role("heading", name="Pooling", exact=True).first.wait_for(timeout=60_000)
    caption = other.get_by_text("Current input: the image from the shared link")
    caption.first.wait_for(timeout=60_000)
    assert "prediction 1" in caption.first.inner_text()
    assert other.get_by_test_id("stException").count() == 0
    fresh.close()
