"""RPC client: fan out many calls at once over DEALER sockets, wait once, match by id.

One client per thread (zmq sockets are not thread-safe). A DEALER stays usable after a
timeout, unlike REQ (whose fallback is the zguide's Lazy Pirate); late replies to earlier
requests carry an old id and are dropped.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
import zmq
from zmq.utils.monitor import recv_monitor_message

from shared import otel

from .codec import Request, decode_reply, encode_request
from .replicas import DNS_REFRESH_S, ReplicaHealth, Replicas, Resolver, resolve_dns
from .sockets import EVENTS, NOBLOCK, POLLIN, POLLOUT, Context, client_socket

T = TypeVar("T")
CONNECT_GRACE_S = 0.05  # how long a known socket may take to (re)connect
FIRST_CONNECT_S = 0.5  # a new socket's first connection: not yet a failure of its replica
PROBE_TTL_S = 1.0  # a replica that wakes up later skips the stale probe
STANDBY = "standby"  # the error code of a writer's standby replica: ask another one


@dataclass(frozen=True)
class Call(Generic[T]):
    service: str
    method: str
    params: Any
    result_type: type[T]


@dataclass
class _Sent:
    """A request on its way to one replica, with the replicas not asked yet."""

    index: int  # of the call in the gather
    address: str
    body: bytes
    others: list[str]


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


# observe(service, method, outcome, seconds): told of every call's end, e.g. to count it.
# `outcome` is "ok", "timeout", "unavailable" or the server's error code.
Observer = Callable[[str, str, str, float], None]


class RpcClient:
    """Calls services by name; `endpoints` maps each to its replicas (see `replicas`)."""

    def __init__(self, ctx: Context, endpoints: Mapping[str, str],
                 health: ReplicaHealth | None = None, resolve: Resolver = resolve_dns,
                 dns_refresh_s: float = DNS_REFRESH_S, observe: Observer | None = None) -> None:
        self._ctx = ctx
        self._observe = observe
        self._endpoints = dict(endpoints)
        self._resolve, self._dns_refresh_s = resolve, dns_refresh_s
        self.health = health or ReplicaHealth()
        self._replicas: dict[str, Replicas] = {}
        self._known: dict[str, list[str]] = {}  # each service's replicas as last looked up
        self._service_of: dict[str, str] = {}  # replica address -> its service
        self._sockets: dict[str, zmq.Socket[bytes]] = {}  # by replica address
        self._connecting_until: dict[str, float] = {}
        self._monitors: dict[zmq.Socket[bytes], str] = {}  # disconnect events -> replica
        self._turn = itertools.count()  # round-robin over the replicas that are up
        self._probes: dict[str, str] = {}  # request id -> address of an open circuit
        self._ids = itertools.count(1)
        self._prefix = f"{os.getpid():x}-{id(self):x}-"

    def _socket(self, address: str) -> zmq.Socket[bytes]:
        sock = self._sockets.get(address)
        if sock is None:
            sock = client_socket(self._ctx, address, self._service_of[address])
            self._sockets[address] = sock
            self._connecting_until[address] = time.monotonic() + FIRST_CONNECT_S
            # Told when the connection drops: a request on its way there will get no reply.
            self._monitors[sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)] = address
        return sock

    def _connecting(self, address: str, now: float) -> bool:
        """A socket made just now that may not have finished its first connection."""
        return now < self._connecting_until.get(address, 0.0)

    def _addresses(self, service: str) -> list[str]:
        replicas = self._replicas.get(service)
        if replicas is None:
            replicas = Replicas(self._endpoints[service], self._resolve, self._dns_refresh_s)
            self._replicas[service] = replicas
        before = self._known.get(service, [])
        now = replicas.addresses()
        if now is not before:  # new, or a DNS name looked up again
            for address in now:  # the server's name: its CURVE public key
                self._service_of.setdefault(address, service)
            for address in set(before) - set(now):
                sock = self._sockets.pop(address, None)
                self._connecting_until.pop(address, None)
                if sock is not None:
                    self._close(sock, address)
            self._known[service] = now
        return now

    def _candidates(self, service: str, now: float) -> list[str]:
        """The replicas whose circuit is closed, starting at the next in turn (a writer's
        standbys last: only its active replica answers)."""
        up = self.health.closed(self._addresses(service))
        if len(up) > 1:
            turn = next(self._turn) % len(up)
            up = self.health.standbys_last(up[turn:] + up[:turn], now)
        return up

    def call(self, call: Call[T], timeout_ms: float, trace: str | None = None) -> T:
        """One call; raises RpcError with the server's code, `timeout` or `unavailable`."""
        outcome = self.gather([call], timeout_ms, trace)[0]
        if outcome.error is not None:
            raise RpcError(call.service, outcome.error, outcome.message)
        return outcome.value  # type: ignore[return-value]

    def gather(self, calls: Sequence[Call[Any]], timeout_ms: float,
               trace: str | None = None) -> list[Outcome[Any]]:
        """Send every call before waiting for any; one deadline for all of them."""
        now = started = time.monotonic()
        deadline = now + timeout_ms / 1000
        wall_deadline = time.time() + timeout_ms / 1000
        outcomes: list[Outcome[Any] | None] = [None] * len(calls)
        finished: list[float] = [0.0] * len(calls)  # when each reply came (0: none came)
        # A client span per call when tracing is on; its traceparent rides in the request.
        spans = [otel.start(f"{c.service}/{c.method}", "client", attributes={
            "rpc.system": "zeromq", "rpc.service": c.service, "rpc.method": c.method})
            for c in calls] if otel.tracer is not None else None
        pending: dict[str, _Sent] = {}  # by request id
        unsent: dict[str, tuple[int, bytes, float, list[str]]] = {}
        self._probe_open_circuits({call.service for call in calls}, now)
        for monitor in self._monitors:  # drops seen since the last gather concern no request
            self._drain_events(monitor)
        for index, call in enumerate(calls):
            request_id = f"{self._prefix}{next(self._ids)}"
            body = encode_request(
                Request(method=call.method, id=request_id, deadline=wall_deadline, trace=trace,
                        traceparent=otel.traceparent_of(spans[index]) if spans else None),
                call.params,
            )
            candidates = self._candidates(call.service, now)
            if not candidates:
                outcomes[index] = Outcome(error="unavailable", message=(
                    f"every replica of {call.service} failed just now; skipped while probed"))
                finished[index] = now
                continue
            connecting: list[str] = []
            for tried, address in enumerate(candidates):
                if self._try_send(self._socket(address), body):
                    pending[request_id] = _Sent(index, address, body, candidates[tried + 1:])
                    break
                if self._connecting(address, now):
                    connecting.append(address)
                else:  # a known replica with no live connection: skip it from now on
                    self.health.breaker(address).failed(now)
            else:
                # IMMEDIATE: no live connection. A new socket may still be connecting (it
                # gets the deadline); a known one gets a short grace, so a dead service
                # fails fast.
                if connecting:
                    unsent[request_id] = (index, body, deadline, connecting)
                else:
                    unsent[request_id] = (index, body, min(deadline, now + CONNECT_GRACE_S),
                                          candidates)
        poller: zmq.Poller | None = None
        # The sockets to watch changed beyond a reply arriving: a request sent late, given
        # up, or passed on by a standby to another replica.
        watch_changed = False
        while pending or unsent:
            now = time.monotonic()
            if now >= deadline:
                break
            for request_id, (index, _, give_up_at, addresses) in list(unsent.items()):
                if now >= give_up_at:
                    del unsent[request_id]
                    outcomes[index] = self._no_connection(addresses, now)
                    finished[index] = now
            if poller is None or unsent or watch_changed:
                # Not built again for each reply: a socket whose reply came may stay
                # (a late reply is drained and dropped like any other).
                poller, watch_changed = self._poller(pending, unsent), False
            wake = min([deadline, *(give_up for _, _, give_up, _ in unsent.values())])
            events = dict(poller.poll(int(max(0.0, (wake - now) * 1000))))
            for request_id, (index, body, _, addresses) in list(unsent.items()):
                for address in addresses:
                    sock = self._sockets[address]
                    if events.get(sock, 0) & POLLOUT and self._try_send(sock, body):
                        del unsent[request_id]
                        pending[request_id] = _Sent(index, address, body, [])
                        watch_changed = True
                        break
            for sock, flags in events.items():
                if sock in self._monitors:
                    self._lost_connection(sock, pending, outcomes, finished)
                elif flags & POLLIN:
                    passed_on = self._drain(sock, calls, pending, outcomes, finished)
                    watch_changed = watch_changed or passed_on
        timed_out = time.monotonic()
        for index, _, _, addresses in unsent.values():
            outcomes[index] = self._no_connection(addresses, timed_out)
        for sent in pending.values():
            self.health.breaker(sent.address).failed(timed_out)
            outcomes[sent.index] = Outcome(error="timeout",
                                           message=f"no reply in {timeout_ms:.0f} ms")
        end = time.monotonic()
        if spans:
            for client_span, outcome, done in zip(spans, outcomes, finished, strict=True):
                assert outcome is not None
                otel.end(client_span, outcome.error or "ok", done or end)
        if self._observe is not None:
            for call, outcome, done in zip(calls, outcomes, finished, strict=True):
                assert outcome is not None
                self._observe(call.service, call.method, outcome.error or "ok",
                              (done or end) - started)
        return outcomes  # type: ignore[return-value]

    def _poller(self, pending: dict[str, _Sent],
                unsent: dict[str, tuple[int, bytes, float, list[str]]]) -> zmq.Poller:
        """Watch the replicas with requests on their way, their connections' drop events,
        answers to probes, and the sockets of requests not sent yet."""
        poller = zmq.Poller()
        waiting_on = {s.address for s in pending.values()}
        for address in waiting_on | set(self._probes.values()):
            poller.register(self._sockets[address], POLLIN)
        for monitor, address in self._monitors.items():
            if address in waiting_on:
                poller.register(monitor, POLLIN)
        for _, _, _, addresses in unsent.values():
            for address in addresses:
                poller.register(self._sockets[address], POLLIN | POLLOUT)
        return poller

    def _probe_open_circuits(self, services: set[str], now: float) -> None:
        """Read answers to earlier probes, then probe each open circuit that is due.

        A probe is a `health` call that nobody waits for: its reply, read whenever it
        arrives (in this gather or a later one), closes the circuit.
        """
        for address in set(self._probes.values()):
            self._drain(self._sockets[address], (), {}, [], [])
        for service in services:
            for address in self._addresses(service):
                if not self.health.breaker(address).claim_probe(now):
                    continue
                request_id = f"{self._prefix}p{next(self._ids)}"
                body = encode_request(Request(method="health", id=request_id,
                                              deadline=time.time() + PROBE_TTL_S), {})
                if self._try_send(self._socket(address), body):
                    self._probes[request_id] = address

    def _no_connection(self, addresses: Sequence[str], now: float) -> Outcome[Any]:
        """No replica took the request in time: skip them all until a probe gets through."""
        for address in addresses:
            self.health.breaker(address).failed(now)
        return Outcome(error="unavailable", message="no connected replica")

    @staticmethod
    def _try_send(sock: zmq.Socket[bytes], body: bytes) -> bool:
        # One frame: a ROUTER sends everything before the last frame back, so a DEALER
        # needs no empty delimiter (a REQ adds one; servers answer both).
        try:
            sock.send(body, NOBLOCK)
        except zmq.Again:
            return False
        return True

    def _drain(self, sock: zmq.Socket[bytes], calls: Sequence[Call[Any]],
               pending: dict[str, _Sent], outcomes: list[Outcome[Any] | None],
               finished: list[float]) -> bool:
        """Read every reply waiting on `sock`; True if a standby's refusal passed a request
        on to another replica."""
        passed_on = False
        # EVENTS, not a recv that raises zmq.Again, says when the queue is empty: no
        # exception per drained socket, no system call.
        while int(sock.getsockopt(EVENTS)) & POLLIN:
            frames = sock.recv_multipart(NOBLOCK)
            try:
                reply = decode_reply(frames[-1])
            except (msgspec.DecodeError, msgspec.ValidationError):
                continue  # not a reply of ours: ignore it
            probed = self._probes.pop(reply.id or "", None)
            if probed is not None:
                self.health.breaker(probed).succeeded()
                continue
            sent = pending.pop(reply.id or "", None)
            if sent is None:
                continue  # a late reply to a request we already gave up on
            if reply.error is not None and reply.error.code == STANDBY:
                # A writer's standby: alive, but only the active replica answers. Ask the
                # next one at once; the standby is asked last for a while.
                self.health.breaker(sent.address).succeeded(standby_at=time.monotonic())
                if self._send_to_next(sent):
                    pending[reply.id or ""] = sent
                    passed_on = True
                else:
                    outcomes[sent.index] = Outcome(error="unavailable", message=(
                        f"no active replica of {calls[sent.index].service} answered (each "
                        f"one asked is a standby: a writer is failing over)"))
                    finished[sent.index] = time.monotonic()
                continue
            self.health.breaker(sent.address).succeeded()  # any reply: the replica is alive
            outcomes[sent.index] = _outcome(reply, calls[sent.index].result_type)
            finished[sent.index] = time.monotonic()
        return passed_on

    def _send_to_next(self, sent: _Sent) -> bool:
        while sent.others:
            address = sent.others.pop(0)
            if self._try_send(self._socket(address), sent.body):
                sent.address = address
                return True
        return False

    def _lost_connection(self, monitor: zmq.Socket[bytes], pending: dict[str, _Sent],
                         outcomes: list[Outcome[Any] | None], finished: list[float]) -> None:
        """The connection to a replica dropped (it died, or its heartbeat went silent):
        the requests on their way there fail now instead of at the deadline, and the
        replica is skipped until a probe gets through. Not sent again elsewhere: a write
        may have committed there (the caller retries it with its idempotency key)."""
        if not self._drain_events(monitor):
            return
        address = self._monitors[monitor]
        now = time.monotonic()
        self.health.breaker(address).failed(now)
        for request_id, sent in list(pending.items()):
            if sent.address == address:
                del pending[request_id]
                outcomes[sent.index] = Outcome(error="unavailable", message=(
                    f"the connection to {address} dropped before its reply"))
                finished[sent.index] = now

    @staticmethod
    def _drain_events(monitor: zmq.Socket[bytes]) -> bool:
        """Read every event waiting on `monitor`; True if one was a disconnect."""
        dropped = False
        while int(monitor.getsockopt(EVENTS)) & POLLIN:  # no syscall, unlike poll
            event = recv_monitor_message(monitor, NOBLOCK)
            dropped = dropped or event["event"] == zmq.EVENT_DISCONNECTED
        return dropped

    def _close(self, sock: zmq.Socket[bytes], address: str) -> None:
        for monitor, monitored in list(self._monitors.items()):
            if monitored == address:
                del self._monitors[monitor]
                sock.disable_monitor()
                monitor.close(linger=0)
        sock.close(linger=0)

    def close(self) -> None:
        for address, sock in self._sockets.items():
            self._close(sock, address)
        self._sockets.clear()
        self._probes.clear()


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
