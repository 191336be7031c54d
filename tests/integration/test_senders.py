"""Notifications leave through real providers run by the test: an SMTP server (aiosmtpd)
and an HTTP webhook. Each send carries the event's id as its idempotency key; bad sender
settings fail at start with an error that names the variable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.email.senders import SmtpSender
from services.email.senders import sender_from_config as email_sender
from services.sms.senders import WebhookSender
from services.sms.senders import sender_from_config as sms_sender
from shared.config import ServiceConfig

from ..providers import SHOP, SmtpInbox, Webhook, customer, outcome_event, place, sent
from ..support import Platform


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
