"""S3's baseline arm: RabbitMQ on this machine, with pika, as its users write it.

A persistent message per event (the same bytes as an `order.placed` envelope), published
on a channel with publisher confirms (`basic_publish` returns once the broker confirmed it)
to a durable fanout exchange bound to three durable classic queues; three consumer
processes (bench/s3_events/sink.py) with manual acks each commit every message to their own
SQLite file before acking it. If pika is missing or RabbitMQ does not answer, the arm is
skipped and the report says why.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from shared.contracts.bus import Envelope
from shared.contracts.events import Customer, OrderLine, OrderPlaced

from .durable import SINKS, start_sink, stop_sinks

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


@dataclass(frozen=True)
class RabbitTarget:
    host: str
    port: int
    user: str
    password: str
    vhost: str

    @classmethod
    def parse(cls, url: str) -> RabbitTarget:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "amqp" or (parts.hostname or "") not in LOOPBACK:
            raise ValueError(f"{url!r}: only amqp:// on the loopback interface is measured")
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        return cls(parts.hostname or "127.0.0.1", parts.port or 5672,
                   urllib.parse.unquote(parts.username or "guest"),
                   urllib.parse.unquote(parts.password or "guest"), vhost)

    def parameters(self) -> Any:
        import pika

        return pika.ConnectionParameters(
            self.host, self.port, self.vhost, pika.PlainCredentials(self.user, self.password),
            connection_attempts=1, socket_timeout=2, blocked_connection_timeout=10)


def rabbit_version(target: RabbitTarget) -> tuple[str | None, str]:
    """(RabbitMQ and Erlang versions, None) or (None, why RabbitMQ cannot be measured)."""
    try:
        import pika
    except ImportError:
        return None, ("pika is not installed (`.venv/bin/python -m pip install -e "
                      "'.[bench]'`)")
    try:
        connection = pika.BlockingConnection(target.parameters())
    except Exception as exc:  # noqa: BLE001 - any failure means: skip this row
        return None, f"RabbitMQ at {target.host}:{target.port} did not answer ({exc!r})"
    try:
        props = getattr(connection._impl, "server_properties", {}) or {}
        version = f"{props.get('product', 'RabbitMQ')} {props.get('version', '?')}"
        if props.get("platform"):
            version += f" ({props['platform']})"
        return f"{version}, pika {pika.__version__}", ""
    finally:
        connection.close()


def sample_body() -> bytes:
    """An `order.placed` envelope as ZeroShop's relay sends it: the bytes both arms carry."""
    line = OrderLine(product_id=1, name="bench item", quantity=1, unit_price=1000,
                     final_unit_price=900)
    event = OrderPlaced(order_id=1, customer=Customer(name="Bench Mark",
                                                      email="bench@example.com",
                                                      phone="+44 20 7946 0001"),
                        lines=[line], total=900, currency="USD")
    return msgspec.json.encode(Envelope(
        publisher="orders", seq=1, id=str(uuid.uuid4()), topic="order.placed", version=1,
        occurred_at="2026-01-01T00:00:00.000+00:00",
        payload=msgspec.Raw(msgspec.json.encode(event))))


def broker_pid() -> int | None:
    """The RabbitMQ server process (beam.smp) on this machine, for its CPU time."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "beam.smp":
                        return int(entry)
            except OSError:
                continue
    return None


class RabbitArm:
    name = "RabbitMQ"

    def __init__(self, target: RabbitTarget, url: str, data_dir: Path, report: str) -> None:
        import pika

        self._pika = pika
        data_dir.mkdir(parents=True, exist_ok=True)
        self._sent = 0
        self.databases = {name: data_dir / f"{name}.db" for name in SINKS}
        self.reporters = [f"rabbitmq/{name}" for name in SINKS]
        self._sinks: list[subprocess.Popen[bytes]] = []
        self._body = sample_body()
        stem = f"zeroshop-s3-{time.time_ns():x}"
        self._exchange = stem
        self._queues = [f"{stem}-{name}" for name in SINKS]
        self._broker = broker_pid()
        self._connection = pika.BlockingConnection(target.parameters())
        try:
            self._channel = self._connection.channel()
            self._channel.exchange_declare(stem, "fanout", durable=True)
            for queue in self._queues:
                # x-expires: queues left behind by a killed run disappear after ten minutes.
                self._channel.queue_declare(queue, durable=True, arguments={
                    "x-queue-type": "classic", "x-expires": 600_000})
                self._channel.queue_bind(queue, stem)
            self._target = target
            self._lock = threading.Lock()
            self._local = threading.local()  # each producer thread: its own connection
            self._producers: list[Any] = []
            self._sinks = [start_sink("rabbitmq", f"rabbitmq/{name}", path, report, "--amqp", url,
                                      "--queue", queue)
                           for (name, path), queue in zip(self.databases.items(),
                                                          self._queues, strict=True)]
        except BaseException:
            self.close()
            raise

    def _producer(self) -> Any:
        channel = getattr(self._local, "channel", None)
        if channel is None:
            connection = self._pika.BlockingConnection(self._target.parameters())
            channel = self._local.channel = connection.channel()
            channel.confirm_delivery()
            with self._lock:
                self._producers.append(connection)
        return channel

    def send(self) -> int:
        with self._lock:
            self._sent += 1
            key = self._sent
        self._producer().basic_publish(
            self._exchange, "", self._body, self._pika.BasicProperties(
                delivery_mode=self._pika.DeliveryMode.Persistent, message_id=str(key),
                content_type="application/json"), mandatory=True)  # returns once confirmed
        return key

    @property
    def sent(self) -> int:
        return self._sent

    def pids(self) -> dict[str, int]:
        broker = {"RabbitMQ (beam.smp)": self._broker} if self._broker else {}
        return {**broker, **{name: p.pid for name, p in zip(SINKS, self._sinks, strict=True)}}

    def close(self) -> None:
        stop_sinks(self._sinks)
        for connection in getattr(self, "_producers", []):
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - best effort at the end of a run
                pass
        try:
            if self._connection.is_open:
                for queue in self._queues:
                    self._channel.queue_delete(queue)
                self._channel.exchange_delete(self._exchange)
                self._connection.close()
        except Exception:  # noqa: BLE001 - best effort; x-expires removes the queues anyway
            pass
