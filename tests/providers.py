"""Local stand-ins for the outside world's providers, run by the tests: an SMTP server
(aiosmtpd) and an SMS webhook (http.server), plus helpers to place orders and read what was
sent. Real servers on free loopback ports, never mocks."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

from shared.catalog_seed import products
from shared.config import free_port

from .support import Platform, wait_for

# What placing an order needs, and the two notifiers.
SHOP = ("product", "pricing", "discount", "inventory", "orders", "email", "sms")
PRODUCT_ID = next(p.id for p in products() if p.stock >= 20)


@dataclass(frozen=True)
class Post:
    path: str
    content_type: str
    idempotency_key: str
    body: dict[str, Any]
    status: int


class Webhook:
    """An SMS provider on a free loopback port: records every POST and answers 500 to the
    numbers in `refused` (a provider that keeps failing for one customer), 200 otherwise."""

    def __init__(self, refused: set[str] | None = None) -> None:
        self.refused = set(refused or ())
        self._posts: list[Post] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = 500 if body.get("to") in webhook.refused else 200
                with webhook._lock:
                    webhook._posts.append(Post(self.path, self.headers["Content-Type"],
                                               self.headers["Idempotency-Key"], body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output clean

        return Handler

    def posts_to(self, phone: str, status: int | None = None) -> list[Post]:
        with self._lock:
            return [p for p in self._posts
                    if p.body.get("to") == phone and status in (None, p.status)]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class SmtpInbox:
    """An SMTP server on a free loopback port that keeps every message it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self._messages: list[Message] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self._messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        with self._lock:
            return [m for m in self._messages if m["To"] == address]

    def close(self) -> None:
        self._controller.stop()


def customer(n: int) -> dict[str, str]:
    return {"name": f"Customer {n}", "email": f"customer{n}@example.com",
            "phone": f"+1 555 0100 {n:03d}"}


def place(shop: Platform, who: dict[str, str]) -> int:
    """Place a one-item order through the gateway; returns its id."""
    status, body, _ = shop.post("/api/orders", {
        "customer": who, "items": [{"product_id": PRODUCT_ID, "quantity": 1}]})
    assert status == 201, body
    return int(body["order_id"])


def outcome_event(shop: Platform, order_id: int) -> dict[str, Any]:
    """The order's order.confirmed or order.rejected event, read from the orders outbox."""
    def find() -> dict[str, Any] | None:
        batch = shop.call("orders", "fetch_events", {"after": 0, "limit": 1000})
        return next((e for e in batch["events"]
                     if e["topic"] in ("order.confirmed", "order.rejected")
                     and e["payload"]["order_id"] == order_id), None)
    return wait_for(find, what=f"order {order_id}'s outcome event")


def sent(shop: Platform, channel: str, order_id: int) -> list[dict[str, Any]]:
    """What `channel` (email or sms) recorded as sent for the order, once it sent anything."""
    return wait_for(lambda: shop.call(channel, "list_sent", {"order_id": order_id})["items"],
                    what=f"{channel} for order {order_id}")
