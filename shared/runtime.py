"""The service runtime: handler registration, validation on the wire, the serve loop,
and the event bus threads (relay and consumer) for services that publish or consume.

    svc = Service("inventory")

    @svc.rpc
    def get_stock(params: GetStock, db: Session) -> Stock: ...

    @svc.on(OrderPlaced)
    def reserve_stock(event: OrderPlaced, db: Session) -> None: ...

Decorators return the handler unchanged, so tests call it directly with a session.
Parameters after the first are given by name: `db` (the message's session), `envelope`
(an event's envelope) and whatever `dependencies` the service's main() passes (a sender).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import signal
import sys
import threading
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from sqlalchemy import MetaData
from sqlalchemy.orm import Session, sessionmaker

from .config import ServiceConfig
from .contracts import SERVICES, TOPIC_OF, Health, Method, NoParams
from .db import make_engine, unit_of_work
from .errors import ServiceError
from .events.builtins import consumer_handlers, publisher_handlers
from .events.consumer import Consumer, Subscription
from .events.follow import Source
from .events.models import EventsBase
from .events.outbox import EMITTED, PUBLISHES, TRACE, ensure_counter
from .events.relay import Relay
from .messaging import (
    BindError,
    Publisher,
    RpcServer,
    decode_request,
    encode_error,
    encode_result,
    new_context,
)

log = logging.getLogger("zeroshop.runtime")

Handler = Callable[..., Any]


class ContractMismatch(TypeError):
    """A handler does not match the method or topic declared in shared.contracts."""


def _extra_names(handler: Handler) -> tuple[str, ...]:
    return tuple(inspect.signature(handler).parameters)[1:]


class Service:
    def __init__(self, name: str) -> None:
        self.name = name
        self.contract = SERVICES[name]
        self.handlers: dict[str, tuple[Method, Handler]] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.dependencies: dict[str, Any] = {}
        self._on_emit: Callable[[], None] = lambda: None
        self.add_builtins({"health": self._health})

    def _health(self, params: NoParams) -> Health:
        return Health(service=self.name, status="ok", methods=sorted(self.contract.methods))

    def rpc(self, handler: Handler) -> Handler:
        """Register `handler` as the RPC method of the same name; checks it against the contract."""
        method = self.contract.methods.get(handler.__name__)
        if method is None:
            raise ContractMismatch(f"{self.name}.{handler.__name__} is not in the contract")
        hints = typing.get_type_hints(handler)
        params_type = next(iter(hints.values()))
        if params_type is not method.params or hints.get("return") is not method.result:
            raise ContractMismatch(
                f"{self.name}.{method.name} must take {method.params.__name__} and return "
                f"{method.result.__name__}"
            )
        self.handlers[method.name] = (method, handler)
        return handler

    def on(self, event_type: type) -> Callable[[Handler], Handler]:
        """Register the handler of one consumed event type (its topic comes from contracts)."""
        topic = TOPIC_OF[event_type].name
        if topic not in self.contract.consumes:
            raise ContractMismatch(f"{self.name} does not consume {topic!r} in its contract")

        def register(handler: Handler) -> Handler:
            self.subscriptions[topic] = Subscription(topic, event_type, handler,
                                                     _extra_names(handler), self.dependencies)
            return handler
        return register

    def missing(self) -> list[str]:
        methods = [m for m in self.contract.methods if m not in self.handlers]
        topics = [f"on {t}" for t in self.contract.consumes if t not in self.subscriptions]
        return methods + topics

    def missing_methods(self) -> list[str]:
        return [m for m in self.missing() if not m.startswith("on ")]

    def add_builtins(self, handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            self.handlers[name] = (self.contract.methods[name], handler)

    def dispatch(self, body: bytes, sessions: sessionmaker[Session]) -> bytes | None:
        """Decode, validate, run and encode one request; never raises."""
        try:
            request = decode_request(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return encode_error(None, "bad_request", f"request must be a JSON object with a "
                                f"string 'method' and an object 'params': {exc}")
        if request.deadline is not None and request.deadline < time.time():
            log.info("skipped %s (trace %s): deadline passed", request.method, request.trace)
            return None  # the caller has given up; answering would be wasted work
        entry = self.handlers.get(request.method)
        if entry is None:
            known = ", ".join(sorted(self.contract.methods))
            return encode_error(request.id, "unknown_method",
                                f"{self.name} has no method {request.method!r}; it has: {known}")
        method, handler = entry
        try:
            params = msgspec.json.decode(request.params, type=method.params)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return encode_error(request.id, "bad_params", f"{method.name}: {exc}")
        try:
            with unit_of_work(sessions) as db:
                db.info[PUBLISHES] = self.contract.publishes
                db.info[TRACE] = request.trace
                extra = {n: db if n == "db" else self.dependencies[n]
                         for n in _extra_names(handler)}
                result = handler(params, **extra)
            if db.info.get(EMITTED):
                self._on_emit()
            return encode_result(request.id, result)
        except ServiceError as exc:
            return encode_error(request.id, exc.code, exc.message)
        except Exception:
            log.exception("%s.%s failed (trace %s)", self.name, method.name, request.trace)
            return encode_error(request.id, "internal", f"{method.name} failed; see the logs")


def _ready_line(service: str, endpoint: str, events_endpoint: str) -> None:
    # One line on stdout tells a supervisor (zeroshop up, the tests) where we listen.
    line = {"event": "ready", "service": service, "endpoint": endpoint}
    if events_endpoint:
        line["events_endpoint"] = events_endpoint
    print(json.dumps(line), flush=True)


def run_service(service: Service, config: ServiceConfig, metadata: MetaData,
                seed: Callable[[Session], None] | None = None,
                dependencies: Mapping[str, Any] | None = None) -> None:
    """Create tables, seed once, bind, serve until SIGTERM/SIGINT, then close and return."""
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format=f"%(asctime)s {service.name} %(levelname)s %(message)s")
    service.dependencies.update(dependencies or {})
    contract = service.contract
    engine = make_engine(config.database_url)
    metadata.create_all(engine)
    if contract.publishes or contract.consumes:
        EventsBase.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with unit_of_work(sessions) as db:
        if contract.publishes:
            ensure_counter(db)
        if seed is not None and config.seed:
            seed(db)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    ctx = new_context()
    threads: list[threading.Thread] = []
    closers: list[Callable[[], None]] = []
    try:
        try:
            server = RpcServer(ctx, config.bind)
            closers.append(server.close)
            publisher = Publisher(ctx, config.events_bind) if contract.publishes else None
        except BindError as exc:
            log.error("%s (is another ZeroShop running? %s_BIND / %s_EVENTS_BIND set the "
                      "addresses)", exc, service.name.upper(), service.name.upper())
            raise SystemExit(1) from None
        relay = None
        if publisher is not None:
            closers.append(publisher.close)
            relay = Relay(service.name, sessions, publisher, config.heartbeat_ms / 1000)
            service.add_builtins(publisher_handlers(relay))
            threads.append(threading.Thread(target=relay.run, args=(stopping,), name="relay"))
        service._on_emit = _emit_hook(config, relay)
        if contract.consumes:
            consumer = Consumer(sessions, service.subscriptions, contract.publishes,
                                service._on_emit, config.max_attempts,
                                config.retry_base_ms / 1000)
            service.add_builtins(consumer_handlers(consumer))
            sources = {p: Source(config.endpoints[p], config.events_endpoints[p])
                       for p in _publishers_of(contract.consumes)}
            threads.append(threading.Thread(target=consumer.run, args=(ctx, sources, stopping),
                                            name="consumer"))
        missing = service.missing()
        if missing:
            raise ContractMismatch(f"{service.name} does not implement: {', '.join(missing)}")
        for thread in threads:
            thread.start()
        _ready_line(service.name, server.endpoint, publisher.endpoint if publisher else "")
        log.info("serving on %s (database %s)", server.endpoint, engine.url.render_as_string())
        server.serve(lambda body: service.dispatch(body, sessions), stopping.is_set)
    finally:
        stopping.set()
        for thread in threads:
            thread.join()
        for close in closers:
            close()
        ctx.term()
        engine.dispose()
    log.info("stopped")


def _publishers_of(topics: tuple[str, ...]) -> list[str]:
    from .contracts import TOPICS

    return sorted({p for t in topics for p in TOPICS[t].publishers})


def _emit_hook(config: ServiceConfig, relay: Relay | None) -> Callable[[], None]:
    def on_emit() -> None:
        if config.crash_after_commit:
            os._exit(86)  # fault injection: committed, but the relay never ran
        if relay is not None:
            relay.wake()
    return on_emit
