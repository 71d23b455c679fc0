"""Shared fixtures: a real ConvScope server on 127.0.0.1 and Debian's Chromium via Playwright."""

import contextlib
import os
import shutil

import pytest

# One definition of the Chromium flags and of starting a server, shared with the benchmarks.
from bench.common import CHROMIUM, CHROMIUM_ARGS, serve


@contextlib.contextmanager
def running_app(env: dict | None = None):
    """A fresh `streamlit run app.py` process on a free port of 127.0.0.1; yields its URL."""
    with app_process(env=env) as (url, _proc):
        yield url


@contextlib.contextmanager
def app_process(port: int | None = None, env: dict | None = None):
    """Like running_app, but yields (url, process) so a test can kill the server; ``port`` lets a
    restarted server take the same address; ``env`` adds environment variables."""
    with serve("app.py", extra_env=env, port=port) as (url, proc):
        yield url, proc


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


@pytest.fixture
def page(browser, app_url):
    """A new browser session at 1400x900 on the home page, its canvas ready (a module may
    define its own ``page``, e.g. test_browser.py at 1400x1000)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.goto(app_url)
    pg.locator("canvas").first.wait_for(timeout=60_000)
    yield pg
    context.close()
