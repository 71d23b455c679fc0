"""Draw latency in headless Chromium: the app against a bare canvas page, or (--training) the
app with a training run under way against the app with none.

Latency of one stroke, from the mouse-up that ends it, in two columns: to the answer (the
`.cs-prediction` element: the app's predicted class, the bare page's echo of the image size) and
to the page settled: its LAST change (a MutationObserver installed in the page before Streamlit
loads sees every element, attribute and text change, and every <img> load), once Streamlit's
script is not running, nothing is stale, every image has loaded and nothing has changed for
300 ms. Times are performance.now() in the page (the mouse-up is seen by a listener there), so no
Playwright round trip is in them; both pages are measured identically. The script also records
when the stroke left on Streamlit's websocket (both pages wait for the canvas's own debounce,
about 200 ms), when the first and the last message of the reply arrived and their size, which
splits a stroke into canvas, server and browser time. Before every stroke the canvas is emptied
with its own Undo button and the page is left to settle again, so each stroke is timed from a
settled empty canvas. Strokes alternate between a "1" (vertical line) and a "0" (oval).

Both servers run at once from the repository root (same .streamlit/config.toml) and the trials
alternate app, bare, app, bare, ... so load from other processes hits both alike. The first
--warmup strokes on each page are not counted (first trace, first chart, lazy imports).
--busy N starts N processes that each keep a CPU busy for the whole run (a loaded machine).

    python bench/draw_latency.py --strokes 20
    python bench/draw_latency.py --strokes 20 --busy 2
    python bench/draw_latency.py --strokes 20 --before /tmp/before  # git archive <commit>

--elements prints what one stroke's reply is made of: messages and bytes per element kind
(Streamlit's ForwardMsg protobufs as they arrive on the websocket). --browser-work prints the
browser's own work per stroke from Chromium's DevTools metrics: main-thread task, JavaScript,
style and layout milliseconds and DOM nodes made, app (and --before) against the bare page.

    python bench/draw_latency.py --browser-work --strokes 10 --before /tmp/before

With --training, the app alone, idle against training, in ONE session: blocks of --block strokes
alternate between "idle" (no run under way; the session's last run, if any, was stopped) and
"training" (a long run started from the sidebar: Fashion-MNIST, all 60,000 images, 20 epochs,
batch 64, no augmentation; Train pressed, the first steps reported and 2 s more, so that the
page is already redrawing with live weights about once a second; then Stop after the block).
Only the answer is timed then (in Python around Playwright calls), since a page that redraws
with live weights never settles. It stays unambiguous while the page redraws: after Undo the
session has no input, so no run of the page (live or not) shows `.cs-prediction`; the element
can only come back from the new drawing. The predicted class is not checked then (the live
weights learn Fashion-MNIST).

    python bench/draw_latency.py --training --strokes 20
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import math
import multiprocessing
import statistics
import time
from pathlib import Path

from common import ROOT, chromium, load_average, percentile, print_table, serve

STEPS = 4  # mouse-move steps between stroke points, as tests/test_browser.py draws


def one_stroke():
    return [(140, 50 + 9 * k) for k in range(21)]


def zero_stroke():
    return [
        (140 + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 85 * math.cos(t / 20 * 2 * math.pi))
        for t in range(22)
    ]


# Installed in every page before Streamlit loads: the time of the last mouse-up, of the first DOM
# change after it that shows `.cs-prediction`, and of the last DOM change of any kind (a
# MutationObserver on the whole document: elements, attributes, text) or image load (an <img>
# decoding after its element was inserted changes what is on screen without a DOM change).
# Times are performance.now() in the page, so no Playwright round trip is in the figures.
OBSERVE_JS = """
(() => {
  const cs = window.__cs = {up: null};
  const reset = () => Object.assign(cs, {
    up: performance.now(), answer: null, sent: null, first: null, lastMsg: null,
    bytes: 0, msgs: 0,
  });
  const seen = () => {
    const now = performance.now();
    cs.last = now;
    if (cs.up !== null && cs.answer === null && document.querySelector('.cs-prediction'))
      cs.answer = now;
  };
  window.addEventListener('mouseup', () => { reset(); cs.last = cs.up; }, true);
  document.addEventListener('load', (e) => { if (e.target.tagName === 'IMG') seen(); }, true);
  new MutationObserver(seen).observe(document, {
    childList: true, subtree: true, attributes: true, characterData: true,
  });
  // Streamlit's websocket: when the stroke went out, when the reply's messages came, how big.
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (cs.up === null) return;
        const now = performance.now();
        cs.first = cs.first ?? now;
        cs.lastMsg = now;
        cs.bytes += e.data.byteLength ?? e.data.size ?? e.data.length;
        cs.msgs += 1;
      });
    }
    send(data) {
      if (cs.up !== null && cs.sent === null) cs.sent = performance.now();
      return super.send(data);
    }
  };
})();
"""

# True once the page is settled: Streamlit's script not running, nothing stale, every image
# loaded, and no DOM change for QUIET_MS; ``answer`` also asks for `.cs-prediction` to be shown
# (after a stroke) or absent (after Undo).
SETTLED_JS = """
([quiet, answer]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  if (![...document.images].every((img) => img.complete)) return false;
  if ((document.querySelector('.cs-prediction') !== null) !== answer) return false;
  return performance.now() - window.__cs.last >= quiet;
}
"""
QUIET_MS = 300


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(OBSERVE_JS)
    page = context.new_page()
    page.goto(url)
    page.locator("canvas").first.wait_for(timeout=120_000)
    return page


def settle(page, answer: bool, timeout_ms: int) -> None:
    """Wait until the page is settled (SETTLED_JS) with or without its answer on screen."""
    page.wait_for_function(SETTLED_JS, arg=[QUIET_MS, answer], polling=20, timeout=timeout_ms)


def _stroke(page, points) -> None:
    """Draw one stroke through ``points`` (canvas pixels), ending with the mouse-up."""
    box = page.locator("canvas").first.bounding_box()
    xy = [(box["x"] + x, box["y"] + y) for x, y in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=STEPS)


def timed_stroke(page, points, timeout_ms: int) -> tuple[float, str]:
    """Draw one stroke on an empty canvas; (seconds from mouse-up to the answer attached, its
    text), timed in Python (also while a run redraws the page, which never settles then)."""
    _stroke(page, points)
    answer = page.locator(".cs-prediction")
    start = time.perf_counter()
    page.mouse.up()
    answer.wait_for(state="attached", timeout=timeout_ms)
    elapsed = time.perf_counter() - start
    return elapsed, answer.inner_text().strip()


def stroke_times(page, points, timeout_ms: int) -> dict:
    """Draw one stroke on an empty, settled canvas and wait until the page is settled again.
    Returns ms from the mouse-up to: the answer shown ("answer"), the page's last change
    ("settled"), the stroke sent ("sent"), the first and last message of the reply ("first",
    "last_msg"); the reply's size ("kB", "messages") and the answer's text ("text")."""
    _stroke(page, points)
    page.mouse.up()
    settle(page, True, timeout_ms)
    cs = page.evaluate("() => window.__cs")
    since = {k: cs[k] - cs["up"] for k in ("answer", "sent", "first")}
    since["settled"] = cs["last"] - cs["up"]
    since["last_msg"] = cs["lastMsg"] - cs["up"]
    since["kB"], since["messages"] = cs["bytes"] / 1000, cs["msgs"]
    since["text"] = page.locator(".cs-prediction").inner_text().strip()
    return since


def empty_canvas(page, timeout_ms: int, settled: bool = True) -> None:
    """Undo the stroke and wait (not timed) until the page has settled without an answer, or
    (not ``settled``) until the answer is gone and 150 ms more."""
    page.locator(".dc-icon-button[title='Undo']").click()
    if settled:
        settle(page, False, timeout_ms)
    else:
        page.locator(".cs-prediction").wait_for(state="detached", timeout=timeout_ms)
        page.wait_for_timeout(150)  # let the last rerun settle before the next stroke


def summarise(name: str, seconds: list[float]) -> list:
    ms = [1000 * s for s in seconds]
    return [name, len(ms), f"{statistics.median(ms):.0f}", f"{percentile(ms, 95):.0f}"]


def busy_loop() -> None:
    """One CPU's worth of load (a process of --busy)."""
    while True:
        sum(range(10_000))


@contextlib.contextmanager
def busy(count: int):
    """``count`` processes that each keep a CPU busy, stopped on exit."""
    procs = [multiprocessing.Process(target=busy_loop, daemon=True) for _ in range(count)]
    for proc in procs:
        proc.start()
    try:
        yield
    finally:
        for proc in procs:
            proc.terminate()
            proc.join()


TIMELINE = ("sent", "first", "last_msg", "answer", "settled", "kB", "messages")


def bare_mode(args, timeout_ms: int) -> None:
    """The app (and, with --before, an older copy of it) against the bare canvas page, strokes
    alternating between them."""
    shapes = [("1", one_stroke()), ("0", zero_stroke())]
    with contextlib.ExitStack() as stack:
        urls = {"app": stack.enter_context(serve("app.py"))[0]}
        if args.before:
            urls["before"] = stack.enter_context(serve("app.py", root=Path(args.before)))[0]
        urls["bare"] = stack.enter_context(serve("bench/bare_canvas.py"))[0]
        browser = stack.enter_context(chromium())
        pages = {name: open_page(browser, url) for name, url in urls.items()}
        runs = {name: [] for name in pages}
        with busy(args.busy):
            for i in range(args.warmup + args.strokes):
                _digit, points = shapes[i % 2]
                for name, page in pages.items():
                    run = stroke_times(page, points, timeout_ms)
                    empty_canvas(page, timeout_ms)
                    if i >= args.warmup:
                        runs[name].append(run)
            load = load_average()
    report(runs, shapes, args, load)


TITLES = {"app": "ConvScope app", "before": "app before (--before)", "bare": "bare canvas"}


def report(runs: dict, shapes, args, load: str) -> None:
    """The tables of bare_mode: to the answer and to settled, then the median timeline."""
    print(f"Draw latency, ms (--busy {args.busy}, {load} before the servers stopped)")
    rows = []
    for what in ("answer", "settled"):
        for name, times in runs.items():
            ms = [r[what] / 1000 for r in times]
            rows.append([f"{TITLES[name]}, to {what}", *summarise("", ms)[1:]])
    print_table(["page, mouse-up to", "strokes", "median ms", "p95 ms"], rows)
    bare = runs["bare"]
    for name in (n for n in runs if n != "bare"):
        for what in ("answer", "settled"):
            mine, theirs = [r[what] for r in runs[name]], [r[what] for r in bare]
            ratio = statistics.median(mine) / statistics.median(theirs)
            p95 = percentile(mine, 95) / percentile(theirs, 95)
            print(f"\n{name} / bare, to {what}: median {ratio:.2f}x, p95 {p95:.2f}x")
    print("\nMedian timeline from the mouse-up (ms; the reply's size in kB and messages)")
    print_table(["page", *TIMELINE],
                [[name, *(f"{statistics.median(r[k] for r in times):.0f}" for k in TIMELINE)]
                 for name, times in runs.items()])  # fmt: skip
    app = runs["app"]
    right = sum(r["text"] == shapes[(k + args.warmup) % 2][0] for k, r in enumerate(app))
    print(f"\napp predicted the drawn digit in {right} of {len(app)} strokes")


def element_sizes(frames) -> dict:
    """{element kind: [messages, bytes]} of Streamlit websocket frames (ForwardMsg)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    tally = collections.defaultdict(lambda: [0, 0])
    for data in frames:
        if isinstance(data, str):
            continue
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        if kind == "delta":
            delta = msg.delta.WhichOneof("type")
            kind = msg.delta.new_element.WhichOneof("type") if delta == "new_element" else delta
        tally[kind][0] += 1
        tally[kind][1] += len(data)
    return tally


def elements_mode(args, timeout_ms: int) -> None:
    """What one stroke's reply is made of: messages and bytes per element kind, for the app
    (and --before), after a warm-up stroke."""
    roots = {"app": ROOT, **({"before": Path(args.before)} if args.before else {})}
    for name, root in roots.items():
        frames = []
        with serve("app.py", root=root) as (url, _), chromium() as browser:
            page = open_page(browser, url)
            page.on(
                "websocket", lambda ws, got=frames: ws.on("framereceived", lambda d: got.append(d))
            )
            page.reload()
            page.locator("canvas").first.wait_for(timeout=timeout_ms)
            settle(page, False, timeout_ms)
            for points in (zero_stroke(), one_stroke()):  # the second is the one counted
                frames.clear()  # (another drawing: no message of it is in Streamlit's cache)
                run = stroke_times(page, points, timeout_ms)
                counted = list(frames)
                empty_canvas(page, timeout_ms)
        tally = element_sizes(counted)
        print(f"\n{TITLES[name]}: one stroke's reply, {run['messages']} messages, "
              f"{run['kB']:.1f} kB")  # fmt: skip
        rows = sorted(tally.items(), key=lambda kv: -kv[1][1])
        print_table(["element", "messages", "kB"],
                    [[k, n, f"{b / 1000:.1f}"] for k, (n, b) in rows])  # fmt: skip


BROWSER_METRICS = {  # Chromium's Performance.getMetrics name -> column (durations in ms)
    "TaskDuration": "main-thread tasks ms",
    "ScriptDuration": "JavaScript ms",
    "RecalcStyleDuration": "style ms",
    "LayoutDuration": "layout ms",
    "Nodes": "DOM nodes made",
}


def browser_work_mode(args, timeout_ms: int) -> None:
    """The browser's own work per stroke (Chromium's Performance.getMetrics over DevTools,
    read just before the mouse-up and once the page has settled): main-thread task, JavaScript,
    style and layout time and DOM nodes made, for the app (and --before) and the bare page,
    strokes interleaved; medians over --strokes after --warmup."""
    names = ["app", *(["before"] if args.before else []), "bare"]
    rows = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        urls = {"app": stack.enter_context(serve("app.py"))[0]}
        if args.before:
            urls["before"] = stack.enter_context(serve("app.py", root=Path(args.before)))[0]
        urls["bare"] = stack.enter_context(serve("bench/bare_canvas.py"))[0]
        browser = stack.enter_context(chromium())
        pages = {name: open_page(browser, url) for name, url in urls.items()}
        sessions = {}
        for name, page in pages.items():
            sessions[name] = page.context.new_cdp_session(page)
            sessions[name].send("Performance.enable")
            settle(page, False, timeout_ms)

        def metrics(name: str) -> dict:
            got = sessions[name].send("Performance.getMetrics")["metrics"]
            return {m["name"]: m["value"] for m in got if m["name"] in BROWSER_METRICS}

        for k in range(args.warmup + args.strokes):
            for name, page in pages.items():
                _stroke(page, one_stroke() if k % 2 == 0 else zero_stroke())
                before = metrics(name)
                page.mouse.up()
                settle(page, True, timeout_ms)
                after = metrics(name)
                if k >= args.warmup:
                    scale = {key: 1000 if key.endswith("Duration") else 1 for key in after}
                    rows[name].append({key: (after[key] - before[key]) * scale[key]
                                       for key in BROWSER_METRICS})  # fmt: skip
                empty_canvas(page, timeout_ms)
    print(f"The browser's work per stroke, median of {args.strokes} ({load_average()} at the end)")
    print_table(
        ["page", *BROWSER_METRICS.values()],
        [[TITLES.get(name, name),
          *(f"{statistics.median(r[key] for r in rows[name]):.0f}" for key in BROWSER_METRICS)]
         for name in names],
    )  # fmt: skip


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
                empty_canvas(page, timeout_ms, settled=False)
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
    parser.add_argument("--busy", type=int, default=0,
                        help="processes that each keep a CPU busy meanwhile (0)")  # fmt: skip
    parser.add_argument("--before", metavar="DIR",
                        help="also an older copy of the repository (git archive)")  # fmt: skip
    parser.add_argument("--elements", action="store_true",
                        help="one stroke's reply by element kind (messages, bytes)")  # fmt: skip
    parser.add_argument("--browser-work", action="store_true",
                        help="the browser's work per stroke (DevTools metrics)")  # fmt: skip
    parser.add_argument("--training", action="store_true",
                        help="one app session, no run against a run under way")  # fmt: skip
    parser.add_argument("--block", type=int, default=5,
                        help="--training: strokes per block of one side (5)")  # fmt: skip
    args = parser.parse_args()
    timeout_ms = int(args.timeout * 1000)
    if args.elements:
        elements_mode(args, timeout_ms)
    elif args.browser_work:
        browser_work_mode(args, timeout_ms)
    elif args.training:
        training_mode(args, timeout_ms)
    else:
        bare_mode(args, timeout_ms)


if __name__ == "__main__":
    main()
