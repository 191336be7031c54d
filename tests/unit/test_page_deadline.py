"""The page deadline counts from the request's arrival at the HTTP edge: time spent before
the view (reading the body, waiting for a Flask thread) is taken out of PAGE_DEADLINE_MS.
Driven through the real ASGI edge and Flask pool, without sockets; the arrival is moved back
by replacing the edge's clock, so nothing sleeps."""

from __future__ import annotations

import asyncio
import json
import time
import types
from typing import Any

import pytest
from flask import Flask, jsonify

from gateway import create_app, server
from gateway.api import page_deadline_ms
from gateway.server import Edge
from shared.config import GatewayConfig

BUDGET_MS = 300


def _app() -> tuple[Flask, GatewayConfig]:
    config = GatewayConfig.from_env({"PAGE_DEADLINE_MS": str(BUDGET_MS),
                                     "ZEROSHOP_RATE_LIMIT": "off"})
    app = create_app(config)

    @app.get("/test/left")
    def left() -> Any:
        return jsonify(page_deadline_ms())
    return app, config


def _through_the_edge(app: Flask, config: GatewayConfig) -> float:
    edge = Edge(app, config)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/test/left", "raw_path": b"/test/left",
             "query_string": b"", "headers": [], "scheme": "http", "http_version": "1.1",
             "root_path": "", "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000)}
    try:
        asyncio.run(edge(scope, receive, send))
    finally:
        edge.flask.executor.shutdown()
    assert sent[0]["status"] == 200, sent
    return float(json.loads(sent[-1]["body"]))


def _arrived_ago(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    real = time.monotonic
    monkeypatch.setattr(server, "time", types.SimpleNamespace(monotonic=lambda: real() - seconds))


def test_time_before_the_view_is_taken_out_of_the_deadline(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    _arrived_ago(monkeypatch, 0.1)
    left = _through_the_edge(*_app())
    assert BUDGET_MS - 200 < left <= BUDGET_MS - 100


def test_a_request_that_arrived_just_now_has_nearly_all_of_it() -> None:
    left = _through_the_edge(*_app())
    assert BUDGET_MS - 150 < left <= BUDGET_MS


def test_a_request_past_its_deadline_still_gets_one_millisecond(monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    _arrived_ago(monkeypatch, 5.0)
    assert _through_the_edge(*_app()) == 1.0


def test_without_the_edge_the_view_gets_the_whole_deadline() -> None:
    app, _ = _app()
    assert app.test_client().get("/test/left").get_json() == BUDGET_MS
