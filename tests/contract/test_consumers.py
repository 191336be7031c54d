"""Consumer contracts: what the gateway and each subscriber declare they read (their
expects.py) exists in the providers' schemas, and the declarations are honest: each event
handler, given a payload holding only its declared fields, still does its work.

Test ids name the consumer and the provider (`gateway-product.get`,
`inventory-order.placed-from-orders`), so `make contract SERVICE=<name>` picks both sides.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from sqlalchemy.orm import Session

from gateway.events import summary
from shared.contracts import SERVICES, TOPICS
from shared.contracts.bus import Envelope
from shared.contracttools.expectations import load as load_expectations
from shared.contracttools.expectations import (
    verify_consumes,
    verify_errors,
    verify_event,
    verify_rpc,
)
from shared.contracttools.schemas import resolve
from shared.contracttools.snapshot import export
from shared.events.outbox import now_iso

from ..support import memory_sessions
from .declared import build
from .samples import PLACE

EXPECTS = load_expectations()
RPC = [(e.consumer, key, paths) for e in EXPECTS for key, paths in e.rpc.items()]
ERRORS = [(e.consumer, key, codes) for e in EXPECTS for key, codes in e.errors.items()]
EVENTS = [(e.consumer, topic, paths) for e in EXPECTS for topic, paths in e.events.items()]
HANDLED = [(c, t, p) for c, t, p in EVENTS if c in SERVICES]
GATEWAY_EVENTS = [(t, p) for c, t, p in EVENTS if c == "gateway"]


def _topic_id(consumer: str, topic: str) -> str:
    return f"{consumer}-{topic}-from-{'+'.join(TOPICS[topic].publishers)}"


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return export(EXPECTS)


class TestDeclaredReadsExistInProviderSchemas:
    @pytest.mark.parametrize(("consumer", "key", "paths"), RPC,
                             ids=[f"{c}-{k}" for c, k, _ in RPC])
    def test_every_result_field_read_is_in_the_result_schema(
            self, doc: dict[str, Any], consumer: str, key: str, paths: tuple[str, ...]) -> None:
        problems = verify_rpc(doc, consumer, key, paths)
        assert not problems, "; ".join(problems)

    @pytest.mark.parametrize(("consumer", "key", "codes"), ERRORS,
                             ids=[f"{c}-{k}" for c, k, _ in ERRORS])
    def test_every_error_handled_by_code_is_documented(
            self, doc: dict[str, Any], consumer: str, key: str, codes: tuple[str, ...]) -> None:
        problems = verify_errors(doc, consumer, key, codes)
        assert not problems, "; ".join(problems)

    @pytest.mark.parametrize(("consumer", "topic", "paths"), EVENTS,
                             ids=[_topic_id(c, t) for c, t, _ in EVENTS])
    def test_every_payload_field_read_is_in_the_topic_schema(
            self, doc: dict[str, Any], consumer: str, topic: str, paths: tuple[str, ...]) -> None:
        problems = verify_event(doc, consumer, topic, paths)
        assert not problems, "; ".join(problems)

    @pytest.mark.parametrize("expects", EXPECTS, ids=[e.consumer for e in EXPECTS])
    def test_a_service_declares_the_topics_its_contract_consumes(
            self, doc: dict[str, Any], expects: Any) -> None:
        problems = verify_consumes(doc, expects)
        assert not problems, "; ".join(problems)


class _Sender:
    """Takes whatever a handler sends (email or SMS) and keeps it."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


@pytest.fixture
def db_of() -> Iterator[Any]:
    """`db_of(service)`: a session on a fresh in-memory database with that service's tables,
    seeded, plus the order the contract's place_order example makes (for orders)."""
    with memory_sessions() as session_for:
        def make(name: str) -> Session:
            module = importlib.import_module(f"services.{name}.service")
            db = session_for(name)
            if hasattr(module, "seed"):
                module.seed(db)
            if name == "orders":  # its handlers look the order up: make order 1
                module.place_order(PLACE, db)
            db.flush()
            return db

        yield make


class TestHandlersUseOnlyWhatTheyDeclare:
    @pytest.mark.parametrize(("consumer", "topic", "paths"), HANDLED,
                             ids=[_topic_id(c, t) for c, t, _ in HANDLED])
    def test_the_handler_works_on_a_payload_of_only_the_declared_fields(
            self, db_of: Any, consumer: str, topic: str, paths: tuple[str, ...]) -> None:
        db = db_of(consumer)
        subscription = importlib.import_module(f"services.{consumer}.service") \
            .svc.subscriptions[topic]
        envelope = Envelope(publisher=TOPICS[topic].publishers[0], seq=1, id=str(uuid.uuid4()),
                            topic=topic, version=TOPICS[topic].version, occurred_at=now_iso(),
                            payload=msgspec.Raw(b"{}"))
        given = {"db": db, "envelope": envelope, "sender": _Sender()}
        event = build(TOPICS[topic].payload, paths)
        try:
            subscription.handler(event, **{n: given[n] for n in subscription.names})
            db.flush()
        except Exception as exc:  # noqa: BLE001 - any failure means it used an undeclared field
            pytest.fail(f"{consumer}.{subscription.handler.__name__} uses more of {topic} than "
                        f"services/{consumer}/expects.py declares {list(paths)}: "
                        f"{type(exc).__name__}: {exc}")

    @pytest.mark.parametrize(("topic", "paths"), GATEWAY_EVENTS,
                             ids=[_topic_id("gateway", t) for t, _ in GATEWAY_EVENTS])
    def test_the_event_stream_summary_needs_only_the_declared_fields(
            self, topic: str, paths: tuple[str, ...]) -> None:
        payload = build(TOPICS[topic].payload, paths, as_dict=True)
        try:
            line = summary(topic, payload)
        except KeyError as exc:
            raise AssertionError(f"gateway/events.py summary() reads {exc} of {topic}, which "
                                 f"gateway/expects.py does not declare") from None
        assert line.startswith(("order ", "stock ", "email ", "sms ")), line


class _Line(msgspec.Struct):
    kind: str


class _Answer(msgspec.Struct):
    items: list[_Line]
    best: _Line | None


class TestFieldPathsAreResolvedInSchemas:
    def test_lists_refs_and_optionals_are_followed(self) -> None:
        schema = msgspec.json.schema(_Answer)
        assert resolve(schema, schema, "items[].kind") and resolve(schema, schema, "best.kind")

    def test_absent_or_misshapen_paths_are_reported_missing(self) -> None:
        schema = msgspec.json.schema(_Answer)
        for path in ("items[].tax", "best[].kind", "items.kind[]", "total"):
            assert not resolve(schema, schema, path), path
