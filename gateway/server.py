"""The gateway's HTTP server: uvicorn (asyncio) in front of the Flask application.

- `GET /api/events` streams are asyncio tasks fed by one EventHub (gateway/hub.py), so
  an open stream costs no thread; at most `max_event_streams` at once, then 429.
- Every other request is read whole first, then run by Flask in a bounded pool of
  `threads` threads, each with its own RPC sockets (gateway/flask_pool.py).
- Connection caps and timeouts live in the HTTP protocol (gateway/connections.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from urllib.parse import parse_qsl

import uvicorn
from flask import Flask

from shared.config import GatewayConfig
from shared.events.follow import Source
from shared.logs import sane_trace

from .api import ARRIVED, parse
from .connections import ConnectionLimits, guarded_protocol
from .errors import ApiError
from .events import KEEPALIVE_S, EventsQuery
from .flask_pool import FlaskPool, Message, Receive, Scope, Send, read_body, send_error
from .hub import EventHub
from .metrics import STREAMS_OPEN

log = logging.getLogger("zeroshop.gateway")
STREAM_HEADERS = [(b"content-type", b"text/event-stream; charset=utf-8"),
                  (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
WRITE_TIMEOUT_S = 30.0  # a stream whose client stopped reading for this long is dropped


class Edge:
    """The ASGI application: event streams here, everything else to Flask in the pool."""

    def __init__(self, app: Flask, config: GatewayConfig) -> None:
        self.config = config
        self.flask = FlaskPool(app, config.threads)
        self._hub: EventHub | None = None  # started with the first stream
        self._keys = app.extensions["zeroshop.clients"].keys  # CURVE, when on
        app.extensions["zeroshop.open_streams"] = self.open_streams
        STREAMS_OPEN.set_function(self.open_streams)  # read when /metrics is scraped

    def open_streams(self) -> int:
        return len(self._hub.streams) if self._hub is not None else 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        scope[ARRIVED] = time.monotonic()  # the page deadline counts from here
        if scope["path"] == "/api/events" and scope["method"] == "GET":
            await self._stream(scope, receive, _with_request_id(scope, send))
            return
        body = await read_body(scope, receive, _with_request_id(scope, send),
                               self.config.max_body_bytes)
        if body is not None:
            await self.flask(scope, body, send)  # Flask sets X-Request-ID itself

    def hub(self) -> EventHub:
        if self._hub is None:
            sources = {p: Source(self.config.endpoints[p], self.config.events_endpoints[p])
                       for p in self.config.events_endpoints}
            self._hub = EventHub(sources, asyncio.get_running_loop(), self._keys)
        return self._hub

    async def _stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:  # the same validation, and the same 400s, as every Flask route's
            query = parse("query", _query_args(scope), EventsQuery)
        except ApiError as exc:
            await send_error(send, exc.status, exc.code, exc.message)
            return
        hub = self.hub()
        if len(hub.streams) >= self.config.max_event_streams:
            await send_error(send, 429, "too_many_streams",
                             f"at most {self.config.max_event_streams} event streams at "
                             f"once; try again later", [(b"retry-after", b"5")])
            return
        subscription, history = await hub.subscribe(query.history)
        gone = asyncio.Event()

        async def watch() -> None:  # the only way to hear that a streaming client left
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()
            subscription.ready.set()

        watcher = asyncio.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
            await self._write(send, ": zeroshop event stream\n\n" + history)
            while query.follow and not subscription.ended:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):  # a timer, not a task
                        await subscription.ready.wait()
                except TimeoutError:
                    await self._write(send, ": keep-alive\n\n")
                    continue
                if gone.is_set():
                    return
                await self._write(send, subscription.take())
            await send({"type": "http.response.body", "body": b""})
        except TimeoutError:
            log.info("dropped an event stream whose client stopped reading")
        finally:
            hub.unsubscribe(subscription)
            watcher.cancel()

    @staticmethod
    async def _write(send: Send, text: str) -> None:
        if text:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await send({"type": "http.response.body", "body": text.encode(),
                            "more_body": True})

    def end_streams(self) -> None:
        if self._hub is not None:
            self._hub.end_streams()

    def close(self) -> None:
        if self._hub is not None:
            self._hub.close()
        self.flask.executor.shutdown(wait=True, cancel_futures=True)


def _query_args(scope: Scope) -> dict[str, str]:
    return dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))


class GatewayServer(uvicorn.Server):
    """uvicorn's server that says when it is ready and ends event streams on shutdown."""

    def __init__(self, config: uvicorn.Config, edge: Edge, listener: socket.socket) -> None:
        super().__init__(config)
        self.edge = edge
        self.listener = listener
        host, port = listener.getsockname()[:2]
        self.url = f"http://{host}:{port}"

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(json.dumps({"event": "ready", "service": "gateway", "endpoint": self.url}),
                  flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.edge.end_streams()  # streams never end by themselves
        await super().shutdown(sockets)


def build_server(app: Flask, config: GatewayConfig, sock: socket.socket) -> GatewayServer:
    """The server for `app` on the listening socket `sock`."""
    edge = Edge(app, config)
    settings = uvicorn.Config(
        edge, http=guarded_protocol(ConnectionLimits.of(config)), loop="uvloop",
        lifespan="off", interface="asgi3", access_log=False, log_config=None,
        timeout_keep_alive=config.idle_timeout_s, timeout_graceful_shutdown=5,
        backlog=4096, server_header=False,
        # X-Forwarded-For is gateway/edge.py's to trust (GATEWAY_TRUSTED_PROXIES), not ours.
        proxy_headers=False)
    return GatewayServer(settings, edge, sock)


def _with_request_id(scope: Scope, send: Send) -> Send:
    """`send`, adding X-Request-ID to the answers made here, outside Flask (event streams,
    their refusals, a 413): the client's own id when sane, else a new one."""
    given = dict(scope["headers"]).get(b"x-request-id")
    trace = sane_trace(given.decode("latin-1") if given else None).encode()

    async def send_with_id(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message["headers"], (b"x-request-id", trace)]}
        await send(message)
    return send_with_id
