"""Socket options set on purpose: each default listed here was seen failing on this machine."""

from __future__ import annotations

from typing import Any

import zmq

from .curve import CurveError, Keyring, secure_client, secure_server

MAX_MESSAGE_BYTES = 1 << 20  # 1 MiB: larger frames are refused by libzmq (MAXMSGSIZE)
HIGH_WATER_MARK = 1000
HEARTBEAT_IVL_MS = 1000
HEARTBEAT_TIMEOUT_MS = 3000

# The flags every message path uses, as plain ints: pyzmq's are enums, and an enum's `&` or
# lookup costs microseconds on every message.
EVENTS, POLLIN, POLLOUT, NOBLOCK = (int(zmq.EVENTS), int(zmq.POLLIN), int(zmq.POLLOUT),
                                    int(zmq.NOBLOCK))

class Context(zmq.Context[zmq.Socket[bytes]]):
    """The context as services and the gateway hold it (they never import zmq); with `keys`,
    every socket made through this module uses CURVE (see curve.py)."""

    keys: Keyring | None = None
    authenticator: Any = None  # the ZAP thread, once a process that serves starts it


def new_context(keys: Keyring | None = None) -> Context:
    ctx = Context()
    ctx.keys = keys
    return ctx


def _common(sock: zmq.Socket[bytes]) -> None:
    sock.setsockopt(zmq.LINGER, 0)  # the default (-1) hangs Context.term() on unsent messages
    sock.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    sock.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
    sock.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
    # ZMTP heartbeats notice a silent dead (or stopped) peer and drop the connection.
    sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    sock.setsockopt(zmq.HEARTBEAT_TTL, HEARTBEAT_TIMEOUT_MS)


def server_socket(ctx: Context, bind: str) -> zmq.Socket[bytes]:
    """A ROUTER that answers REQ and DEALER clients alike."""
    sock = ctx.socket(zmq.ROUTER)
    _common(sock)
    sock.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a reply to a departed client raises, not vanishes
    try:
        secure_server(sock, ctx)
        sock.bind(bind)
    except (zmq.ZMQError, CurveError):
        sock.close(linger=0)
        raise
    return sock


def client_socket(ctx: Context, endpoint: str, server: str | None = None) -> zmq.Socket[bytes]:
    """A DEALER for one service (`server`, whose key CURVE needs): IMMEDIATE so nothing is
    queued for a dead replica."""
    sock = ctx.socket(zmq.DEALER)
    _common(sock)
    sock.setsockopt(zmq.IMMEDIATE, 1)
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    try:
        secure_client(sock, ctx, server)
        sock.connect(endpoint)
    except (zmq.ZMQError, CurveError):
        sock.close(linger=0)  # an open socket left behind would hang Context.term()
        raise
    return sock
