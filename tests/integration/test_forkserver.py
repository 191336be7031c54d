"""Processes forked from the warm interpreter (shared/forkserver.py, what `zeroshop up` does)
behave as the new interpreters they replace: each runs with its own environment, answers,
logs where it was told, shows its module in ps, and reports a kill -9 or a clean stop with
the exit code a Popen would."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import free_port
from shared.contracts import Health, NoParams
from shared.contracts.pricing import GetPrice, Price
from shared.messaging import Call, RpcClient, new_context
from shared.supervisor import Child, ProcessGroup

from ..support import base_env, wait_for


@pytest.fixture
def group() -> Iterator[ProcessGroup]:
    forked = ProcessGroup(fork=True)
    try:
        yield forked
    finally:
        forked.stop_all()


def _pricing(group: ProcessGroup, name: str, data: Path) -> Child:
    data.mkdir(exist_ok=True)
    # INFO: its start-up lines show that its stderr went to the log file it was given.
    env = {**base_env(data, ZEROSHOP_LOG_LEVEL="INFO"),
           "PRICING_BIND": f"tcp://127.0.0.1:{free_port()}"}
    with open(data / f"{name}.log", "w") as log:
        child = group.spawn(name, "services.pricing", env, log)
    return group.wait_ready([child], 60)[0]


def _price(child: Child, product_id: int = 1) -> Price:
    ctx = new_context()
    client = RpcClient(ctx, {"pricing": child.endpoint})
    try:
        return client.call(Call("pricing", "get_price", GetPrice(product_id=product_id),
                                Price), 5000)
    finally:
        client.close()
        ctx.term()


def test_forked_replicas_each_run_with_their_own_environment(group: ProcessGroup,
                                                             tmp_path: Path) -> None:
    first, second = (_pricing(group, name, tmp_path / name) for name in ("pricing-a", "pricing-b"))
    assert first.endpoint != second.endpoint  # each bound the port its own env named
    assert _price(first).amount == _price(second).amount > 0
    for child, name in ((first, "pricing-a"), (second, "pricing-b")):
        # Its own data folder and its own log file, both from its environment and stderr.
        assert (tmp_path / name / "pricing.db").exists()
        log = tmp_path / name / f"{name}.log"
        wait_for(lambda log=log: '"service": "pricing"' in log.read_text(),
                 what=f"{name}'s log lines")
        cmdline = Path(f"/proc/{child.process.pid}/cmdline").read_bytes()
        assert b"-m services.pricing" in cmdline
        assert child.process.pid not in _children()  # forked by the fork server, not by us


def _children() -> set[int]:
    with open(f"/proc/{os.getpid()}/task/{os.getpid()}/children") as listing:
        return {int(pid) for pid in listing.read().split()}


def test_a_killed_child_reports_the_signal_and_starts_again(group: ProcessGroup,
                                                            tmp_path: Path) -> None:
    child = _pricing(group, "pricing", tmp_path)
    os.kill(child.process.pid, signal.SIGKILL)
    wait_for(lambda: child.process.poll() is not None, what="the killed child's exit code")
    assert child.process.returncode == -signal.SIGKILL
    again = _pricing(group, "pricing", tmp_path)  # a restart: forked again, same data
    assert again.process.pid != child.process.pid and _price(again).amount > 0


def test_a_stopped_child_exits_cleanly(group: ProcessGroup, tmp_path: Path) -> None:
    child = _pricing(group, "pricing", tmp_path)
    ctx = new_context()
    client = RpcClient(ctx, {"pricing": child.endpoint})
    try:
        assert client.call(Call("pricing", "health", NoParams(), Health), 5000).status == "ok"
    finally:
        client.close()
        ctx.term()
    assert group.stop("pricing") == 0  # SIGTERM: it stops its serve loop and returns
