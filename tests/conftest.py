"""Shared test helpers: AppTest sessions of app.py opened on a page with an input and preset
settings, polling for a state a background job reaches, and for the browser tests a real
ConvScope server on 127.0.0.1 and Debian's Chromium via Playwright."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

# One definition of the Chromium flags and of starting a server, shared with the benchmarks.
from bench.common import CHROMIUM, CHROMIUM_ARGS, serve

# ----------------------------------------------------------------------------------------------
# AppTest sessions

APP = str(Path(__file__).resolve().parent.parent / "app.py")
APP_TIMEOUT = 120  # importing torch and the first trace take longer than AppTest's default 3 s
HELD_OUT_INDEX = 7  # the held-out digit most tests use as the current input


def held_out_digit(index: int = HELD_OUT_INDEX) -> np.ndarray:
    """Held-out digit ``index`` of the bundled test set as the app takes it: 28x28 float32 in
    [0, 1]."""
    from cnn_core.data import load_bundled

    return load_bundled().test.images[index] / np.float32(255)


def app_session(
    *,
    digit: int | None = None,
    image: np.ndarray | None = None,
    source: str | None = None,
    model=None,
    settings: dict | None = None,
    query: dict[str, str] | None = None,
) -> AppTest:
    """A fresh AppTest session of app.py, not run yet. ``digit`` makes held-out digit #digit the
    input (``image`` any other array, described by ``source``); ``model`` a ui.state.ModelInfo
    becomes the session's model; ``settings`` are widget values by key, set before the first
    run as a learner's earlier choices; ``query`` are the URL's query parameters (a link)."""
    from ui import state

    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    if digit is not None:
        image = held_out_digit(digit)
        source = source or f"held-out digit #{digit}"
    if image is not None:
        at.session_state[state.INPUT] = image
        at.session_state[state.INPUT_SOURCE] = source or "a held-out digit"
    if model is not None:
        at.session_state[state.MODEL] = model
    for key, value in (settings or {}).items():
        at.session_state[key] = value
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def open_page(page: str | None = None, *, check: bool = True, **session) -> AppTest:
    """app_session(**session) run on the home page, then switched to ``page`` (a file such as
    "app_pages/page_pooling.py"; None stays on the home page). With ``check`` (the default) the
    page must have run without an exception."""
    at = app_session(**session).run()
    if page is not None:
        at.switch_page(page).run()
    if check:
        assert not at.exception, at.exception
    return at


def open_link(params: dict[str, str], *, check: bool = False) -> AppTest:
    """A fresh session opened from a share link with these query parameters, run once."""
    return open_page(query=params, check=check)


def start_training(page: str | None = None, **settings) -> AppTest:
    """A session (on ``page``) with the sidebar's training settings (a short run by default:
    200 digits, 1 epoch, batch 64) overridden by ``settings``, Train pressed; the run goes on
    in its background job, ``at.session_state[ui.state.TRAINING]``."""
    defaults = {"cfg_images_digits": 200, "cfg_epochs": 1, "cfg_batch": 64}
    at = open_page(page, settings=defaults | settings)
    at.sidebar.button(key="train_button").click().run()
    assert not at.exception, at.exception
    return at


def train_to_end(page: str | None = None, **settings) -> AppTest:
    """start_training, then wait for the run's job to end and run the script again (AppTest
    never fires the polling fragment's timer; this run adopts the model)."""
    from ui import state

    at = start_training(page, **settings)
    assert at.session_state[state.TRAINING].join(120)
    return at.run()


def page_text(at: AppTest) -> str:
    """The text of the page's markdown, captions, info and warning boxes, one per line."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return "\n".join(parts + [i.value for i in at.info] + [w.value for w in at.warning])


def live_markup(at: AppTest) -> dict[str, str]:
    """The HTML of the page's live elements (ui/live_html.py: Draw & predict's prediction and
    overview, changed in place on every stroke) by their keys, in page order."""
    from ui import live_html

    return {
        element.proto.id.rsplit("-", 1)[-1]: json.loads(element.proto.json)
        for element in at.get("bidi_component")
        if element.proto.component_name == live_html.NAME
    }


def markup_text(markup: str) -> str:
    """The text a browser shows for HTML: tags dropped, entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def wait_until(condition, seconds: float = 120, poll: float = 0.01) -> None:
    """Poll until condition() holds (a state a job reaches at any speed); fail after
    ``seconds``, which only a hang reaches."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"the expected state never came in {seconds} s"
        time.sleep(poll)


# ----------------------------------------------------------------------------------------------
# A real server and a browser


@contextlib.contextmanager
def running_app(env: dict | None = None):
    """A fresh `streamlit run app.py` process on a free port of 127.0.0.1; yields its URL."""
    with app_process(env=env) as (url, _proc):
        yield url


@contextlib.contextmanager
def app_process(port: int | None = None, env: dict | None = None):
    """Like running_app, but yields (url, process) so a test can kill the server; ``port`` lets a
    restarted server take the same address; ``env`` adds environment variables. The server's
    output is kept for ``server_log(url)`` while it runs."""
    log = Path(tempfile.mkdtemp(prefix="convscope-server-")) / "server.log"
    try:
        with serve("app.py", extra_env=env, port=port, log=log) as (url, proc):
            SERVER_LOGS[url] = log
            yield url, proc
    finally:
        shutil.rmtree(log.parent, ignore_errors=True)


SERVER_LOGS: dict[str, Path] = {}  # url -> the output of the test server at that address


def server_log(url: str, lines: int = 40) -> str:
    """The last ``lines`` lines the test server at ``url`` printed (for a failure's message)."""
    log = SERVER_LOGS.get(url)
    if log is None or not log.exists():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) or "(empty)"


VIEWPORT = {"width": 1400, "height": 900}  # the browser tests' default window


@pytest.fixture(scope="session")
def app_url():
    """One app server shared by the browser tests of a run."""
    with running_app() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright; skipped only outside CI when it is missing."""
    if not shutil.which(CHROMIUM) or not shutil.which("chromium"):
        if os.environ.get("CONVSCOPE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (CONVSCOPE_REQUIRE_BROWSER is set) but missing")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def browser_page(browser, url: str, width: int = 1400, height: int = 900):
    """A new browser session of ``width`` x ``height`` at ``url``, its canvas ready; closed
    after."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        pg = context.new_page()
        pg.goto(url)
        pg.locator("canvas").first.wait_for(timeout=60_000)
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="module")
def url():
    """A server of the module's own (for browser modules whose sessions and share links should
    meet no other module's; ``app_url`` is the one shared server)."""
    with running_app() as address:
        yield address


@pytest.fixture
def context(browser):
    """A new browser context at VIEWPORT (1400x900) for one test, closed after it."""
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx
    ctx.close()


@pytest.fixture
def page(browser, app_url):
    """A new browser session at 1400x900 on the home page, its canvas ready (a module may
    define its own ``page``, e.g. test_browser.py at 1400x1000)."""
    with browser_page(browser, app_url) as pg:
        yield pg
