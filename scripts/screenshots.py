"""Refresh the README's screenshots (docs/*.png) from the current app.

    python scripts/screenshots.py                 # every page into docs/
    python scripts/screenshots.py --out /tmp/shots --pages home pooling

It starts `streamlit run app.py` on a free port of 127.0.0.1 (the repository's
.streamlit/config.toml, the shipped default model), opens Debian's Chromium at 1400x900, draws a
seven on Draw & predict, and photographs each page once it has finished its run (script state
"notRunning", nothing stale, every Plotly chart drawn): the home page's first screen, and every
other page whole (at most --max-height pixels). Nothing is downloaded; it takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))  # the benchmarks' server, browser and page helpers

from common import PAGES, chromium, serve  # noqa: E402
from live_ui import SETTLED_JS, draw, goto  # noqa: E402

# file name -> the navigation link of its page (headings: bench/common.PAGES)
SHOTS = {
    "home": "Draw & predict",
    "page_convolution": "Convolution",
    "page_activation": "Activation",
    "page_pooling": "Pooling",
    "page_flatten": "Flatten",
    "page_dense": "Dense & softmax",
    "page_attribution": "What it looks at",
    "page_training": "Training",
}
SEVEN = [(70, 60), (210, 60), (180, 120), (150, 180), (130, 240)]  # canvas pixels
WAIT_MS = 120_000


def settle(page) -> None:
    page.wait_for_function(SETTLED_JS, polling=100, timeout=WAIT_MS)


def whole_page(page, path: Path, max_height: int) -> None:
    """Streamlit scrolls inside its main block: grow the viewport to its height, let Plotly
    redraw at that size, photograph, and go back to 1400x900."""
    height = page.evaluate(
        '() => Math.max(...[...document.querySelectorAll(\'[data-testid="stMain"], '
        '[data-testid="stAppViewContainer"]\')].map((e) => e.scrollHeight), 900)'
    )
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 40, max_height)})
    settle(page)
    page.wait_for_timeout(500)  # Plotly's own resize animation after the viewport change
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 900})


def shoot(url: str, out: Path, names: list[str], max_height: int) -> list[Path]:
    written = []
    with chromium() as browser:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(url)
        page.locator("canvas").first.wait_for(timeout=WAIT_MS)
        draw(page, SEVEN)
        page.locator(".cs-prediction").wait_for(timeout=WAIT_MS)
        settle(page)
        for name in names:
            link = SHOTS[name]
            if link != "Draw & predict":
                goto(page, link, WAIT_MS)
            settle(page)
            path = out / f"{name}.png"
            if name == "home":
                page.screenshot(path=str(path))  # the first screen, as a learner sees it
            else:
                whole_page(page, path, max_height)
            written.append(path)
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="folder (docs/)")
    parser.add_argument(
        "--pages", nargs="+", choices=[n.removeprefix("page_") for n in SHOTS],
        help="only these pages (default: all)",
    )  # fmt: skip
    parser.add_argument("--max-height", type=int, default=3600, help="pixels (3600)")
    args = parser.parse_args(argv)
    names = [n for n in SHOTS if args.pages is None or n.removeprefix("page_") in args.pages]
    assert {link for link, _ in PAGES} == set(SHOTS.values()), "a page is missing from SHOTS"
    args.out.mkdir(parents=True, exist_ok=True)
    with serve("app.py") as (url, _proc):
        shoot(url, args.out, names, args.max_height)
    return 0


if __name__ == "__main__":
    sys.exit(main())
