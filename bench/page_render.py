"""Time for each page to render fully in headless Chromium after a click in the navigation.

One browser session draws a "1" on the home page (so every stage page has a current input),
then visits every page in turn by clicking its link in the sidebar navigation, as a learner
does, --rounds times. A page counts as rendered when, all at once:

- the page's own heading is on screen,
- Streamlit's script state is "notRunning" (`data-test-script-state` on stApp),
- no element is stale (`data-stale="true"`, kept from the previous page while rerunning),
- every Plotly chart on the page has drawn its SVG (`.main-svg`) and every image has loaded,

and still holds 300 ms later (otherwise the wait goes on). The time runs from the click to the
first moment of that final state. Visiting all pages once before timing warms caches.

    python bench/page_render.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from common import PAGES as ALL_PAGES
from common import chromium, load_average, print_table, serve
from draw_latency import one_stroke, open_page, timed_stroke

# Draw & predict last, so that every click in a round is a navigation to another page.
PAGES = [*ALL_PAGES[1:], ALL_PAGES[0]]

RENDERED_JS = """
() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  if (![...document.images].every((img) => img.complete)) return false;
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  for (const chart of charts) if (!chart.querySelector('.main-svg')) return false;
  return charts.length + 1;
}
"""


def visit(page, link: str, heading: str, timeout_ms: int) -> tuple[float, int]:
    """Click the link; (seconds until rendered, number of Plotly charts)."""
    start = time.perf_counter()
    page.get_by_role("link", name=link, exact=True).first.click()
    page.get_by_role("heading", name=heading, exact=True).first.wait_for(timeout=timeout_ms)
    while True:
        handle = page.wait_for_function(RENDERED_JS, polling=25, timeout=timeout_ms)
        done = time.perf_counter()
        page.wait_for_timeout(300)
        if page.evaluate(RENDERED_JS):  # still rendered: that was the final state
            return done - start, handle.json_value() - 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed visits per page (3)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per page (120)")
    args = parser.parse_args()
    timeout_ms = int(args.timeout * 1000)
    times = {link: [] for link, _ in PAGES}
    charts = {}
    with serve("app.py") as (url, _), chromium() as browser:
        page = open_page(browser, url)
        timed_stroke(page, one_stroke(), timeout_ms)  # a current input for every stage page
        for link, heading in PAGES:  # warm-up round, not counted
            visit(page, link, heading, timeout_ms)
        for _ in range(args.rounds):
            for link, heading in PAGES:
                seconds, charts[link] = visit(page, link, heading, timeout_ms)
                times[link].append(seconds)
    print(f"Page render time after a navigation click, s ({load_average()} at the end)")
    rows = [
        [link, charts[link], f"{statistics.median(ts):.2f}", f"{max(ts):.2f}"]
        for link, ts in times.items()
    ]
    print_table(["page", "Plotly charts", "median s", "max s"], rows)


if __name__ == "__main__":
    main()
