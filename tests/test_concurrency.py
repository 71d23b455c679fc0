"""Several sessions against one real server: each gets its own prediction; a server killed in the
middle of a training run starts again and works."""

import signal

import pytest

from tests.conftest import app_process
from tests.test_browser import _draw, _one, _prediction, _zero

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
SESSIONS = 4  # bounded: 2 cores run the server, Chromium and the tests


def test_every_session_gets_its_own_prediction(browser, app_url):
    """Four browser contexts (four sessions) draw alternately a 1 and a 0 on the same server; each
    sees its own digit predicted, before and after the others drew."""
    contexts, pages = [], []
    for _ in range(SESSIONS):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(app_url)
        contexts.append(context)
        pages.append(page)
    try:
        for k, page in enumerate(pages):
            page.locator("canvas").first.wait_for(timeout=60_000)
            _draw(page, _one() if k % 2 == 0 else _zero())
        for k, page in enumerate(pages):
            assert _prediction(page) == ("1" if k % 2 == 0 else "0"), f"session {k}"
    finally:
        for context in contexts:
            context.close()


def test_a_server_killed_mid_training_starts_again_and_works(browser):
    """SIGKILL the server while a session trains; a new server on the same port serves the app,
    with the default model, and predicts a drawing."""
    with app_process() as (url, proc):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.locator("canvas").first.wait_for(timeout=60_000)
        sidebar = page.get_by_test_id("stSidebarUserContent")
        sidebar.get_by_role("button", name="Train").click()
        page.get_by_text("img/s").first.wait_for(timeout=60_000)  # a batch has run
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        context.close()
        port = int(url.rsplit(":", 1)[1])
    with app_process(port=port) as (url2, _):
        assert url2 == url
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url2)
        page.locator("canvas").first.wait_for(timeout=60_000)
        assert "the default model" in page.inner_text("section[data-testid='stSidebar']")
        _draw(page, _one())
        assert _prediction(page) == "1"
        context.close()


def _fingerprint(page) -> str:
    text = page.get_by_test_id("stSidebarUserContent").get_by_text("Weights fingerprint")
    return text.first.inner_text().split()[-1]


def test_two_sessions_train_through_one_slot_and_keep_their_own_models(browser):
    """With CONVSCOPE_TRAINING_SLOTS=1, a second session that presses Train while the first
    trains waits in the queue (and says so), then trains; the two end with different models,
    and the first still has its own after the second finished."""
    with app_process(env={"CONVSCOPE_TRAINING_SLOTS": "1"}) as (url, _):
        pages, contexts = [], []
        for _ in range(2):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.locator("canvas").first.wait_for(timeout=60_000)
            contexts.append(context)
            pages.append(page)
        first, second = pages
        default = _fingerprint(first)
        sidebar = second.get_by_test_id("stSidebarUserContent")
        sidebar.get_by_text("Optimisation").click()
        seed = sidebar.get_by_label("Seed")
        seed.fill("5")
        seed.press("Enter")
        second.wait_for_timeout(1000)

        first.get_by_test_id("stSidebarUserContent").get_by_role("button", name="Train").click()
        first.get_by_text("img/s").first.wait_for(timeout=60_000)
        sidebar.get_by_role("button", name="Train").click()
        second.get_by_text("Waiting for a free training slot: you are number 1").wait_for(
            timeout=60_000
        )
        first.get_by_text("Training finished").wait_for(timeout=180_000)
        second.get_by_text("Training finished").wait_for(timeout=180_000)

        mine, theirs = _fingerprint(first), _fingerprint(second)
        assert default not in (mine, theirs)
        assert mine != theirs
        first.get_by_role("link", name="Pooling").first.click()  # another run, same session
        first.get_by_role("heading", name="Pooling", exact=True).first.wait_for(timeout=60_000)
        assert _fingerprint(first) == mine
        assert "your own model" in first.inner_text("section[data-testid='stSidebar']")
        for context in contexts:
            context.close()
