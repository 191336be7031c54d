"""The gateway's limits, on: per-client rate limits (429 JSON with Retry-After, other
clients still served), X-Forwarded-For trusted only when configured, the body size limit
and the event stream slots. A real gateway process; refusals need no service."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from shared.config import ConfigError, GatewayConfig

from ..support import Platform

LIMITS = {"ZEROSHOP_RATE_LIMIT": "on", "GATEWAY_RATE_LIMIT_ORDERS": "3/30 seconds",
          "GATEWAY_RATE_LIMIT_API": "10/30 seconds", "GATEWAY_MAX_EVENT_STREAMS": "1"}


def request(url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None,
            source: str = "127.0.0.1") -> tuple[int, dict[str, str], dict]:
    """One request from the loopback address `source` (127.0.0.2 is another client)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json",
                                                       **(headers or {})})
        response = conn.getresponse()
        headers = {k.lower(): v for k, v in response.headers.items()}
        return response.status, headers, json.loads(response.read())
    finally:
        conn.close()


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Platform]:
    running = Platform(tmp_path, services=(), **LIMITS)
    yield running
    running.close()


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Platform]:
    running = Platform(tmp_path, services=(), GATEWAY_TRUSTED_PROXIES="1", **LIMITS)
    yield running
    running.close()


def post_order(url: str, **kwargs: object) -> tuple[int, dict[str, str], dict]:
    return request(url, "POST", "/api/orders", b"{}", **kwargs)  # type: ignore[arg-type]


class TestRateLimits:
    def test_a_client_over_the_orders_limit_gets_a_429_and_others_go_on(
            self, gateway: Platform) -> None:
        assert [post_order(gateway.url)[0] for _ in range(3)] == [422, 422, 422]
        status, headers, body = post_order(gateway.url)
        assert status == 429 and body["error"]["code"] == "rate_limited", body
        assert 1 <= int(headers["retry-after"]) <= 30
        assert "3 orders in 30 s" in body["error"]["message"]
        assert post_order(gateway.url, source="127.0.0.2")[0] == 422  # another client

    def test_the_whole_api_has_its_own_limit_but_probes_have_none(
            self, gateway: Platform) -> None:
        statuses = [request(gateway.url, "GET", "/api/orders/0")[0] for _ in range(11)]
        assert statuses == [400] * 10 + [429]
        assert request(gateway.url, "GET", "/healthz")[0] == 200
        assert request(gateway.url, "GET", "/openapi.json")[0] == 200

    def test_x_forwarded_for_is_ignored_unless_trusted(self, gateway: Platform) -> None:
        for n in range(3):
            post_order(gateway.url, headers={"X-Forwarded-For": f"10.0.0.{n}"})
        status, _, _ = post_order(gateway.url, headers={"X-Forwarded-For": "10.0.0.9"})
        assert status == 429  # a header of its choosing does not make it someone else

    def test_behind_a_trusted_proxy_each_forwarded_client_has_its_limit(
            self, proxied: Platform) -> None:
        one = {"X-Forwarded-For": "203.0.113.7"}
        assert [post_order(proxied.url, headers=one)[0] for _ in range(4)][-1] == 429
        # The proxy appends the address it saw; what the client wrote before it is not used.
        spoofed = {"X-Forwarded-For": "203.0.113.7, 198.51.100.1"}
        assert post_order(proxied.url, headers=spoofed)[0] == 422


class TestBodiesAndStreams:
    def test_a_body_over_the_limit_is_a_413_json(self, gateway: Platform) -> None:
        status, _, body = request(gateway.url, "POST", "/api/orders", b" " * (65 * 1024))
        assert status == 413 and body["error"]["code"] == "payload_too_large", body

    def test_a_stream_over_the_slots_is_a_429_with_retry_after(self, gateway: Platform) -> None:
        parts = urlsplit(gateway.url)
        first = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            first.request("GET", "/api/events?history=0")
            assert first.getresponse().status == 200  # and it holds the only slot
            status, headers, body = request(gateway.url, "GET", "/api/events")
            assert status == 429 and body["error"]["code"] == "too_many_streams"
            assert int(headers["retry-after"]) >= 1
        finally:
            first.close()


def test_limits_are_checked_when_the_gateway_starts() -> None:
    with pytest.raises(ConfigError, match="ZEROSHOP_RATE_LIMIT must be on or off"):
        GatewayConfig.from_env({"ZEROSHOP_RATE_LIMIT": "maybe"})
    with pytest.raises(ConfigError, match="GATEWAY_RATE_LIMIT_ORDERS must be a rate"):
        GatewayConfig.from_env({"GATEWAY_RATE_LIMIT_ORDERS": "lots"})
    assert not GatewayConfig.from_env({"ZEROSHOP_RATE_LIMIT": "off"}).rate_limit
