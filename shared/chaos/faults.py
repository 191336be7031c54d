"""The chaos monkey: every interval, one random process of the running platform is killed
with SIGKILL, or frozen with SIGSTOP for a moment and thawed with SIGCONT. Only processes
that `zeroshop up` reports ready are picked, so each death is one `up` must repair."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.restarts import READY, RestartPolicy
from shared.running import RunningPlatform


@dataclass
class Fault:
    at_s: float  # seconds into the run
    kind: str  # "kill" or "stop"
    victim: str
    pid: int


@dataclass
class Monkey:
    read_platform: Callable[[], RunningPlatform | None]
    victims: tuple[str, ...]
    interval_s: float
    stop_share: float  # the share of faults that freeze instead of kill
    stop_s: tuple[float, float]  # how long a frozen process stays frozen
    rng: random.Random
    # Spare a process restarted moments ago: killing it again at once would only provoke
    # the crash-loop rule (deaths soon after a start), which is up's to judge, not ours.
    min_uptime_s: float = RestartPolicy().stable_after_s
    faults: list[Fault] = field(default_factory=list)
    _frozen: dict[int, threading.Timer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def strike(self, at_s: float) -> Fault | None:
        """Hurt one ready process; None when none is ready (all are being restarted)."""
        platform = self.read_platform()
        settled_before = time.time() - self.min_uptime_s
        ready = [(name, p.pid) for name, p in (platform.processes.items() if platform else ())
                 if name in self.victims and p.state == READY and
                 p.ready_since <= settled_before and p.pid not in self._frozen]
        if not ready:
            return None
        victim, pid = self.rng.choice(sorted(ready))
        kind = "stop" if self.rng.random() < self.stop_share else "kill"
        try:
            if kind == "kill":
                os.kill(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGSTOP)
                thaw = threading.Timer(self.rng.uniform(*self.stop_s), self._thaw, (pid,))
                with self._lock:
                    self._frozen[pid] = thaw
                thaw.start()
        except ProcessLookupError:
            return None  # it died on its own a moment ago; `up` is on it
        fault = Fault(round(at_s, 1), kind, victim, pid)
        self.faults.append(fault)
        return fault

    def _thaw(self, pid: int) -> None:
        with self._lock:
            self._frozen.pop(pid, None)
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass

    def thaw_all(self) -> None:
        """Wake every frozen process now (at the end of a run, and on Ctrl-C)."""
        with self._lock:
            frozen = dict(self._frozen)
        for pid, timer in frozen.items():
            timer.cancel()
            self._thaw(pid)

    def counts(self) -> Counter[str]:
        return Counter(f.kind for f in self.faults)
