"""Connection limits at the gateway's edge: caps and timeouts below the HTTP application.

uvicorn's HTTP protocol (httptools) with two guards that it lacks, beside its own third:
- at most `max_connections` open in all and `max_connections_per_client` per client
  address: a connection over a cap is answered at once (503 or 429, `Retry-After`) and
  closed, so a flood of connections costs a file descriptor each only for a moment;
- a request's head and body must arrive within `request_timeout_s` of its first byte (or
  of the connection's opening): half-sent requests (slowloris) get a 408 and are closed;
- between requests a connection may stay idle `idle_timeout_s` (uvicorn's keep-alive).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.config import GatewayConfig

from .schemas import ErrorDetail, ErrorResponse


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    per_client: int  # 0: no cap
    request_timeout_s: float

    @classmethod
    def of(cls, config: GatewayConfig) -> ConnectionLimits:
        return cls(config.max_connections, config.max_connections_per_client,
                   config.request_timeout_s)


def error_json(code: str, message: str) -> bytes:
    """The gateway's one error shape, {"error": {"code", "message"}}, encoded."""
    return msgspec.json.encode(ErrorResponse(ErrorDetail(code, message)))


def plain_response(status: int, code: str, message: str, retry_after: int | None = None) -> bytes:
    """A whole HTTP/1.1 answer with a JSON error body, written straight to the socket."""
    body = error_json(code, message)
    reason = {408: "Request Timeout", 429: "Too Many Requests",
              503: "Service Unavailable"}[status]
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
            f"content-length: {len(body)}", "connection: close"]
    if retry_after is not None:
        head.append(f"retry-after: {retry_after}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def guarded_protocol(limits: ConnectionLimits) -> type[HttpToolsProtocol]:
    """An HttpToolsProtocol class enforcing `limits`; the counts are this server's own."""
    per_client: Counter[str] = Counter()

    class GuardedProtocol(HttpToolsProtocol):
        _peer: str | None = None  # set while this connection counts against its client
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            peer = self.client[0] if self.client else ""
            if len(self.connections) > limits.max_connections:
                self._refuse(503, "too_many_connections",
                             f"the gateway holds {limits.max_connections} connections, its "
                             f"limit; try again shortly")
            elif limits.per_client and per_client[peer] >= limits.per_client:
                self._refuse(429, "too_many_connections",
                             f"at most {limits.per_client} connections per client; close "
                             f"some or try again shortly")
            else:
                per_client[peer] += 1
                self._peer = peer
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            if self._peer is not None:
                per_client[self._peer] -= 1
                if per_client[self._peer] <= 0:
                    del per_client[self._peer]
                self._peer = None
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

        def _arm(self) -> None:
            if self._timer is None:
                self._timer = self.loop.call_later(limits.request_timeout_s, self._too_slow)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _too_slow(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self.cycle is None or not self.cycle.response_started:
                self.transport.write(plain_response(
                    408, "request_timeout",
                    f"the request did not arrive within {limits.request_timeout_s:g} s"))
            self.transport.close()

        def _refuse(self, status: int, code: str, message: str) -> None:
            self.transport.write(plain_response(status, code, message, retry_after=1))
            self.transport.close()

    return GuardedProtocol
