"""Throughput of the app's training worker against a bare PyTorch loop, while a learner browses.

The sides, each in images/s of training steps, one torch thread each:

- bare loop: a separate process (so it competes for the CPU as the server does), the default
  ModelConfig with Adam (lr 0.003), batch 64, Fashion-MNIST's 60,000 training images as one
  float32 tensor made once, a randperm per epoch, per batch zero_grad, forward, cross_entropy,
  backward, step -- nothing else; 20 warm-up steps once, then --bare-steps steps each time;
- bare loop, browsing: that same loop, run for --browse-seconds ("baretime SECONDS") while the
  browser session browses exactly as in the app's browsing phase below, the app's run held
  with Pause: the same browser activity and the same server work for the pages, so the only
  difference to the app's browsing phase is who trains. Its ratio is the goal's fair one;
- job alone: in that same separate process, cnn_core.job.TrainingJob with the request the
  sidebar makes for this run (report_every=1, cosine schedule, ...), no Streamlit: the cost of
  the job's own loop (events, gradient norm, published weight copies, locks and, for the
  process worker, the messages to the job's relaying thread and the copies it pickles);
- app, browsing and app, no browser activity (twice): `streamlit run app.py` (the repository's
  .streamlit/config.toml, CONVSCOPE_TRAINING_WORKER=process) and one headless Chromium session
  that draws a "1" and starts a long run from the sidebar as a learner does: Fashion-MNIST in
  "Data set" (its defaults: batch 64, augmentation off), "Training images" and "Epochs" moved
  to their ends with the End key (60,000 images, 20 epochs), Train. Browsing: for
  --browse-seconds the session clicks through the navigation (every page of common.PAGES, from
  Convolution on, Draw & predict last), waiting for each page to finish
  (script state notRunning, nothing stale, every chart drawn), and on Draw & predict draws a
  "1" and a "0" (canvas Undo first when it can); after each page it reads the progress line.
  No activity: for --idle-seconds the session sits on Draw & predict, once with a digit drawn
  (the whole page, overview of every stage included, still reruns about once a second with
  the newest live weights, and the sidebar's polling fragment twice a second), once with the
  canvas emptied (its Edit mode, Delete selected: no input; the page's reruns are cheap; what
  is left is the polling and the sidebar). The difference is the cost of redrawing the page
  with live weights. Both start from a cleared canvas (browsing draws on top of the drawing
  the canvas is given back after a page switch), and a "1" is drawn again after the empty one.

With --compare-thread a second server runs with CONVSCOPE_TRAINING_WORKER=thread (the old
worker: the run trains in a thread of the server) and its own page of the same Chromium, and
the three app phases and the job alone are measured for it too ("..., thread"). Its page's run
is held with Pause while any other side is measured, as the first server's is; both paused
pages keep polling twice a second on every side, so every side sees the same background.

Only one side trains at a time: the app's runs are held with Pause (and the child's jobs with
job.pause()) while another side is measured. Each round measures every side once, in the order
of SIDES (bare loop, bare loop browsing, the app sides of both servers interleaved, the jobs
alone), reversed in every second round, --rounds times, so load from other processes hits every
side alike; medians over rounds are reported, and the goal's ratio also as the median of the
rounds' own ratios (app browsing / bare loop browsing of the same round).

The app worker's rate comes from the sidebar's progress line "epoch E, batch B/N", read the
moment the polling fragment redraws it, between actions: images done between two readings over
the seconds between them, counting only pairs of readings within one epoch ("steps": like the
bare loop, no end-of-epoch evaluation). "wall" is the whole phase, the evaluations of the
10,000 held-out images at each epoch's end included. The job alone is read the same way. In the
bare loop's browsing phase the run is paused, so the session reads the line once, 0.25 s after
each page (about as long as the line takes to change while a run trains).

Where the time went: the trainer's share of the phase on a CPU, runnable but waiting for a CPU
(other processes or threads had both CPUs) and blocked (the rest: for the thread worker,
waiting for Python's GIL, the only lock it waits on often; for the process worker, waiting on
its socket), from /proc/<pid>/task/<tid>/schedstat. The trainer is the main thread of the worker
process (the server's child whose command line holds cnn_core.job_worker; a new one for every
run, so it is looked up again after each restart), or with the thread worker the server's
thread that used the most CPU while the run trained alone; in the child, the loop's thread or
the job's trainer (its worker process, or its thread). Also: images per CPU-second of the
trainer; the CPU of the rest of the server (the server process, every thread but a training
thread, ended script threads and the process worker's relaying thread included), of the
training worker processes (cnn_core.job_worker) of the phase's server (or of the child, for the
job alone), of Chromium (every process below this one but the servers, the child and theirs)
and the whole machine. With --py-spy, py-spy samples which thread of each server holds the GIL
during round 1's browsing and no-activity phases (it costs CPU itself: keep it for a separate
run) and the report names the app functions behind it.

Chromium runs on this machine, so its work competes with the worker for the CPUs, as it would
not on a real server (the learner's browser is elsewhere). --browser-cpu 1 keeps it on one
CPU (taskset), leaving the other to the servers, the bare loop and everything else.

    python bench/live_training.py --rounds 3 --compare-thread
    python bench/live_training.py --rounds 3 --compare-thread --browser-cpu 1
"""

from __future__ import annotations

import argparse
import collections
import contextlib
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
    find_processes,
    load_average,
    machine_cpu,
    print_table,
    schedstat,
    serve,
    thread_cpu,
    tree_cpu_seconds,
)
from draw_latency import one_stroke, open_page, timed_stroke, zero_stroke
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

BATCH = 64
TRAIN_IMAGES = 60_000  # Fashion-MNIST's training set: all of it
RESTART_EPOCH = 15  # a paused run this far on is replaced by a fresh one (20 epochs planned)
APP_CODE = ("ui/", "app_pages/", "cnn_core/", "app.py")
WORKER_ENV = "CONVSCOPE_TRAINING_WORKER"  # cnn_core.job.WORKER_ENV
WORKER_MODULE = "cnn_core.job_worker"  # in the command line of a training worker process

CHILD = r"""
import json, math, os, sys, threading, time
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

def schedstat(pid, tid):
    with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
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

def timed(loop):
    # loop() trains and returns the images done; the rate and this thread's scheduler shares
    pid, tid = os.getpid(), threading.get_native_id()
    (on0, w0), t0 = schedstat(pid, tid), time.perf_counter()
    images = loop()
    seconds = time.perf_counter() - t0
    on1, w1 = schedstat(pid, tid)
    return {"rate": images / seconds, "on_cpu": (on1 - on0) / seconds,
            "runnable": (w1 - w0) / seconds}

def bare(steps):
    return timed(lambda: sum(step() for _ in range(steps)))

def baretime(seconds):
    def loop():
        end, images = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            images += step()
        return images
    return timed(loop)

# The sidebar's request for this run (ui/sidebar.py: Fashion-MNIST defaults, report_every=1,
# 60,000 images, 20 epochs); no time limit, so the run is never cut.
request = TrainRequest("fashion-mnist", ModelConfig(), TrainConfig(
    optimizer="adam", learning_rate=3e-3, lr_schedule="cosine", batch_size=batch, epochs=20,
    augment=False, seed=0, max_images=train_images, report_every=1))
jobs = {}  # worker kind ("process" or "thread") -> its TrainingJob

def images(v):
    return (v.epoch - 1) * train_images + min(v.batch * batch, train_images)

def job_alone(seconds, kind):
    # The job in a process of its own, no Streamlit: its progress read every 0.25 s (as the
    # polling fragment reads it, but more often); images/s over readings within one epoch.
    # The trainer: the worker process's main thread, or the job's thread.
    job = jobs.get(kind)
    if job is None or job.finished or job.view().epoch >= 15:
        if job is not None:
            job.stop(); job.join(30)
        job = jobs[kind] = TrainingJob(request, split, TrainingSlots(1), worker=kind).start()
        job.pause()
        while job.view().num_batches == 0:
            time.sleep(0.05)
    job.touch()
    job.resume()
    time.sleep(1.0)
    if kind == "process":
        pid = tid = job.worker_pid
    else:
        pid, tid = os.getpid(), job._thread.native_id
    (on0, w0), t0 = schedstat(pid, tid), time.perf_counter()
    readings, last = [], None
    while time.perf_counter() - t0 < seconds:
        v = job.view()
        if v.batch != last:
            readings.append((time.perf_counter(), v.epoch, images(v)))
            last = v.batch
        time.sleep(0.25)
    wall = time.perf_counter() - t0
    on1, w1 = schedstat(pid, tid)
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
    what, amount, *kind = line.split()
    if what == "bare":
        result = bare(int(amount))
    elif what == "baretime":
        result = baretime(float(amount))
    else:
        result = job_alone(float(amount), kind[0])
    print(json.dumps(result), flush=True)
for job in jobs.values():
    job.stop(); job.join(30)
"""


class Child:
    """The process of the bare loop and of the jobs alone: started once, asked for one
    measurement at a time ("bare STEPS", "baretime SECONDS", "job SECONDS process|thread");
    answers with a JSON line."""

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

    def send(self, *words) -> None:
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict:
        return json.loads(self._line())

    def measure(self, *words) -> dict:
        self.send(*words)
        return self.receive()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def find_worker(server_pid: int, kind: str, timeout: float = 60.0) -> tuple[int, int]:
    """(pid, tid) of the thread that trains the server's run under way.

    kind "process": the main thread of the newest living worker process below the server (its
    command line holds cnn_core.job_worker); "thread": the server thread that used the most CPU
    over 2 s (call it while the run trains alone)."""
    if kind == "thread":
        before = thread_cpu(server_pid)
        time.sleep(2.0)
        after = thread_cpu(server_pid)
        return server_pid, max(after, key=lambda tid: after[tid] - before.get(tid, 0.0))
    deadline = time.monotonic() + timeout
    while not (found := find_processes(server_pid, WORKER_MODULE)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {WORKER_MODULE} process below the server {server_pid}")
        time.sleep(0.1)
    return found[-1], found[-1]


@dataclass
class App:
    """One server, its worker kind, the browser session on it and the trainer of its run."""

    kind: str  # "process" or "thread" (CONVSCOPE_TRAINING_WORKER of the server)
    proc: subprocess.Popen
    page: object = None
    trainer: tuple[int, int] | None = None  # (pid, tid), looked up after every (re)start

    def locate(self) -> None:
        self.trainer = find_worker(self.proc.pid, self.kind)


class CpuMeter:
    """Where the time of one phase went (see the module docstring)."""

    def __init__(self, server_pids: list[int], child_pid: int):
        self.servers, self.child = server_pids, child_pid
        self.server, self.trainer, self.workers_of = server_pids[0], None, child_pid

    def _browser_pids(self) -> set[int]:
        mine = descendants(os.getpid())
        for pid in [*self.servers, self.child]:
            mine -= {pid} | descendants(pid)
        return mine

    def _read(self) -> tuple:
        browser = {pid: tree_cpu_seconds([pid]) for pid in self._browser_pids()}
        found = find_processes(self.workers_of, WORKER_MODULE) if self.workers_of else []
        workers = {pid: tree_cpu_seconds([pid]) for pid in found}
        trainer, in_server = (math.nan, math.nan), 0.0
        if self.trainer is not None:
            pid, tid = self.trainer
            with contextlib.suppress(FileNotFoundError):  # the run ended: no figure for it
                trainer = schedstat(pid, tid)
            if pid == self.server:  # a training thread of the server, not the rest of it
                in_server = thread_cpu(self.server).get(tid, 0.0)
        return (time.perf_counter(), trainer, cpu_seconds(self.server), in_server, workers,
                browser, machine_cpu())  # fmt: skip

    def start(self, server: int, trainer: tuple[int, int] | None, workers_of: int | None):
        """Measure from now: ``server`` is the phase's server, ``trainer`` the (pid, tid) of
        its training thread (None: the child reports its own), ``workers_of`` the process
        whose training worker processes count as "worker process" (None: no such column)."""
        self.server, self.trainer, self.workers_of = server, trainer, workers_of
        self._start = self._read()

    def stop(self) -> dict:
        (t0, (on0, wait0), srv0, tr0, wk0, br0, (busy0, tot0)) = self._start
        (t1, (on1, wait1), srv1, tr1, wk1, br1, (busy1, tot1)) = self._read()
        wall = t1 - t0
        worker = sum(v - wk0.get(pid, 0.0) for pid, v in wk1.items()) if wk0 or wk1 else math.nan
        return {
            "on_cpu": (on1 - on0) / wall,  # the app trainer's (replaced for the child's sides)
            "runnable": (wait1 - wait0) / wall,
            "server": ((srv1 - srv0) - (tr1 - tr0)) / wall,  # ended script threads included
            "worker": worker / wall,  # the training worker processes (nan: none)
            "browser": sum(v - br0.get(pid, 0.0) for pid, v in br1.items()) / wall,
            "machine": (busy1 - busy0) / (tot1 - tot0),  # share of all CPUs
        }


@dataclass
class Phase:
    """Readings of the progress line during one app phase: (time, epoch, batch)."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)
    missed: int = 0  # readings given up: the line was not there for 5 s (a slow full rerun)

    def read(self, page) -> bool:
        """Take a reading; False if the run is no longer under way."""
        try:
            t, text = ui.fresh_progress(page)
        except PlaywrightTimeoutError:  # the sidebar is being redrawn: no reading this time
            self.missed += 1
            return True
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


def browse(page, seconds: float, timeout_ms: int, phase: Phase | None) -> int:
    """Click through every page (drawing on Draw & predict) for ``seconds``; actions done.
    With no ``phase`` (the run is paused) the progress line is read once, 0.25 s after each
    page, about as long as the line takes to change while a run trains."""
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
        if phase is None:
            page.wait_for_timeout(250)
            with contextlib.suppress(PlaywrightTimeoutError):  # as Phase.read
                ui.progress_text(page)
        elif not phase.read(page):
            break
    return actions


def sit(page, seconds: float, phase: Phase) -> None:
    """No browser activity but reading the progress line (every 2 s or so)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        page.wait_for_timeout(1500)
        if not phase.read(page):
            break


def fresh_paused_run(app: App, timeout_ms: int) -> None:
    """A paused run with at least RESTART_EPOCH epochs to go (a new one if needed, whose
    trainer -- a new worker process, or a new thread -- is then looked up)."""
    pos = ui.parse_progress(ui.progress_text(app.page))
    if pos is not None and pos[0] < RESTART_EPOCH:
        return
    ui.stop(app.page, timeout_ms)
    ui.start_run(app.page, timeout_ms)
    app.locate()
    ui.pause(app.page, timeout_ms)


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
        every sample, GIL held or not). "worker" is the job's thread: it trains with the thread
        worker and only relays messages with the process worker."""
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


def app_phase(kind: str, app: App, meter: CpuMeter, args, timeout_ms: int, spy: bool) -> dict:
    """Resume the app's run, measure one phase, pause it again."""
    page = app.page
    fresh_paused_run(app, timeout_ms)
    if kind in ("idle", "empty"):  # home, with a digit drawn or with none (not measured)
        ui.goto(page, "Draw & predict", timeout_ms)
        ui.settle(page, 10_000)
        ui.clear_canvas(page, timeout_ms)  # an empty canvas, no input (browsing drew on the
        # drawing the canvas is given back after a page switch)
        if kind == "idle":  # one "1" on it
            ui.draw(page, one_stroke(), undo_first=False)
            page.locator(".cs-prediction").wait_for(timeout=timeout_ms)
        ui.settle(page, 10_000)
    ui.resume(page, timeout_ms)
    page.wait_for_timeout(1000)  # past the first steps after the pause
    if app.kind == "process":
        app.locate()  # the run's worker process (the same one unless the run was restarted)
    seconds = args.browse_seconds if kind == "browse" else args.idle_seconds
    profile = GilProfile(app.proc.pid, seconds) if spy else None
    phase = Phase()
    phase.read(page)
    meter.start(app.proc.pid, app.trainer, app.proc.pid)
    actions = 0
    if kind == "browse":
        actions = browse(page, seconds, timeout_ms, phase)
    else:
        sit(page, seconds, phase)
    cpu = meter.stop()
    ui.pause(page, timeout_ms)
    if kind == "empty":  # an input again for every page of the next phases (not measured)
        ui.draw(page, one_stroke(), undo_first=False)
        page.locator(".cs-prediction").wait_for(timeout=timeout_ms)
    return {"steps": phase.steps_rate(), "wall": phase.wall_rate(), "cpu": cpu,
            "readings": len(phase.samples), "missed": phase.missed, "actions": actions,
            "gil": profile.result() if profile else None}  # fmt: skip


def child_phase(child: Child, meter: CpuMeter, app: App, *command) -> dict:
    """A measurement in the child process (the apps' runs are paused meanwhile)."""
    meter.start(app.proc.pid, None, child.proc.pid if "process" in command else None)
    result = child.measure(*command)
    cpu = meter.stop()
    cpu["on_cpu"], cpu["runnable"] = result["on_cpu"], result["runnable"]
    return {"steps": result["rate"], "cpu": cpu}


def bare_browse_phase(child: Child, meter: CpuMeter, app: App, args, timeout_ms: int) -> dict:
    """The bare loop in the child for --browse-seconds while the session on ``app`` browses as
    in the app's browsing phase (its run paused: only the bare loop trains)."""
    meter.start(app.proc.pid, None, None)
    child.send("baretime", args.browse_seconds)
    actions = browse(app.page, args.browse_seconds, timeout_ms, None)
    result = child.receive()
    cpu = meter.stop()
    cpu["on_cpu"], cpu["runnable"] = result["on_cpu"], result["runnable"]
    return {"steps": result["rate"], "cpu": cpu, "actions": actions}


def open_app(browser, url: str, app: App, timeout_ms: int) -> None:
    """The session on ``app``: a digit drawn, the long run's settings, Train, one visit of
    every page while it trains (not measured), then Pause."""
    app.page = open_page(browser, url)
    timed_stroke(app.page, one_stroke(), timeout_ms)  # an input for every page
    caption = ui.long_run_settings(app.page, timeout_ms)
    from cnn_core import ModelConfig  # after common.py has put the repo on sys.path

    if ModelConfig().describe().replace("->", "→") not in caption:
        raise RuntimeError(f"the sidebar's network is not ModelConfig(): {caption}")
    ui.start_run(app.page, timeout_ms)
    app.locate()
    for link, _ in ui.PAGES[1:] + ui.PAGES[:1]:
        ui.goto(app.page, link, timeout_ms)
        ui.settle(app.page, 10_000)
    ui.pause(app.page, timeout_ms)


# Every side, in the order of a round (reversed in every second round)
SIDES = ("bare", "bare-browse", "browse", "browse-thread", "idle", "idle-thread", "empty",
         "empty-thread", "job", "job-thread")  # fmt: skip
APP_SIDES = ("browse", "idle", "empty")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of all sides (3)")
    parser.add_argument("--bare-steps", type=int, default=800, help="bare steps each (800)")
    parser.add_argument("--job-seconds", type=float, default=12, help="job alone (12)")
    parser.add_argument("--browse-seconds", type=float, default=40,
                        help="browsing, app and bare loop (40)")  # fmt: skip
    parser.add_argument("--idle-seconds", type=float, default=20,
                        help="each of the two phases without activity (20)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=120, help="seconds per wait (120)")
    parser.add_argument(
        "--browser-cpu", help='run Chromium on these CPUs only (taskset list, e.g. "1")'
    )
    parser.add_argument(
        "--compare-thread", action="store_true",
        help="also a server with CONVSCOPE_TRAINING_WORKER=thread (the app sides and the job "
        "alone, ', thread')",
    )  # fmt: skip
    parser.add_argument(
        "--py-spy", action="store_true", help="GIL holders in round 1's app phases (py-spy)"
    )
    args = parser.parse_args()
    timeout_ms = int(args.timeout * 1000)
    sides = [s for s in SIDES if args.compare_thread or not s.endswith("-thread")]
    results = {side: [] for side in sides}
    kinds = ["process", "thread"] if args.compare_thread else ["process"]
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    env = {"CONVSCOPE_MAX_TRAIN_SECONDS": "3600"}  # the benchmark's run is not cut at 600 s
    with contextlib.ExitStack() as stack:
        apps, urls = {}, {}
        for kind in kinds:
            url, proc = stack.enter_context(serve("app.py", {**env, WORKER_ENV: kind}))
            apps[kind], urls[kind] = App(kind, proc), url
        browser = stack.enter_context(chromium(args.browser_cpu))
        child = Child(args.timeout)
        stack.callback(child.close)
        for kind in kinds:
            open_app(browser, urls[kind], apps[kind], timeout_ms)
        meter = CpuMeter([app.proc.pid for app in apps.values()], child.proc.pid)
        default = apps["process"]
        for r in range(args.rounds):
            for side in sides if r % 2 == 0 else sides[::-1]:
                kind = "thread" if side.endswith("-thread") else "process"
                what = side.removesuffix("-thread")
                if what == "bare":
                    result = child_phase(child, meter, default, "bare", args.bare_steps)
                elif what == "bare-browse":
                    result = bare_browse_phase(child, meter, default, args, timeout_ms)
                elif what == "job":
                    result = child_phase(child, meter, default, "job", args.job_seconds, kind)
                else:
                    spy = args.py_spy and r == 0
                    result = app_phase(what, apps[kind], meter, args, timeout_ms, spy)
                results[side].append(result)
            loads.append(os.getloadavg()[0])
            print(f"round {r + 1} of {args.rounds} done, {load_average()}", file=sys.stderr)
        for app in apps.values():
            ui.stop(app.page, timeout_ms)
    report(results, args, time.perf_counter() - started, loads)


def _median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def _cpu(results: list[dict], key: str) -> float:
    return statistics.median(r["cpu"][key] for r in results)


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0%}"


NAMES = {
    "bare": "bare loop (own process)",
    "bare-browse": "bare loop (own process), browser session browsing",
    "browse": "app, process worker, browser session browsing",
    "browse-thread": "app, thread worker, browser session browsing",
    "idle": "app, process worker, no browser activity, a digit drawn",
    "idle-thread": "app, thread worker, no browser activity, a digit drawn",
    "empty": "app, process worker, no browser activity, canvas empty",
    "empty-thread": "app, thread worker, no browser activity, canvas empty",
    "job": "TrainingJob alone (own process, no Streamlit), process worker",
    "job-thread": "TrainingJob alone (own process, no Streamlit), thread worker",
}
ORDER = ("bare", "bare-browse", "browse", "idle", "empty", "browse-thread", "idle-thread",
         "empty-thread", "job", "job-thread")  # fmt: skip


def report(results: dict, args, seconds: float, loads: list[float]) -> None:
    sides = [s for s in ORDER if s in results]
    bare = _median(results["bare"], "steps")
    bare_browse = _median(results["bare-browse"], "steps")
    rows = []
    for side in sides:
        app = side.removesuffix("-thread") in APP_SIDES
        keys = ("steps", "wall") if app else ("steps",)
        for key in keys:
            rate = _median(results[side], key)
            each = ", ".join(f"{r[key]:,.0f}" for r in results[side])
            name = NAMES[side] + (f" ({key})" if len(keys) > 1 else "")
            fair = side in ("bare-browse", "browse", "browse-thread")
            rows.append([name, f"{rate:,.0f}", f"{rate / bare:.2f}",
                         f"{rate / bare_browse:.2f}" if fair else "", each])  # fmt: skip
    cpu = args.browser_cpu
    where = f"Chromium on CPU {cpu} only" if cpu else "Chromium on any CPU"
    print(f"Training throughput, images/s, medians of {args.rounds} rounds ({where}; load "
          f"average {min(loads):.2f}-{max(loads):.2f} at the start and after each round, "
          f"{load_average()} at the end; {seconds:.0f} s)")  # fmt: skip
    headers = ["side", "median images/s", "ratio to bare loop",
               "ratio to bare loop browsing", "each round"]  # fmt: skip
    print_table(headers, rows)
    print("\nGoal, at least 0.9x: the app's worker while the session browses / the bare loop "
          "while the same session browses (steps)")  # fmt: skip
    for side in ("browse", "browse-thread"):
        if side not in results:
            continue
        pairs = zip(results[side], results["bare-browse"], strict=True)
        each = [a["steps"] / b["steps"] for a, b in pairs]
        ratio = _median(results[side], "steps") / bare_browse
        print(f"- {NAMES[side]}: {ratio:.2f}x (medians); rounds' own ratios "
              f"{', '.join(f'{x:.2f}' for x in each)}, median {statistics.median(each):.2f}x"
              f" -> {'met' if ratio >= 0.9 else 'missed'}")  # fmt: skip
    print("\nWhere the time went (medians; the trainer's shares of the phase's wall time; CPU of "
          "the rest as a share of one CPU; the machine's as a share of all its CPUs)")  # fmt: skip
    cpu_rows = []
    for side in sides:
        rs = results[side]
        on, waiting = _cpu(rs, "on_cpu"), _cpu(rs, "runnable")
        per_cpu = statistics.median(r["steps"] / r["cpu"]["on_cpu"] for r in rs)
        cpu_rows.append([NAMES[side], f"{on:.0%}", f"{waiting:.0%}",
                         f"{max(0.0, 1 - on - waiting):.0%}", f"{per_cpu:,.0f}",
                         _share(_cpu(rs, "server")), _share(_cpu(rs, "worker")),
                         _share(_cpu(rs, "browser")), _share(_cpu(rs, "machine"))])  # fmt: skip
    headers = ["side", "trainer on a CPU", "trainer waiting for a CPU", "trainer blocked",
               "images per trainer CPU-second", "rest of the server", "worker process",
               "Chromium", "machine busy"]  # fmt: skip
    print_table(headers, cpu_rows)
    print("\n(trainer blocked: for the thread worker mostly waiting for the server's GIL; "
          "worker process: the cnn_core.job_worker processes of the phase's server, or of the "
          "child for the job alone; – none)")  # fmt: skip
    for side in ("bare-browse", "browse", "browse-thread"):
        if side in results:
            actions = [r["actions"] for r in results[side]]
            print(f"{NAMES[side]}: {min(actions)}-{max(actions)} page visits and strokes "
                  "per phase")  # fmt: skip
    readings = [r["readings"] for s in sides if s.removesuffix("-thread") in APP_SIDES
                for r in results[s]]  # fmt: skip
    missed = sum(r["missed"] for s in sides if s.removesuffix("-thread") in APP_SIDES
                 for r in results[s])  # fmt: skip
    print(f"{min(readings)}-{max(readings)} progress readings per app phase ({missed} given "
          "up in all: the progress line was not there for 5 s)")  # fmt: skip
    for side in sides:
        gil = results[side][0].get("gil")
        if gil is None:
            continue
        print(f"\npy-spy, {NAMES[side]} (round 1): the GIL was held by the job's thread "
              f"{gil['worker']:.0%} and by other server threads {gil['others']:.0%} of the "
              f"time; those threads' GIL time by the innermost app function:")  # fmt: skip
        top = gil["functions"].most_common(8)
        print_table(["function", "share of the time"],
                    [[f"`{name}`", f"{n / gil['total']:.1%}"] for name, n in top])  # fmt: skip


if __name__ == "__main__":
    main()
