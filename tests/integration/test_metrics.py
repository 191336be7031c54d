"""Prometheus metrics of a real platform: the gateway's /metrics and every service's side
port, read after real requests, orders and a dead letter."""

from __future__ import annotations

import http.client
import json
import re
import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli import main as zeroshop
from shared.config import ALL_SERVICES

from ..support import Platform, metrics_ports, sample, scrape, wait_for

ADA = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
PAGE = "/api/products/<product_id>"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # email sends over SMTP to a port that refuses connections (bound, never listening, so
    # no other program can take it meanwhile): its handler fails, and an order's email
    # becomes a dead letter after two tries 1.5 s apart (meanwhile email lags behind).
    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        running = Platform(tmp_path_factory.mktemp("metrics"), **metrics_ports(),
                           EMAIL_SENDER="smtp",
                           EMAIL_SMTP_PORT=str(refusing.getsockname()[1]),
                           ZEROSHOP_MAX_ATTEMPTS="2", ZEROSHOP_RETRY_BASE_MS="1500")
        yield running
        running.close()


def service_metrics(shop: Platform, service: str) -> dict:
    return scrape(f"http://127.0.0.1:{shop.env[f'{service.upper()}_METRICS_PORT']}/metrics")


def dead_letters(shop: Platform) -> float:
    return sample(service_metrics(shop, "email"), "zeroshop_dead_letters", service="email") or 0


class TestTheGatewaysMetrics:
    def test_requests_are_counted_by_route_and_status_and_timed(self, shop: Platform) -> None:
        before = scrape(shop.url + "/metrics")
        shop.get("/api/products/1")
        shop.get("/api/products/99999")
        after = scrape(shop.url + "/metrics")

        def grew(name: str, **labels: str) -> float:
            return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)
        assert grew("zeroshop_gateway_requests_total", route=PAGE, method="GET",
                    status="200") == 1
        assert grew("zeroshop_gateway_requests_total", route=PAGE, method="GET",
                    status="404") == 1
        assert grew("zeroshop_gateway_request_duration_seconds_count", route=PAGE,
                    method="GET") == 2
        for service in ("product", "inventory", "pricing", "discount", "recommendation"):
            assert grew("zeroshop_gateway_fanout_calls_total", service=service,
                        outcome="ok") >= 1, service
            assert grew("zeroshop_gateway_fanout_call_duration_seconds_count",
                        service=service) >= 2, service

    def test_an_open_event_stream_is_counted_while_it_is_open(self, shop: Platform) -> None:
        def streams() -> float | None:
            return sample(scrape(shop.url + "/metrics"), "zeroshop_gateway_event_streams_open")
        assert streams() == 0
        url = urllib.parse.urlsplit(shop.url)
        finite = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        finite.request("GET", "/api/events?history=1&follow=false")
        assert finite.getresponse().read()  # the history, then the stream ends
        wait_for(lambda: streams() == 0, what="the ended stream uncounted")
        finite.close()
        live = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        live.request("GET", "/api/events?history=0&follow=true")
        response = live.getresponse()
        assert response.status == 200
        response.readline()  # the stream's first comment: it is open
        wait_for(lambda: streams() == 1, what="one open stream")
        # Closed by the client, the gateway notices at its next keep-alive write (15 s):
        # not waited for here.
        live.close()

    def test_the_rate_limit_counter_is_exported(self, shop: Platform) -> None:
        # Declared before any refusal, so a dashboard's query finds it from the start.
        with urllib.request.urlopen(shop.url + "/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert "# TYPE zeroshop_gateway_rate_limited_total counter" in text
        assert resp.headers["Content-Type"].startswith("text/plain; version=")


class TestEveryServicesMetrics:
    def test_an_order_shows_in_rpc_events_published_and_applied(self, shop: Platform) -> None:
        status, order, _ = shop.post("/api/orders", {"customer": ADA,
                                                     "items": [{"product_id": 3, "quantity": 1}]})
        assert status == 201
        orders = service_metrics(shop, "orders")
        assert sample(orders, "zeroshop_rpc_duration_seconds_count", service="orders",
                      method="place_order") == 1
        wait_for(lambda: sample(service_metrics(shop, "orders"),
                                "zeroshop_events_published_total", service="orders",
                                topic="order.placed") == 1, what="order.placed published")

        def applied(service: str, publisher: str, topic: str) -> float | None:
            return sample(service_metrics(shop, service), "zeroshop_events_applied_total",
                          service=service, publisher=publisher, topic=topic)
        wait_for(lambda: applied("inventory", "orders", "order.placed") == 1,
                 what="inventory applied order.placed")
        wait_for(lambda: applied("sms", "orders", "order.confirmed") == 1,
                 what="sms applied order.confirmed")
        wait_for(lambda: applied("orders", "inventory", "stock.reserved") == 1,
                 what="orders applied stock.reserved")

    def test_errors_are_counted_by_method_and_code(self, shop: Platform) -> None:
        with pytest.raises(Exception, match="not_found"):
            shop.call("orders", "get_order", {"order_id": 99999})
        assert sample(service_metrics(shop, "orders"), "zeroshop_rpc_errors_total",
                      service="orders", method="get_order", code="not_found") == 1

    def test_a_failing_handler_lags_then_leaves_a_dead_letter(self, shop: Platform) -> None:
        def lag(service: str, publisher: str) -> float | None:
            return sample(service_metrics(shop, service), "zeroshop_consumer_lag_events",
                          service=service, publisher=publisher)
        status, _, _ = shop.post("/api/orders", {"customer": ADA,
                                                 "items": [{"product_id": 4, "quantity": 1}]})
        assert status == 201
        # While email waits to try order.confirmed again, it is behind orders.
        wait_for(lambda: (lag("email", "orders") or 0) >= 1, what="email behind orders")
        wait_for(lambda: dead_letters(shop) >= 2, what="both orders' emails dead", timeout=30)
        wait_for(lambda: lag("email", "orders") == 0, what="email level with orders")
        wait_for(lambda: lag("orders", "inventory") == 0, what="orders level with inventory")
        assert sample(service_metrics(shop, "sms"), "zeroshop_dead_letters", service="sms") == 0
        wait_for(lambda: sample(service_metrics(shop, "orders"), "zeroshop_outbox_backlog_events",
                                service="orders") == 0, what="orders' outbox published")


class TestStatusShowsLagAndDeadLetters:
    def test_the_table_and_json_agree_with_the_services(self, shop: Platform) -> None:
        wait_for(lambda: dead_letters(shop) >= 1, what="email's dead letter", timeout=30)
        env = {**shop.env, "GATEWAY_PORT": shop.url.rsplit(":", 1)[1]}
        result = CliRunner().invoke(zeroshop, ["status", "--json"], env=env)
        assert result.exit_code == 0, result.output
        rows = {row["service"]: row for row in map(json.loads, result.output.splitlines())}
        assert rows["email"]["dead_letters"] >= 1 and rows["email"]["consumer_lag"] == {
            "orders": 0}
        assert rows["inventory"]["consumer_lag"] == {"orders": 0}
        assert rows["orders"]["consumer_lag"] == {"email": 0, "inventory": 0, "sms": 0}
        assert rows["pricing"]["consumer_lag"] is None and rows["pricing"]["rpc_ms"] > 0
        assert rows["gateway"]["state"] == "up, ready"
        text = CliRunner().invoke(zeroshop, ["status"], env=env).output.splitlines()
        assert text[0].split() == ["SERVICE", "ENDPOINT", "STATE", "RPC", "LAG", "DEAD"]
        email = next(line.split() for line in text if line.startswith("email"))
        assert email[2] == "up" and email[3].endswith("ms") and email[4] == "0"
        assert int(email[5]) == rows["email"]["dead_letters"]


class TestADegradedSectionIsCounted:
    def test_a_stopped_service_is_counted_per_page(self, shop: Platform) -> None:
        shop.stop("recommendation", 15)
        try:
            for _ in range(3):
                status, page = shop.get("/api/products/2")
                assert status == 200 and page["degraded"] == ["recommendation"]
            samples = scrape(shop.url + "/metrics")
            assert (sample(samples, "zeroshop_gateway_degraded_sections_total",
                           service="recommendation") or 0) >= 3
            failed = sum(sample(samples, "zeroshop_gateway_fanout_calls_total",
                                service="recommendation", outcome=o) or 0
                         for o in ("unavailable", "timeout"))
            assert failed >= 3
        finally:
            shop.start("recommendation")


DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "zeroshop.json"


def exported_names(url: str) -> set[str]:
    """Every metric name a /metrics page declares or samples (a histogram's _bucket, _count
    and _sum too; a counter with no samples yet by its # TYPE line)."""
    with urllib.request.urlopen(url, timeout=5) as resp:
        text = resp.read().decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            names |= {name} | ({f"{name}_bucket", f"{name}_count", f"{name}_sum"}
                               if kind == "histogram" else set())
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


class TestTheDashboardShowsRealMetrics:
    def test_every_query_names_metrics_the_platform_exports(self, shop: Platform) -> None:
        exported = exported_names(shop.url + "/metrics")
        for service in ALL_SERVICES:
            exported |= exported_names(
                f"http://127.0.0.1:{shop.env[f'{service.upper()}_METRICS_PORT']}/metrics")
        dashboard = json.loads(DASHBOARD.read_text())
        queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        named = {m for q in queries for m in re.findall(r"\bzeroshop_\w+", q)}
        assert named, "the dashboard queries no zeroshop metric"
        assert named <= exported, f"not exported: {sorted(named - exported)}"
        titles = " ".join(p["title"].lower() for p in dashboard["panels"])
        for panel in ("page latency", "fan-out call latency", "degraded", "orders per state",
                      "consumer lag", "dead letters"):
            assert panel in titles, panel
