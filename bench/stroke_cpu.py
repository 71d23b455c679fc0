"""Server CPU per stroke on Draw & predict, one session at a time, nothing else running.

The load test (bench/load_test.py) is limited by the server's CPU time per stroke: one Python
process answers every session, so 15 strokes/s need well under 66 ms each. This benchmark
measures that figure alone, quickly, so a change can be compared with the code before it:

- `streamlit run app.py` on 127.0.0.1 (and, with --before DIR, an older copy of the repository
  served side by side in the same run, turn about);
- on each server a Chromium page draws a warm-up stroke so that the BackMsg a browser sends at
  the end of a stroke is captured (as bench/load_test.py does; it names the canvas's fragment,
  which two versions of the page may place differently), then Chromium is closed;
- one protocol client per server (bench/load_test.ProtocolClient) sends --strokes strokes one
  after the other (each a fresh "1" or "0" at a random offset), in blocks that alternate between
  the servers;
- per stroke: the server process's CPU seconds (/proc, user + system) and the wall time from
  sending to the run's script_finished.

    flock /tmp/convscope-bench.lock python bench/stroke_cpu.py --strokes 60 [--before DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import chromium, cpu_seconds, load_average, percentile, print_table, serve
from load_test import BrowserSession, ProtocolClient, canvas_template


def capture(url: str) -> bytes:
    """The BackMsg of one real stroke on ``url`` (a warm-up stroke in Chromium)."""
    with chromium() as browser:
        session = BrowserSession("capture", browser, url, 60_000)
        session.stroke(measured=False)
        template = canvas_template(session.frames["messages"])
        session.close()
    return template


async def measure(servers: dict, templates: dict, strokes: int, block: int) -> dict:
    clients = {}
    for name, (url, _proc) in servers.items():
        client = ProtocolClient(0, url, templates[name], 60)
        await client.connect()
        for k in range(3):  # warm-up strokes, not measured
            await client.stroke(k, measured=False)
        clients[name] = client
    results = {name: {"cpu": [], "wall": [], "wrong": 0} for name in servers}
    done = 0
    while done < strokes:
        for name, client in clients.items():
            pid = servers[name][1].pid
            for k in range(done, min(done + block, strokes)):
                before = cpu_seconds(pid)
                await client.stroke(k, measured=True)
                # the run has finished; the last messages may still be on their way out
                await asyncio.sleep(0.05)
                results[name]["cpu"].append(cpu_seconds(pid) - before)
                last = client.strokes[-1]
                results[name]["wall"].append(last["done"])
                results[name]["wrong"] += not last["right"]
        done += block
    for client in clients.values():
        lost = client.lost
        await client.close()
        if lost:
            raise RuntimeError(f"a session was lost: {lost}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=60, help="timed strokes per server (60)")
    parser.add_argument("--block", type=int, default=10, help="strokes in a row per server (10)")
    parser.add_argument("--before", metavar="DIR", help="an older copy of the repository too")
    args = parser.parse_args()
    roots = {"app now": Path(__file__).resolve().parent.parent}
    if args.before:
        roots["app before"] = Path(args.before).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        servers, stack = {}, []
        try:
            for name, root in roots.items():
                ctx = serve("app.py", root=root)
                servers[name] = ctx.__enter__()
                stack.append(ctx)
            # One captured stroke per server: the canvas's rerun names its fragment, and two
            # versions of the page may hold the canvas in different fragments.
            templates = {name: capture(url) for name, (url, _proc) in servers.items()}
            for name, template in templates.items():
                Path(tmp, f"{name.replace(' ', '_')}.bin").write_bytes(template)
            results = asyncio.run(measure(servers, templates, args.strokes, args.block))
        finally:
            for ctx in reversed(stack):
                ctx.__exit__(*sys.exc_info())
    rows = []
    for name, r in results.items():
        cpu = [1000 * c for c in r["cpu"]]
        wall = [1000 * w for w in r["wall"]]
        rows.append([
            name, len(cpu), f"{statistics.median(cpu):.1f}", f"{percentile(cpu, 95):.1f}",
            f"{statistics.mean(cpu):.1f}", f"{statistics.median(wall):.0f}", r["wrong"],
        ])  # fmt: skip
    print_table(
        ["server", "strokes", "CPU ms median", "CPU ms p95", "CPU ms mean", "wall ms median",
         "wrong"],
        rows,
    )  # fmt: skip
    print(f"load average at the end: {load_average()} ({time.strftime('%H:%M:%S')})")


if __name__ == "__main__":
    main()
