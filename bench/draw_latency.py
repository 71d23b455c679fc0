"""Draw-to-prediction latency in headless Chromium: the app against a bare canvas page, or
(--training) the app with a training run under way against the app with none.

Latency of one stroke: from the mouse-up that ends the stroke to the moment the page shows the
answer -- the `.cs-prediction` element (the app's predicted class, the bare page's echo of the
image size) is attached with text. Before every stroke the canvas is emptied with the canvas's
own Undo button and the benchmark waits until the element is gone, so each stroke is timed from
an empty canvas to a shown answer. Strokes alternate between a "1" (vertical line) and a "0"
(oval). Time is taken in Python around Playwright calls (a few ms of overhead in both columns).

Both servers run at once from the repository root (same .streamlit/config.toml) and the trials
alternate app, bare, app, bare, ... so load from other processes hits both alike. The first
--warmup strokes on each page are not counted (first trace, first chart, lazy imports).

    python bench/draw_latency.py --strokes 20

With --training, the app alone, idle against training, in ONE session: blocks of --block strokes
alternate between "idle" (no run under way; the session's last run, if any, was stopped) and
"training" (a long run started from the sidebar: Fashion-MNIST, all 60,000 images, 20 epochs,
batch 64, no augmentation; Train pressed, the first steps reported and 2 s more, so that the
page is already redrawing with live weights about once a second; then Stop after the block).
The end of a stroke's latency stays the same signal, and it stays unambiguous while the page
redraws with live weights: after Undo the session has no input, so no run of the page (live
or not) shows `.cs-prediction`; the element can only come back from the new drawing. The
predicted class is not checked then (the live weights learn Fashion-MNIST).

    python bench/draw_latency.py --training --strokes 20
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from common import chromium, load_average, percentile, print_table, serve

STEPS = 4  # mouse-move steps between stroke points, as tests/test_browser.py draws


def one_stroke():
    return [(140, 50 + 9 * k) for k in range(21)]


def zero_stroke():
    return [
        (140 + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 85 * math.cos(t / 20 * 2 * math.pi))
        for t in range(22)
    ]


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.locator("canvas").first.wait_for(timeout=120_000)
    return page


def timed_stroke(page, points, timeout_ms: int) -> tuple[float, str]:
    """Draw one stroke on an empty canvas; (seconds from mouse-up to the answer, its text)."""
    box = page.locator("canvas").first.bounding_box()
    xy = [(box["x"] + x, box["y"] + y) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=STEPS)
    answer = page.locator(".cs-prediction")
    start = time.perf_counter()
    page.mouse.up()
    answer.wait_for(state="attached", timeout=timeout_ms)
    elapsed = time.perf_counter() - start
    return elapsed, answer.inner_text().strip()


def empty_canvas(page, timeout_ms: int) -> None:
    """Undo the stroke and wait until the answer is gone (not timed)."""
    page.locator(".dc-icon-button[title='Undo']").click()
    page.locator(".cs-prediction").wait_for(state="detached", timeout=timeout_ms)
    page.wait_for_timeout(150)  # let the last rerun settle before the next stroke


def summarise(name: str, seconds: list[float]) -> list:
    ms = [1000 * s for s in seconds]
    return [name, len(ms), f"{statistics.median(ms):.0f}", f"{percentile(ms, 95):.0f}"]


def bare_mode(args, timeout_ms: int) -> None:
    """The app against the bare canvas page, strokes alternating between them."""
    shapes = [("1", one_stroke()), ("0", zero_stroke())]
    times = {"app": [], "bare": []}
    app_right = 0
    with (
        serve("app.py") as (app_url, _),
        serve("bench/bare_canvas.py") as (bare_url, _),
        chromium() as browser,
    ):
        pages = {"app": open_page(browser, app_url), "bare": open_page(browser, bare_url)}
        for i in range(args.warmup + args.strokes):
            digit, points = shapes[i % 2]
            for name, page in pages.items():
                seconds, text = timed_stroke(page, points, timeout_ms)
                empty_canvas(page, timeout_ms)
                if i >= args.warmup:
                    times[name].append(seconds)
                    app_right += name == "app" and text == digit
    print(f"Draw-to-prediction latency, ms ({load_average()} at the end)")
    print_table(
        ["page", "strokes", "median ms", "p95 ms"],
        [summarise("ConvScope app", times["app"]), summarise("bare canvas", times["bare"])],
    )
    ratio = statistics.median(times["app"]) / statistics.median(times["bare"])
    p95 = percentile(times["app"], 95) / percentile(times["bare"], 95)
    print(f"\napp / bare: median {ratio:.2f}x, p95 {p95:.2f}x")
    print(f"app predicted the drawn digit in {app_right} of {len(times['app'])} strokes")


def training_mode(args, timeout_ms: int) -> None:
    """One app session: blocks of strokes with no run, then with a long run under way."""
    import live_ui as ui

    shapes = [one_stroke(), zero_stroke()]
    times = {"idle": [], "training": []}
    env = {"CONVSCOPE_MAX_TRAIN_SECONDS": "3600"}  # no run is cut by the 600 s safety net
    with serve("app.py", env) as (url, _), chromium() as browser:
        page = open_page(browser, url)
        ui.long_run_settings(page, timeout_ms)
        count = 0

        def strokes(side: str | None, n: int) -> None:
            nonlocal count
            for _ in range(n):
                seconds, _text = timed_stroke(page, shapes[count % 2], timeout_ms)
                empty_canvas(page, timeout_ms)
                count += 1
                if side is not None:
                    times[side].append(seconds)

        def training_block(side: str | None, n: int) -> None:
            ui.start_run(page, timeout_ms)
            page.wait_for_timeout(2000)  # live reruns under way
            strokes(side, n)
            line = ui.progress_text(page, timeout_ms)
            if not line.startswith("Training:"):
                raise RuntimeError(f"the run was not under way to the end: {line!r}")
            ui.stop(page, timeout_ms)

        strokes(None, args.warmup)  # warm-up, not counted: idle, then training
        training_block(None, args.warmup)
        while min(len(t) for t in times.values()) < args.strokes:
            n = min(args.block, args.strokes - len(times["idle"]))
            strokes("idle", n)
            training_block("training", min(args.block, args.strokes - len(times["training"])))
    print(f"Draw-to-prediction latency in one app session, ms ({load_average()} at the end)")
    print_table(
        ["session", "strokes", "median ms", "p95 ms"],
        [summarise("no run under way", times["idle"]),
         summarise("a run under way (live weights)", times["training"])],
    )  # fmt: skip
    ratio = statistics.median(times["training"]) / statistics.median(times["idle"])
    p95 = percentile(times["training"], 95) / percentile(times["idle"], 95)
    print(f"\ntraining / idle: median {ratio:.2f}x, p95 {p95:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=20, help="timed strokes per side (20)")
    parser.add_argument("--warmup", type=int, default=2, help="uncounted strokes first (2)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds per stroke (60)")
    parser.add_argument("--training", action="store_true",
                        help="one app session, no run against a run under way")  # fmt: skip
    parser.add_argument("--block", type=int, default=5,
                        help="--training: strokes per block of one side (5)")  # fmt: skip
    args = parser.parse_args()
    timeout_ms = int(args.timeout * 1000)
    if args.training:
        training_mode(args, timeout_ms)
    else:
        bare_mode(args, timeout_ms)


if __name__ == "__main__":
    main()
