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
import logging
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from shared.contracts import SERVICES, TOPIC_OF, Health, Method, NoParams
from shared.db import unit_of_work
from shared.errors import ServiceError
from shared.events.consumer import Subscription
from shared.events.outbox import EMITTED, PUBLISHES, TRACE
from shared.messaging import decode_request, encode_error, encode_result

from .replies import ReplyCache

log = logging.getLogger("zeroshop.runtime")
_result_encoder = msgspec.json.Encoder()

Handler = Callable[..., Any]


class ContractMismatch(TypeError):
    """A handler does not match the method or topic declared in shared.contracts."""


def _extra_names(handler: Handler) -> tuple[str, ...]:
    return tuple(inspect.signature(handler).parameters)[1:]


class Registered(NamedTuple):
    method: Method
    handler: Handler
    names: tuple[str, ...]  # parameters after the first, resolved by name per message


class Service:
    def __init__(self, name: str) -> None:
        self.name = name
        self.contract = SERVICES[name]
        self.handlers: dict[str, Registered] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.dependencies: dict[str, Any] = {}
        self._on_emit: Callable[[], None] = lambda: None
        self.replies = ReplyCache()  # run_service sizes it from the config
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
        self.handlers[method.name] = Registered(method, handler, _extra_names(handler))
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

    def add_builtins(self, handlers: Mapping[str, Handler]) -> None:
        for name, handler in handlers.items():
            self.handlers[name] = Registered(self.contract.methods[name], handler,
                                             _extra_names(handler))

    def dispatch(self, body: bytes, sessions: sessionmaker[Session],
                 caller: str | None = None) -> bytes | None:
        """Decode, validate, run and encode one request; never raises. `caller` is the CURVE
        key name of the client (None without CURVE), checked against the method's callers."""
        try:
            request = decode_request(body)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return encode_error(None, "bad_request", f"request must be a JSON object with a "
                                f"string 'method' and an object 'params': {exc}")
        except RecursionError:  # msgspec's answer to JSON nested a few thousand deep
            return encode_error(None, "bad_request", "request is nested too deeply")
        if request.deadline is not None and request.deadline < time.time():
            log.info("skipped %s (trace %s): deadline passed", request.method, request.trace)
            return None  # the caller has given up; answering would be wasted work
        entry = self.handlers.get(request.method)
        if entry is None:
            known = ", ".join(sorted(self.contract.methods))
            return encode_error(request.id, "unknown_method",
                                f"{self.name} has no method {request.method!r}; it has: {known}")
        method, handler, names = entry
        if caller is not None and method.callers is not None and caller not in method.callers:
            log.warning("refused %s.%s to key %r (trace %s)", self.name, method.name, caller,
                        request.trace)
            return encode_error(request.id, "forbidden",
                                f"{self.name}.{method.name} answers only to "
                                f"{', '.join(method.callers)}, not to the key {caller!r}")
        if method.query:  # answered from memory while nothing was written since
            key = (method.name, bytes(request.params))
            cached = self.replies.get(key)
            if cached is not None:
                return encode_result(request.id, cached)
            version = self.replies.version
        try:
            params = msgspec.json.decode(request.params, type=method.params)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            return encode_error(request.id, "bad_params", f"{method.name}: {exc}")
        except RecursionError:
            return encode_error(request.id, "bad_params", f"{method.name}: nested too deeply")
        try:
            with unit_of_work(sessions, read_only=method.query) as db:
                db.info[PUBLISHES] = self.contract.publishes
                db.info[TRACE] = request.trace
                extra = {n: db if n == "db" else self.dependencies[n] for n in names}
                result = handler(params, **extra)
            if method.query:
                encoded = msgspec.Raw(_result_encoder.encode(result))
                self.replies.put(key, encoded, version)
                return encode_result(request.id, encoded)
            self.replies.changed()
            if db.info.get(EMITTED):
                self._on_emit()
            return encode_result(request.id, result)
        except ServiceError as exc:
            return encode_error(request.id, exc.code, exc.message)
        except Exception:
            log.exception("%s.%s failed (trace %s)", self.name, method.name, request.trace)
            return encode_error(request.id, "internal", f"{method.name} failed; see the logs")
