"""The service runtime: handler registration, validation on the wire, the serve loop.

    svc = Service("pricing")

    @svc.rpc
    def get_price(params: GetPrice, db: Session) -> Price: ...

The decorator returns the handler unchanged, so tests call it directly with a session.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import time
import typing
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import MetaData
from sqlalchemy.orm import Session, sessionmaker

from .config import ServiceConfig
from .contracts import SERVICES, Health, Method
from .db import make_engine, unit_of_work
from .errors import ServiceError
from .messaging import (
    BindError,
    RpcServer,
    decode_request,
    encode_error,
    encode_result,
    new_context,
)

log = logging.getLogger("zeroshop.runtime")

Handler = Callable[[Any, Session], Any]


class ContractMismatch(TypeError):
    """A handler does not match the method declared in shared.contracts."""


class Service:
    def __init__(self, name: str) -> None:
        self.name = name
        self.contract = SERVICES[name]
        self.handlers: dict[str, tuple[Method, Handler]] = {}

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

    def missing_methods(self) -> list[str]:
        return [m for m in self.contract.methods if m != "health" and m not in self.handlers]

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
        if request.method == "health":
            return encode_result(request.id, Health(
                service=self.name, status="ok", methods=sorted(self.contract.methods)))
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
                result = handler(params, db)
            return encode_result(request.id, result)
        except ServiceError as exc:
            return encode_error(request.id, exc.code, exc.message)
        except Exception:
            log.exception("%s.%s failed (trace %s)", self.name, method.name, request.trace)
            return encode_error(request.id, "internal", f"{method.name} failed; see the logs")


def run_service(service: Service, config: ServiceConfig, metadata: MetaData,
                seed: Callable[[Session], None] | None = None) -> None:
    """Create tables, seed once, bind, serve until SIGTERM/SIGINT, then close and return."""
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format=f"%(asctime)s {service.name} %(levelname)s %(message)s")
    missing = service.missing_methods()
    if missing:
        raise ContractMismatch(f"{service.name} does not implement: {', '.join(missing)}")
    engine = make_engine(config.database_url)
    metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    if seed is not None and config.seed:
        with unit_of_work(sessions) as db:
            seed(db)
    stopping: list[int] = []

    def stop(signum: int, _frame: object) -> None:
        stopping.append(signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    ctx = new_context()
    try:
        server = RpcServer(ctx, config.bind)
    except BindError as exc:
        ctx.term()
        log.error("%s (is another ZeroShop running? %s_BIND sets the address)",
                  exc, service.name.upper())
        raise SystemExit(1) from None
    # One line on stdout tells a supervisor (zeroshop up, the tests) where we listen.
    print(json.dumps({"event": "ready", "service": service.name, "endpoint": server.endpoint}),
          flush=True)
    log.info("serving on %s (database %s)", server.endpoint, engine.url.render_as_string())
    try:
        server.serve(lambda body: service.dispatch(body, sessions), lambda: bool(stopping))
    finally:
        server.close()
        ctx.term()
        engine.dispose()
    log.info("stopped")
