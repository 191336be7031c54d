"""Flask behind the asyncio server: requests read whole on the loop, run in a thread pool.

A request's body is read on the event loop first (at most `max_body_bytes`: a larger
`Content-Length` is a 413 before any of it is read), so a slow client never holds a
thread; then one thread of a bounded pool runs the whole Flask request and returns the
whole answer.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from a2wsgi.wsgi import build_environ
from flask import Flask

from .api import ARRIVED
from .connections import error_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def send_error(send: Send, status: int, code: str, message: str,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = error_json(code, message)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


async def read_body(scope: Scope, receive: Receive, send: Send, limit: int) -> bytes | None:
    """The whole request body, or None when it was refused (413) or the client left."""
    too_big = f"the body may be at most {limit} bytes"
    declared = dict(scope["headers"]).get(b"content-length", b"0")
    if declared.isdigit() and int(declared) > limit:
        await send_error(send, 413, "payload_too_large", too_big,
                         [(b"connection", b"close")])
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            await send_error(send, 413, "payload_too_large", too_big,
                             [(b"connection", b"close")])
            return None
        if not message.get("more_body", False):
            return b"".join(chunks)


Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body


class FlaskPool:
    """The Flask app in a bounded pool of threads: each runs one whole request, from its
    complete body to its complete answer, so the event loop and the thread meet twice per
    request (a2wsgi builds the WSGI environ from the ASGI scope)."""

    def __init__(self, app: Flask, threads: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="flask")

    def _answer(self, scope: Scope, body: bytes) -> Answer:
        environ = build_environ(scope, io.BytesIO(body))  # type: ignore[arg-type]
        cast(dict[str, Any], environ)[ARRIVED] = scope.get(ARRIVED)  # a key of our own
        started: list[Any] = []
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            started[:] = [status, headers]
            return chunks.append

        result = self.app(environ, start_response)  # type: ignore[arg-type]
        try:
            chunks.extend(result)
        finally:
            getattr(result, "close", lambda: None)()
        status, headers = started
        return (int(status.split(" ", 1)[0]),
                [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                b"".join(chunks))

    async def __call__(self, scope: Scope, body: bytes, send: Send) -> None:
        loop = asyncio.get_running_loop()
        status, headers, content = await loop.run_in_executor(
            self.executor, self._answer, scope, body)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})
