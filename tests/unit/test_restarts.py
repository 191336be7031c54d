"""The restart policy of `zeroshop up`, with real short-lived child processes and the clock
handed in: backoff doubles, a stable run starts the count afresh, a crash loop is given up."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.restarts import BACKING_OFF, CRASH_LOOP, READY, Restarter, RestartPolicy, Watched
from shared.supervisor import ProcessGroup

from ..support import wait_for

MODULE = "tests.unit.short_lived"  # prints its ready line, then exits with code 3


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    made = ProcessGroup()
    yield made
    made.stop_all()


def started(group: ProcessGroup, restarter: Restarter) -> Watched:
    env = dict(os.environ)
    child = group.spawn("short", MODULE, env)
    assert child.check_ready(10.0)
    return restarter.watch(child, MODULE, env)


def died(watched: Watched) -> bool:
    watched.child.process.wait(10)
    return True


class TestRestarter:
    def test_backoff_doubles_then_a_crash_loop_is_given_up(self, group: ProcessGroup) -> None:
        said: list[str] = []
        restarter = Restarter(group, RestartPolicy(max_quick_deaths=4),
                              lambda _w, message: said.append(message))
        watched = started(group, restarter)
        now = 1000.0
        delays = []
        pids = {watched.child.process.pid}
        while True:
            died(watched)
            restarter.tick(now)
            if watched.state == CRASH_LOOP:
                break
            assert watched.state == BACKING_OFF
            delays.append(watched.restart_at - now)
            restarter.tick(watched.restart_at - 0.01)
            assert watched.state == BACKING_OFF  # not before its time
            now = watched.restart_at
            restarter.tick(now)  # starts it again
            pids.add(watched.child.process.pid)
        assert delays == [0.5, 1.0, 2.0]
        assert watched.restarts == 3 and len(pids) == 4
        assert "crash loop" in said[-1] and "exit code 3" in said[-1]
        assert "crash loop" in watched.describe(now)
        restarter.tick(now + 60)
        assert watched.state == CRASH_LOOP and watched.restarts == 3  # left stopped

    def test_a_death_after_a_stable_run_starts_the_count_again(
            self, group: ProcessGroup) -> None:
        restarter = Restarter(group, RestartPolicy(stable_after_s=10),
                              lambda _w, _m: None)
        watched = started(group, restarter)
        watched.quick_deaths = 3  # as if it had crashed quickly three times before
        assert watched.ready_at is not None
        died(watched)
        restarter.tick(watched.ready_at + 11)
        assert (watched.state, watched.quick_deaths) == (BACKING_OFF, 1)
        assert watched.restart_at - (watched.ready_at + 11) == 0.5

    def test_a_restarted_child_is_ready_when_it_says_so(self, group: ProcessGroup) -> None:
        said: list[str] = []
        restarter = Restarter(group, RestartPolicy(), lambda _w, message: said.append(message))
        watched = started(group, restarter)
        died(watched)
        restarter.tick(0.0)
        restarter.tick(watched.restart_at)
        wait_for(lambda: restarter.tick(watched.restart_at) or watched.state != "starting",
                 what="the restarted child's ready line or its exit")
        assert watched.state in (READY, BACKING_OFF)
        assert any("restarted (pid" in m for m in said)
