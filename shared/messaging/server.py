"""RPC server: a ROUTER socket that hands each request body to a dispatch function.

Frames from a REQ client are [identity, b"", body]; from a raw DEALER [identity, body].
Everything before the last frame is the envelope and goes back unchanged with the reply,
so a plain `zmq.REQ` hello-world client can call any service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import zmq

from .curve import CurveError, caller_of
from .sockets import EVENTS, NOBLOCK, POLLIN, Context, server_socket

log = logging.getLogger(__name__)

# dispatch(body, caller) -> reply or None; caller is the CURVE key's name, None without CURVE.
Dispatch = Callable[[bytes, str | None], bytes | None]
# dispatch_many([(body, caller), ...]) yields (index, reply or None) for every request, each
# as soon as it is ready (a group committed together is ready together).
DispatchMany = Callable[[Sequence[tuple[bytes, str | None]]], Iterator[tuple[int, bytes | None]]]
BATCH_MAX = 64  # requests taken off the queue at once for dispatch_many


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
              poll_ms: int = 200, dispatch_many: DispatchMany | None = None) -> None:
        """Answer requests until `should_stop()`; the request in hand is always finished.
        With `dispatch_many`, the requests already queued are handed over together (up to
        BATCH_MAX), so that writes among them can share one commit."""
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
                if dispatch_many is None:
                    self._answer(dispatch, as_frames)
                else:
                    self._answer_queued(dispatch, dispatch_many, as_frames)
                if should_stop() or not self._queued():
                    break

    def _queued(self) -> bool:
        return bool(int(self._socket.getsockopt(EVENTS)) & POLLIN)

    def _receive(self, as_frames: bool) -> list[Any] | None:
        try:
            frames: list[Any] = self._socket.recv_multipart(NOBLOCK, copy=not as_frames)
        except zmq.Again:  # the poll's event was a stale one
            return None
        if len(frames) < 2:
            log.warning("dropped a message of %d frame(s): no envelope", len(frames))
            return None
        return frames

    def _answer_queued(self, dispatch: Dispatch, dispatch_many: DispatchMany,
                       as_frames: bool) -> None:
        taken: list[list[Any]] = []
        while len(taken) < BATCH_MAX:
            frames = self._receive(as_frames)
            if frames is not None:
                taken.append(frames)
            if not self._queued():
                break
        if not taken:
            return
        if len(taken) == 1:  # the common case: no batch to form
            self._dispatch_one(dispatch, taken[0], as_frames)
            return
        requests = [(frames[-1].bytes if as_frames else frames[-1],
                     caller_of(frames[-1], self._ctx) if as_frames else None)
                    for frames in taken]
        try:
            for index, reply in dispatch_many(requests):
                self._reply(taken[index], reply)
        except Exception:  # a bug met by one batch must not stop the service
            log.exception("dispatch failed; requests of this batch get no answer")

    def _answer(self, dispatch: Dispatch, as_frames: bool) -> None:
        frames = self._receive(as_frames)
        if frames is not None:
            self._dispatch_one(dispatch, frames, as_frames)

    def _dispatch_one(self, dispatch: Dispatch, frames: list[Any], as_frames: bool) -> None:
        body = frames[-1].bytes if as_frames else frames[-1]
        try:
            reply = dispatch(body, caller_of(frames[-1], self._ctx) if as_frames else None)
        except Exception:  # a bug met by one request must not stop the service
            log.exception("dispatch failed; the request gets no answer")
            return
        self._reply(frames, reply)

    def _reply(self, frames: list[Any], reply: bytes | None) -> None:
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
