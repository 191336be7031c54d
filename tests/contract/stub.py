"""A stand-in publisher, so a consumer service's provider suite runs that service alone.

It answers `fetch_events` (raw JSON over a ROUTER, as wire.py speaks) with the events it was
given; the real service under test follows it as it would the real publisher, applies what
it can and dead-letters what it cannot. Nothing listens on its PUB address: the follower's
catch-up fetch is the only path, which is enough.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import zmq

from shared.contracts import TOPICS


def envelope(publisher: str, seq: int, topic: str, payload: Any) -> dict[str, Any]:
    return {"publisher": publisher, "seq": seq, "id": str(uuid.uuid4()), "topic": topic,
            "version": TOPICS[topic].version, "payload": payload, "trace": None,
            "occurred_at": datetime.now(UTC).isoformat(timespec="milliseconds")}


class StubPublisher:
    """`name`'s RPC address, answering fetch_events with `events` ((topic, payload) pairs)."""

    def __init__(self, name: str, events: list[tuple[str, Any]]) -> None:
        self.name = name
        self.events = [envelope(name, seq, topic, payload)
                       for seq, (topic, payload) in enumerate(events, start=1)]
        self._ctx = zmq.Context()
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.setsockopt(zmq.LINGER, 0)
        self._sock.bind("tcp://127.0.0.1:*")
        self.endpoint: str = self._sock.getsockopt_string(zmq.LAST_ENDPOINT)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"stub-{name}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            if not self._sock.poll(50):
                continue
            frames = self._sock.recv_multipart()
            request = json.loads(frames[-1])
            self._sock.send_multipart([*frames[:-1], json.dumps(self._answer(request)).encode()])

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("method") != "fetch_events":
            return {"ok": False, "id": request.get("id"), "error": {
                "code": "unknown_method", "message": f"the stub {self.name} only fetches"}}
        params = request.get("params") or {}
        after, limit = params.get("after", 0), params.get("limit", 200)
        return {"ok": True, "id": request.get("id"), "result": {
            "publisher": self.name, "last_seq": len(self.events),
            "events": [e for e in self.events if e["seq"] > after][:limit]}}

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
        self._sock.close(linger=0)
        self._ctx.term()
