"""Resident memory of the ConvScope server as sessions arrive, work and leave.

Starts `streamlit run app.py` (repository root, its .streamlit/config.toml), then opens browser
sessions one by one (Playwright contexts in one headless Chromium) until --sessions are open
at once. Each session draws a "1", waits for the prediction, presses Train in the sidebar with
the default settings, waits for the first progress line, presses Stop and waits for the
stopped (or finished) message -- so every session holds its own trained model. The server's
VmRSS (from /proc, no psutil needed) is read at each checkpoint and sampled every 0.25 s for the
peak. Then every session is closed and memory is read again after --after-close seconds.
With --reopen N, N fresh sessions then draw and train again: if RSS hardly grows, the memory
of the closed sessions was freed inside the process (and reused), not leaked.

Streamlit keeps a disconnected session for server.disconnectedSessionTTL seconds (120 by
default) in case the browser reconnects; --session-ttl sets it for this server only, so the
"after close" figure can show the sessions' memory being dropped.

    python bench/memory.py --checkpoints 1 10 30 --max-seconds 900
"""

from __future__ import annotations

import argparse
import threading
import time

from common import chromium, load_average, print_table, rss_mb, serve
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


def draw_and_train(page, timeout_ms: int) -> None:
    """Draw a digit, then train with the sidebar's defaults and stop after the first batch."""
    timed_stroke(page, one_stroke(), timeout_ms)
    sidebar = page.get_by_test_id("stSidebarUserContent")
    sidebar.get_by_role("button", name="Train").click()
    page.get_by_text("img/s").first.wait_for(timeout=timeout_ms)
    sidebar.get_by_role("button", name="Stop").click()
    done = page.get_by_text("Training stopped at").or_(page.get_by_text("Training finished"))
    done.first.wait_for(timeout=timeout_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[1, 10, 30],
                        help="session counts at which to read memory (1 10 30)")  # fmt: skip
    parser.add_argument("--max-seconds", type=float, default=900, help="overall bound (900)")
    parser.add_argument("--after-close", type=float, default=15, help="wait after closing (15)")
    parser.add_argument("--session-ttl", type=int, help="server.disconnectedSessionTTL, s")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per step (120)")
    parser.add_argument("--reopen", type=int, default=0, help="fresh sessions after closing (0)")
    args = parser.parse_args()
    env = {}
    if args.session_ttl is not None:
        env["STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL"] = str(args.session_ttl)
    timeout_ms, deadline = int(args.timeout * 1000), time.monotonic() + args.max_seconds
    rows = []
    with serve("app.py", env) as (url, proc), chromium() as browser:
        sampler = Sampler(proc.pid)
        rows.append(["server started, no session", f"{rss_mb(proc.pid):.0f}", "", ""])
        pages, started = [], time.monotonic()
        for n in range(1, max(args.checkpoints) + 1):
            if time.monotonic() > deadline:
                rows.append([f"time bound hit after {n - 1} sessions", "", "", ""])
                break
            try:
                pages.append(open_page(browser, url))
                draw_and_train(pages[-1], timeout_ms)
            except Exception as err:  # report what was measured so far, and why it ended
                rows.append([f"session {n} failed: {type(err).__name__}", "", "", ""])
                break
            if n in args.checkpoints:
                seconds = time.monotonic() - started
                rss, peak = rss_mb(proc.pid), sampler.take_peak()
                rows.append([f"{n} sessions open, each drew and trained", f"{rss:.0f}",
                             f"{peak:.0f}", f"{seconds:.0f}"])  # fmt: skip
        for page in pages:
            page.context.close()
        time.sleep(args.after_close)
        rows.append([f"{args.after_close:g} s after closing them all", f"{rss_mb(proc.pid):.0f}",
                     f"{sampler.take_peak():.0f}", ""])  # fmt: skip
        fresh = []
        for n in range(1, args.reopen + 1):
            if time.monotonic() > deadline:
                rows.append([f"time bound hit after {n - 1} fresh sessions", "", "", ""])
                break
            try:
                fresh.append(open_page(browser, url))
                draw_and_train(fresh[-1], timeout_ms)
            except Exception as err:
                rows.append([f"fresh session {n} failed: {type(err).__name__}", "", "", ""])
                break
        if fresh:
            rows.append([f"then {len(fresh)} fresh sessions open, each drew and trained",
                         f"{rss_mb(proc.pid):.0f}", f"{sampler.take_peak():.0f}", ""])  # fmt: skip
        sampler.stop()
    ttl = args.session_ttl if args.session_ttl is not None else "default"
    print(f"Server memory, MB (disconnectedSessionTTL {ttl}; {load_average()} at the end)")
    print_table(["moment", "RSS MB", "peak MB since previous row", "elapsed s"], rows)


if __name__ == "__main__":
    main()
