"""Shared fixtures: a real ConvScope server on 127.0.0.1 and Debian's Chromium via Playwright."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the app did not become healthy in time")


@contextlib.contextmanager
def running_app(env: dict | None = None):
    """A fresh `streamlit run app.py` process on a free port of 127.0.0.1; yields its URL."""
    with app_process(env=env) as (url, _proc):
        yield url


@contextlib.contextmanager
def app_process(port: int | None = None, env: dict | None = None):
    """Like running_app, but yields (url, process) so a test can kill the server; ``port`` lets a
    restarted server take the same address; ``env`` adds environment variables."""
    port = port or _free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    environ = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)


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
