"""Writer failover on PostgreSQL: two orders replicas share its database, one active (it holds
the writer lease), one standby. kill -9 the active one in the middle of a burst of orders:
the standby takes over, and every accepted order still settles once, stock moves by exactly
the confirmed quantities, one email and one SMS each."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.chaos.invariants import Inspector, check
from shared.chaos.load import Shoppers
from shared.config import ALL_SERVICES, free_port
from shared.contracts import Health, NoParams
from shared.messaging import Call, RpcClient, new_context

from ..conftest import _backend
from ..support import Platform, wait_for

pytestmark = pytest.mark.postgres


@pytest.fixture
def databases(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    with _backend("postgres", request) as env:
        yield env


def _address() -> str:
    return f"tcp://127.0.0.1:{free_port()}"


class TwoOrders:
    """Every service but orders as one Platform; orders as two replicas on one database,
    both named in ORDERS_ENDPOINT and ORDERS_EVENTS_ENDPOINT for everybody."""

    def __init__(self, data_dir: Path, databases: dict[str, str], gateway: bool) -> None:
        self.binds = [(_address(), _address()) for _ in range(2)]
        names = {"ORDERS_ENDPOINT": ",".join(rpc for rpc, _ in self.binds),
                 "ORDERS_EVENTS_ENDPOINT": ",".join(events for _, events in self.binds)}
        self.platform = Platform(data_dir, [s for s in ALL_SERVICES if s != "orders"],
                                 gateway=False, ZEROSHOP_RATE_LIMIT="off", **databases,
                                 **names)
        self.group = self.platform.group
        try:
            for n in (1, 2):  # one after the other: the first is the active one
                self.start(n)
            if gateway:
                self.platform.url = self.group.start("gateway", "gateway",
                                                     self.platform.env).endpoint
        except BaseException:
            self.platform.close()
            raise

    def start(self, n: int) -> None:
        rpc, events = self.binds[n - 1]
        self.group.start(f"orders-{n}", "services.orders",
                         {**self.platform.env, "ORDERS_BIND": rpc, "ORDERS_EVENTS_BIND": events})

    def status(self, n: int) -> str:
        ctx = new_context()
        client = RpcClient(ctx, {"orders": self.binds[n - 1][0]})
        try:
            return client.call(Call("orders", "health", NoParams(), Health), 5000).status
        finally:
            client.close()
            ctx.term()


@pytest.fixture
def two_orders(tmp_path: Path, databases: dict[str, str]) -> Iterator[TwoOrders]:
    running = TwoOrders(tmp_path, databases, gateway=True)
    yield running
    running.platform.close()


class TestWriterFailover:
    def test_one_replica_is_active_the_other_a_standby_that_takes_over(
            self, two_orders: TwoOrders) -> None:
        assert [two_orders.status(1), two_orders.status(2)] == ["ok", "standby"]
        # A standby refuses every method but health, so callers go to the active one.
        assert two_orders.platform.call("orders", "list_orders", {})["total"] == 0
        started = time.monotonic()
        two_orders.group.stop("orders-1", signal.SIGKILL)
        wait_for(lambda: two_orders.status(2) == "ok", timeout=15,
                 what="the standby to take the writer lease")
        took_over = time.monotonic() - started
        assert took_over < 10, took_over  # about ACTIVE_POLL_S once PostgreSQL frees the lock
        two_orders.start(1)  # back as a standby now
        assert two_orders.status(1) == "standby"

    def test_kill_the_active_orders_replica_during_a_burst_and_nothing_is_lost_or_doubled(
            self, two_orders: TwoOrders) -> None:
        platform = two_orders.platform
        inspector = Inspector({**platform.env_endpoints()})
        try:
            before = inspector.snapshot()
            shoppers = Shoppers(platform.url, browsers=0, buyers=3, seed=11, run_id="failover")
            shoppers.start()
            wait_for(lambda: len(shoppers.tally.accepted) >= 15, timeout=60,
                     what="orders before the kill")
            two_orders.group.stop("orders-1", signal.SIGKILL)  # the active one
            at_kill = len(shoppers.tally.accepted)
            wait_for(lambda: len(shoppers.tally.accepted) >= at_kill + 15, timeout=60,
                     what="orders accepted by the replica that took over")
            shoppers.stop(grace_s=20)
            orders = inspector.settle(before, within_s=60)
            verdicts = [v for v in check(inspector, before, orders, shoppers.tally, None)
                        if v.invariant != "every process is back"]  # orders-1 stays dead
        finally:
            inspector.close()
        broken = [f"{v.invariant}: {v.detail}" for v in verdicts if not v.held]
        assert not broken, broken
        assert two_orders.status(2) == "ok"
