"""scripts/screenshots.py, which refreshes the README's docs/*.png, still works on the current
app: it photographs the home page's first screen and a whole stage page."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]
SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "screenshots.py"


def test_the_screenshot_script_photographs_the_pages(browser, tmp_path):
    """(The browser fixture only makes sure Chromium is there; the script starts its own
    server and browser, as a maintainer runs it.)"""
    args = [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--pages", "home", "pooling"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=540, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    home = Image.open(tmp_path / "home.png")
    pooling = Image.open(tmp_path / "page_pooling.png")
    assert home.size == (1400, 900)
    assert pooling.width == 1400 and 900 < pooling.height <= 3600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home.png", "page_pooling.png"]
