"""PUB/SUB, the fast path of the event bus. It loses messages (slow joiners, full queues),
so it is never the only path: sequence numbers reveal a gap and the consumer fetches.
Frames: [topic, body].
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import zmq

from .curve import CurveError, secure_client, secure_server
from .replicas import Replicas
from .server import BindError
from .sockets import HIGH_WATER_MARK, MAX_MESSAGE_BYTES, Context


class Publisher:
    def __init__(self, ctx: Context, bind: str) -> None:
        self._socket = ctx.socket(zmq.PUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)  # a slow subscriber loses, never grows
        try:
            secure_server(self._socket, ctx)
            self._socket.bind(bind)
        except CurveError:
            self._socket.close(linger=0)
            raise
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            raise BindError(f"cannot bind {bind}: {exc}") from None
        self.endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def send(self, topic: str, body: bytes) -> None:
        try:
            self._socket.send_multipart([topic.encode(), body], zmq.NOBLOCK)
        except zmq.Again:
            pass  # PUB drops at the high-water mark anyway; the consumer will fetch

    def close(self) -> None:
        self._socket.close(linger=0)


class Subscribers:
    """SUB sockets to several publishers, polled together; every topic is received.

    A publisher's endpoint may name several replicas (see `replicas`): its one SUB socket
    connects to each of them, so whichever replica is the active writer is heard; a DNS
    name is looked up again now and then, connecting to new replicas and dropping gone ones.
    """

    def __init__(self, ctx: Context, endpoints: Mapping[str, str]) -> None:
        self._sockets: dict[zmq.Socket[bytes], str] = {}
        self._replicas: dict[zmq.Socket[bytes], tuple[Replicas, set[str]]] = {}
        self._seen: dict[zmq.Socket[bytes], list[str]] = {}  # the addresses last connected
        self._poller = zmq.Poller()
        for name, endpoint in endpoints.items():
            sock = ctx.socket(zmq.SUB)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
            sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
            sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
            sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            sock.setsockopt(zmq.SUBSCRIBE, b"")
            self._sockets[sock] = name
            try:
                secure_client(sock, ctx, name)
                self._replicas[sock] = (Replicas(endpoint), set())
                self._connect(sock)
            except (ValueError, zmq.ZMQError, CurveError):
                self.close()
                raise
            self._poller.register(sock, zmq.POLLIN)

    def _connect(self, sock: zmq.Socket[bytes]) -> None:
        replicas, connected = self._replicas[sock]
        addresses = replicas.addresses()
        if addresses is self._seen.get(sock):
            return  # the same list as last time (a static one, or no new DNS answer yet)
        self._seen[sock] = addresses
        now = set(addresses)
        for address in now - connected:
            sock.connect(address)
        for address in connected - now:
            sock.disconnect(address)
        self._replicas[sock] = (replicas, now)

    def poll(self, timeout_ms: int, limit: int = 1000) -> list[tuple[str, str, bytes]]:
        """Wait up to `timeout_ms`; return (publisher, topic, body) messages, at most `limit`."""
        if not self._sockets:  # zmq's poll returns at once with nothing registered
            time.sleep(timeout_ms / 1000)
            return []
        for sock in self._sockets:  # cheap: a DNS name is looked up only every few seconds
            self._connect(sock)
        messages: list[tuple[str, str, bytes]] = []
        for sock, _ in self._poller.poll(timeout_ms):
            while len(messages) < limit:
                try:
                    frames = sock.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if len(frames) == 2:
                    messages.append((self._sockets[sock], frames[0].decode(errors="replace"),
                                     frames[1]))
        return messages

    def close(self) -> None:
        for sock in self._sockets:
            sock.close(linger=0)
