"""What the request id and the metrics add to one RPC, measured in this process.

`Service.dispatch` of pricing's `get_price` answered from the reply cache (the cheapest RPC
there is, so the instrumentation weighs the most there), against the instrumentation alone:
the trace id's context variable set and reset, two clock reads, the method's histogram
looked up and observed. Then a write (`place_order`-like cost is a commit: milliseconds)
needs no measurement to see the share is smaller still.

    .venv/bin/python -m bench.feature_costs.instrumentation --calls 20000 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from services.pricing.models import Base
from services.pricing.service import seed, svc
from shared import otel
from shared.contracts.pricing import GetPrice, Price
from shared.db import make_engine, unit_of_work
from shared.logs import current_trace
from shared.messaging import Call, RpcClient, RpcServer, new_context
from shared.messaging.codec import Request, encode_request
from shared.metrics import RPC_SECONDS


def _instrumentation_alone(calls: int) -> float:
    timers: dict[str, object] = {}
    started = time.perf_counter()
    for _ in range(calls):
        begin = time.perf_counter()
        token = current_trace.set("bench-trace")
        current_trace.reset(token)
        timer = timers.get("get_price")
        if timer is None:
            timer = timers["get_price"] = RPC_SECONDS.labels("bench", "get_price")
        timer.observe(time.perf_counter() - begin)  # type: ignore[attr-defined]
    return (time.perf_counter() - started) / calls


def _dispatch(calls: int, body: bytes, sessions: sessionmaker) -> float:  # type: ignore[type-arg]
    started = time.perf_counter()
    for _ in range(calls):
        svc.dispatch(body, sessions)
    return (time.perf_counter() - started) / calls


def _traced_dispatch(calls: int, body: bytes,
                     sessions: sessionmaker) -> float:  # type: ignore[type-arg]
    """The same dispatch with tracing on: the SDK makes and ends a span per request (no
    processor, so what an exporter adds in its own thread is not counted)."""
    from opentelemetry.sdk.trace import TracerProvider

    otel.use(TracerProvider())
    try:
        return _dispatch(calls, body, sessions)
    finally:
        otel.shutdown()


def _round_trip(calls: int, sessions: sessionmaker) -> float:  # type: ignore[type-arg]
    """The same call over a real loopback socket: a DEALER client, the service's ROUTER."""
    ctx = new_context()
    server = RpcServer(ctx, "tcp://127.0.0.1:*")
    stopping = threading.Event()
    thread = threading.Thread(target=server.serve,
                              args=(lambda body: svc.dispatch(body, sessions), stopping.is_set))
    thread.start()
    client = RpcClient(ctx, {"pricing": server.endpoint})
    call = Call("pricing", "get_price", GetPrice(product_id=1), Price)
    try:
        client.call(call, 2000)
        started = time.perf_counter()
        for _ in range(calls):
            client.call(call, 2000, "bench-trace")
        return (time.perf_counter() - started) / calls
    finally:
        stopping.set()
        thread.join()
        client.close()
        server.close()
        ctx.term()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.feature_costs.instrumentation", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'pricing.db'}")
        Base.metadata.create_all(engine)
        sessions = sessionmaker(engine, expire_on_commit=False)
        with unit_of_work(sessions) as db:
            seed(db)
        body = encode_request(Request(method="get_price", id="1", trace="bench-trace"),
                              {"product_id": 1})
        svc.dispatch(body, sessions)  # fills the reply cache
        dispatch, alone, trip, traced = [], [], [], []
        for _ in range(args.rounds):  # interleaved, so drift on a busy machine hits all
            dispatch.append(_dispatch(args.calls, body, sessions))
            alone.append(_instrumentation_alone(args.calls))
            trip.append(_round_trip(args.calls // 10, sessions))
            traced.append(_traced_dispatch(args.calls, body, sessions))
        engine.dispose()
    d, a = statistics.median(dispatch) * 1e6, statistics.median(alone) * 1e6
    t = statistics.median(trip) * 1e6
    print(f"dispatch of a cached get_price, instrumented: {d:.1f} us (median of {args.rounds} "
          f"rounds of {args.calls})")
    print(f"the instrumentation alone: {a:.2f} us, {a / d:.0%} of that dispatch")
    print(f"with OpenTelemetry on (a server span per request, nothing exported): "
          f"{statistics.median(traced) * 1e6:.1f} us")
    print(f"the same call over loopback (DEALER -> ROUTER, reply decoded): {t:.1f} us; "
          f"the instrumentation is {a / t:.1%} of it")


if __name__ == "__main__":
    main()
