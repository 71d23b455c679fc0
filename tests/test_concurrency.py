"""Several sessions against one real server: each gets its own prediction; a server killed in the
middle of a training run starts again and works. (Two sessions training through one slot, and a
closed session's run freeing its slot: tests/test_browser_training.py.)"""

import signal

import pytest

from tests.conftest import app_process
from tests.test_browser import _draw, _one, _prediction, _zero
from tests.test_browser_training import _train_long, alive, wait_for, worker_processes

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
        _train_long(page)  # a run of many minutes, under way
        workers = worker_processes(proc.pid)
        assert len(workers) == 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=20)
        context.close()
        # its training process sees its socket close and exits after its current step
        wait_for(lambda: not any(alive(pid) for pid in workers), seconds=60)
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
