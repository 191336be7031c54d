"""The gateway's Prometheus metrics, served at GET /metrics (Prometheus text format).

Requests by route and status and their latency; every fan-out call's latency and outcome
by service (`ok`, `timeout`, `unavailable` or the service's error code); sections served
degraded; open event streams; rate-limit refusals. Recorded by request hooks and the RPC
client's observer, so views stay as they are.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from shared.metrics import RPC_BUCKETS, LabelledChildren

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("zeroshop_gateway_requests_total", "HTTP requests answered",
                   ("route", "method", "status"))
REQUEST_SECONDS = Histogram("zeroshop_gateway_request_duration_seconds",
                            "Time to answer an HTTP request (an event stream: to its headers)",
                            ("route", "method"),
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                     1.0, 2.5, 5.0))
FANOUT_SECONDS = Histogram("zeroshop_gateway_fanout_call_duration_seconds",
                           "Time from sending an RPC to its reply (or giving up), by service",
                           ("service",), buckets=RPC_BUCKETS)
FANOUT_CALLS = Counter("zeroshop_gateway_fanout_calls_total",
                       "RPC calls by service and outcome (ok, timeout, unavailable, or the "
                       "service's error code)", ("service", "outcome"))
DEGRADED = Counter("zeroshop_gateway_degraded_sections_total",
                   "Sections answered as null (degraded) because their service failed",
                   ("service",))
STREAMS_OPEN = Gauge("zeroshop_gateway_event_streams_open", "Open /api/events streams")
# Incremented by the rate limiter when it refuses a request with 429.
RATE_LIMITED = Counter("zeroshop_gateway_rate_limited_total",
                       "Requests refused by the rate limit (429)", ("route",))


# Twice per RPC, ten times per product page.
_FANOUT_SECONDS = LabelledChildren(FANOUT_SECONDS)
_FANOUT_CALLS = LabelledChildren(FANOUT_CALLS)


def observe_call(service: str, _method: str, outcome: str, seconds: float) -> None:
    """The RPC client's observer: one fan-out call ended."""
    _FANOUT_SECONDS(service).observe(seconds)
    _FANOUT_CALLS(service, outcome).inc()


def count_degraded(services: list[str]) -> None:
    for service in services:
        DEGRADED.labels(service).inc()


def route() -> str:
    """The matched rule (`/api/products/<product_id>`), so ids do not multiply the series."""
    rule = request.url_rule
    return rule.rule if rule is not None else "unmatched"


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_count)
    app.register_blueprint(bp)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _count(response: Response) -> Response:
    started = g.get("metrics_started")
    if started is not None:
        path, method = route(), request.method
        REQUEST_SECONDS.labels(path, method).observe(time.perf_counter() - started)
        REQUESTS.labels(path, method, str(response.status_code)).inc()
    return response


@bp.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
