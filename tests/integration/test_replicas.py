"""Replicas that share one PostgreSQL database start together without tripping over each
other: tables created and the catalog seeded once (a start-up lock), both serving."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.catalog_seed import products
from shared.config import free_port
from shared.messaging import Call, RpcClient, new_context
from shared.supervisor import ProcessGroup

from ..conftest import _backend
from ..support import base_env


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
