"""OpenTelemetry across the ZeroMQ hops: one product page is one trace. The gateway runs in
this process with the SDK's in-memory exporter; the five page services are real processes
exporting over OTLP/HTTP to a small receiver here. Every service's server span is the child
of the gateway's client span for its call, which is the child of the page's HTTP span."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from gateway import create_app
from shared import otel
from shared.config import GatewayConfig

from ..support import Platform, wait_for

CALLS = {"product": "get", "inventory": "get_stock", "pricing": "get_price",
         "discount": "get_discount", "recommendation": "recommend"}


class OtlpReceiver:
    """Accepts OTLP/HTTP protobuf exports on /v1/traces and keeps every span."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                export = ExportTraceServiceRequest.FromString(body)
                for resource in export.resource_spans:
                    attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        receiver.spans += [{
                            "service": attrs.get("service.name"), "name": s.name,
                            "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(),
                            "parent_id": s.parent_span_id.hex(), "kind": s.kind,
                        } for s in scope.spans]
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    running = OtlpReceiver()
    yield running
    running.close()


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory,
             receiver: OtlpReceiver) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("otel"), gateway=False,
                       OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url, OTEL_BSP_SCHEDULE_DELAY="50")
    yield running
    running.close()


@pytest.fixture
def memory() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    otel.use(provider)
    try:
        yield exporter
    finally:
        otel.shutdown()  # tracing off again for the rest of the run


class TestOnePageIsOneTrace:
    def test_every_hop_is_a_span_of_the_pages_trace(self, services: Platform,
                                                    receiver: OtlpReceiver,
                                                    memory: InMemorySpanExporter) -> None:
        app = create_app(GatewayConfig.from_env(services.env))
        try:
            response = app.test_client().get("/api/products/1")
        finally:
            app.extensions["zeroshop.clients"].close()
        assert response.status_code == 200 and response.get_json()["degraded"] == []
        spans = memory.get_finished_spans()
        (page,) = [s for s in spans if s.kind == SpanKind.SERVER]
        assert page.name == "GET /api/products/<product_id>"
        assert page.attributes["http.response.status_code"] == 200
        trace_id = page.context.trace_id
        clients = {s.name: s for s in spans if s.kind == SpanKind.CLIENT}
        assert set(clients) == {f"{s}/{m}" for s, m in CALLS.items()}
        for client in clients.values():
            assert client.context.trace_id == trace_id
            assert client.parent is not None and client.parent.span_id == page.context.span_id
            assert client.attributes["rpc.outcome"] == "ok"
            assert page.start_time <= client.start_time <= client.end_time <= page.end_time

        def served() -> dict[str, dict[str, Any]] | None:
            mine = {s["service"]: s for s in receiver.spans
                    if s["trace_id"] == f"{trace_id:032x}" and s["kind"] == 2}  # SERVER
            return mine if set(mine) == set(CALLS) else None
        by_service = wait_for(served, what="the services' server spans over OTLP")
        for service, method in CALLS.items():
            span = by_service[service]
            assert span["name"] == f"{service}/{method}"
            assert span["parent_id"] == f"{clients[span['name']].context.span_id:016x}"


class TestAnOrderIsOneTraceAcrossTheEvents:
    def test_every_consumer_span_continues_the_span_that_emitted_its_event(
            self, services: Platform, receiver: OtlpReceiver,
            memory: InMemorySpanExporter) -> None:
        app = create_app(GatewayConfig.from_env(services.env))
        try:
            response = app.test_client().post("/api/orders", json={
                "customer": {"name": "Ada", "email": "ada@example.com",
                             "phone": "+44 20 7946 0000"},
                "items": [{"product_id": 3, "quantity": 1}]})
        finally:
            app.extensions["zeroshop.clients"].close()
        assert response.status_code == 201
        (post,) = [s for s in memory.get_finished_spans() if s.kind == SpanKind.SERVER]
        trace_id = f"{post.context.trace_id:032x}"
        wanted = {("inventory", "inventory order.placed"), ("orders", "orders stock.reserved"),
                  ("email", "email order.confirmed"), ("sms", "sms order.confirmed"),
                  ("recommendation", "recommendation order.confirmed"),
                  ("orders", "orders notification.sent")}

        def consumed() -> list[dict[str, Any]] | None:
            mine = [s for s in receiver.spans if s["trace_id"] == trace_id]
            got = {(s["service"], s["name"]) for s in mine if s["kind"] == 5}  # CONSUMER
            return mine if wanted <= got else None
        spans = wait_for(consumed, what="every consumer's span of the order's events")
        by_id = {s["span_id"]: s for s in spans}
        placed = next(s for s in spans if s["name"] == "orders/place_order")
        reserved = next(s for s in spans if s["name"] == "inventory order.placed")
        assert reserved["parent_id"] == placed["span_id"]  # order.placed came from place_order
        confirmed = next(s for s in spans if s["name"] == "email order.confirmed")
        assert by_id[confirmed["parent_id"]]["name"] == "orders stock.reserved"


class TestTracingIsOffAndFreeByDefault:
    def test_nothing_of_opentelemetry_is_imported_on_the_hot_path(self) -> None:
        code = """
import sys, tempfile
from sqlalchemy.orm import sessionmaker
from gateway import create_app
from services.pricing.models import Base
from services.pricing.service import seed, svc
from shared.db import make_engine, unit_of_work
from shared.messaging.codec import Request, encode_request
from shared import otel
assert not otel.setup("pricing", {})
engine = make_engine("sqlite://")
Base.metadata.create_all(engine)
sessions = sessionmaker(engine)
with unit_of_work(sessions) as db:
    seed(db)
reply = svc.dispatch(encode_request(Request(method="get_price", id="1", trace="t"),
                                    {"product_id": 1}), sessions)
assert b'"ok":true' in reply, reply
create_app().test_client().get("/healthz")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
assert not loaded, loaded
"""
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0, result.stderr
