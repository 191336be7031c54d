"""The S1 benchmark's peers (bench/peers/) answer the same product page as ZeroShop, so the
comparison is like for like (gunicorn and requests come with the dev extra)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from bench.peers.processes import GATEWAY_MODES, Peers
from shared.config import PAGE_SERVICES
from tests.support import Platform

SAME = ("product", "inventory", "price", "discount", "final_price", "recommendations",
        "degraded")


def _page(url: str, product_id: int) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/api/products/{product_id}", timeout=10) as answer:
        page: dict[str, object] = json.loads(answer.read())
    return page


class TestPeersServeZeroShopsPage:
    def test_each_peer_gateway_answers_the_same_page_as_zeroshop(self, tmp_path: Path) -> None:
        shop = Platform(tmp_path / "zeroshop", services=PAGE_SERVICES, gateway=True)
        try:
            peers = Peers(tmp_path, workers=1)
            try:
                for product_id in (1, 7):  # a product promotion; a clearance one
                    ours = _page(shop.url, product_id)
                    for mode in GATEWAY_MODES:
                        theirs = _page(peers.gateways[mode].url, product_id)
                        assert {k: theirs[k] for k in SAME} == {k: ours[k] for k in SAME}, mode
            finally:
                peers.close()
        finally:
            shop.close()
