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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from shared import otel
from shared.contracts import SERVICES, TOPIC_OF, Health, Method, NoParams
from shared.db import unit_of_work
from shared.errors import ServiceError
from shared.events.consumer import Subscription
from shared.events.outbox import EMITTED, PUBLISHES, TRACE
from shared.logs import current_trace, tracing
from shared.messaging import Request, decode_request, encode_error, encode_result
from shared.metrics import RPC_ERRORS, RPC_GROUP_COMMITS, RPC_SECONDS, LabelledChildren

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
        self.served = 0  # requests dispatched, for `health`
        # A writer's standby replica (see lease.py) answers `health` and refuses the rest.
        self.standby = False
        self._timers = LabelledChildren(RPC_SECONDS)  # (service, method) -> its histogram
        self.add_builtins({"health": self._health})

    def _health(self, params: NoParams) -> Health:
        return Health(service=self.name, status="standby" if self.standby else "ok",
                      methods=sorted(self.contract.methods), served=self.served)

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
            self.served += 1
            RPC_ERRORS.labels(self.name, "-", "bad_request").inc()
            return encode_error(None, "bad_request", f"request must be a JSON object with a "
                                f"string 'method' and an object 'params': {exc}")
        except RecursionError:  # msgspec's answer to JSON nested a few thousand deep
            self.served += 1
            return encode_error(None, "bad_request", "request is nested too deeply")
        return self._dispatch_decoded(request, sessions, caller)

    def _dispatch_decoded(self, request: Request, sessions: sessionmaker[Session],
                          caller: str | None) -> bytes | None:
        self.served += 1
        started = time.perf_counter()
        method = self._known(request)
        token = current_trace.set(request.trace)  # on every log line of this request
        try:
            if otel.tracer is None:
                reply = self._answer(request, sessions, caller)
            else:  # a server span, child of the caller's client span
                with otel.span(f"{self.name}/{method}", "server", request.traceparent,
                               {"rpc.system": "zeromq", "rpc.service": self.name,
                                "rpc.method": method}):
                    reply = self._answer(request, sessions, caller)
        finally:
            current_trace.reset(token)
        self._timer(method).observe(time.perf_counter() - started)
        return reply

    def _known(self, request: Request) -> str:
        """The method's name as a metric label: a client's typo must not make a new series."""
        return request.method if request.method in self.handlers else "unknown"

    def _error(self, request: Request, code: str, message: str) -> bytes:
        RPC_ERRORS.labels(self.name, self._known(request), code).inc()
        return encode_error(request.id, code, message)

    def dispatch_many(self, requests: Sequence[tuple[bytes, str | None]],
                      sessions: sessionmaker[Session]) -> Iterator[tuple[int, bytes | None]]:
        """Answer requests that queued up together, yielding (index, reply) in order. A run
        of consecutive group-commit writes (`Method.group_commit`) shares one transaction,
        each handler in its own savepoint: one commit, one fsync, for the whole run. Every
        other request is answered alone, exactly as `dispatch` would; a write's reply goes
        out only once its commit is done."""
        group: list[tuple[int, Request]] = []
        for index, (body, caller) in enumerate(requests):
            try:
                request = decode_request(body)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                request = None  # dispatch answers it with its error
            if request is not None and self._groupable(request, caller):
                group.append((index, request))
                continue
            if group:
                yield from self._answer_group(group, sessions)
                group = []
            yield index, (self.dispatch(body, sessions, caller) if request is None
                          else self._dispatch_decoded(request, sessions, caller))
        if group:
            yield from self._answer_group(group, sessions)

    def _groupable(self, request: Request, caller: str | None) -> bool:
        """May it join a group commit: a group-commit method, the caller allowed, its
        deadline not passed, this replica active, tracing off (a span per request is
        simpler alone)? Anything else goes the usual way, with its usual answer."""
        if self.standby or otel.tracer is not None:
            return False
        entry = self.handlers.get(request.method)
        if entry is None or not entry.method.group_commit or "db" not in entry.names:
            return False
        if request.deadline is not None and request.deadline < time.time():
            return False
        callers = entry.method.callers
        return caller is None or callers is None or caller in callers

    def _answer_group(self, group: list[tuple[int, Request]],
                      sessions: sessionmaker[Session]) -> Iterator[tuple[int, bytes | None]]:
        if len(group) <= 1:
            for index, request in group:
                yield index, self._dispatch_decoded(request, sessions, None)
            return
        started = time.perf_counter()
        self.served += len(group)
        replies: dict[int, bytes] = {}  # bad params: answered without touching the database
        results: dict[int, Any] = {}
        failed: int | None = None  # the position in `group` of a handler that raised
        try:
            with unit_of_work(sessions) as db:
                db.info[PUBLISHES] = self.contract.publishes
                for position, (index, request) in enumerate(group):
                    failed = position
                    method, handler, names = self.handlers[request.method]
                    try:
                        params = msgspec.json.decode(request.params, type=method.params)
                    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError) as exc:
                        replies[index] = self._error(request, "bad_params",
                                                     f"{method.name}: {exc}")
                        continue
                    db.info[TRACE] = request.trace
                    with tracing(request.trace):
                        results[index] = handler(params, **{
                            n: db if n == "db" else self.dependencies[n] for n in names})
                failed = None  # every handler ran: what fails now is the commit
        except Exception:  # noqa: BLE001 - answered below, each with its own error
            # The whole group is rolled back. A handler that refused (a reused idempotency
            # key) or failed runs again alone, for its own answer; the requests before it and
            # after it form groups again. A failed commit answers each request alone.
            # (Handlers of a group-commit method only touch the database, so running one
            # again is safe. A savepoint per handler would undo one alone instead, but costs
            # about 30% more CPU per order, for a case that is rare.)
            log.debug("a group of %d %s requests is rolled back", len(group),
                      group[0][1].method, exc_info=True)
            self.served -= len(group)
            if failed is None:
                for index, request in group:
                    yield index, self._dispatch_decoded(request, sessions, None)
                return
            yield from self._answer_group(group[:failed], sessions)
            index, request = group[failed]
            yield index, self._dispatch_decoded(request, sessions, None)
            yield from self._answer_group(group[failed + 1:], sessions)
            return
        RPC_GROUP_COMMITS.labels(self.name, group[0][1].method).observe(len(group))
        if results:
            self.replies.changed()
            if db.info.get(EMITTED):
                self._on_emit()
        elapsed = time.perf_counter() - started
        for index, request in group:
            if index in results:
                if request.trace is not None:
                    with tracing(request.trace):
                        log.info("%s committed", request.method)
                reply = encode_result(request.id, results[index])
            else:
                reply = replies[index]
            self._timer(request.method).observe(elapsed)  # what each caller waited for
            yield index, reply

    def _timer(self, method: str) -> Any:
        return self._timers(self.name, method)

    def _answer(self, request: Request, sessions: sessionmaker[Session],
                caller: str | None) -> bytes | None:
        if request.deadline is not None and request.deadline < time.time():
            log.info("skipped %s: deadline passed", request.method)
            RPC_ERRORS.labels(self.name, self._known(request), "deadline_passed").inc()
            return None  # the caller has given up; answering would be wasted work
        if self.standby and request.method != "health":
            return encode_error(request.id, "standby", f"this {self.name} replica is a standby; "
                                f"the active one answers {request.method} (ask another)")
        entry = self.handlers.get(request.method)
        if entry is None:
            known = ", ".join(sorted(self.contract.methods))
            return self._error(request, "unknown_method",
                               f"{self.name} has no method {request.method!r}; it has: {known}")
        method, handler, names = entry
        if caller is not None and method.callers is not None and caller not in method.callers:
            log.warning("refused %s.%s to key %r", self.name, method.name, caller)
            return self._error(request, "forbidden",
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
            return self._error(request, "bad_params", f"{method.name}: {exc}")
        except RecursionError:
            return self._error(request, "bad_params", f"{method.name}: nested too deeply")
        try:
            if "db" not in names:
                # A handler without the database (health): no transaction to open, and
                # nothing written, so the reply cache stays (a breaker's probe or a
                # readiness check must not make every lookup read the database again).
                result = handler(params, **{n: self.dependencies[n] for n in names})
                return encode_result(request.id, result)
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
            if request.trace is not None:  # a traced write: what `zeroshop trace` follows
                log.info("%s committed", method.name)
            return encode_result(request.id, result)
        except ServiceError as exc:
            log.info("%s answered %s: %s", method.name, exc.code, exc.message)
            return self._error(request, exc.code, exc.message)
        except Exception:
            log.exception("%s.%s failed", self.name, method.name)
            return self._error(request, "internal", f"{method.name} failed; see the logs")
