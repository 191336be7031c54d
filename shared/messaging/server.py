"""RPC server: a ROUTER socket that hands each request body to a dispatch function.

Frames from a REQ client are [identity, b"", body]; from a raw DEALER [identity, body].
Everything before the last frame is the envelope and goes back unchanged with the reply,
so a plain `zmq.REQ` hello-world client can call any service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import zmq

from .curve import CurveError, caller_of
from .sockets import EVENTS, NOBLOCK, POLLIN, Context, server_socket

log = logging.getLogger(__name__)

# dispatch(body, caller) -> reply or None; caller is the CURVE key's name, None without CURVE.
Dispatch = Callable[[bytes, str | None], bytes | None]


class BindError(OSError):
    """The server could not bind its endpoint (taken port, bad address)."""


class RpcServer:
    def __init__(self, ctx: Context, bind: str) -> None:
        self._ctx = ctx
        try:
            self._socket = server_socket(ctx, bind)
        except zmq.ZMQError as exc:
            raise BindError(f"cannot bind {bind}: {exc}") from None
        self.endpoint: str = self._socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def serve(self, dispatch: Dispatch, should_stop: Callable[[], bool],
              poll_ms: int = 200) -> None:
        """Answer requests until `should_stop()`; the request in hand is always finished."""
        poller = zmq.Poller()
        poller.register(self._socket, POLLIN)
        authenticator = getattr(self._ctx, "authenticator", None)  # with CURVE on
        # Frames as objects only when CURVE is on (a frame carries its sender's key name);
        # plain bytes are cheaper for messages this small.
        as_frames = authenticator is not None
        while not should_stop():
            if authenticator is not None and not authenticator.is_alive():
                # Without its ZAP handler a CURVE server would admit any key from now on.
                raise CurveError("the ZAP authenticator stopped: refusing to serve without it")
            if not poller.poll(poll_ms):
                continue
            # Answer every request already queued before polling again: reading the
            # socket's EVENTS costs no system call, a poll does.
            while True:
                self._answer(dispatch, as_frames)
                if should_stop() or not int(self._socket.getsockopt(EVENTS)) & POLLIN:
                    break

    def _answer(self, dispatch: Dispatch, as_frames: bool) -> None:
        try:
            frames: list[Any] = self._socket.recv_multipart(NOBLOCK, copy=not as_frames)
        except zmq.Again:  # the poll's event was a stale one
            return
        if len(frames) < 2:
            log.warning("dropped a message of %d frame(s): no envelope", len(frames))
            return
        body = frames[-1].bytes if as_frames else frames[-1]
        try:
            reply = dispatch(body, caller_of(frames[-1], self._ctx) if as_frames else None)
        except Exception:  # a bug met by one request must not stop the service
            log.exception("dispatch failed; the request gets no answer")
            return
        if reply is None:
            return
        try:
            frames[-1] = reply
            self._socket.send_multipart(frames, NOBLOCK)
        except zmq.ZMQError as exc:  # client gone (ROUTER_MANDATORY) or its queue full
            # debug: a client that never reads its replies must not flood the log either
            log.debug("reply not delivered: %s", exc)

    def close(self) -> None:
        self._socket.close(linger=0)
