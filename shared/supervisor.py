"""Start platform processes, wait for their ready line, stop them all: used by
`zeroshop up` and by the integration tests alike.

A child prints one JSON line `{"event": "ready", "service", "endpoint"}` on stdout when it
listens; logs go to stderr. Children die with their supervisor (PR_SET_PDEATHSIG on Linux),
so even a killed supervisor leaves no orphans. A group made with `fork=True` (`zeroshop up`)
forks its children from a warm interpreter (shared/forkserver.py) instead of starting a new
one for each; the tests start theirs as new interpreters, as a user's `python -m` would.
"""

from __future__ import annotations

import ctypes
import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Protocol

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """SIGTERM this process when its parent exits (Linux; nothing elsewhere)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class StartError(RuntimeError):
    pass


class ChildProcess(Protocol):
    """What the supervisor asks of a child: a subprocess.Popen, or a forked process."""

    @property
    def pid(self) -> int: ...
    @property
    def returncode(self) -> int | None: ...
    def poll(self) -> int | None: ...
    def wait(self, timeout: float | None = None) -> int: ...
    def send_signal(self, sig: int) -> None: ...
    def kill(self) -> None: ...


@dataclass
class Child:
    name: str
    process: ChildProcess
    endpoint: str = ""
    events_endpoint: str = ""
    _ready: queue.Queue[dict[str, str]] = field(default_factory=queue.Queue)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def check_ready(self, wait_s: float = 0.0) -> bool:
        """True once the child has printed its ready line (waits up to `wait_s` for it)."""
        if self.endpoint:
            return True
        try:
            line = self._ready.get(timeout=wait_s) if wait_s > 0 else self._ready.get_nowait()
        except queue.Empty:
            return False
        self.endpoint = line["endpoint"]
        self.events_endpoint = line.get("events_endpoint", "")
        return True


def _pump(stream: IO[str], ready: queue.Queue[dict[str, str]]) -> None:
    # Keep reading stdout so a chatty child never blocks on a full pipe.
    for line in stream:
        if line.startswith('{"event": "ready"'):
            ready.put(json.loads(line))


class ProcessGroup:
    def __init__(self, fork: bool = False) -> None:
        self.children: dict[str, Child] = {}
        self.fork = fork

    def start(self, name: str, module: str, env: Mapping[str, str],
              timeout: float = 30.0, stderr: IO[str] | int | None = None) -> Child:
        """Run `python -m module`, wait for its ready line; raise StartError if it dies first."""
        return self.start_all([(name, module)], env, timeout, stderr)[0]

    def start_all(self, modules: list[tuple[str, str]], env: Mapping[str, str],
                  timeout: float = 30.0, stderr: IO[str] | int | None = None) -> list[Child]:
        """Start several processes at once (imports run in parallel), then wait for each."""
        return self.wait_ready([self.spawn(name, module, env, stderr) for name, module in modules],
                               timeout)

    def wait_ready(self, children: list[Child], timeout: float = 30.0) -> list[Child]:
        """Wait for each child's ready line, all within one `timeout`."""
        end = time.monotonic() + timeout
        for child in children:
            self._wait_ready(child, end, timeout)
        return children

    def spawn(self, name: str, module: str, env: Mapping[str, str],
              stderr: IO[str] | int | None = None) -> Child:
        """Start `python -m module` without waiting (see wait_ready)."""
        process: ChildProcess
        if self.fork:
            from . import forkserver  # imported here: most groups never fork

            forked = forkserver.fork(module, env, stderr, die_with_parent)
            process, stdout = forked, forked.stdout
        else:
            popen = subprocess.Popen(
                [sys.executable, "-m", module], env=dict(env), stdout=subprocess.PIPE,
                stderr=stderr, text=True, preexec_fn=die_with_parent,
            )
            assert popen.stdout is not None
            process, stdout = popen, popen.stdout
        child = Child(name, process)
        self.children[name] = child
        threading.Thread(target=_pump, args=(stdout, child._ready), daemon=True).start()
        return child

    def _wait_ready(self, child: Child, end: float, timeout: float) -> None:
        while time.monotonic() < end:
            if child.check_ready(0.05):
                return
            if child.process.poll() is not None:
                raise StartError(f"{child.name} exited with code "
                                 f"{child.process.returncode} before it was ready")
        self.stop_all()
        raise StartError(f"{child.name} was not ready within {timeout:.0f} s")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
        """Signal one child and wait for it (SIGKILL after `timeout`); returns its exit code."""
        child = self.children[name]
        if child.running:
            child.process.send_signal(sig)
            try:
                child.process.wait(timeout)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        return child.process.returncode

    def stop_all(self) -> None:
        for child in self.children.values():
            if child.running:
                child.process.send_signal(signal.SIGTERM)
        for name in list(self.children):
            self.stop(name)

    def pid(self, name: str) -> int:
        return self.children[name].process.pid
