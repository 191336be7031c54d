"""A raw ZeroMQ client for contract tests: JSON frames in, JSON frames out, no project code.

The contract is what any client in any language sees on the wire, so this deliberately does
not use shared.messaging: it sends `{"method", "params", "id"}` on a plain DEALER and checks
the reply envelope `{"ok": true, "result"}` / `{"ok": false, "error": {"code", "message"}}`.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import zmq

REPLY_TIMEOUT_MS = 15_000  # generous: a loaded CI machine, never a normal wait


class Wire:
    """One DEALER connected to one service; frames are [b"", body] exactly as a REQ sends them."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._ctx = zmq.Context()
        self._sock = self._connect()
        self._ids = itertools.count(1)

    def _connect(self) -> zmq.Socket[bytes]:
        sock = self._ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.endpoint)
        return sock

    def send_raw(self, body: bytes) -> dict[str, Any]:
        """Send one frame; return the decoded reply after checking it is one JSON frame."""
        self._sock.send_multipart([b"", body])
        if not self._sock.poll(REPLY_TIMEOUT_MS):
            # A late reply must not be read as the next call's answer: start a fresh socket.
            self._sock.close(linger=0)
            self._sock = self._connect()
            raise AssertionError(f"{self.endpoint}: no reply within {REPLY_TIMEOUT_MS} ms "
                                 f"to {body[:200]!r}")
        frames = self._sock.recv_multipart()
        assert len(frames) == 2 and frames[0] == b"", (
            f"a reply must be the envelope b'' and one JSON frame, got {frames!r}")
        reply = json.loads(frames[1])
        assert isinstance(reply, dict) and isinstance(reply.get("ok"), bool), (
            f"a reply must be a JSON object with a boolean 'ok', got {reply!r}")
        return reply

    def call(self, method: str, params: Any = None) -> dict[str, Any]:
        """Call `method` (params omitted when None); the reply must echo the request id."""
        request: dict[str, Any] = {"method": method, "id": f"contract-{next(self._ids)}"}
        if params is not None:
            request["params"] = params
        reply = self.send_raw(json.dumps(request).encode())
        assert reply.get("id") == request["id"], (
            f"{method}: reply id {reply.get('id')!r} does not echo request id {request['id']!r}")
        return reply

    def result(self, method: str, params: Any = None) -> Any:
        """Call and return the result; fails if the service answers an error."""
        return result_of(self.call(method, params), f"{method}({params!r})")

    def error(self, method: str, params: Any = None) -> str:
        """Call and return the error code; fails if the service answers ok."""
        return error_code(self.call(method, params), f"{method}({params!r})")

    def error_of_frame(self, body: bytes) -> str:
        """Send a raw (possibly malformed) frame and return the error code it is answered with."""
        return error_code(self.send_raw(body), f"frame {body[:80]!r}")

    def close(self) -> None:
        self._sock.close(linger=0)
        self._ctx.term()


def result_of(reply: dict[str, Any], what: str) -> Any:
    """The result of an ok reply; fails naming `what` with the error the service gave instead."""
    assert reply["ok"] is True, f"{what}: expected ok, got error {reply.get('error')!r}"
    assert set(reply) <= {"ok", "id", "result"} and "result" in reply, (
        f"{what}: an ok reply holds ok, id and result only, got keys {sorted(reply)}")
    return reply["result"]


def error_code(reply: dict[str, Any], what: str) -> str:
    """The code of an error reply, after checking the error envelope's shape."""
    assert reply["ok"] is False, f"{what}: expected an error, got result {reply.get('result')!r}"
    assert set(reply) <= {"ok", "id", "error"}, (
        f"{what}: an error reply holds ok, id and error only, got keys {sorted(reply)}")
    error = reply["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message"}, (
        f"{what}: error must be {{code, message}}, got {error!r}")
    code, message = error["code"], error["message"]
    assert isinstance(code, str) and code and isinstance(message, str) and message, (
        f"{what}: error code and message must be non-empty strings, got {error!r}")
    return code


def missing_paths(value: Any, path: str) -> list[str]:
    """Where a field path ("items[].promotion.kind") is absent from a JSON value; a null or
    an empty list on the way ends the walk (the schema says whether it may be either)."""
    values: list[tuple[Any, str]] = [(value, "")]
    for token in path.replace("[]", ".[]").split("."):
        step = []
        for v, at in values:
            if v is None:
                continue
            if token == "[]" and isinstance(v, list):
                step += [(item, f"{at}[{i}]") for i, item in enumerate(v)]
            elif isinstance(v, dict) and token in v:
                step.append((v[token], f"{at}.{token}" if at else token))
            else:
                return [f"{at}.{token}" if at else token]
        values = step
    return []
