"""Chromium: the Pooling page's "Predict, then reveal" expander downloads a worksheet with the
question on the page and a blank, and an answer key with its answer."""

from pathlib import Path

from tests.conftest import browser_page


def _download(pg, name: str) -> str:
    with pg.expect_download(timeout=60_000) as info:
        pg.get_by_role("button", name=name).click()
    return Path(info.value.path()).read_text(encoding="utf-8")


def test_the_worksheet_and_its_key_download(browser, app_url):
    """The worksheet holds the first question shown on the page and a blank line, not its
    answer; the answer key holds the same question with '**Answer:**' and a worked solution."""
    with browser_page(browser, app_url) as pg:
        pg.goto(f"{app_url}/pooling")
        pg.get_by_text("Predict, then reveal").click()
        question = pg.get_by_text("What is output cell").first
        question.wait_for(timeout=60_000)
        asked = question.inner_text().strip()
        sheet = _download(pg, "Worksheet (Markdown)")
        key = _download(pg, "Answer key (Markdown)")
    assert sheet.startswith("# ConvScope · Pooling · Worksheet")
    assert asked.split("What is")[-1] in sheet and "): ____" in sheet
    assert "**Answer:**" not in sheet
    assert key.startswith("# ConvScope · Pooling · Answer key") and "**Answer:**" in key
    assert sheet.count("\n## ") == key.count("\n## ") == 3
