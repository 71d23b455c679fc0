"""Resident memory of the ConvScope server as sessions arrive, draw, train and leave.

Starts `streamlit run app.py` (repository root, its .streamlit/config.toml: one training slot),
then opens browser sessions one by one (Playwright contexts in one headless Chromium) until
the largest --checkpoints count is open at once; each draws a "1" and waits for the
prediction. Then every open session trains a run of the bundled digits from the sidebar, set
in every session first, then Train pressed in every session one after the other, so the runs
queue for the one training slot as a class's would (the report says how far the queue grew).
With --run live (the default) the run is the digits' default 4,000 training images for 3
epochs (the sidebar's Epochs moved to 3; its other defaults: batch 16, augmentation on), a
run of several seconds: each session's page (Draw & predict, its "1" on it) shows the run's
live weights while it trains, as a learner's does -- a live copy of the weights, traces of
the input through them, the live curves -- and the benchmark waits, in the order of the
queue, until the page says "Live: epoch ..." (counted: "live shown") and then "Training
finished". With --run short it is 200 images for 1 epoch (too short for a live rerun with
newer weights). Either way every session ends holding its own trained model, its finished
job and its history; the peak column of that row covers the whole training. The server's
VmRSS (from /proc, no psutil needed) is read at each checkpoint and sampled every 0.25 s for
the peak. A run trains in a worker process of its own by default
(`python -m cnn_core.job_worker`, a child of the server, one per run while it lasts; see
CONVSCOPE_TRAINING_WORKER), whose memory is not in the server's RSS: the worker processes
below the server are sampled every 0.25 s too, and each row gives the peak RSS and PSS of one
worker process since the previous row (PSS counts pages shared with other processes, such as
torch's libraries, in proportion, so server RSS + worker PSS does not count them twice) and how
many worker processes were seen. Then every session is closed and memory is read again
after --after-close seconds. With --reopen N, N fresh sessions then draw and train again (one
after the other): if RSS hardly grows, the memory of the closed sessions was freed inside the
process (and reused), not leaked.

Streamlit keeps a disconnected session for server.disconnectedSessionTTL seconds (120 by
default) in case the browser reconnects; --session-ttl sets it for this server only, so the
"after close" figure can show the sessions' memory being dropped.

    python bench/memory.py --checkpoints 1 10 30 --session-ttl 10 --after-close 30 \
        --max-seconds 1800

--env NAME=VALUE (repeatable) sets an environment variable of the server only, e.g.
MALLOC_ARENA_MAX=8 to compare glibc's arena limit with the app's own (cnn_core/memory.py).
"""

from __future__ import annotations

import argparse
import re
import threading
import time
from functools import partial

import live_ui as ui
from common import chromium, find_processes, load_average, print_table, pss_mb, rss_mb, serve
from draw_latency import one_stroke, open_page, timed_stroke


class Sampler:
    """Samples a process's RSS in a background thread; keeps the peak since the last reset."""

    def __init__(self, pid: int, every: float = 0.25):
        self.pid, self.every, self.peak = pid, every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.peak = max(self.peak, rss_mb(self.pid))
            except (OSError, RuntimeError):
                return  # the server has gone

    def take_peak(self) -> float:
        peak, self.peak = self.peak, 0.0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


class WorkerSampler(Sampler):
    """Samples the training worker processes below a server (a new one for every run): the
    peak RSS and PSS of one of them, and which ones were seen, since the last reset."""

    def __init__(self, server_pid: int, every: float = 0.25):
        self.peak_pss, self.seen = 0.0, set()
        super().__init__(server_pid, every)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                workers = find_processes(self.pid, "cnn_core.job_worker")
            except OSError:
                return  # the server has gone
            for pid in workers:
                try:
                    rss, pss = rss_mb(pid), pss_mb(pid)
                except (OSError, RuntimeError):  # it has just ended
                    continue
                self.peak, self.peak_pss = max(self.peak, rss), max(self.peak_pss, pss)
                self.seen.add(pid)

    def take(self) -> tuple[float, float, int]:
        """(peak RSS MB, peak PSS MB, worker processes seen) since the last call."""
        taken = (self.peak, self.peak_pss, len(self.seen))
        self.peak, self.peak_pss, self.seen = 0.0, 0.0, set()
        return taken


def draw(page, timeout_ms: int) -> None:
    """Draw a "1" and wait for the prediction."""
    timed_stroke(page, one_stroke(), timeout_ms)


QUEUE_RE = re.compile(r"number (\d+) in the queue")


def press_train(page, timeout_ms: int) -> int:
    """Press Train (the settings already made); wait until the run shows it has started, is
    queued or has finished; returns its place in the queue (0: it was not queued)."""
    ui.press(page, "Train")
    shown = page.get_by_text("Training: epoch").or_(page.get_by_text("in the queue"))
    shown = shown.or_(page.get_by_text("Training finished")).or_(page.get_by_text("Starting"))
    shown.first.wait_for(timeout=timeout_ms)
    m = QUEUE_RE.search(ui.sidebar(page).inner_text())
    return int(m[1]) if m else 0


LIVE_EPOCHS = 3


def live_run_settings(page, timeout_ms: int) -> None:
    """The data set's default training images (4,000 bundled digits) for LIVE_EPOCHS epochs:
    a run of several seconds, long enough for the page to show newer live weights."""
    ui.open_optimisation(page, timeout_ms)
    box = ui.sidebar(page).get_by_test_id("stSlider").filter(has_text="Epochs")
    handle = box.get_by_role("slider")
    handle.focus()
    handle.press("Home")
    for _ in range(LIVE_EPOCHS - 1):
        handle.press("ArrowRight")
    box.get_by_text(str(LIVE_EPOCHS), exact=True).first.wait_for(timeout=timeout_ms)


RUN_SETTINGS = {"live": live_run_settings, "short": ui.short_run_settings}


def wait_finished(page, timeout_ms: int) -> None:
    page.get_by_text("Training finished").first.wait_for(timeout=timeout_ms)


def wait_live_then_finished(page, timeout_ms: int) -> bool | None:
    """Wait until the run has finished; True if the page showed it training with live
    weights first ("Live: epoch E, batch B" above the page; the initial random weights, shown
    while the run waits in the queue, do not count), False if not, None if the run had ended
    before this was called (it ran while Train was being pressed in later sessions)."""
    live, done = page.get_by_text("Live: epoch"), page.get_by_text("Training finished")
    if done.count() > 0:
        return None
    live.or_(done).first.wait_for(timeout=timeout_ms)
    shown = live.count() > 0
    wait_finished(page, timeout_ms)
    return shown


def sessions(n: int) -> str:
    return f"{n} session" if n == 1 else f"{n} sessions"


class Bounded:
    """Runs one step of a loop over sessions: False (and a row saying why) when the step
    failed (that loop ends) or the time bound is hit (every loop ends)."""

    def __init__(self, deadline: float, rows: list):
        self.deadline, self.rows, self.ok = deadline, rows, True

    def __call__(self, what: str, n: int, step) -> bool:
        if not self.ok:
            return False
        if time.monotonic() > self.deadline:
            self.rows.append([f"time bound hit before {what} {n}", "", "", "", "", "", ""])
            self.ok = False
            return False
        try:
            step()
        except Exception as err:  # report what was measured so far, and why this loop ended
            self.rows.append([f"{what} {n} failed: {type(err).__name__}", "", "", "", "", "", ""])
            return False
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[1, 10, 30],
                        help="session counts at which to read memory (1 10 30)")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=600, help="overall bound (600)")
    parser.add_argument("--after-close", type=float, default=15, help="wait after closing (15)")
    parser.add_argument("--session-ttl", type=int, help="server.disconnectedSessionTTL, s")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per step (120)")
    parser.add_argument("--reopen", type=int, default=0, help="fresh sessions after closing (0)")
    parser.add_argument("--run", choices=sorted(RUN_SETTINGS), default="live",
                        help="live: 4,000 digits, 3 epochs (default); short: 200, 1")  # fmt: skip
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable of the server (repeatable)")  # fmt: skip
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    if args.session_ttl is not None:
        env["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(args.session_ttl)
    timeout_ms, deadline = int(args.timeout * 1000), time.monotonic() + args.max_seconds
    rows, load_at_start = [], load_average()
    bounded = Bounded(deadline, rows)
    with serve("app.py", env) as (url, proc), chromium() as browser:
        sampler, workers = Sampler(proc.pid), WorkerSampler(proc.pid)
        started = time.monotonic()

        def checkpoint(text: str) -> None:
            rss = rss_mb(proc.pid)
            peak = max(rss, sampler.take_peak())
            w_rss, w_pss, w_seen = workers.take()
            w_rss, w_pss = (f"{w_rss:.0f}", f"{w_pss:.0f}") if w_seen else ("", "")
            rows.append([text, f"{rss:.0f}", f"{peak:.0f}", w_rss, w_pss, str(w_seen),
                         f"{time.monotonic() - started:.0f}"])  # fmt: skip

        def press(page, places: list) -> None:
            places.append(press_train(page, timeout_ms))

        ms = timeout_ms
        rows.append(["server started, no session", f"{rss_mb(proc.pid):.0f}", "", "", "", "", ""])
        pages = []
        for n in range(1, max(args.checkpoints) + 1):

            def visit():
                pages.append(open_page(browser, url))
                draw(pages[-1], timeout_ms)

            if not bounded("session", n, visit):
                break
            if n in args.checkpoints:
                checkpoint(f"{sessions(n)} open, " + ("drew" if n == 1 else "each drew"))
        settings = RUN_SETTINGS[args.run]
        for n, page in enumerate(pages, 1):  # the run's settings, in every session
            if not bounded("settings of session", n, partial(settings, page, ms)):
                break
        places = []
        for n, page in enumerate(pages, 1):  # then everyone presses Train: the runs queue
            if not bounded("Train in session", n, partial(press, page, places)):
                break
        finished, live_shown = 0, []
        for n, page in enumerate(pages, 1):

            def wait_run(page=page):
                if args.run == "live":
                    live_shown.append(wait_live_then_finished(page, timeout_ms))
                else:
                    wait_finished(page, timeout_ms)

            if not bounded("run of session", n, wait_run):
                break
            finished = n
        if finished:
            waiting = max(places, default=0)
            what = f"{sessions(len(pages))} open, {finished} of them trained"
            live = ""
            if args.run == "live":
                seen, unseen = live_shown.count(True), live_shown.count(False)
                ended = live_shown.count(None)
                live = f"; live weights seen in {seen}, not in {unseen}, over unseen in {ended}"
            checkpoint(
                f"{what} ({args.run} run; Train pressed in each in turn; up to {waiting} in the "
                f"queue{live})"
            )
        for page in pages:
            page.context.close()
        time.sleep(args.after_close)
        checkpoint(f"{args.after_close:g} s after closing them all")
        fresh = []
        for n in range(1, args.reopen + 1):

            def again():
                fresh.append(open_page(browser, url))
                draw(fresh[-1], timeout_ms)
                RUN_SETTINGS[args.run](fresh[-1], timeout_ms)
                press_train(fresh[-1], timeout_ms)
                wait_finished(fresh[-1], timeout_ms)

            if not bounded("fresh session", n, again):
                break
        if fresh:
            what = sessions(len(fresh)).replace(" session", " fresh session")
            checkpoint(
                f"then {what} open, " + ("each " if len(fresh) > 1 else "") + "drew and trained"
            )
        sampler.stop()
        workers.stop()
    ttl = args.session_ttl if args.session_ttl is not None else "default"
    extra = f"; server environment {' '.join(args.env)}" if args.env else ""
    loads = f"{load_at_start} at the start, {load_average()} at the end"
    print(f"Server memory, MB (disconnectedSessionTTL {ttl}{extra}; {loads})")
    headers = ["moment", "server RSS MB", "server peak MB since previous row",
               "worker process peak RSS MB", "worker process peak PSS MB",
               "worker processes seen", "elapsed s"]  # fmt: skip
    print_table(headers, rows)


if __name__ == "__main__":
    main()
