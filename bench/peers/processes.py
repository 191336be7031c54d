"""Start the peers under gunicorn on free loopback ports, wait until they answer, stop them.

Every gunicorn runs in its own process group and dies with this process (PR_SET_PDEATHSIG),
so a failed start, Ctrl-C or a killed benchmark leaves no worker behind.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from shared.config import free_port

from .gateway import SECTIONS
from .services import SERVICES, seed_databases

# gunicorn's docs: (2 x cores) + 1 workers to start with.
WORKERS = 2 * len(os.sched_getaffinity(0)) + 1
GATEWAY_MODES = ("sequential", "threads")


def _die_with_parent() -> None:
    os.setsid()  # its own group: stopping it reaches every worker
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Gunicorn:
    """One gunicorn master and its sync workers serving `app` on a free port."""

    def __init__(self, name: str, app: str, env: Mapping[str, str], workers: int) -> None:
        self.name = name
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "--worker-class", "sync",
                   "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
                   "--log-level", "warning", "--name", f"peer-{name}",
                   "--no-control-socket", app]  # several masters would share its one path
        self.process = subprocess.Popen(command, env={**os.environ, **env},
                                        preexec_fn=_die_with_parent)

    def wait_answers(self, path: str, deadline: float) -> None:
        """Poll `path` until it answers 200 (every worker has imported the app by then or
        soon after), or fail when the process died or the deadline passed."""
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn {self.name} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.HTTPError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {self.name} did not answer {path} in time")
            time.sleep(0.05)

    def pids(self) -> list[int]:
        """The master and every worker (its children, read from /proc)."""
        master = self.process.pid
        return [master, *children(master)]

    def signal_stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # graceful: answers in flight finish

    def wait_stopped(self, timeout: float = 15.0) -> None:
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def children(pid: int) -> list[int]:
    """Direct children of `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


class Peers:
    """The five peer services and the two peer gateways, seeded in `folder`."""

    def __init__(self, folder: Path, workers: int = WORKERS, timeout: float = 60.0) -> None:
        self.services: dict[str, Gunicorn] = {}
        self.gateways: dict[str, Gunicorn] = {}
        try:
            urls = seed_databases(folder)
            for name in SERVICES:
                self.services[name] = Gunicorn(
                    name, "bench.peers.services:create_app()",
                    {"PEER_SERVICE": name, "PEER_DATABASE_URL": urls[name]}, workers)
            service_env = {f"PEER_{n.upper()}_URL": g.url for n, g in self.services.items()}
            for mode in GATEWAY_MODES:
                self.gateways[mode] = Gunicorn(f"gateway-{mode}",
                                               "bench.peers.gateway:create_app()",
                                               {**service_env, "PEER_GATEWAY_MODE": mode},
                                               workers)
            deadline = time.monotonic() + timeout
            for name, service in self.services.items():
                rule = SECTIONS[name][1]
                service.wait_answers(rule.format(pid=1), deadline)
            for gateway in self.gateways.values():
                gateway.wait_answers("/api/products/1", deadline)
        except BaseException:
            self.close()
            raise

    def processes(self, mode: str) -> dict[str, list[int]]:
        """Every process one arm uses, by name: its gateway and all five services, each a
        gunicorn master with its workers."""
        return {"gateway": self.gateways[mode].pids(),
                **{name: service.pids() for name, service in self.services.items()}}

    def close(self) -> None:
        everything = [*self.gateways.values(), *self.services.values()]
        for process in everything:  # all at once, then wait: stopping takes a moment each
            process.signal_stop()
        for process in everything:
            process.wait_stopped()
