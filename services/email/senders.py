"""How an email leaves the system: recorded to a log file (the local default) or over SMTP.

Each send carries the event id as its idempotency key, so a provider can drop the
duplicate that at-least-once delivery may produce after a crash.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from shared.config import ServiceConfig, int_setting
from shared.notifications import RecordingSender


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    body: str
    idempotency_key: str


class EmailSender(Protocol):
    def send(self, email: Email) -> None: ...


class SmtpSender:
    def __init__(self, host: str, port: int, from_address: str, timeout_s: float = 10) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.from_address = from_address

    def send(self, email: Email) -> None:
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = email.to
        message["Subject"] = email.subject
        message["X-Idempotency-Key"] = email.idempotency_key
        message["Message-ID"] = f"<{email.idempotency_key}@zeroshop>"
        message.set_content(email.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)


def sender_from_config(config: ServiceConfig) -> EmailSender:
    """EMAIL_SENDER=record (default) or smtp (EMAIL_SMTP_HOST, EMAIL_SMTP_PORT, EMAIL_FROM)."""
    settings = config.settings
    kind = settings.get("EMAIL_SENDER", "record")
    if kind == "record":
        return RecordingSender(config.data_dir / "email-outbox.log")
    if kind == "smtp":
        return SmtpSender(settings.get("EMAIL_SMTP_HOST", "127.0.0.1"),
                          int_setting(settings, "EMAIL_SMTP_PORT", 25, 1, 65535),
                          settings.get("EMAIL_FROM", "shop@zeroshop.example"))
    raise ValueError(f"EMAIL_SENDER must be 'record' or 'smtp', got {kind!r}")
