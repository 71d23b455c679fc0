"""Several ConvScope replicas behind HAProxy on this machine (127.0.0.1 only).

    python deploy/local_cluster.py --replicas 2 --port 8500

starts N replicas of the app (`streamlit run app.py`, headless) on ports P+1..P+N and Debian's
HAProxy on port P with deploy/haproxy.cfg (cookie affinity, websockets, health checks), waits
until every replica answers through the proxy, prints one line per process and then
"ConvScope is ready at http://127.0.0.1:P", and runs until Ctrl-C or SIGTERM, which stop
HAProxy and every replica with all the processes it started (training workers included).

Every replica gets the same cookie secret (STREAMLIT_SERVER_COOKIE_SECRET if it is set, else
one generated for this run) and the rest of this environment (CONVSCOPE_* limits, Streamlit
settings). A replica that dies is reported and not restarted: HAProxy sends its learners to
the others, which is what tests/test_cluster.py checks.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"
HAPROXY = "/usr/sbin/haproxy"
COOKIE = "CONVSCOPE_REPLICA"  # the affinity cookie of haproxy.cfg
REPLICA_HEADER = "X-ConvScope-Replica"  # the header haproxy.cfg adds: the answering replica
HOST = "127.0.0.1"
STOP_SECONDS = 20  # how long processes get to exit after SIGTERM before they are killed
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36  # prctl(2) options (Linux)


class Stop(Exception):
    """Raised by the SIGINT / SIGTERM handler: leave whatever we wait for and shut down."""


@dataclass
class Child:
    """A process we started, in a process group of its own (its children share the group)."""

    name: str
    url: str
    proc: subprocess.Popen
    log: Path
    reported: bool = False  # its exit has been reported

    @property
    def pid(self) -> int:
        return self.proc.pid


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:  # not Linux: no prctl; the stop below still kills every process group
        return None


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if this script dies without cleaning up (killed)."""
    libc = _libc()
    if libc is not None:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _start(name: str, cmd: list[str], env: dict, log: Path, url: str) -> Child:
    """Start ``cmd`` in a new session (its own process group: Ctrl-C in a terminal reaches only
    this script, which stops the group), output appended to ``log``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    return Child(name, url, proc, log)


def config_text(replica_ports: list[int], base: str | None = None) -> str:
    """deploy/haproxy.cfg with one server line per replica appended to its backend."""
    base = CONFIG.read_text() if base is None else base
    lines = [
        f"    server r{i} {HOST}:{port} cookie r{i}"
        for i, port in enumerate(replica_ports, start=1)
    ]
    return (
        base.rstrip("\n") + "\n    # added by deploy/local_cluster.py\n" + "\n".join(lines) + "\n"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: a
        try:  # connection closed a moment ago (TIME_WAIT) does not make the port busy
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _get(url: str, replica: str | None = None) -> tuple[int, str]:
    """(status, answering replica) of a GET, with the affinity cookie for ``replica`` if given."""
    headers = {"Cookie": f"{COOKIE}={replica}"} if replica else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers.get(REPLICA_HEADER, "")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get(REPLICA_HEADER, "")
    except OSError:
        return 0, ""


def _check_alive(children: list[Child]) -> None:
    for child in children:
        if child.proc.poll() is not None:
            tail = child.log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"{child.name} exited with code {child.proc.returncode} while starting; "
                f"the end of {child.log}:\n{tail}"
            )


def wait_ready(proxy: Child, replicas: list[Child], seconds: float) -> None:
    """Wait until each replica is healthy, directly and through HAProxy with its cookie (so the
    proxy's health check has marked it up and the cookie routes to it)."""
    deadline = time.monotonic() + seconds
    pending = {child.name: child for child in replicas}
    while pending:
        _check_alive([proxy, *replicas])
        if time.monotonic() > deadline:
            raise RuntimeError(f"not healthy after {seconds:.0f} s: {', '.join(pending)}")
        for name, child in list(pending.items()):
            direct, _ = _get(child.url + "/_stcore/health")
            status, answered = _get(proxy.url + "/_stcore/health", replica=name)
            if direct == 200 and status == 200 and answered == name:
                del pending[name]
        time.sleep(0.3)


def _reap_orphans(known: set[int]) -> None:
    """As a child subreaper, we inherit the processes of a replica that died (its training
    workers, which exit by themselves when its socket closes): collect them when they end."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in known:
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
            with contextlib.suppress(ChildProcessError):  # reaped meanwhile
                os.waitpid(int(entry.name), os.WNOHANG)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(child: Child, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group has ended
        os.killpg(child.pid, sig)  # the group's id is the leader's pid (start_new_session)


def stop_all(children: list[Child], seconds: float = STOP_SECONDS) -> None:
    """SIGTERM every process group (HAProxy first: no new requests), wait, then SIGKILL what is
    left; returns when every group is empty and every child reaped."""
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + seconds
    known = {child.pid for child in children}
    while True:
        for child in children:
            child.proc.poll()  # reap the leader, so that an exited one leaves its group
        _reap_orphans(known)
        alive = [child for child in children if _group_alive(child.pid)]
        if not alive:
            return
        if time.monotonic() > deadline:
            for child in alive:
                print(f"{child.name} did not stop in {seconds:.0f} s: killed", flush=True)
                _signal_group(child, signal.SIGKILL)
            deadline = float("inf")  # SIGKILL cannot be refused; wait for the kernel
        time.sleep(0.1)


def _on_signal(signum, _frame):
    raise Stop(signal.Signals(signum).name)


def replica_command(port: int) -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"),
        "--server.port", str(port), "--server.address", HOST, "--server.headless", "true",
    ]  # fmt: skip


def run(args: argparse.Namespace) -> int:
    ports = [args.port + i for i in range(args.replicas + 1)]  # HAProxy, then the replicas
    busy = [port for port in ports if not _port_free(port)]
    if busy:
        print(f"Port(s) {', '.join(map(str, busy))} of {HOST} are in use.", file=sys.stderr)
        return 2
    if not Path(args.haproxy).exists():
        print(f"{args.haproxy} is missing: apt-get install haproxy", file=sys.stderr)
        return 2
    logs = Path(args.log_dir or tempfile.mkdtemp(prefix="convscope-cluster-"))
    logs.mkdir(parents=True, exist_ok=True)
    config = logs / "haproxy.cfg"
    config.write_text(config_text(ports[1:]))
    proxy_env = {**os.environ, "CONVSCOPE_BIND": f"{HOST}:{ports[0]}"}
    check = subprocess.run(
        [args.haproxy, "-c", "-q", "-f", str(config)], env=proxy_env, capture_output=True
    )
    if check.returncode != 0:
        print(f"HAProxy refused {config}:\n{check.stderr.decode()}", file=sys.stderr)
        return 2

    secret = os.environ.get("STREAMLIT_SERVER_COOKIE_SECRET") or secrets.token_hex(32)
    secret_from = "from STREAMLIT_SERVER_COOKIE_SECRET" if "STREAMLIT_SERVER_COOKIE_SECRET" in (
        os.environ) else "generated for this run"  # fmt: skip
    replica_env = {**os.environ, "STREAMLIT_SERVER_COOKIE_SECRET": secret}
    libc = _libc()
    if libc is not None:  # orphaned grandchildren come to us, so we can reap and stop them
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)

    children: list[Child] = []
    try:
        for i, port in enumerate(ports[1:], start=1):
            url = f"http://{HOST}:{port}"
            log = logs / f"replica-r{i}.log"
            children.append(_start(f"r{i}", replica_command(port), replica_env, log, url))
        proxy_cmd = [args.haproxy, "-db", "-f", str(config)]
        proxy_url = f"http://{HOST}:{ports[0]}"
        proxy = _start("haproxy", proxy_cmd, proxy_env, logs / "haproxy.log", proxy_url)
        children.insert(0, proxy)
        replicas = children[1:]
        wait_ready(proxy, replicas, args.timeout)
        for child in replicas:
            print(f"replica {child.name}: {child.url} pid {child.pid}", flush=True)
        print(f"haproxy: {proxy.url} pid {proxy.pid}", flush=True)
        print(f"cookie secret: one for all replicas, {secret_from}; logs: {logs}", flush=True)
        print(f"ConvScope is ready at {proxy.url} ({len(replicas)} replicas behind HAProxy). "
              "Ctrl-C stops everything.", flush=True)  # fmt: skip
        return watch(proxy, replicas, {child.pid for child in children})
    except Stop as stop:
        print(f"{stop}: stopping HAProxy and the replicas", flush=True)
        return 0
    except RuntimeError as err:
        print(f"ConvScope cluster failed: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)  # the stop below must not be interrupted
        stop_all(children)
        print("stopped", flush=True)


def watch(proxy: Child, replicas: list[Child], known: set[int]) -> int:
    """Run until a signal (Stop) or HAProxy's end; report replicas that die (not restarted)."""
    while True:
        if proxy.proc.poll() is not None:
            print(f"HAProxy exited with code {proxy.proc.returncode}; see {proxy.log}", flush=True)
            return 1
        for child in replicas:
            if not child.reported and child.proc.poll() is not None:
                child.reported = True
                print(f"replica {child.name} (pid {child.pid}) exited with code "
                      f"{child.proc.returncode}; HAProxy sends its learners to the others",
                      flush=True)  # fmt: skip
        _reap_orphans(known)
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replicas", type=int, default=2, choices=range(1, 9), metavar="N",
                        help="how many replicas of the app (1-8; default 2)")  # fmt: skip
    parser.add_argument("--port", type=int, default=8500, metavar="P",
                        help="HAProxy's port; replicas take P+1..P+N (default 8500)")  # fmt: skip
    parser.add_argument("--haproxy", default=HAPROXY, help=f"HAProxy binary (default {HAPROXY})")
    parser.add_argument("--log-dir", help="where the logs and the HAProxy config go "
                        "(default: a new temporary folder)")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=300,
                        help="seconds to wait for every replica to be healthy")  # fmt: skip
    args = parser.parse_args(argv)
    if not 1024 <= args.port <= 65535 - args.replicas:
        parser.error("--port must leave room for the replicas' ports below 65536 (and be >= 1024)")
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
