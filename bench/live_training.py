"""Throughput of the app's training worker against a bare PyTorch loop, while a learner browses.

Five sides, each in images/s of training steps, one torch thread each:

- bare loop: a separate process (so it competes for the CPU as the server does), the default
  ModelConfig with Adam (lr 0.003), batch 64, Fashion-MNIST's 60,000 training images as one
  float32 tensor made once, a randperm per epoch, per batch zero_grad, forward, cross_entropy,
  backward, step -- nothing else; 20 warm-up steps once, then --bare-steps steps each time;
- job alone: in that same separate process, cnn_core.job.TrainingJob with the request the
  sidebar makes for this run (report_every=1, cosine schedule, ...), no Streamlit: the cost of
  the worker's own loop (events, gradient norm, published weight copies, locks);
- app, browsing and app, no browser activity (twice): `streamlit run app.py` (the repository's
  .streamlit/config.toml) and one headless Chromium session that draws a "1" and starts a long
  run from the sidebar as a learner does: Fashion-MNIST in "Data set" (its defaults: batch 64,
  augmentation off), "Training images" and "Epochs" moved to their ends with the End key
  (60,000 images, 20 epochs), Train. Browsing: for --browse-seconds the session clicks through
  the navigation (Convolution, Activation, Pooling, Flatten, Dense & softmax, Training, Draw &
  predict), waiting for each page to finish (script state notRunning, nothing stale, every
  chart drawn), and on Draw & predict draws a "1" and a "0" (canvas Undo first when it can).
  No activity: for --idle-seconds the session sits on Draw & predict, once with a digit drawn
  (the whole page, overview of every stage included, still reruns about once a second with
  the newest live weights, and the sidebar's polling fragment twice a second), once with the
  canvas emptied by Undo (no input: the page's reruns are cheap; what is left is the polling
  and the sidebar). The difference is the cost of redrawing the page with live weights.

Only one side trains at a time: the app's run is held with Pause (and the child's job with
job.pause()) while another side is measured. Each round runs bare, job alone, then the three
app phases (in reverse order in every second round), --rounds times, so load from other
processes hits every side alike; medians over rounds are reported.

The app worker's rate comes from the sidebar's progress line "epoch E, batch B/N", read the
moment the polling fragment redraws it, between actions: images done between two readings over
the seconds between them, counting only pairs of readings within one epoch ("steps": like the
bare loop, no end-of-epoch evaluation). "wall" is the whole phase, the evaluations of the
10,000 held-out images at each epoch's end included. The job alone is read the same way.

Where the time went: the trainer thread's share of the phase on a CPU, runnable but waiting
for a CPU (other processes or threads had both CPUs) and blocked (the rest: for the worker,
waiting for Python's GIL, the only lock it waits on often), from /proc/<pid>/task/<tid>/
schedstat; images per CPU-second of the trainer; the CPU of the rest of the server (every
thread but the worker, ended script threads included), of Chromium (every process below this
one but the server and the child) and the whole machine. With --py-spy, py-spy samples which
thread of the server holds the GIL during the first browsing and no-activity phases (it costs
CPU itself: keep it for a separate run) and the report names the app functions behind it.

Chromium runs on this machine, so its work competes with the worker for the CPUs, as it would
not on a real server (the learner's browser is elsewhere). --browser-cpu 1 keeps it on one
CPU (taskset), leaving the other to the server, the bare loop and everything else.

    python bench/live_training.py --rounds 3
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import live_ui as ui
from common import (
    ROOT,
    chromium,
    cpu_seconds,
    descendants,
    load_average,
    machine_cpu,
    print_table,
    schedstat,
    serve,
    thread_cpu,
    tree_cpu_seconds,
)
from draw_latency import one_stroke, open_page, timed_stroke, zero_stroke

BATCH = 64
TRAIN_IMAGES = 60_000  # Fashion-MNIST's training set: all of it
RESTART_EPOCH = 15  # a paused run this far on is replaced by a fresh one (20 epochs planned)
APP_CODE = ("ui/", "app_pages/", "cnn_core/", "app.py")

CHILD = r"""
import json, math, sys, threading, time
sys.path.insert(0, sys.argv[1])
import torch
torch.set_num_threads(1)
import torch.nn.functional as F
from cnn_core import CNN, ModelConfig
from cnn_core.data import load_dataset
from cnn_core.job import TrainingJob, TrainRequest
from cnn_core.limits import TrainingSlots
from cnn_core.train import TrainConfig

batch, train_images = int(sys.argv[2]), int(sys.argv[3])
split = load_dataset("fashion-mnist")
x = torch.from_numpy(split.train.as_float()).unsqueeze(1)  # (N, 1, 28, 28)
y = torch.from_numpy(split.train.labels.astype("int64"))  # (N,)
model = CNN(ModelConfig(), seed=0)
model.train()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
g = torch.Generator().manual_seed(0)
order, pos = torch.randperm(len(x), generator=g), 0

def schedstat(tid):
    with open(f"/proc/self/task/{tid}/schedstat") as f:
        on, wait, _ = f.read().split()
    return int(on) / 1e9, int(wait) / 1e9

def step():
    global order, pos
    if pos >= len(x):
        order, pos = torch.randperm(len(x), generator=g), 0
    idx = order[pos : pos + batch]
    pos += batch
    opt.zero_grad()
    F.cross_entropy(model(x[idx]), y[idx]).backward()
    opt.step()
    return len(idx)

def bare(steps):
    tid = threading.get_native_id()
    (on0, w0), t0, images = schedstat(tid), time.perf_counter(), 0
    for _ in range(steps):
        images += step()
    seconds = time.perf_counter() - t0
    on1, w1 = schedstat(tid)
    return {"rate": images / seconds, "on_cpu": (on1 - on0) / seconds,
            "runnable": (w1 - w0) / seconds}

# The sidebar's request for this run (ui/sidebar.py: Fashion-MNIST defaults, report_every=1,
# 60,000 images, 20 epochs); no time limit, so the run is never cut.
request = TrainRequest("fashion-mnist", ModelConfig(), TrainConfig(
    optimizer="adam", learning_rate=3e-3, lr_schedule="cosine", batch_size=batch, epochs=20,
    augment=False, seed=0, max_images=train_images, report_every=1))
job = None

def images(v):
    return (v.epoch - 1) * train_images + min(v.batch * batch, train_images)

def job_alone(seconds):
    # The job in a process of its own, no Streamlit: its progress read every 0.25 s (as the
    # polling fragment reads it, but more often); images/s over readings within one epoch.
    global job
    if job is None or job.finished or job.view().epoch >= 15:
        if job is not None:
            job.stop(); job.join(30)
        job = TrainingJob(request, split, TrainingSlots(1)).start()
        job.pause()
        while job.view().num_batches == 0:
            time.sleep(0.05)
    job.touch()
    job.resume()
    time.sleep(1.0)
    tid = job._thread.native_id
    (on0, w0), t0 = schedstat(tid), time.perf_counter()
    readings, last = [], None
    while time.perf_counter() - t0 < seconds:
        v = job.view()
        if v.batch != last:
            readings.append((time.perf_counter(), v.epoch, images(v)))
            last = v.batch
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    on1, w1 = schedstat(tid)
    job.pause()
    done = secs = 0.0
    for (ta, ea, ia), (tb, eb, ib) in zip(readings, readings[1:]):
        if ea == eb:
            done, secs = done + ib - ia, secs + tb - ta
    return {"rate": done / secs if secs else math.nan, "on_cpu": (on1 - on0) / wall,
            "runnable": (w1 - w0) / wall}

for _ in range(20):
    step()
print("ready", flush=True)
for line in sys.stdin:
    what, amount = line.split()
    result = bare(int(amount)) if what == "bare" else job_alone(float(amount))
    print(json.dumps(result), flush=True)
if job is not None:
    job.stop(); job.join(30)
"""


class Child:
    """The process of the bare loop and of the job alone: started once, asked for one
    measurement at a time ("bare STEPS" or "job SECONDS"); answers with a JSON line."""

    def __init__(self, timeout: float):
        cmd = [sys.executable, "-c", CHILD, str(ROOT), str(BATCH), str(TRAIN_IMAGES)]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.timeout = timeout
        if self._line() != "ready":
            raise RuntimeError("the bare loop did not start")

    def _line(self) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not ready:
            raise RuntimeError("the bare loop did not answer in time")
        return self.proc.stdout.readline().strip()

    def measure(self, what: str, amount: float) -> dict:
        self.proc.stdin.write(f"{what} {amount}\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class CpuMeter:
    """Where the time of one phase went (see the module docstring)."""

    def __init__(self, server_pid: int, worker_tid: int, child_pid: int):
        self.server, self.worker, self.child = server_pid, worker_tid, child_pid

    def _browser_pids(self) -> set[int]:
        mine = descendants(os.getpid())
        return mine - {self.server, self.child} - descendants(self.server)

    def _read(self) -> tuple:
        browser = {pid: tree_cpu_seconds([pid]) for pid in self._browser_pids()}
        try:
            worker = schedstat(self.server, self.worker)
        except FileNotFoundError:  # the run ended during the phase: no figure for it
            worker = (math.nan, math.nan)
        return (time.perf_counter(), worker, cpu_seconds(self.server),
                thread_cpu(self.server).get(self.worker, 0.0), browser, machine_cpu())  # fmt: skip

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict:
        (t0, (on0, wait0), srv0, wk0, br0, (busy0, tot0)) = self._start
        (t1, (on1, wait1), srv1, wk1, br1, (busy1, tot1)) = self._read()
        wall = t1 - t0
        return {
            "on_cpu": (on1 - on0) / wall,  # the app worker's (replaced for the child's sides)
            "runnable": (wait1 - wait0) / wall,
            "server": ((srv1 - srv0) - (wk1 - wk0)) / wall,  # ended script threads included
            "browser": sum(v - br0.get(pid, 0.0) for pid, v in br1.items()) / wall,
            "machine": (busy1 - busy0) / (tot1 - tot0),  # share of all CPUs
        }


@dataclass
class Phase:
    """Readings of the progress line during one app phase: (time, epoch, batch)."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)

    def read(self, page) -> bool:
        """Take a reading; False if the run is no longer under way."""
        t, text = ui.fresh_progress(page)
        pos = ui.parse_progress(text)
        if pos is None or not text.startswith("Training:"):
            return False
        self.samples.append((t, pos[0], pos[1]))
        return True

    @staticmethod
    def _images(epoch: int, batch: int) -> int:
        return (epoch - 1) * TRAIN_IMAGES + min(batch * BATCH, TRAIN_IMAGES)

    def steps_rate(self) -> float:
        """Images/s over pairs of consecutive readings within one epoch."""
        images = seconds = 0.0
        for (t0, e0, b0), (t1, e1, b1) in zip(self.samples, self.samples[1:], strict=False):
            if e0 == e1 and t1 > t0:
                images += self._images(e1, b1) - self._images(e0, b0)
                seconds += t1 - t0
        return images / seconds if seconds else float("nan")

    def wall_rate(self) -> float:
        """Images/s from the first reading to the last, end-of-epoch evaluations included."""
        if len(self.samples) < 2:
            return float("nan")
        (t0, e0, b0), (t1, e1, b1) = self.samples[0], self.samples[-1]
        return (self._images(e1, b1) - self._images(e0, b0)) / (t1 - t0)


def find_worker(server_pid: int, seconds: float = 2.0) -> int:
    """The server thread that used the most CPU over ``seconds`` while a run trains alone."""
    before = thread_cpu(server_pid)
    time.sleep(seconds)
    after = thread_cpu(server_pid)
    return max(after, key=lambda tid: after[tid] - before.get(tid, 0.0))


def browse(page, seconds: float, timeout_ms: int, phase: Phase) -> int:
    """Click through every page (drawing on Draw & predict) for ``seconds``; actions done."""
    end, actions, k = time.perf_counter() + seconds, 0, 0
    links = [link for link, _ in ui.PAGES[1:] + ui.PAGES[:1]]  # ends on Draw & predict
    while time.perf_counter() < end:
        link = links[k % len(links)]
        k += 1
        ui.goto(page, link, timeout_ms)
        ui.settle(page, 10_000)
        actions += 1
        if link == "Draw & predict":
            for stroke in (one_stroke(), zero_stroke()):
                ui.draw(page, stroke)
                page.wait_for_timeout(200)  # the stroke's rerun starts
                ui.settle(page, 10_000)
                actions += 1
        if not phase.read(page):
            break
    return actions


def sit(page, seconds: float, phase: Phase) -> None:
    """No browser activity but reading the progress line (every 2 s or so)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        page.wait_for_timeout(1500)
        if not phase.read(page):
            break


def fresh_paused_run(page, meter: CpuMeter, timeout_ms: int) -> None:
    """A paused run with at least RESTART_EPOCH epochs to go (a new one if needed, whose
    worker thread the meter then follows)."""
    pos = ui.parse_progress(ui.progress_text(page))
    if pos is not None and pos[0] < RESTART_EPOCH:
        return
    ui.stop(page, timeout_ms)
    ui.start_run(page, timeout_ms)
    meter.worker = find_worker(meter.server)
    ui.pause(page, timeout_ms)


class GilProfile:
    """py-spy sampling, during one phase, which thread of the server holds the GIL."""

    def __init__(self, pid: int, seconds: float, rate: int = 100):
        self.out = Path(tempfile.mkdtemp(prefix="live_training_")) / "gil.txt"
        self.seconds, self.rate = seconds, rate
        cmd = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)),
               "--rate", str(rate), "--gil", "--threads", "--nonblocking", "--format", "raw",
               "-o", str(self.out)]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def result(self) -> dict:
        """{"worker": share of samples, "others": share, "functions": Counter} (shares of
        every sample, GIL held or not)."""
        self.proc.wait(timeout=self.seconds + 60)
        total = self.seconds * self.rate
        worker = others = 0
        functions = collections.Counter()
        for line in self.out.read_text().splitlines():
            if not line.strip():
                continue
            stack, n = line.rsplit(" ", 1)
            frames = stack.split(";")
            if "convscope-training" in frames[0]:
                worker += int(n)
                continue
            others += int(n)
            app = [f for f in frames[1:] if any(code in f for code in APP_CODE)]
            functions[app[-1].split(" (")[0] if app else "Streamlit itself"] += int(n)
        shutil.rmtree(self.out.parent, ignore_errors=True)
        return {"worker": worker / total, "others": others / total, "functions": functions,
                "total": total}  # fmt: skip


def app_phase(kind: str, page, meter: CpuMeter, args, timeout_ms: int, spy: int | None) -> dict:
    """Resume the run, measure one phase, pause it again."""
    fresh_paused_run(page, meter, timeout_ms)
    if kind in ("idle", "empty"):  # home, with a digit drawn or with none (not measured)
        ui.goto(page, "Draw & predict", timeout_ms)
        ui.settle(page, 10_000)
        ui.draw(page, one_stroke())
        page.locator(".cs-prediction").wait_for(timeout=timeout_ms)
        if kind == "empty":
            page.locator(".dc-icon-button[title='Undo']").click()
            page.locator(".cs-prediction").wait_for(state="detached", timeout=timeout_ms)
        ui.settle(page, 10_000)
    ui.resume(page, timeout_ms)
    page.wait_for_timeout(1000)  # past the first steps after the pause
    seconds = args.browse_seconds if kind == "browse" else args.idle_seconds
    profile = GilProfile(spy, seconds) if spy else None
    phase = Phase()
    phase.read(page)
    meter.start()
    actions = 0
    if kind == "browse":
        actions = browse(page, seconds, timeout_ms, phase)
    else:
        sit(page, seconds, phase)
    cpu = meter.stop()
    ui.pause(page, timeout_ms)
    return {"steps": phase.steps_rate(), "wall": phase.wall_rate(), "cpu": cpu,
            "readings": len(phase.samples), "actions": actions,
            "gil": profile.result() if profile else None}  # fmt: skip


def child_phase(child: Child, meter: CpuMeter, what: str, amount: float) -> dict:
    """A measurement in the child process (the app's run is paused meanwhile)."""
    meter.start()
    result = child.measure(what, amount)
    cpu = meter.stop()
    cpu["on_cpu"], cpu["runnable"] = result["on_cpu"], result["runnable"]
    return {"steps": result["rate"], "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the five sides (3)")
    parser.add_argument("--bare-steps", type=int, default=800, help="bare steps each (800)")
    parser.add_argument("--job-seconds", type=float, default=12, help="job alone (12)")
    parser.add_argument("--browse-seconds", type=float, default=40, help="browsing (40)")
    parser.add_argument("--idle-seconds", type=float, default=20,
                        help="each of the two phases without activity (20)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120, help="seconds per wait (120)")
    parser.add_argument(
        "--browser-cpu", help='run Chromium on these CPUs only (taskset list, e.g. "1")'
    )
    parser.add_argument(
        "--py-spy", action="store_true", help="GIL holders in round 1's app phases (py-spy)"
    )
    args = parser.parse_args()
    timeout_ms = int(args.timeout * 1000)
    results = {"bare": [], "job": [], "browse": [], "idle": [], "empty": []}
    started = time.perf_counter()
    env = {"CONVSCOPE_MAX_TRAIN_SECONDS": "3600"}  # the benchmark's run is not cut at 600 s
    with serve("app.py", env) as (url, proc), chromium(args.browser_cpu) as browser:
        child = Child(args.timeout)
        try:
            page = open_page(browser, url)
            timed_stroke(page, one_stroke(), timeout_ms)  # an input for every page
            caption = ui.long_run_settings(page, timeout_ms)
            from cnn_core import ModelConfig  # after common.py has put the repo on sys.path

            if ModelConfig().describe().replace("->", "→") not in caption:
                raise RuntimeError(f"the sidebar's network is not ModelConfig(): {caption}")
            ui.start_run(page, timeout_ms)
            meter = CpuMeter(proc.pid, find_worker(proc.pid), child.proc.pid)
            for link, _ in ui.PAGES[1:] + ui.PAGES[:1]:  # one visit of each page, not measured
                ui.goto(page, link, timeout_ms)
                ui.settle(page, 10_000)
            ui.pause(page, timeout_ms)
            for r in range(args.rounds):
                results["bare"].append(child_phase(child, meter, "bare", args.bare_steps))
                results["job"].append(child_phase(child, meter, "job", args.job_seconds))
                order = ("browse", "idle", "empty")
                order = order if r % 2 == 0 else order[::-1]
                spy = proc.pid if args.py_spy and r == 0 else None
                for kind in order:
                    results[kind].append(app_phase(kind, page, meter, args, timeout_ms, spy))
            ui.stop(page, timeout_ms)
        finally:
            child.close()
    report(results, args, time.perf_counter() - started)


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _cpu(results: list[dict], key: str) -> float:
    return statistics.median(r["cpu"][key] for r in results)


NAMES = {
    "bare": "bare loop (own process)",
    "job": "TrainingJob alone (own process, no Streamlit)",
    "browse": "app worker, browser session browsing",
    "idle": "app worker, no browser activity, a digit drawn",
    "empty": "app worker, no browser activity, canvas empty",
}


def report(results: dict, args, seconds: float) -> None:
    bare = _median(results["bare"], "steps")
    rows = []
    for kind in NAMES:
        keys = ("steps", "wall") if kind in ("browse", "idle", "empty") else ("steps",)
        for key in keys:
            rate = _median(results[kind], key)
            each = ", ".join(f"{r[key]:,.0f}" for r in results[kind])
            name = NAMES[kind] + (f" ({key})" if len(keys) > 1 else "")
            rows.append([name, f"{rate:,.0f}", f"{rate / bare:.2f}", each])
    cpu = args.browser_cpu
    where = f"Chromium on CPU {cpu} only" if cpu else "Chromium on any CPU"
    print(f"Training throughput, images/s, medians of {args.rounds} rounds ({where}; "
          f"{load_average()} at the end, {seconds:.0f} s)")  # fmt: skip
    print_table(["side", "median images/s", "ratio to bare", "each round"], rows)
    print("\nWhere the time went (medians; the trainer's shares of the phase's wall time; CPU of "
          "the rest as a share of one CPU; the machine's as a share of all its CPUs)")  # fmt: skip
    cpu_rows = []
    for kind, rs in results.items():
        on, waiting = _cpu(rs, "on_cpu"), _cpu(rs, "runnable")
        per_cpu = statistics.median(r["steps"] / r["cpu"]["on_cpu"] for r in rs)
        cpu_rows.append([NAMES[kind].split(" (")[0].replace("app worker, ", "app, "),
                         f"{on:.0%}", f"{waiting:.0%}", f"{max(0.0, 1 - on - waiting):.0%}",
                         f"{per_cpu:,.0f}", f"{_cpu(rs, 'server'):.0%}",
                         f"{_cpu(rs, 'browser'):.0%}", f"{_cpu(rs, 'machine'):.0%}"])  # fmt: skip
    headers = ["side", "trainer on a CPU", "trainer waiting for a CPU", "trainer blocked (GIL)",
               "images per trainer CPU-second", "rest of the server", "Chromium",
               "machine busy"]  # fmt: skip
    print_table(headers, cpu_rows)
    actions = [r["actions"] for r in results["browse"]]
    readings = [r["readings"] for k in ("browse", "idle", "empty") for r in results[k]]
    print(f"\nbrowsing: {min(actions)}-{max(actions)} page visits and strokes per phase; "
          f"{min(readings)}-{max(readings)} progress readings per app phase")  # fmt: skip
    for kind in ("browse", "idle", "empty"):
        gil = results[kind][0]["gil"]
        if gil is None:
            continue
        print(f"\npy-spy, {NAMES[kind]} (round 1): the GIL was held by the worker "
              f"{gil['worker']:.0%} and by other server threads {gil['others']:.0%} of the "
              f"time; those threads' GIL time by the innermost app function:")  # fmt: skip
        top = gil["functions"].most_common(8)
        print_table(["function", "share of the time"],
                    [[f"`{name}`", f"{n / gil['total']:.1%}"] for name, n in top])  # fmt: skip


if __name__ == "__main__":
    main()
