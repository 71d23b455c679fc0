"""A class of 30 on one server: draw -> prediction under load while two sessions train, and the
training queue's order (first come, first served).

One `streamlit run app.py` on 127.0.0.1 (repository root, its .streamlit/config.toml: one
training slot; CONVSCOPE_MAX_TRAIN_SECONDS=3600 so no run is cut by the safety net during the
test) and --sessions sessions, each drawing a stroke every --every seconds for --minutes
minutes. 30 real Chromium tabs on 2 cores would measure Chromium, not the server, so:

- --browsers sessions (default 2) are headless Chromium pages (Playwright, Debian's Chromium).
  Both train: before the measured window A presses Train in the sidebar (Fashion-MNIST, all
  60,000 images, 20 epochs: a run of many minutes) and, once A's progress line shows its run
  under way, B presses Train too; with one slot B must show "number 1 in the queue". At
  --stop-at of the window (half-way) A presses Stop; B must then start. The queue is fair if A
  ran first, B waited "queued" until A's Stop, then ran: both progress lines are sampled
  before every browser stroke, and every change is printed with its time.
  Latency of a browser stroke (the same signal as bench/draw_latency.py): the canvas emptied
  with its own Undo and the `.cs-prediction` element gone (not timed), then a "1" or a "0"
  drawn with the mouse; timed from the mouse-up to `.cs-prediction` attached again. (When
  Undo has no history or the answer stays 5 s after it -- the canvas was mounted afresh from
  the kept drawing, e.g. when the live banner appeared above it, so Undo goes back to that
  drawing -- the canvas is emptied as bench/live_ui.clear_canvas does.) A stroke's waits end at
  A's Stop (before it) or the window's end at the latest; a stroke cut so is counted apart. It
  includes the canvas component's own debounce before it sends the drawing (about 200 ms),
  Streamlit's transfer and the browser's rendering. Pages A and B take turns, one stroke a
  second between them (each every 2 s by default).
- The other sessions are protocol clients (one asyncio process, the `websockets` package):
  each opens Streamlit's websocket (/_stcore/stream, subprotocol "streamlit"), sends the
  BackMsg `rerun_script` a browser sends on connect, waits for the page's first run to finish,
  and then sends, every --every s (phases spread evenly over the clients), the BackMsg a
  browser sends when a stroke ends: the canvas fragment's rerun with every widget's state and
  the canvas component's value (fabric's JSON and the PNG data URL). The message is the one
  page A's browser sent for its warm-up stroke, captured with Playwright's websocket events;
  only the canvas value is replaced by a freshly drawn "1" or "0" (a PNG drawn with Pillow at
  a random offset, so no two strokes are the same image). Latency of a protocol stroke: from
  sending the BackMsg to receiving the ForwardMsg that carries the prediction element
  (`cs-prediction`) of that run (matched by script_run_id); also to the run's
  `script_finished`. No browser rendering, no debounce: the server's share only. A client
  sends its next stroke only after its last run has finished (a stroke whose time has passed
  is sent at once and counted as late).
- Errors: every exception element and every st.error element (Alert format ERROR) in any
  ForwardMsg a protocol client receives, and `stException` / error alerts in the browser
  pages' DOM before each stroke. A session is lost if its websocket closes, its session id
  changes, or a stroke gets no answer within --timeout s.
- The load average (1 minute) is sampled every 2 s during the measured window; the server's
  and the training worker processes' CPU seconds over the window are read from /proc.

Bounded: --max-seconds for the whole benchmark (SIGALRM; default 600), every wait has a
timeout, the protocol clients' process is killed on the way out, and the server and Chromium
are stopped by their context managers.

    flock /tmp/convscope-bench.lock python bench/load_test.py --minutes 2
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import live_ui as ui
from common import (
    chromium,
    cpu_seconds,
    find_processes,
    load_average,
    percentile,
    print_table,
    serve,
)

PRED_RE = re.compile(rb"cs-prediction'[^>]*>([^<]*)<")
CANVAS_SIDE = 280
STROKE_WIDTH = 20
EXCEPTION_JS = '[data-testid="stException"]'
ERROR_ALERT_JS = '[data-testid="stAlertContentError"]'


# ----------------------------------------------------------------------------------------------
# Strokes: the same shapes as bench/draw_latency.py, as mouse points or as a canvas value


def one_points(dx: float = 0.0) -> list[tuple[float, float]]:
    return [(140 + dx, 50 + 9 * k) for k in range(21)]


def zero_points(dx: float = 0.0) -> list[tuple[float, float]]:
    return [
        (140 + dx + 55 * math.sin(t / 20 * 2 * math.pi), 140 - 85 * math.cos(t / 20 * 2 * math.pi))
        for t in range(22)
    ]


def canvas_value(template: dict, points: list[tuple[float, float]]) -> str:
    """The canvas component's value for one freehand stroke through ``points``: fabric's JSON
    (one Path object, as the captured template's) and an opaque 280x280 RGBA PNG of it, white
    ink on black, as the browser's canvas sends it."""
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 255))
    pen = ImageDraw.Draw(image)
    pen.line(points, fill=(255, 255, 255, 255), width=STROKE_WIDTH, joint="curve")
    r = STROKE_WIDTH / 2
    for x, y in (points[0], points[-1]):  # round caps
        pen.ellipse((x - r, y - r, x + r, y + r), fill=(255, 255, 255, 255))
    png = io.BytesIO()
    image.save(png, format="PNG")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    path = [["M", *points[0]]] + [["L", x, y] for x, y in points[1:]]
    obj = dict(template["drawing"]["raw"]["objects"][0])
    obj.update(
        left=(min(xs) + max(xs)) / 2,
        top=(min(ys) + max(ys)) / 2,
        width=max(xs) - min(xs),
        height=max(ys) - min(ys),
        path=path,
    )
    raw = dict(template["drawing"]["raw"], objects=[obj])
    data = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    return json.dumps({"drawing": {"raw": raw, "data": data}})


# ----------------------------------------------------------------------------------------------
# Protocol clients (a child process: their timing is not disturbed by Playwright's thread)


class ProtocolClient:
    """One session over Streamlit's websocket protocol."""

    def __init__(self, index: int, url: str, template: bytes, timeout: float):
        from streamlit.proto.BackMsg_pb2 import BackMsg

        self.index, self.url, self.timeout = index, url, timeout
        self.template = BackMsg.FromString(template)
        self.canvas = next(
            w for w in self.template.rerun_script.widget_states.widgets if w.id.endswith("canvas")
        )
        self.canvas_json = json.loads(self.canvas.json_value)
        self.rng = random.Random(index)
        self.ws = None
        self.session_id = None
        self.lost = ""  # why the session was lost ('' = it was not)
        self.errors: list[str] = []
        self.strokes: list[dict] = []  # one dict per measured stroke
        self.late = 0
        self._run_id = None  # script_run_id of the run started by our last message
        self._waiting = False
        self._sent = 0.0
        self._pred = None
        self._pred_text = ""
        self._finished = asyncio.Event()
        self._finish_status = ""
        self._done = 0.0

    async def connect(self) -> None:
        import websockets

        ws_url = self.url.replace("http://", "ws://") + "/_stcore/stream"
        self.ws = await websockets.connect(
            ws_url, subprotocols=["streamlit"], origin=self.url, max_size=None,
            ping_interval=None, open_timeout=self.timeout,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        from streamlit.proto.BackMsg_pb2 import BackMsg

        first = BackMsg()
        first.rerun_script.context_info.CopyFrom(self.template.rerun_script.context_info)
        await self._run(first.SerializeToString())  # the page's first run (not measured)

    async def _read(self) -> None:
        from streamlit.proto.Alert_pb2 import Alert
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for raw in self.ws:
                now = time.perf_counter()
                msg = ForwardMsg.FromString(raw)
                kind = msg.WhichOneof("type")
                if kind == "new_session":
                    sid = msg.new_session.initialize.session_id
                    if sid and self.session_id and sid != self.session_id:
                        self.lost = self.lost or "its session id changed"
                    self.session_id = sid or self.session_id
                    if self._waiting and self._run_id is None:
                        self._run_id = msg.metadata.run.script_run_id
                elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                    element = msg.delta.new_element
                    which = element.WhichOneof("type")
                    if which == "exception":
                        self.errors.append(f"exception: {element.exception.type}")
                    elif which == "alert" and element.alert.format == Alert.ERROR:
                        self.errors.append(f"error: {element.alert.body[:80]}")
                    if self._run_id is not None and self._pred is None and b"cs-prediction" in raw:
                        self._pred = now
                        m = PRED_RE.search(raw)
                        self._pred_text = m[1].decode().strip() if m else ""
                elif kind == "script_finished" and self._ours(msg):
                    status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
                    self._finish_status, self._done = status, now
                    self._finished.set()
        except Exception as err:  # noqa: BLE001 -- the connection ended: the session is lost
            self.lost = self.lost or f"websocket closed: {type(err).__name__}"
        else:
            self.lost = self.lost or "websocket closed by the server"
        self._finished.set()

    def _ours(self, msg) -> bool:
        """True for a message of the run our last rerun started."""
        return self._run_id is not None and msg.metadata.run.script_run_id == self._run_id

    async def _run(self, message: bytes) -> tuple[float | None, float | None, str]:
        """Send one rerun; (seconds to the prediction or None, seconds to script_finished or
        None, predicted text)."""
        self._run_id, self._pred, self._pred_text, self._finish_status = None, None, "", ""
        self._finished.clear()
        self._waiting = True
        self._sent = time.perf_counter()
        await self.ws.send(message)
        try:
            await asyncio.wait_for(self._finished.wait(), self.timeout)
        except TimeoutError:
            self.lost = self.lost or f"no answer within {self.timeout:g} s"
            return None, None, ""
        finally:
            self._waiting = False
        if self.lost:
            return None, None, ""
        pred = None if self._pred is None else self._pred - self._sent
        return pred, self._done - self._sent, self._pred_text

    def stroke_message(self, k: int) -> tuple[bytes, str]:
        digit = "1" if (k + self.index) % 2 == 0 else "0"
        dx = self.rng.uniform(-25, 25)
        points = one_points(dx) if digit == "1" else zero_points(dx / 2)
        self.canvas.json_value = canvas_value(self.canvas_json, points)
        return self.template.SerializeToString(), digit

    async def stroke(self, k: int, measured: bool) -> None:
        message, digit = self.stroke_message(k)
        pred, done, text = await self._run(message)
        if measured and not self.lost:
            self.strokes.append(
                {"pred": pred, "done": done, "status": self._finish_status, "right": text == digit}
            )

    async def session(self, t0: float, seconds: float, every: float, phase: float) -> None:
        """Strokes every ``every`` s from wall-clock time t0 + phase until t0 + seconds."""
        k = 0
        while not self.lost:
            due = t0 + phase + k * every
            if due >= t0 + seconds:
                break
            wait = due - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -0.05:
                self.late += 1
            await self.stroke(k + 1, measured=True)
            k += 1

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def clients_main(args) -> None:
    template = Path(args.template).read_bytes()
    clients = [ProtocolClient(i, args.url, template, args.timeout) for i in range(args.clients)]
    ready = []

    async def join(c: ProtocolClient, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await c.connect()
            await c.stroke(0, measured=False)  # warm-up stroke, not measured
        except Exception as err:  # noqa: BLE001 -- reported as a lost session
            c.lost = c.lost or f"could not connect: {type(err).__name__}: {err}"
        ready.append(c)

    await asyncio.gather(*(join(c, i * args.stagger) for i, c in enumerate(clients)))
    print(f"READY {sum(not c.lost for c in clients)}", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    t0 = float(line.split()[1])
    n = len(clients)
    phases = [args.every * i / n for i in range(n)]  # spread evenly over --every
    await asyncio.gather(
        *(c.session(t0, args.seconds, args.every, p) for c, p in zip(clients, phases, strict=True))
    )
    result = [
        {"lost": c.lost, "errors": c.errors, "strokes": c.strokes, "late": c.late} for c in clients
    ]
    print("RESULT " + json.dumps(result), flush=True)  # before closing: a close can be slow
    await asyncio.gather(*(asyncio.wait_for(c.close(), 5) for c in clients), return_exceptions=True)


# ----------------------------------------------------------------------------------------------
# Browser sessions


def capture_canvas_message(page) -> dict:
    """Start collecting the BackMsgs ``page`` sends; returns a dict that fills as it sends."""
    box = {"messages": []}

    def on_ws(ws) -> None:
        ws.on("framesent", lambda payload: box["messages"].append(payload))
        ws.on("close", lambda _ws: box.setdefault("closed", time.time()))

    page.on("websocket", on_ws)
    return box


def canvas_template(messages: list) -> bytes:
    """The last BackMsg that carried the canvas's drawing (the end of a stroke)."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    for payload in reversed(messages):
        raw = payload if isinstance(payload, bytes) else payload.encode()
        msg = BackMsg.FromString(raw)
        if msg.WhichOneof("type") != "rerun_script":
            continue
        for w in msg.rerun_script.widget_states.widgets:
            if w.id.endswith("canvas") and '"drawing"' in w.json_value:
                return raw
    raise RuntimeError("the browser sent no canvas value")


class BrowserSession:
    """One Chromium page of the app; strokes timed in the browser (mouse-up -> prediction)."""

    def __init__(self, name: str, browser, url: str, timeout_ms: int):
        self.name, self.timeout_ms = name, timeout_ms
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()
        self.frames = capture_canvas_message(self.page)
        self.page.goto(url)
        self.page.locator("canvas").first.wait_for(timeout=120_000)
        self.times: list[float] = []
        self.errors: set[str] = set()
        self.failed: list[str] = []
        self.count = 0
        self.cleared = 0  # strokes before which Undo had nothing to undo (see stroke())
        self.cut = 0  # strokes whose waits ended at the deadline (A's Stop, the window's end)

    def stroke(self, measured: bool = True, deadline: float | None = None) -> None:
        """One timed stroke. Its waits end at ``deadline`` (time.time()) at the latest, so a
        page busy with its live reruns cannot hold the loop past A's Stop or the window's end;
        a stroke cut that way is counted apart (``cut``), not as a failure."""
        page, answer = self.page, self.page.locator(".cs-prediction")
        timeout_ms = self.timeout_ms
        if deadline is not None:
            timeout_ms = int(max(500, min(timeout_ms, (deadline - time.time()) * 1000)))
        try:
            if answer.count():
                undo = page.locator(".dc-icon-button[title='Undo']")
                emptied = False
                if undo.is_enabled():
                    undo.click(timeout=timeout_ms)
                    with contextlib.suppress(Exception):  # a kept drawing under the stroke
                        answer.wait_for(state="detached", timeout=min(timeout_ms, 5000))
                        emptied = True
                if not emptied:  # the canvas was mounted afresh from the kept drawing
                    self.cleared += 1
                    ui.clear_canvas(page, timeout_ms)
            box = ui.canvas_box(page)
            shape = one_points() if self.count % 2 == 0 else zero_points()
            xy = [(box["x"] + x, box["y"] + y) for x, y in shape]
            page.mouse.move(*xy[0])
            page.mouse.down()
            for x, y in xy[1:]:
                page.mouse.move(x, y, steps=2)
            start = time.perf_counter()
            page.mouse.up()
            answer.wait_for(state="attached", timeout=timeout_ms)
            if measured:
                self.times.append(time.perf_counter() - start)
        except Exception as err:  # noqa: BLE001 -- counted; the run goes on
            if timeout_ms < self.timeout_ms and deadline is not None and time.time() >= deadline:
                self.cut += 1  # the deadline came first: not a 30 s timeout
            else:
                self.failed.append(f"{type(err).__name__}: {str(err)[:400]}")
        self.count += 1
        self.check_errors()

    def check_errors(self) -> None:
        for selector in (EXCEPTION_JS, ERROR_ALERT_JS):
            for text in self.page.locator(selector).all_inner_texts():
                self.errors.add(text.strip()[:120])

    def status(self) -> str:
        """The progress line ('' when the sidebar shows none)."""
        line = ui.sidebar(self.page).get_by_test_id("stProgress")
        try:
            if not line.count():
                return ""
            return line.first.inner_text(timeout=2000).strip()
        except Exception:  # noqa: BLE001 -- redrawn meanwhile
            return "?"

    def close(self) -> None:
        self.context.close()


def short_state(line: str) -> str:
    if line.startswith("Training:") or line.startswith("Starting"):
        return "running"
    if "in the queue" in line:
        m = re.search(r"number (\d+) in the queue", line)
        return f"queued #{m[1]}" if m else "queued"
    if line.startswith("Paused"):
        return "paused"
    return line[:20] or "none"


# ----------------------------------------------------------------------------------------------
# The benchmark


class LoadSampler:
    def __init__(self, every: float = 2.0):
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)
        self._thread.start()

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.samples


def summary(name: str, seconds: list[float], expected: int) -> list:
    ms = [1000 * s for s in seconds]
    if not ms:
        return [name, 0, expected, "", "", ""]
    return [name, len(ms), expected, f"{percentile(ms, 50):.0f}", f"{percentile(ms, 95):.0f}",
            f"{max(ms):.0f}"]  # fmt: skip


def start_clients(url: str, template: Path, args) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child", "--url", url, "--template", str(template),
           "--clients", str(args.sessions - args.browsers), "--seconds", str(args.minutes * 60),
           "--every", str(args.every), "--timeout", str(args.timeout),
           "--stagger", str(args.stagger)]  # fmt: skip
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def wait_line(proc: subprocess.Popen, prefix: str) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line
    raise RuntimeError(f"the protocol clients ended without {prefix!r} (code {proc.wait()})")


def press_train(session: BrowserSession, want: str, timeout_ms: int) -> str:
    """Press Train; wait until the progress line shows the run's first steps ("running": the
    worker process starts and loads the data set first) or its place in the queue ("queued");
    returns that line."""
    page = session.page
    ui.press(page, "Train")
    shown = page.get_by_text("Training: epoch").or_(page.get_by_text("in the queue"))
    shown.first.wait_for(timeout=max(timeout_ms, 120_000))
    line = session.status()
    if short_state(line).split()[0] != want:
        raise RuntimeError(f"{session.name}: expected {want}, the sidebar says {line!r}")
    return line


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def run(args) -> None:
    timeout_ms = int(args.timeout * 1000)
    env = {"CONVSCOPE_MAX_TRAIN_SECONDS": "3600"}
    events: list[tuple[float, str]] = []  # (time.time(), what happened)
    with serve("app.py", env) as (url, server), chromium() as browser:
        say(f"server at {url}; opening Chromium pages A and B")
        a = BrowserSession("A", browser, url, timeout_ms)
        b = BrowserSession("B", browser, url, timeout_ms)
        for s in (a, b):
            s.stroke(measured=False)  # warm-up
        template = canvas_template(a.frames["messages"])
        say("canvas message captured; long-run settings in A and B")
        for s in (a, b):
            ui.long_run_settings(s.page, timeout_ms)
        say("A and B press Train")
        queue_up(a, b, events, timeout_ms)
        with tempfile.TemporaryDirectory(prefix="load_test_") as tmp:
            path = Path(tmp) / "canvas_backmsg.bin"
            path.write_bytes(template)
            child = start_clients(url, path, args)
            say(f"{args.sessions - args.browsers} protocol clients connecting")
            try:
                ready = int(wait_line(child, "READY").split()[1])
                t0 = time.time() + 1.0
                say(f"{ready} protocol clients ready; measuring for {args.minutes:g} min")
                child.stdin.write(f"GO {t0}\n")
                child.stdin.flush()
                cpu0 = cpu_seconds(server.pid)
                sampler = LoadSampler()
                rows = measure(args, a, b, t0, events, timeout_ms, server.pid)
                loads = sampler.stop()
                server_cpu = cpu_seconds(server.pid) - cpu0
                rows["elapsed"] = time.time() - t0
                result = json.loads(wait_line(child, "RESULT")[len("RESULT ") :])
            finally:
                if child.poll() is None:
                    child.kill()
                child.wait()
        sessions_lost = [f"{s.name}: websocket closed" for s in (a, b) if "closed" in s.frames]
        events = [(t - t0, what) for t, what in events]
        report(args, a, b, result, ready, rows, events, loads, server_cpu, sessions_lost)
        for s in (a, b):
            s.close()


def queue_up(a, b, events, timeout_ms) -> None:
    """Before the window: A presses Train and its run starts; then B presses Train and waits."""

    def note(what: str) -> None:
        events.append((time.time(), what))

    note("A presses Train")
    note(f"A: {short_state(press_train(a, 'running', timeout_ms))}")
    note("B presses Train")
    note(f"B: {short_state(press_train(b, 'queued', timeout_ms))}")


def measure(args, a, b, t0, events, timeout_ms, server_pid) -> dict:
    """The measured window: A trains, B queued behind it, both draw; A stops at --stop-at."""
    seconds, end = args.minutes * 60, t0 + args.minutes * 60
    while time.time() < t0:
        time.sleep(0.01)

    def note(what: str) -> None:
        events.append((time.time(), what))

    states = {"A": "running", "B": "queued #1"}
    workers: dict[int, float] = {}
    stopped = False
    due = {"A": t0, "B": t0 + args.every / 2}  # A and B take turns, each every --every s
    skipped = {"A": 0, "B": 0}
    while True:
        session = min((a, b), key=lambda s: due[s.name])
        when = due[session.name]
        if time.time() > when + args.every:  # fell behind: skip the slots that have passed
            missed = int((time.time() - when) // args.every)
            skipped[session.name] += missed
            when += missed * args.every
        if when >= end:
            break
        if time.time() < when:
            time.sleep(when - time.time())
        due[session.name] = when + args.every
        for s in (a, b):
            now = short_state(s.status())
            if now not in ("?", states[s.name]):
                states[s.name] = now
                note(f"{s.name}: {now}")
        if not stopped and time.time() - t0 >= args.stop_at * seconds:
            note("A presses Stop")
            ui.press(a.page, "Stop")
            stopped = True
        for pid in find_processes(server_pid, "cnn_core.job_worker"):
            with contextlib.suppress(OSError):  # it has just ended
                workers[pid] = cpu_seconds(pid)
        stop_time = t0 + args.stop_at * seconds
        session.stroke(deadline=end if stopped else min(stop_time, end))
    for s in (a, b):
        note(f"{s.name} at the end: {short_state(s.status())}")
    return {"skipped": skipped, "worker_cpu": sum(workers.values()), "workers": len(workers)}


def report(args, a, b, result, ready, rows, events, loads, server_cpu, lost_browser) -> None:
    seconds = args.minutes * 60
    n_proto = len(result)
    expected_proto = sum(int(math.ceil((seconds - args.every * i / n_proto) / args.every))
                         for i in range(n_proto))  # fmt: skip
    preds = [s["pred"] for c in result for s in c["strokes"] if s["pred"] is not None]
    dones = [s["done"] for c in result for s in c["strokes"] if s["done"] is not None]
    no_pred = sum(s["pred"] is None for c in result for s in c["strokes"])
    right = sum(s["right"] for c in result for s in c["strokes"])
    measured = sum(len(c["strokes"]) for c in result)
    late = sum(c["late"] for c in result)
    statuses = {}
    for c in result:
        for s in c["strokes"]:
            statuses[s["status"]] = statuses.get(s["status"], 0) + 1
    browser_times = a.times + b.times
    per_page = int(seconds // args.every)
    print(f"\nLoad test: {args.sessions} sessions ({n_proto} protocol clients ready "
          f"{ready}, {args.browsers} Chromium pages), a stroke every {args.every:g} s each "
          f"for {args.minutes:g} min")  # fmt: skip
    print_table(
        ["client", "strokes answered", "strokes planned", "p50 ms", "p95 ms", "max ms"],
        [
            summary("protocol: send -> prediction element", preds, expected_proto),
            summary("protocol: send -> script finished", dones, expected_proto),
            summary("browser A+B: mouse-up -> .cs-prediction", browser_times, 2 * per_page),
            summary("browser A (trains first)", a.times, per_page),
            summary("browser B (queued, then trains)", b.times, per_page),
        ],
    )
    errors = [e for c in result for e in c["errors"]]
    lost = [f"client {i}: {c['lost']}" for i, c in enumerate(result) if c["lost"]]
    lost += lost_browser
    print(f"\nprotocol strokes measured {measured}, without a prediction element {no_pred}, "
          f"predicted the drawn digit {right}, sent late {late}; "
          f"run endings {statuses}")  # fmt: skip
    print(f"browser strokes failed: A {len(a.failed)}, B {len(b.failed)} {a.failed + b.failed}; "
          f"skipped (the page was still busy with its last stroke): {rows['skipped']}; "
          f"canvas cleared by Edit/Delete (Undo did not empty it): A {a.cleared}, "
          f"B {b.cleared}; cut short at A's Stop or the window's end: A {a.cut}, "
          f"B {b.cut}")  # fmt: skip
    print(f"error elements: protocol {len(errors)} {sorted(set(errors))[:5]}, "
          f"browser {sorted(a.errors | b.errors)}")  # fmt: skip
    print(f"sessions lost: {len(lost)} {lost}")
    print("queue (seconds from the start of the measured window; A and B press Train before it):")
    for t, what in events:
        print(f"  {t:6.1f} s  {what}")
    if loads:
        print(f"load average (1 min) during the window: mean {sum(loads) / len(loads):.2f}, "
              f"max {max(loads):.2f}; {load_average()} at the end")  # fmt: skip
    elapsed = rows["elapsed"]
    print(f"CPU over the window ({elapsed:.0f} s): server {server_cpu / elapsed:.0%} of a core, "
          f"training worker processes {rows['worker_cpu'] / elapsed:.0%} of a core "
          f"({rows['workers']} seen)")  # fmt: skip
    answered = len(dones) + len(browser_times)
    if answered:
        print(f"server CPU per answered stroke (all its work, incl. A and B's live reruns): "
              f"{1000 * server_cpu / answered:.0f} ms; offered {args.sessions / args.every:g} "
              f"strokes/s, answered {answered / elapsed:.1f}/s")  # fmt: skip


class OutOfTime(BaseException):
    """--max-seconds has passed (a BaseException: no ``except Exception`` swallows it)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=30, help="sessions in all (30)")
    parser.add_argument("--browsers", type=int, default=2, choices=(2,),
                        help="of them Chromium pages A and B, both train (2)")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=2, help="measured window (2)")
    parser.add_argument("--every", type=float, default=2, help="seconds between strokes (2)")
    parser.add_argument("--stop-at", type=float, default=0.5,
                        help="A presses Stop at this fraction of the window (0.5)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=30, help="seconds per wait (30)")
    parser.add_argument("--stagger", type=float, default=0.5,
                        help="seconds between two protocol clients' connections (0.5)")  # fmt: skip
    parser.add_argument("--max-seconds", type=int, default=600, help="hard bound (600)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--template", help=argparse.SUPPRESS)
    parser.add_argument("--clients", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(asyncio.wait_for(clients_main(args), args.seconds + 600))
        return
    if not 1 <= args.sessions - args.browsers <= 200:
        parser.error("--sessions must leave 1 to 200 protocol clients")

    def out_of_time(*_):
        raise OutOfTime(f"the load test took longer than --max-seconds {args.max_seconds}")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.max_seconds)
    run(args)


if __name__ == "__main__":
    main()
