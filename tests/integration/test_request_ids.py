"""One request id through every hop: the gateway's X-Request-ID rides in the RPCs, the
events the order causes and the log lines of every service that handled them, and
`zeroshop trace ID` follows it from the POST to the SMS."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from shared.cli import main as zeroshop

from ..support import Platform, wait_for

ADA = {"name": "Ada", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    folder = tmp_path_factory.mktemp("request-ids")
    running = Platform(folder, ZEROSHOP_LOG_DIR=str(folder / "logs"), ZEROSHOP_LOG_LEVEL="INFO")
    yield running
    running.close()


def send(shop: Platform, path: str, headers: dict[str, str] | None = None,
         body: object = None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(
        shop.url + path, headers={"Content-Type": "application/json", **(headers or {})},
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}


class TestEveryResponseHasARequestId:
    def test_a_sane_id_is_echoed(self, shop: Platform) -> None:
        status, headers = send(shop, "/api/products/1", {"X-Request-ID": "shop-42.a:b_c"})
        assert status == 200 and headers["x-request-id"] == "shop-42.a:b_c"

    @pytest.mark.parametrize("given", ["x" * 65, "has space", "<script>", "-starts-with-dash"])
    def test_an_unsafe_one_is_replaced(self, shop: Platform, given: str) -> None:
        _, headers = send(shop, "/api/categories", {"X-Request-ID": given})
        assert GENERATED.fullmatch(headers["x-request-id"])

    def test_without_one_each_answer_gets_a_new_one_errors_too(self, shop: Platform) -> None:
        ids = set()
        for path in ("/api/products/1", "/api/products/99999", "/no/such/route", "/healthz"):
            _, headers = send(shop, path)
            assert GENERATED.fullmatch(headers["x-request-id"]), path
            ids.add(headers["x-request-id"])
        assert len(ids) == 4


    def test_answers_made_outside_flask_carry_one_too(self, shop: Platform) -> None:
        """An event stream (served by the async edge) and a body refused before it is read."""
        status, headers = send(shop, "/api/events?history=1&follow=false",
                               {"X-Request-ID": "stream-1"})
        assert status == 200 and headers["x-request-id"] == "stream-1"
        assert headers["content-type"].startswith("text/event-stream")
        status, headers = send(shop, "/api/orders", body={"pad": "x" * 70_000})
        assert status == 413 and GENERATED.fullmatch(headers["x-request-id"])


class TestAnOrderCanBeFollowed:
    def test_its_events_and_every_services_logs_carry_the_id(self, shop: Platform) -> None:
        trace = "order-trace-1"
        status, headers = send(shop, "/api/orders", {"X-Request-ID": trace},
                               {"customer": ADA, "items": [{"product_id": 3, "quantity": 1}]})
        assert status == 201 and headers["x-request-id"] == trace

        def events_of(publisher: str) -> list[dict]:
            batch = shop.call(publisher, "fetch_events", {"after": 0, "limit": 100})
            return [e for e in batch["events"] if e["trace"] == trace]
        topics = {p: wait_for(lambda p=p: events_of(p), what=f"{p}'s events") for p in
                  ("orders", "inventory", "email", "sms")}
        assert {e["topic"] for e in topics["inventory"]} == {"stock.reserved"}
        assert {e["topic"] for e in topics["email"]} == {"notification.sent"}
        wait_for(lambda: len(events_of("orders")) == 2, what="order.confirmed")

        log_dir = Path(shop.env["ZEROSHOP_LOG_DIR"])

        def traced() -> set[str] | None:
            result = CliRunner().invoke(zeroshop, ["trace", trace, "--log-dir", str(log_dir),
                                                   "--json"])
            services = {json.loads(line)["service"] for line in result.output.splitlines()}
            wanted = {"gateway", "orders", "inventory", "email", "sms"}
            return services if result.exit_code == 0 and wanted <= services else None
        wait_for(traced, what="log lines of every service")
        readable = CliRunner().invoke(zeroshop, ["trace", trace, "--log-dir", str(log_dir)])
        lines = readable.output.splitlines()
        posted = next(i for i, line in enumerate(lines) if "POST /api/orders 201" in line)
        texted = next(i for i, line in enumerate(lines)
                      if re.search(r"\bsms\b.*handled orders#\d+ \(order.confirmed\)", line))
        assert posted < texted  # in time order: the POST answered before the SMS went out

    def test_an_unknown_id_is_an_error_that_says_so(self, shop: Platform) -> None:
        result = CliRunner().invoke(zeroshop, ["trace", "nobody-sent-this", "--log-dir",
                                               shop.env["ZEROSHOP_LOG_DIR"]])
        assert result.exit_code == 1 and "no log line carries trace" in result.output
