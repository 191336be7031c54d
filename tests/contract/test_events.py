"""Event contracts: two real orders go through orders, inventory, email and sms (one
confirmed, one rejected); then every event each publisher really published must match its
topic (strict decode and JSON Schema, version, a UUID id, an ISO 8601 time, gap-free seqs),
and every consumer must find in it the fields its expects.py says it reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
import pytest

from shared.catalog_seed import products
from shared.contracts import SERVICES, TOPICS
from shared.contracts.events import OrderLine
from shared.contracttools.expectations import load as load_expectations

from ..support import Platform, wait_for
from .provider import schema_errors, validator
from .samples import PLACE
from .wire import Wire, missing_paths

SHOP = ("orders", "inventory", "email", "sms")
PUBLISHERS = [name for name in SHOP if SERVICES[name].publishes]
IN_STOCK = next(p for p in products() if p.stock >= 20)
SOLD_OUT = next(p for p in products() if p.stock == 0)
READS = [(e.consumer, topic, paths) for e in load_expectations()
         for topic, paths in e.events.items()]


def _place(orders: Wire, product: Any) -> int:
    line = OrderLine(product_id=product.id, name=product.name, quantity=1,
                     unit_price=product.price, final_unit_price=product.price)
    command = {"customer": msgspec.to_builtins(PLACE.customer),
               "lines": [msgspec.to_builtins(line)], "currency": "USD"}
    return int(orders.result("place_order", command)["order_id"])


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """Each publisher's fetch_events answer once both orders have been notified."""
    platform = Platform(tmp_path_factory.mktemp("events"), services=SHOP, gateway=False)
    wires: dict[str, Wire] = {}
    try:
        wires = {name: Wire(platform.endpoints[name]) for name in SHOP}
        _place(wires["orders"], IN_STOCK)
        _place(wires["orders"], SOLD_OUT)
        wait_for(lambda: all(wires[n].result("list_sent")["total"] == 2 for n in ("email", "sms")),
                 timeout=20, what="an email and an SMS for each of the two orders")
        batches = {p: wires[p].result("fetch_events", {"after": 0, "limit": 1000})
                   for p in PUBLISHERS}
    finally:
        for wire in wires.values():
            wire.close()
        platform.close()
    yield batches


@pytest.mark.parametrize("publisher", PUBLISHERS)
class TestEveryPublishedEventKeepsItsTopicContract:
    def test_payloads_decode_strictly_and_validate_against_the_topic_schema(
            self, published: dict[str, Any], publisher: str) -> None:
        for event in published[publisher]["events"]:
            payload_type = TOPICS[event["topic"]].payload
            where = f"{publisher}#{event['seq']} {event['topic']}"
            try:
                msgspec.json.decode(msgspec.json.encode(event["payload"]), type=payload_type,
                                    strict=True)
            except msgspec.ValidationError as exc:
                raise AssertionError(f"{where}: {exc}") from None
            problems = schema_errors(validator(payload_type, closed=True), event["payload"])
            assert not problems, f"{where} is outside {payload_type.__name__}: {problems}"

    def test_envelopes_carry_version_uuid_time_and_gap_free_seqs(
            self, published: dict[str, Any], publisher: str) -> None:
        batch = published[publisher]
        seqs = [e["seq"] for e in batch["events"]]
        assert seqs == list(range(1, len(seqs) + 1)) and batch["last_seq"] == len(seqs), seqs
        for event in batch["events"]:
            where = f"{publisher}#{event['seq']} {event['topic']}"
            topic = TOPICS[event["topic"]]
            assert publisher in topic.publishers, f"{where}: the topic names {topic.publishers}"
            assert (event["publisher"], event["version"]) == (publisher, topic.version), where
            assert str(uuid.UUID(event["id"])) == event["id"], f"{where}: id {event['id']!r}"
            at = datetime.fromisoformat(event["occurred_at"])
            assert at.utcoffset() is not None, f"{where}: {event['occurred_at']!r} has no zone"

    def test_the_scenario_published_every_topic_the_contract_lists(
            self, published: dict[str, Any], publisher: str) -> None:
        seen = {e["topic"] for e in published[publisher]["events"]}
        assert seen == set(SERVICES[publisher].publishes), (
            f"{publisher} published {sorted(seen)}; its contract lists "
            f"{sorted(SERVICES[publisher].publishes)}")


@pytest.mark.parametrize(("consumer", "topic", "paths"), READS, ids=[
    f"{c}-{t}-from-{'+'.join(TOPICS[t].publishers)}" for c, t, _ in READS])
class TestConsumersFindWhatTheyReadInRealEvents:
    def test_every_declared_field_is_in_every_real_payload(
            self, published: dict[str, Any], consumer: str, topic: str,
            paths: tuple[str, ...]) -> None:
        events = [e for p in TOPICS[topic].publishers for e in published[p]["events"]
                  if e["topic"] == topic]
        assert events, f"the scenario published no {topic}"
        missing = {m for e in events for path in paths for m in missing_paths(e["payload"], path)}
        assert not missing, f"{consumer} reads {sorted(missing)} of {topic}: not in the payload"
