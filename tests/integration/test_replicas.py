"""Replicas: several of a service that share one PostgreSQL database start together without
tripping over each other (tables created and the catalog seeded once, under a start-up lock);
read replicas named in one endpoint list all take calls, and one may die or join."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.catalog_seed import products
from shared.config import PAGE_SERVICES, free_port
from shared.contracts import Health, NoParams
from shared.contracts.pricing import GetPrice, Price
from shared.messaging import Call, RpcClient, new_context
from shared.supervisor import ProcessGroup

from ..conftest import _backend
from ..support import Platform, base_env, wait_for


@pytest.fixture
def shared_database(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    with _backend("postgres", request) as env:
        yield env


class TestReplicasStartingTogether:
    def test_two_replicas_on_an_empty_database_seed_it_once(self, tmp_path: Path,
                                                          shared_database: dict[str, str]
                                                          ) -> None:
        group = ProcessGroup()
        ctx = new_context()
        clients: list[RpcClient] = []
        try:
            replicas = []
            for n in (1, 2):
                env = {**base_env(tmp_path / str(n)), **shared_database,
                       "PRODUCT_BIND": f"tcp://127.0.0.1:{free_port()}"}
                replicas.append((f"product-{n}", "services.product", env))
            children = group.wait_ready([group.spawn(*replica) for replica in replicas], 60)
            for child in children:  # both came up: neither crashed on a duplicate seed
                client = RpcClient(ctx, {"product": child.endpoint})
                clients.append(client)
                cats = client.call(Call("product", "categories", {}, dict), 5000)
                assert sum(c["product_count"] for c in cats["items"]) == len(products())
        finally:
            for client in clients:
                client.close()
            ctx.term()
            group.stop_all()


def _replica_env(platform: Platform, data_dir: Path) -> dict[str, str]:
    """A pricing replica of its own (own port, own SQLite copy of the seeded prices)."""
    return {**platform.env, "PRICING_BIND": f"tcp://127.0.0.1:{free_port()}",
            "ZEROSHOP_DATA_DIR": str(data_dir)}


def _served(ctx: Any, endpoint: str) -> int:
    client = RpcClient(ctx, {"pricing": endpoint})
    try:
        return client.call(Call("pricing", "health", NoParams(), Health), 5000).served
    finally:
        client.close()


@pytest.fixture
def page_services(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path, [s for s in PAGE_SERVICES if s != "pricing"], gateway=False)
    yield platform
    platform.close()


class TestReadReplicasShareTheLoad:
    def test_three_pricing_replicas_behind_one_gateway_all_serve_and_one_may_die(
            self, tmp_path: Path, page_services: Platform) -> None:
        group = page_services.group
        children = group.wait_ready([
            group.spawn(f"pricing-{n}", "services.pricing",
                        _replica_env(page_services, tmp_path / f"pricing-{n}"))
            for n in (1, 2, 3)], 60)
        endpoints = [child.endpoint for child in children]
        page_services.url = group.start("gateway", "gateway", {
            **page_services.env, "PRICING_ENDPOINT": ",".join(endpoints)}).endpoint
        ctx = new_context()
        try:
            wait_for(lambda: page_services.get("/api/products/1")[1]["degraded"] == [],
                     what="a whole page")
            before = [_served(ctx, e) for e in endpoints]
            for n in range(60):
                assert page_services.get(f"/api/products/{n % 20 + 1}")[1]["price"]
            shares = [_served(ctx, e) - b - 1 for e, b in zip(endpoints, before, strict=True)]
            assert all(share >= 5 for share in shares), shares  # every replica took calls

            group.stop("pricing-1", signal.SIGKILL)
            priced = sum(page_services.get(f"/api/products/{n % 20 + 1}")[1]["price"] is not None
                         for n in range(40))
            assert priced >= 39  # at most the one page whose call was on its way at the kill
        finally:
            ctx.term()

    def test_a_replica_started_later_gets_calls_without_restarting_the_client(
            self, tmp_path: Path, page_services: Platform) -> None:
        group = page_services.group
        running: list[str] = []
        first = group.start("pricing-1", "services.pricing",
                            _replica_env(page_services, tmp_path / "pricing-1"))
        running.append(first.endpoint)
        ctx = new_context()
        # The lookup of a DNS name (a headless Service) is given here; sockets are real.
        client = RpcClient(ctx, {"pricing": "dns+tcp://pricing-replicas:5557"},
                           resolve=lambda host, port: list(running), dns_refresh_s=0.2)
        price = Call("pricing", "get_price", GetPrice(product_id=1), Price)
        try:
            assert client.call(price, 5000).product_id == 1
            second = group.start("pricing-2", "services.pricing",
                                 _replica_env(page_services, tmp_path / "pricing-2"))
            running.append(second.endpoint)
            start = _served(ctx, second.endpoint)

            def second_took_calls() -> bool:
                for _ in range(10):
                    client.call(price, 5000)
                return _served(ctx, second.endpoint) - start > 3

            wait_for(second_took_calls, timeout=10, what="the new replica to get calls")
            running.remove(first.endpoint)  # gone from DNS: its socket is closed
            group.stop("pricing-1", signal.SIGTERM)
            wait_for(lambda: all(client.gather([price], 2000)[0].ok for _ in range(5)),
                     timeout=10, what="calls to the remaining replica only")
        finally:
            client.close()
            ctx.term()
