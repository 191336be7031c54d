"""Request parsing and route documentation, both from the same msgspec schemas.

`@documented(...)` records a view's input and output types; `/openapi.json` is generated
from those records, and `parse()` validates requests with the very same types.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from flask import Response, current_app, g, request

from shared.logs import sane_trace
from shared.messaging import Outcome, RpcError

from .errors import ApiError

T = TypeVar("T")
View = TypeVar("View", bound=Callable[..., Any])


@dataclass(frozen=True)
class RouteDoc:
    summary: str
    response: type
    query: type | None = None
    path: type | None = None
    body: type | None = None
    errors: tuple[int, ...] = ()
    stream: str | None = None  # media type of a streamed response
    statuses: tuple[int, ...] = (200,)  # the success statuses, each with `response`


def documented(summary: str, response: type, *, query: type | None = None,
               path: type | None = None, body: type | None = None,
               errors: tuple[int, ...] = (), stream: str | None = None,
               statuses: tuple[int, ...] = (200,)) -> Callable[[View], View]:
    def mark(view: View) -> View:
        view.route_doc = RouteDoc(  # type: ignore[attr-defined]
            summary, response, query, path, body, errors, stream, statuses)
        return view
    return mark


def parse(kind: str, values: Mapping[str, Any], schema: type[T]) -> T:
    """Validate path or query values against `schema`; a 400 names the field and the rule."""
    try:
        return msgspec.convert(dict(values), schema, strict=False)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "bad_request", f"invalid {kind} parameter: {_readable(exc)}") from None


# JSON Schema's `integer` admits 83.0, so the API does too: a whole float becomes an int.
_whole_floats = msgspec.json.Decoder(float_hook=lambda s: int(f) if (f := float(s)).is_integer()
                                     else f)


def parse_body(schema: type[T]) -> T:
    """Decode the JSON body into `schema`: 400 if it is not JSON, 422 if it breaks the schema."""
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = request.get_data()
    try:
        try:
            return msgspec.json.decode(raw, type=schema)
        except msgspec.ValidationError:
            return msgspec.convert(_whole_floats.decode(raw), schema)  # the slow path
    except msgspec.ValidationError as exc:
        raise ApiError(422, "validation_error", f"invalid body: {_readable(exc)}") from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad_request", f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise ApiError(400, "bad_request", "the body is nested too deeply") from None


def _readable(exc: msgspec.ValidationError) -> str:
    # msgspec says "Expected `int` <= 100 - at `$.page_size`"; put the field first.
    text = str(exc)
    if " - at `$." in text:
        message, field = text.rsplit(" - at `$.", 1)
        return f"{field.rstrip('`')}: {message}"
    return text


# The WSGI environ key holding time.monotonic() when the HTTP edge had the request's head.
ARRIVED = "zeroshop.arrived"


def page_deadline_ms() -> float:
    """What is left of the page's deadline (PAGE_DEADLINE_MS), counted from the request's
    arrival at the gateway, not from the view: time spent reading the body or waiting for a
    Flask thread counts against it, so a page answers within about its deadline however it
    was queued (and a caller calling twice, as list_products does, shares one deadline)."""
    budget = float(current_app.config["ZEROSHOP"].page_deadline_ms)
    arrived: float | None = request.environ.get(ARRIVED)
    if arrived is None:  # not through the edge (a test client, another WSGI server)
        return budget
    return max(1.0, budget - (time.monotonic() - arrived) * 1000)


def trace_id() -> str:
    """This request's trace id (gateway.request_ids); it travels with every RPC."""
    if "trace" not in g:  # outside a request's hooks (a view called directly)
        g.trace = sane_trace(request.headers.get("X-Request-ID"))
    return str(g.trace)


def required(outcome: Outcome[Any], service: str) -> Any:
    """The value of a call the answer cannot do without; its error becomes the answer's."""
    if not outcome.ok:
        raise RpcError(service, outcome.error or "internal", outcome.message)
    return outcome.value


def json_response(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status=status, mimetype="application/json")
