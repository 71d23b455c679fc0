"""Two replicas behind HAProxy (deploy/local_cluster.py), learners in Chromium through the proxy.

The cluster is started as a learner's teacher would start it, `python deploy/local_cluster.py
--replicas 2 --port P`, on free ports of 127.0.0.1. Which replica a browser is on is read from
HAProxy's affinity cookie (CONVSCOPE_REPLICA=r1 or r2); a browser is sent to a chosen replica by
setting that cookie before its first request. No test races a training run: runs are long by
their settings (test_browser_training's Fashion-MNIST settings) and held with Pause; every wait
is for something the page or the process table shows, with a generous bound.

The tests share one cluster and run in file order: the last two kill a replica and then stop
the cluster with SIGTERM. The last test starts a one-replica cluster of its own for Ctrl-C.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bench.common import free_port
from deploy.local_cluster import COOKIE, HAPROXY, REPLICA_HEADER
from tests.test_browser import STROKE_STEPS, _draw, _one, _prediction, _zero
from tests.test_browser_training import (
    ERRORS,
    INK,
    WAIT,
    _goto,
    _long_run_settings,
    _pause,
    _press,
    _progress,
    _sidebar,
    alive,
    wait_for,
    worker_processes,
)
from ui import model_claim

pytestmark = [
    pytest.mark.skipif(
        not Path(HAPROXY).exists(),
        reason=f"{HAPROXY} is missing (apt-get install haproxy): the cluster tests run "
        "deploy/local_cluster.py, which needs Debian's HAProxy",
    ),
    pytest.mark.timeout(400),
]
ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "deploy" / "local_cluster.py"
LOST = model_claim.LOST["trained"].split(".")[0]  # the warning's first sentence
STROKES = "canvas.dc-canvas.lower-canvas"


@dataclass
class Cluster:
    """A running deploy/local_cluster.py: its process, its printed lines, the proxy's URL and
    each replica's pid by name ("r1", "r2")."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    url: str = ""
    replicas: dict[str, int] = field(default_factory=dict)

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))


def _read_lines(cluster: Cluster, ready: threading.Event) -> None:
    for line in cluster.proc.stdout:
        cluster.lines.append(line.rstrip("\n"))
        if line.startswith("ConvScope is ready at "):
            ready.set()
    ready.set()  # the script ended (the caller checks whether it was ready)


def _free_base(replicas: int) -> int:
    """A port P with P..P+replicas all free on 127.0.0.1."""
    for _ in range(50):
        base = free_port()
        if base + replicas < 65536 and all(_is_free(base + i) for i in range(1, replicas + 1)):
            return base
    raise RuntimeError("no run of free ports found")


def _is_free(port: int) -> bool:
    from deploy.local_cluster import _port_free

    return _port_free(port)


def start_cluster(replicas: int, tmp: Path, env: dict | None = None) -> Cluster:
    """`python deploy/local_cluster.py --replicas N --port P` until it prints its ready line."""
    base = _free_base(replicas)
    cmd = [sys.executable, str(SCRIPT), "--replicas", str(replicas), "--port", str(base)]
    cmd += ["--log-dir", str(tmp)]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cluster, ready = Cluster(proc), threading.Event()
    threading.Thread(target=_read_lines, args=(cluster, ready), daemon=True).start()
    ready.wait(300)  # importing torch in every replica at once takes a while on a busy machine
    assert cluster.said("ConvScope is ready at "), "\n".join(cluster.lines)
    for line in cluster.lines:
        if m := re.match(r"replica (r\d+): http://127\.0\.0\.1:\d+ pid (\d+)$", line):
            cluster.replicas[m[1]] = int(m[2])
        if m := re.match(r"ConvScope is ready at (\S+) ", line):
            cluster.url = m[1]
    assert cluster.url == f"http://127.0.0.1:{base}" and len(cluster.replicas) == replicas
    return cluster


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except OSError:
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return {p for p in found if alive(p)}


def stop_cluster(cluster: Cluster, sig: int = signal.SIGTERM) -> set[int]:
    """Send ``sig`` to the script and wait for it to exit; the processes it had started."""
    started = descendants(cluster.proc.pid)
    if cluster.proc.poll() is None:
        cluster.proc.send_signal(sig)
    cluster.proc.wait(timeout=120)
    return started


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two replicas behind HAProxy for this module; stopped (if a test has not) at the end."""
    env = {"CONVSCOPE_TRAINING_SLOTS": "2"}  # a learner who lands on the other replica may train
    cluster = start_cluster(2, tmp_path_factory.mktemp("cluster"), env)
    try:
        yield cluster
    finally:
        if cluster.proc.poll() is None:
            stop_cluster(cluster)


# ----------------------------------------------------------------------------------------------
# Browsers through the proxy


@contextmanager
def learner(browser, url: str, replica: str | None = None):
    """A new browser session on ``url`` through the proxy, sent to ``replica`` if given (by the
    affinity cookie), on the home page with its canvas ready; yields (page, websockets): every
    websocket the page has opened, in order."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if replica:
        context.add_cookies([{"name": COOKIE, "value": replica, "url": url}])
    try:
        page = context.new_page()
        sockets = []
        page.on("websocket", lambda ws: sockets.append(ws))
        page.goto(url)
        page.locator("canvas").first.wait_for(timeout=WAIT)
        yield page, sockets
    finally:
        context.close()


def replica_of(page) -> str:
    """The replica HAProxy pins this browser to, from its affinity cookie."""
    values = [c["value"] for c in page.context.cookies() if c["name"] == COOKIE]
    assert len(values) == 1, page.context.cookies()
    return values[0]


def _ink(page) -> int:
    return page.locator(STROKES).first.evaluate(INK)


def _draw_on_canvas(page, points) -> None:
    """test_browser._draw on the drawing canvas itself: after a page switch the first canvas of
    the document can be one of the previous page's hidden Plotly canvases."""
    canvas = page.locator(STROKES).first
    canvas.wait_for(timeout=WAIT)
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=STROKE_STEPS)
    page.mouse.up()


def _poll(read, expected, seconds: float = 120):
    """Poll ``read()`` (a browser call, so Playwright's events keep flowing) until it returns
    ``expected``; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (value := read()) != expected:
        assert time.monotonic() < deadline, f"{value!r} never became {expected!r}"
        time.sleep(0.2)


def _share_link(page, url: str, page_name: str = "Pooling") -> str:
    """Open ``page_name`` from the sidebar and copy its 'Share this view' link."""
    _goto(page, page_name)
    sidebar = _sidebar(page)
    sidebar.get_by_text("Share this view").click()
    code = sidebar.get_by_test_id("stCode")
    code.wait_for(timeout=WAIT)
    link = code.inner_text().strip()
    assert link.startswith(url + "/pooling?") and "img=" in link, link
    return link


def _train_and_pause(*pages) -> dict:
    """Start a long run in each page (their worker processes start together), hold each with
    Pause; returns each page's paused progress line."""
    for page in pages:
        _long_run_settings(page)
        _press(page, "Train")
    for page in pages:
        page.get_by_text("Training: epoch").first.wait_for(timeout=WAIT)
    return {page: _pause(page) for page in pages}


def _link_caption(page):
    return page.get_by_text("Current input: the image from the shared link").first


# ----------------------------------------------------------------------------------------------
# Tests


def test_haproxy_accepts_the_configuration_with_the_servers_local_cluster_adds(tmp_path):
    """deploy/haproxy.cfg with local_cluster's two server lines passes `haproxy -c`, and each
    server line names the affinity cookie value the tests read (r1, r2)."""
    from deploy.local_cluster import config_text

    config = tmp_path / "haproxy.cfg"
    config.write_text(config_text([18501, 18502]))
    env = {**os.environ, "CONVSCOPE_BIND": "127.0.0.1:18500"}
    check = subprocess.run([HAPROXY, "-c", "-f", str(config)], env=env, capture_output=True)
    assert check.returncode == 0, check.stderr.decode()
    lines = [line.split() for line in config.read_text().splitlines()]
    servers = [words for words in lines if words[:1] == ["server"]]
    assert [(s[1], s[2], s[-1]) for s in servers] == [
        ("r1", "127.0.0.1:18501", "r1"),
        ("r2", "127.0.0.1:18502", "r2"),
    ]


@pytest.mark.browser
def test_two_learners_land_on_different_replicas_and_keep_their_own_sessions(browser, cluster):
    """Two new browsers are spread over the two replicas (cookie affinity, round robin). Each
    draws its own digit and starts a long run, held with Pause; through page switches and their
    reruns each gets its own drawing back, its own paused run, the same replica; one learner's
    Step one batch moves only that learner's run; Stop leaves each with its own model."""
    with learner(browser, cluster.url) as (a, _), learner(browser, cluster.url) as (b, _):
        assert {replica_of(a), replica_of(b)} == {"r1", "r2"}
        where = {a: replica_of(a), b: replica_of(b)}
        _draw(a, _one())
        _draw(b, _zero())
        assert (_prediction(a), _prediction(b)) == ("1", "0")
        ink = {a: _ink(a), b: _ink(b)}
        assert ink[a] > 0 and ink[b] > 0 and ink[a] != ink[b]  # a stroke and an oval
        held = _train_and_pause(a, b)
        for page in (a, b):
            for link in ("Convolution", "Draw & predict"):
                _goto(page, link)
            _poll(lambda page=page: _ink(page), ink[page])  # redrawn from its own session
            assert page.get_by_text("Current input: your drawing").count() == 1
            assert _progress(page) == held[page]  # its own run, still held
            assert replica_of(page) == where[page]
        _goto(a, "Training")
        _press(a, "Step one batch")
        _poll(lambda: _progress(a) != held[a], True)
        assert _progress(b) == held[b]
        for page in (a, b):
            _press(page, "Stop")
        for page in (a, b):
            page.get_by_text("Training stopped at epoch").first.wait_for(timeout=WAIT)
            assert "your own model" in _sidebar(page).inner_text()
            assert page.locator(ERRORS).count() == 0, page.locator(ERRORS).all_inner_texts()


def test_every_replica_runs_with_one_cookie_secret(cluster):
    """The replicas get the same server.cookieSecret (STREAMLIT_SERVER_COOKIE_SECRET), one that
    local_cluster generated: not empty, not Streamlit's per-process random default."""
    secrets = set()
    for pid in cluster.replicas.values():
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        secrets |= {v for v in environ if v.startswith(b"STREAMLIT_SERVER_COOKIE_SECRET=")}
    assert len(secrets) == 1 and len(secrets.pop()) > len("STREAMLIT_SERVER_COOKIE_SECRET=") + 30


@pytest.mark.browser
def test_a_share_link_through_the_proxy_restores_its_view_on_either_replica(browser, cluster):
    """A link copied on the Pooling page after drawing a 1 opens that page with that input and
    its prediction in a fresh browser on each replica (HAProxy names the answering replica)."""
    with learner(browser, cluster.url) as (page, _):
        _draw(page, _one())
        assert _prediction(page) == "1"
        link = _share_link(page, cluster.url)
    for replica in sorted(cluster.replicas):
        with learner(browser, cluster.url, replica) as (fresh, _):
            response = fresh.goto(link)
            assert response.headers[REPLICA_HEADER.lower()] == replica
            fresh.get_by_role("heading", name="Pooling", exact=True).first.wait_for(timeout=WAIT)
            caption = _link_caption(fresh)
            caption.wait_for(timeout=WAIT)
            assert "prediction 1" in caption.inner_text()
            assert replica_of(fresh) == replica
            assert fresh.locator(ERRORS).count() == 0, fresh.locator(ERRORS).all_inner_texts()


@pytest.mark.browser
def test_a_killed_replicas_learner_reconnects_to_the_other_and_is_told_its_model_is_lost(
    browser, cluster
):
    """One learner on each replica, each with a long run held by Pause; the first learner
    opened a share link. Its replica is killed (SIGKILL): its page's websocket closes and
    Streamlit reconnects by itself, HAProxy sends it to the other replica (the cookie follows),
    the new session restores the link's view with the default model and says that the trained
    model is gone, on every page, and the learner goes on drawing. The other learner's session
    is untouched, the dead replica's training worker exits, and the script reports the death."""
    gone, other = "r1", "r2"
    with (
        learner(browser, cluster.url, other) as (stay, stay_sockets),
        learner(browser, cluster.url, gone) as (moved, sockets),
    ):
        _draw(stay, _zero())
        _draw(moved, _one())
        assert (_prediction(stay), _prediction(moved)) == ("0", "1")
        moved.goto(_share_link(moved, cluster.url))  # the learner's view, now in the URL
        _link_caption(moved).wait_for(timeout=WAIT)
        stay_held = _train_and_pause(stay, moved)[stay]
        wait_for(lambda: "model=trained" in moved.url, seconds=60)  # the claim, ui/model_claim
        assert replica_of(moved) == gone and replica_of(stay) == other
        (worker,) = worker_processes(cluster.replicas[gone])
        connected, stay_count = sockets[-1], len(stay_sockets)

        with moved.expect_websocket(timeout=WAIT) as reconnect:
            os.kill(cluster.replicas[gone], signal.SIGKILL)
        assert connected.is_closed() and reconnect.value is not connected
        moved.get_by_text(LOST).first.wait_for(timeout=WAIT)
        assert replica_of(moved) == other
        moved.get_by_role("heading", name="Pooling", exact=True).first.wait_for(timeout=WAIT)
        _link_caption(moved).filter(has_text="prediction 1").wait_for(timeout=WAIT)
        assert "the default model" in _sidebar(moved).inner_text()
        wait_for(lambda: "model=" not in moved.url, seconds=60)  # nothing claimed any more
        _goto(moved, "Draw & predict")  # it says so on every page, and the learner goes on
        assert moved.get_by_text(LOST).count() == 1
        _draw_on_canvas(moved, _zero())
        _poll(lambda: _prediction(moved), "0")  # (it said 1, the link's digit, before)
        assert moved.locator(ERRORS).count() == 0, moved.locator(ERRORS).all_inner_texts()

        assert _progress(stay) == stay_held and replica_of(stay) == other
        assert len(stay_sockets) == stay_count and stay.get_by_text(LOST).count() == 0
        wait_for(lambda: not alive(worker), seconds=60)  # its socket closed: it exited
        wait_for(lambda: cluster.said(f"replica {gone} (pid {cluster.replicas[gone]}) exited"))


def test_sigterm_stops_haproxy_every_replica_and_their_training_workers(cluster):
    """SIGTERM to local_cluster.py: it exits with 0 and every process it started (HAProxy, the
    replicas, a training worker held by Pause on the surviving replica) has ended."""
    started = descendants(cluster.proc.pid)
    assert cluster.replicas["r2"] in started
    assert worker_processes(cluster.replicas["r2"])  # the paused run of the learner who stayed
    stop_cluster(cluster)
    assert cluster.proc.returncode == 0, cluster.lines
    assert not [pid for pid in started if alive(pid)]
    assert cluster.lines[-1] == "stopped"


def test_ctrl_c_stops_a_one_replica_cluster(tmp_path):
    """Ctrl-C (SIGINT) to local_cluster.py with one replica: exit code 0 and no process of
    its own left (HAProxy and the replica have ended)."""
    cluster = start_cluster(1, tmp_path)
    try:
        started = descendants(cluster.proc.pid)
        assert len(started) >= 2  # HAProxy and the replica (and whatever they started)
        stop_cluster(cluster, signal.SIGINT)
        assert cluster.proc.returncode == 0, cluster.lines
        assert not [pid for pid in started if alive(pid)]
    finally:
        if cluster.proc.poll() is None:
            stop_cluster(cluster)
