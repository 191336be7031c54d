"""Notifications leave through real providers run by the test: an SMTP server (aiosmtpd)
and an HTTP webhook. Each send carries the event's id as its idempotency key; bad sender
settings fail at start with an error that names the variable."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from services.email.senders import SmtpSender
from services.email.senders import sender_from_config as email_sender
from services.sms.senders import WebhookSender
from services.sms.senders import sender_from_config as sms_sender
from shared.catalog_seed import products
from shared.config import ServiceConfig

from ..support import Platform, free_port, wait_for

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


@pytest.fixture(scope="module")
def inbox() -> Iterator[SmtpInbox]:
    running = SmtpInbox()
    yield running
    running.close()


@pytest.fixture(scope="module")
def webhook() -> Iterator[Webhook]:
    running = Webhook()
    yield running
    running.close()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, inbox: SmtpInbox,
         webhook: Webhook) -> Iterator[Platform]:
    running = Platform(tmp_path_factory.mktemp("senders"), services=SHOP,
                       EMAIL_SENDER="smtp", EMAIL_SMTP_HOST="127.0.0.1",
                       EMAIL_SMTP_PORT=str(inbox.port), SMS_SENDER="webhook",
                       SMS_WEBHOOK_URL=webhook.url)
    yield running
    running.close()


class TestSmtpSender:
    def test_one_email_per_order_keyed_by_the_event_id(self, shop: Platform,
                                                       inbox: SmtpInbox) -> None:
        """The customer gets exactly one email naming the order, keyed by its event's id."""
        who = customer(1)
        order_id = place(shop, who)
        (row,) = sent(shop, "email", order_id)
        (message,) = inbox.to(who["email"])  # sent before the row committed
        assert str(order_id) in message["Subject"] and row["subject"] == message["Subject"]
        assert message["X-Idempotency-Key"] == row["event_id"]
        assert row["event_id"] == outcome_event(shop, order_id)["id"]
        assert message["From"] == "shop@zeroshop.example"


class TestWebhookSender:
    def test_one_post_per_order_keyed_by_the_event_id(self, shop: Platform,
                                                      webhook: Webhook) -> None:
        """Each order is one JSON POST {to, body} with its event's id as Idempotency-Key."""
        for n in (2, 3):
            phone = customer(n)["phone"]
            order_id = place(shop, customer(n))
            (row,) = sent(shop, "sms", order_id)
            (post,) = webhook.posts_to(phone)
            assert post.path == "/sms" and post.content_type == "application/json"
            assert post.body == {"to": phone, "body": row["body"]}
            assert str(order_id) in post.body["body"] and post.status == 200
            assert post.idempotency_key == row["event_id"]
            assert row["event_id"] == outcome_event(shop, order_id)["id"]


class TestSenderFromConfig:
    def config(self, tmp_path: Path, name: str, **env: str) -> ServiceConfig:
        return ServiceConfig.from_env(name, {"ZEROSHOP_DATA_DIR": str(tmp_path), **env})

    def test_smtp_and_webhook_take_their_settings(self, tmp_path: Path) -> None:
        """The senders are built from their variables."""
        smtp = email_sender(self.config(tmp_path, "email", EMAIL_SENDER="smtp",
                                        EMAIL_SMTP_HOST="mail.test", EMAIL_SMTP_PORT="2525",
                                        EMAIL_FROM="orders@shop.test"))
        assert isinstance(smtp, SmtpSender)
        assert (smtp.host, smtp.port, smtp.from_address) == ("mail.test", 2525,
                                                             "orders@shop.test")
        hook = sms_sender(self.config(tmp_path, "sms", SMS_SENDER="webhook",
                                      SMS_WEBHOOK_URL="https://sms.test/send"))
        assert isinstance(hook, WebhookSender) and hook.url == "https://sms.test/send"

    def test_an_unknown_email_sender_is_named(self, tmp_path: Path) -> None:
        """EMAIL_SENDER must be record or smtp."""
        with pytest.raises(ValueError, match="EMAIL_SENDER must be 'record' or 'smtp', "
                                             "got 'pigeon'"):
            email_sender(self.config(tmp_path, "email", EMAIL_SENDER="pigeon"))

    def test_an_unknown_sms_sender_is_named(self, tmp_path: Path) -> None:
        """SMS_SENDER must be record or webhook."""
        with pytest.raises(ValueError, match="SMS_SENDER must be 'record' or 'webhook', "
                                             "got 'smoke-signal'"):
            sms_sender(self.config(tmp_path, "sms", SMS_SENDER="smoke-signal"))

    @pytest.mark.parametrize("url", ["", "ftp://sms.test/send", "sms.test/send"])
    def test_a_bad_webhook_url_is_named(self, tmp_path: Path, url: str) -> None:
        """SMS_WEBHOOK_URL must be an http(s) URL (missing counts as bad)."""
        env = {"SMS_SENDER": "webhook"} | ({"SMS_WEBHOOK_URL": url} if url else {})
        with pytest.raises(ValueError, match=f"SMS_WEBHOOK_URL must be an http\\(s\\) URL, "
                                             f"got '{url}'"):
            sms_sender(self.config(tmp_path, "sms", **env))
