"""RPC client: fan out many calls at once over DEALER sockets, wait once, match by id.

One client per thread (zmq sockets are not thread-safe). A DEALER stays usable after a
timeout, unlike REQ (whose fallback is the zguide's Lazy Pirate); late replies to earlier
requests carry an old id and are dropped.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import zmq

from .codec import Request, decode_reply, encode_request
from .sockets import Context, client_socket

T = TypeVar("T")
CONNECT_GRACE_S = 0.05  # how long a known socket may take to (re)connect


@dataclass(frozen=True)
class Call(Generic[T]):
    service: str
    method: str
    params: Any
    result_type: type[T]


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """A call's value, or the error code (`timeout`, `unavailable`, or the server's code)."""

    value: T | None = None
    error: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> T:
        """The value of an ok outcome (check `ok` first); raises ValueError if there is none."""
        if self.value is None:
            raise ValueError(f"no value: {self.error}: {self.message}")
        return self.value


class RpcError(Exception):
    def __init__(self, service: str, code: str, message: str) -> None:
        super().__init__(f"{service}: {code}: {message}")
        self.service, self.code, self.message = service, code, message


class RpcClient:
    def __init__(self, ctx: Context, endpoints: Mapping[str, str]) -> None:
        self._ctx = ctx
        self._endpoints = dict(endpoints)
        self._sockets: dict[str, zmq.Socket[bytes]] = {}
        self._ids = itertools.count(1)
        self._prefix = f"{os.getpid():x}-{id(self):x}-"

    def _socket(self, service: str) -> zmq.Socket[bytes]:
        sock = self._sockets.get(service)
        if sock is None:
            sock = client_socket(self._ctx, self._endpoints[service], service)
            self._sockets[service] = sock
        return sock

    def call(self, call: Call[T], timeout_ms: int, trace: str | None = None) -> T:
        """One call; raises RpcError with the server's code, `timeout` or `unavailable`."""
        outcome = self.gather([call], timeout_ms, trace)[0]
        if outcome.error is not None:
            raise RpcError(call.service, outcome.error, outcome.message)
        return outcome.value  # type: ignore[return-value]

    def gather(self, calls: Sequence[Call[Any]], timeout_ms: int,
               trace: str | None = None) -> list[Outcome[Any]]:
        """Send every call before waiting for any; one deadline for all of them."""
        now = time.monotonic()
        deadline = now + timeout_ms / 1000
        wall_deadline = time.time() + timeout_ms / 1000
        outcomes: list[Outcome[Any] | None] = [None] * len(calls)
        pending: dict[str, int] = {}
        unsent: dict[str, tuple[int, bytes, float]] = {}
        for index, call in enumerate(calls):
            request_id = f"{self._prefix}{next(self._ids)}"
            body = encode_request(
                Request(method=call.method, id=request_id, deadline=wall_deadline, trace=trace),
                call.params,
            )
            fresh = call.service not in self._sockets
            if self._try_send(self._socket(call.service), body):
                pending[request_id] = index
            else:
                # IMMEDIATE: no live connection yet. A new socket may still be connecting;
                # a known one gets a short grace, so a dead service fails fast.
                grace = deadline if fresh else min(deadline, now + CONNECT_GRACE_S)
                unsent[request_id] = (index, body, grace)
        while pending or unsent:
            now = time.monotonic()
            if now >= deadline:
                break
            for request_id, (index, _, give_up_at) in list(unsent.items()):
                if now >= give_up_at:
                    del unsent[request_id]
                    outcomes[index] = Outcome(error="unavailable", message="no connected replica")
            poller = zmq.Poller()
            for service in {calls[i].service for i in pending.values()}:
                poller.register(self._sockets[service], zmq.POLLIN)
            for index, _, _ in unsent.values():
                poller.register(self._sockets[calls[index].service], zmq.POLLIN | zmq.POLLOUT)
            wake = min([deadline, *(g for _, _, g in unsent.values())])
            events = dict(poller.poll(int(max(0.0, (wake - now) * 1000))))
            for request_id, (index, body, _) in list(unsent.items()):
                sock = self._sockets[calls[index].service]
                if events.get(sock, 0) & zmq.POLLOUT and self._try_send(sock, body):
                    del unsent[request_id]
                    pending[request_id] = index
            for sock, flags in events.items():
                if flags & zmq.POLLIN:
                    self._drain(sock, calls, pending, outcomes)
        for index, _, _ in unsent.values():
            outcomes[index] = Outcome(error="unavailable", message="no connected replica")
        for index in pending.values():
            outcomes[index] = Outcome(error="timeout", message=f"no reply in {timeout_ms} ms")
        return outcomes  # type: ignore[return-value]

    @staticmethod
    def _try_send(sock: zmq.Socket[bytes], body: bytes) -> bool:
        try:
            sock.send_multipart([b"", body], zmq.NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _drain(self, sock: zmq.Socket[bytes], calls: Sequence[Call[Any]],
               pending: dict[str, int], outcomes: list[Outcome[Any] | None]) -> None:
        while True:
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            try:
                reply = decode_reply(frames[-1])
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # not a reply of ours: ignore it
            index = pending.pop(reply.id or "", None)
            if index is None:
                continue  # a late reply to a request we already gave up on
            outcomes[index] = _outcome(reply, calls[index].result_type)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close(linger=0)
        self._sockets.clear()


def _outcome(reply: Any, result_type: type[Any]) -> Outcome[Any]:
    if not reply.ok:
        error = reply.error
        return Outcome(error=error.code if error else "internal",
                       message=error.message if error else "")
    try:
        value = msgspec.json.decode(reply.result, type=result_type)
    except msgspec.ValidationError as exc:
        return Outcome(error="bad_reply", message=f"reply does not match the contract: {exc}")
    return Outcome(value=value)
