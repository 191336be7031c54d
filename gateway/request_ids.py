"""One request id per HTTP request: `X-Request-ID` on every response, the trace id of every
RPC the request makes, of every event it causes and of every log line on its way.

A client's own id is echoed when it is sane (`shared.logs.SANE_TRACE`); otherwise, or
without one, the gateway makes one. Each request also leaves one access log line.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, g, request

from shared.logs import current_trace, sane_trace

HEADER = "X-Request-ID"
log = logging.getLogger("zeroshop.gateway.access")


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)


def _begin() -> None:
    g.trace = sane_trace(request.headers.get(HEADER))
    g.trace_token = current_trace.set(g.trace)
    g.started = time.perf_counter()


def _finish(response: Response) -> Response:
    trace = g.get("trace")
    if trace is not None:
        response.headers[HEADER] = trace
        elapsed_ms = (time.perf_counter() - g.started) * 1000
        log.info("%s %s %d %.1f ms", request.method, request.full_path.rstrip("?"),
                 response.status_code, elapsed_ms)
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("trace_token", None)
    if token is not None:
        current_trace.reset(token)
