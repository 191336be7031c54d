"""Keep the platform's processes running: a child that dies is started again after a
backoff (0.5 s, 1 s, 2 s ... like compose's `restart: on-failure` and Kubernetes'
CrashLoopBackOff); one that keeps dying soon after its start is a crash loop, reported and
left stopped.

`Restarter.tick()` is called from the supervisor's loop; it never blocks, so one child
waiting out its backoff or its start-up delays no other.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .supervisor import Child, ProcessGroup


@dataclass(frozen=True)
class RestartPolicy:
    first_delay_s: float = 0.5
    max_delay_s: float = 8.0
    stable_after_s: float = 10.0  # up this long, its next death starts a fresh count
    max_quick_deaths: int = 5  # deaths in a row, each soon after a start: a crash loop
    start_timeout_s: float = 30.0  # no ready line by then counts as a death


STARTING, READY, BACKING_OFF, CRASH_LOOP = "starting", "ready", "backing off", "crash loop"


@dataclass
class Watched:
    """One supervised process and its restart history."""

    name: str
    module: str
    env: Mapping[str, str]
    child: Child
    state: str = STARTING
    restarts: int = 0
    quick_deaths: int = 0
    last_exit: int | None = None
    started_at: float = field(default_factory=time.monotonic)
    ready_at: float | None = None
    restart_at: float = 0.0

    @property
    def endpoint(self) -> str:
        """Where it listens: a restart binds the same address (its env pins it)."""
        return self.child.endpoint or self._first_endpoints[0]

    @property
    def events_endpoint(self) -> str:
        return self.child.events_endpoint or self._first_endpoints[1]

    def __post_init__(self) -> None:
        self._first_endpoints = (self.child.endpoint, self.child.events_endpoint)

    def describe(self, now: float) -> str:
        if self.state == BACKING_OFF:
            return f"restarting in {max(0.0, self.restart_at - now):.1f} s"
        if self.state == CRASH_LOOP:
            return f"crash loop: gave up after {self.quick_deaths} quick deaths"
        return self.state


def exit_text(code: int | None) -> str:
    return f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"


class Restarter:
    def __init__(self, group: ProcessGroup, policy: RestartPolicy,
                 on_change: Callable[[Watched, str], None]) -> None:
        self.group = group
        self.policy = policy
        self.watched: dict[str, Watched] = {}
        self._on_change = on_change  # (what changed, a sentence saying so)

    def watch(self, child: Child, module: str, env: Mapping[str, str]) -> Watched:
        """Supervise a child that is already ready; `env` is what a restart gets."""
        now = time.monotonic()
        watched = Watched(child.name, module, env, child, READY, started_at=now, ready_at=now)
        self.watched[child.name] = watched
        return watched

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        for watched in self.watched.values():
            if watched.state in (STARTING, READY) and not watched.child.running:
                self._died(watched, now)
            elif watched.state == STARTING:
                if watched.child.check_ready():
                    watched.state, watched.ready_at = READY, now
                    self._on_change(watched, f"{watched.name} is ready again "
                                             f"(pid {watched.child.process.pid})")
                elif now - watched.started_at > self.policy.start_timeout_s:
                    watched.child.process.kill()
                    watched.child.process.wait()
                    self._died(watched, now)
            elif watched.state == BACKING_OFF and now >= watched.restart_at:
                self._restart(watched, now)

    def _died(self, watched: Watched, now: float) -> None:
        watched.last_exit = watched.child.process.returncode
        quick = watched.ready_at is None or now - watched.ready_at < self.policy.stable_after_s
        watched.quick_deaths = watched.quick_deaths + 1 if quick else 1
        how = exit_text(watched.last_exit)
        if watched.quick_deaths >= self.policy.max_quick_deaths:
            watched.state = CRASH_LOOP
            self._on_change(watched, f"{watched.name} died ({how}) {watched.quick_deaths} "
                                     f"times in a row soon after starting: a crash loop; not "
                                     f"restarting it (see its log above)")
            return
        delay = min(self.policy.first_delay_s * 2 ** (watched.quick_deaths - 1),
                    self.policy.max_delay_s)
        watched.state, watched.restart_at = BACKING_OFF, now + delay
        self._on_change(watched, f"{watched.name} died ({how}); restarting in {delay:.1f} s")

    def _restart(self, watched: Watched, now: float) -> None:
        watched.child = self.group.spawn(watched.name, watched.module, watched.env)
        watched.state, watched.started_at, watched.ready_at = STARTING, now, None
        watched.restarts += 1
        self._on_change(watched, f"{watched.name} restarted (pid {watched.child.process.pid}, "
                                 f"restart {watched.restarts})")
