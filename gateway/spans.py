"""The OpenTelemetry span of each HTTP request (when tracing is on, `shared.otel`): the root
of a page's trace, or the child of the client's own `traceparent` header. The RPC client
makes its calls' spans children of it."""

from __future__ import annotations

from flask import Flask, Response, g, request

from shared import otel

from .metrics import route


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_status)
    app.teardown_request(_end)


def _begin() -> None:
    if otel.tracer is None:
        return
    from opentelemetry import context, trace

    span = otel.start(f"{request.method} {route()}", "server",
                      request.headers.get("traceparent"),
                      {"http.request.method": request.method, "http.route": route(),
                       "zeroshop.trace": str(g.get("trace", ""))})
    g.otel_span = span
    g.otel_token = context.attach(trace.set_span_in_context(span))


def _status(response: Response) -> Response:
    span = g.get("otel_span")
    if span is not None:
        span.set_attribute("http.response.status_code", response.status_code)
    return response


def _end(_exc: BaseException | None) -> None:
    span = g.pop("otel_span", None)
    if span is None:
        return
    from opentelemetry import context

    context.detach(g.pop("otel_token"))
    span.end()
