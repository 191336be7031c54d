"""How an SMS leaves the system: recorded to a log file (the local default) or posted to an
HTTP webhook (the shape most SMS providers take), with the event id as idempotency key."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from shared.config import ServiceConfig
from shared.notifications import RecordingSender


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    idempotency_key: str


class SmsSender(Protocol):
    def send(self, sms: Sms) -> None: ...


class WebhookSender:
    """POSTs {"to", "body"} as JSON; any answer but 2xx is a failure (retried, then dead)."""

    def __init__(self, url: str, timeout_s: float = 10) -> None:
        self.url, self.timeout_s = url, timeout_s

    def send(self, sms: Sms) -> None:
        request = urllib.request.Request(
            self.url, method="POST", data=json.dumps({"to": sms.to, "body": sms.body}).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": sms.idempotency_key})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()  # urlopen raises HTTPError for 4xx/5xx


def sender_from_config(config: ServiceConfig) -> SmsSender:
    """SMS_SENDER=record (default) or webhook (SMS_WEBHOOK_URL)."""
    settings = config.settings
    kind = settings.get("SMS_SENDER", "record")
    if kind == "record":
        return RecordingSender(config.data_dir / "sms-outbox.log")
    if kind == "webhook":
        url = settings.get("SMS_WEBHOOK_URL", "")
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"SMS_WEBHOOK_URL must be an http(s) URL, got {url!r}")
        return WebhookSender(url)
    raise ValueError(f"SMS_SENDER must be 'record' or 'webhook', got {kind!r}")
