"""Browser: share links open the same view in a fresh session; uploaded photos become the input."""

import pytest

from tests.test_browser import _draw, _one, _prediction

pytestmark = pytest.mark.browser


def test_a_copied_link_reopens_the_view_in_a_fresh_browser(browser, app_url):
    """A link copied from 'Share this view' on the Pooling page after drawing a 1 opens that
    page, input and prediction in a fresh browser."""
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


def test_an_uploaded_photo_becomes_the_input_and_a_fake_png_is_refused(browser, app_url, tmp_path):
    """A held-out digit saved as dark ink on white paper (a 'photo') is read and predicted; a GIF
    renamed to .png is refused by content with a message, and the input stays."""
    import numpy as np
    from PIL import Image

    from cnn_core.data import load_bundled

    test = load_bundled().test
    index = int(np.flatnonzero(test.labels == 7)[0])
    photo = Image.fromarray(255 - test.images[index]).resize((168, 168), Image.BILINEAR)
    good = tmp_path / "seven.png"
    photo.save(good)
    fake = tmp_path / "fake.png"
    fake.write_bytes(b"GIF89a" + bytes(200))

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(app_url)
    page.locator("canvas").first.wait_for(timeout=60_000)
    main = page.get_by_test_id("stMainBlockContainer")
    main.get_by_role("radio", name="Upload a photo").click()  # its messages show under it
    uploader = main.get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files(str(good))
    page.get_by_text("Current input: your photo 'seven.png'").wait_for(timeout=60_000)
    assert _prediction(page) == "7"
    uploader.set_input_files(str(fake))
    page.get_by_text("'fake.png' was not used").wait_for(timeout=60_000)
    assert "not a PNG or JPEG" in page.inner_text("body")
    assert _prediction(page) == "7"
    context.close()
