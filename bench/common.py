"""Shared helpers of the benchmarks: a Streamlit server, Chromium, memory, percentiles, tables.

Not a test module. Servers run from the repository root, so every benchmark uses the same
.streamlit/config.toml as `streamlit run app.py` does.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM = "/usr/bin/chromium"
# The app's pages as a learner reaches them: (link text in the navigation, the page's heading)
PAGES = [
    ("Draw & predict", "Draw a digit, watch the network read it"),
    ("Convolution", "Convolution"),
    ("Activation", "Activation"),
    ("Pooling", "Pooling"),
    ("Flatten", "Flatten"),
    ("Dense & softmax", "Dense & softmax"),
    ("What it looks at", "What it looks at"),
    ("Training", "Training"),
]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the server did not become healthy in time")


@contextlib.contextmanager
def serve(
    script: str | Path = "app.py",
    extra_env: dict | None = None,
    port: int | None = None,
    root: Path = ROOT,
    log: Path | None = None,
):
    """`streamlit run <script>` on 127.0.0.1 (a free port unless ``port`` is given) from the
    repository root (or ``root``, e.g. an older copy of the repository); yields (url, process).
    The server's output goes to the file ``log`` (appended) or nowhere. The process is
    terminated (and killed if it hangs) on exit, unless it has already ended."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(root / script)]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1"]
    cmd += ["--server.headless", "true"]
    env = {**os.environ, **(extra_env or {})}
    with open(log, "ab") if log else contextlib.nullcontext(subprocess.DEVNULL) as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def chromium(cpus: str | None = None):
    """Debian's Chromium, headless, driven by Playwright; yields the Browser.

    cpus: a CPU list for taskset (e.g. "1"): Chromium and every process and thread it starts
    run on those CPUs only, so that a benchmark can keep the browser's work off the CPU a
    server measured on it would otherwise share with it."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="chromium_") as tmp, sync_playwright() as p:
        executable = CHROMIUM
        if cpus is not None:
            executable = Path(tmp) / "chromium"
            executable.write_text(f'#!/bin/sh\nexec taskset -c {cpus} {CHROMIUM} "$@"\n')
            executable.chmod(0o755)
        browser = p.chromium.launch(executable_path=str(executable), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a process in MB, from /proc (no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # the value is in kB
    raise RuntimeError(f"no VmRSS for process {pid}")


def pss_mb(pid: int) -> float:
    """Proportional set size of a process in MB (its private pages plus its share of pages it
    shares, e.g. torch's libraries with the server), from /proc/<pid>/smaps_rollup."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024  # the value is in kB
    raise RuntimeError(f"no Pss for process {pid}")


_TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(path: str) -> list[str]:
    """Fields of a /proc .../stat file after the command name (field 3 onwards)."""
    raw = Path(path).read_text()
    return raw[raw.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (all its threads), from /proc."""
    f = _stat_fields(f"/proc/{pid}/stat")
    return (int(f[11]) + int(f[12])) / _TICK  # utime, stime


def thread_cpu(pid: int) -> dict[int, float]:
    """{thread id: user + system CPU seconds} of every thread of a process."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            f = _stat_fields(f"{task}/stat")
        except OSError:  # the thread has ended
            continue
        out[int(task.name)] = (int(f[11]) + int(f[12])) / _TICK
    return out


def schedstat(pid: int, tid: int) -> tuple[float, float]:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of one thread so far, from
    /proc/<pid>/task/<tid>/schedstat. The rest of its wall time it was blocked (sleeping,
    waiting for I/O or a lock such as Python's GIL)."""
    on_cpu, waiting, _ = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
    return int(on_cpu) / 1e9, int(waiting) / 1e9


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (children, their children, ...)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int(_stat_fields(f"{entry}/stat")[1])
            except (OSError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def find_processes(parent: int, needle: str) -> list[int]:
    """Living processes below ``parent`` whose command line contains ``needle``, oldest first
    (e.g. the training worker processes of a server: "cnn_core.job_worker")."""
    found = []
    for pid in descendants(parent):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = _stat_fields(f"/proc/{pid}/stat")
        except (OSError, UnicodeDecodeError):  # it has ended
            continue
        if needle in command and fields[0] != "Z":  # not a zombie waiting to be reaped
            found.append((int(fields[19]), pid))  # field 22: start time, in clock ticks
    return [pid for _, pid in sorted(found)]


def tree_cpu_seconds(pids) -> float:
    """CPU seconds of the given processes (those that have ended count as 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += cpu_seconds(pid)
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # user nice system idle iowait irq softirq steal
    return (total - idle) / _TICK, total / _TICK


def percentile(values, q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    xs = sorted(values)
    if not xs:
        return math.nan
    pos = (len(xs) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def load_average() -> str:
    """The 1-minute load average and CPU count, to print beside every figure."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"


def print_table(headers: list[str], rows: list[list]) -> None:
    """A Markdown table, ready to paste into the README."""
    print("| " + " | ".join(headers) + " |")
    print("| " + " | ".join("---" for _ in headers) + " |")
    for row in rows:
        print("| " + " | ".join(str(v) for v in row) + " |")
