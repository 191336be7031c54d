"""OpenTelemetry spans across the ZeroMQ hops, off (and free) unless asked for.

With `OTEL_EXPORTER_OTLP_ENDPOINT` set, `setup()` loads the SDK and exports spans over
OTLP/HTTP (the `otel` extra; the standard `OTEL_*` variables tune the exporter and batch).
Otherwise nothing of OpenTelemetry is imported, and the hot paths test one module
attribute (`tracer is None`) and go on.

The W3C `traceparent` of the span a message was sent from rides in the message: in the RPC
request (`Request.traceparent`) and in the event envelope (`Envelope.traceparent`, kept in
the outbox row), so one page is one trace: the gateway's HTTP span, a client span per call,
the service's server span, and for an order every consumer's span of every event it causes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("zeroshop.otel")

tracer: Any = None  # an opentelemetry Tracer once enabled; None: tracing is off
_provider: Any = None


def setup(process: str, environ: Mapping[str, str]) -> bool:
    """Export spans over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; True if on."""
    if not environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed "
                    "(pip install 'zeroshop[otel]'); tracing stays off")
        return False
    provider = TracerProvider(resource=Resource.create({"service.name": process}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    use(provider)
    return True


def use(provider: Any) -> None:
    """Trace with `provider` (an SDK TracerProvider; tests give one with a memory exporter)."""
    global tracer, _provider
    _provider = provider
    tracer = provider.get_tracer("zeroshop")


def shutdown() -> None:
    """Export what is pending and stop (at a clean exit)."""
    global tracer, _provider
    if _provider is not None:
        _provider.shutdown()
    tracer = _provider = None


def traceparent_of(span: Any) -> str:
    """The W3C traceparent header of `span`: version, trace id, span id, flags."""
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The traceparent of the span in progress, to send along; None when tracing is off."""
    if tracer is None:
        return None
    from opentelemetry import trace

    span = trace.get_current_span()
    return traceparent_of(span) if span.get_span_context().is_valid else None


def _parent(traceparent: str | None) -> Any:
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract({"traceparent": traceparent or ""})


def start(name: str, kind: str, traceparent: str | None = None,
          attributes: Mapping[str, str] | None = None) -> Any:
    """A span that is not current (client spans of a fan-out); None when tracing is off.
    `kind`: server, client, consumer. With a `traceparent` it continues that trace, else
    the current span's."""
    if tracer is None:
        return None
    from opentelemetry.trace import SpanKind

    context = _parent(traceparent) if traceparent else None
    return tracer.start_span(name, context=context, kind=SpanKind[kind.upper()],
                             attributes=dict(attributes or {}))


@contextmanager
def span(name: str, kind: str, traceparent: str | None,
         attributes: Mapping[str, str] | None = None) -> Iterator[Any]:
    """A current span around handling one message, child of the sender's `traceparent`.
    Only called when tracing is on (callers test `tracer` first: no context manager at all
    on the hot path otherwise)."""
    from opentelemetry import context, trace

    started = start(name, kind, traceparent, attributes)
    token = context.attach(trace.set_span_in_context(started))
    try:
        yield started
    except Exception as exc:
        started.record_exception(exc)
        started.set_status(trace.Status(trace.StatusCode.ERROR, str(exc)))
        raise
    finally:
        context.detach(token)
        started.end()


def end(started: Any, outcome: str, monotonic_end: float) -> None:
    """End a client span with its call's outcome, at the moment the reply came."""
    from opentelemetry import trace

    started.set_attribute("rpc.outcome", outcome)
    if outcome != "ok":
        started.set_status(trace.Status(trace.StatusCode.ERROR, outcome))
    late_ns = int((time.monotonic() - monotonic_end) * 1e9)
    started.end(end_time=time.time_ns() - max(0, late_ns))
