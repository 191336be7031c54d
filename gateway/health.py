"""Liveness and readiness: /healthz says the process is up, /readyz that every service answers."""

from __future__ import annotations

from flask import Blueprint, Response, current_app

from shared.config import DEFAULT_PORTS
from shared.contracts import Health as ServiceHealth
from shared.contracts import NoParams
from shared.messaging import Call

from .api import documented, json_response
from .clients import rpc
from .schemas import Health, Readiness

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@documented("The gateway process is alive.", Health)
def healthz() -> Response:
    return json_response(Health("ok"))


@bp.get("/readyz")
@documented("Ready only when every service answers its health call within the page deadline.",
            Readiness, errors=(503,))
def readyz() -> Response:
    deadline = current_app.config["ZEROSHOP"].page_deadline_ms
    names = list(DEFAULT_PORTS)
    outcomes = rpc().gather([Call(name, "health", NoParams(), ServiceHealth) for name in names],
                            deadline)
    services = {name: "ok" if o.ok else str(o.error)
                for name, o in zip(names, outcomes, strict=True)}
    ready = all(o.ok for o in outcomes)
    return json_response(Readiness("ready" if ready else "not_ready", services),
                         200 if ready else 503)
