"""run_service: tables, seed, sockets, the relay and consumer threads, and a clean stop."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import MetaData, make_url
from sqlalchemy.orm import Session

from shared import logs, metrics, otel
from shared.config import ServiceConfig
from shared.contracts import TOPICS
from shared.db import ensure_database, make_engine, session_factory, startup_lock, unit_of_work
from shared.events.builtins import consumer_handlers, publisher_handlers
from shared.events.consumer import Consumer
from shared.events.follow import Source
from shared.events.outbox import ensure_counter
from shared.events.relay import Relay
from shared.messaging import (
    BindError,
    CurveError,
    Keyring,
    Publisher,
    RpcServer,
    new_context,
    start_authenticator,
)
from shared.migrations import current_revision, migrate

from .lease import ACTIVE_POLL_S, WriterLease
from .replies import ReplyCache
from .service import ContractMismatch, Service

log = logging.getLogger("zeroshop.runtime")


def _ready_line(service: str, endpoint: str, events_endpoint: str, metrics: str,
                role: str) -> None:
    # One line on stdout tells a supervisor (zeroshop up, the tests) where we listen.
    line = {"event": "ready", "service": service, "endpoint": endpoint, "role": role}
    if events_endpoint:
        line["events_endpoint"] = events_endpoint
    if metrics:
        line["metrics_endpoint"] = metrics
    print(json.dumps(line), flush=True)


def run_service(service: Service, config: ServiceConfig, metadata: MetaData,
                seed: Callable[[Session], None] | None = None,
                dependencies: Mapping[str, Any] | None = None) -> None:
    """Migrate the database, seed once, bind, serve until SIGTERM/SIGINT, then close and
    return. `metadata` (the service's models) names the tables of its first revision."""
    logs.configure(service.name, config.log_level, os.environ)
    otel.setup(service.name, os.environ)
    # First: a Ctrl-C or SIGTERM during start-up then stops us cleanly at the serve loop.
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    service.dependencies.update(dependencies or {})
    service.replies = ReplyCache(config.reply_cache)
    contract = service.contract
    if config.create_database and ensure_database(config.database_url):
        log.info("created its database %s", make_url(config.database_url).database)
    engine = make_engine(config.database_url)
    sessions = session_factory(engine)
    with startup_lock(engine, service.name):
        before = migrate(engine, service.name, metadata.sorted_tables[0].name)
        now = current_revision(engine)
        if before != now:
            log.info("database schema: %s -> %s", before or "new", now)
        with unit_of_work(sessions) as db:
            if contract.publishes:
                ensure_counter(db)
            if seed is not None and config.seed:
                seed(db)
    try:
        keys = Keyring.load(config.curve_keys, service.name) if config.curve_keys else None
    except CurveError as exc:
        log.error("%s", exc)
        raise SystemExit(1) from None
    ctx = new_context(keys)
    lost_lease = threading.Event()
    threads: list[threading.Thread] = []
    closers: list[Callable[[], None]] = []
    try:
        if keys is not None:
            authenticator = start_authenticator(ctx)  # before any server binds
            closers.append(authenticator.stop)
            signal.signal(signal.SIGHUP, lambda *_: authenticator.reload())
        try:
            server = RpcServer(ctx, config.bind)
            closers.append(server.close)
            publisher = Publisher(ctx, config.events_bind) if contract.publishes else None
        except BindError as exc:
            log.error("%s (is another ZeroShop running? %s_BIND / %s_EVENTS_BIND set the "
                      "addresses)", exc, service.name.upper(), service.name.upper())
            raise SystemExit(1) from None
        bus_state = metrics.BusState(service.name, sessions, bool(contract.publishes),
                                     bool(contract.consumes))
        metrics_url = ""
        if config.metrics_port:
            try:
                http, _ = metrics.serve(config.metrics_port, config.metrics_host, bus_state)
            except OSError as exc:
                log.error("cannot serve metrics on %s:%d: %s (%s_METRICS_PORT sets the port)",
                          config.metrics_host, config.metrics_port, exc, service.name.upper())
                raise SystemExit(1) from None
            closers.extend((http.shutdown, http.server_close))
            metrics_url = f"http://{config.metrics_host}:{config.metrics_port}/metrics"
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
                                config.retry_base_ms / 1000, config.events_poll_ms,
                                config.crash_before_commit, service.replies.changed,
                                service.name)
            bus_state.lag = consumer.lag
            service.add_builtins(consumer_handlers(consumer))
            sources = {p: Source(config.endpoints[p], config.events_endpoints[p])
                       for p in _publishers_of(contract.consumes)}
            threads.append(threading.Thread(target=consumer.run, args=(ctx, sources, stopping),
                                            name="consumer"))
        missing = service.missing()
        if missing:
            raise ContractMismatch(f"{service.name} does not implement: {', '.join(missing)}")
        lease = WriterLease(engine, service.name) if threads else None
        closers.append(lease.release if lease else lambda: None)
        active = lease is None or lease.try_acquire()
        service.standby = not active
        if active:
            for thread in threads:
                thread.start()
        if lease is not None and lease.exclusive:
            watcher = threading.Thread(target=_watch_lease, name="lease",
                                       args=(service, lease, list(threads), stopping, lost_lease))
            watcher.start()
            threads.append(watcher)
        _ready_line(service.name, server.endpoint, publisher.endpoint if publisher else "",
                    metrics_url, "standby" if service.standby else "active")
        log.info("serving on %s (database %s; %s)%s", server.endpoint,
                 engine.url.render_as_string(),
                 f"CURVE on, keys in {keys.folder}" if keys else "plain ZeroMQ, no CURVE keys",
                 " as a standby: another replica holds the writer lease" if service.standby
                 else "")
        server.serve(lambda body, caller: service.dispatch(body, sessions, caller),
                     stopping.is_set,
                     dispatch_many=lambda requests: service.dispatch_many(requests, sessions))
    finally:
        stopping.set()
        for thread in threads:
            if thread.ident is not None:  # a standby's relay and consumer never started
                thread.join()
        for close in closers:
            close()
        ctx.term()
        engine.dispose()
        otel.shutdown()
    if lost_lease.is_set():
        log.error("stopped: lost the writer lease (its database connection broke); a "
                  "supervisor starts it again, as a standby if another replica took over")
        raise SystemExit(1)
    log.info("stopped")


def _watch_lease(service: Service, lease: WriterLease, threads: list[threading.Thread],
                 stopping: threading.Event, lost: threading.Event) -> None:
    """A standby takes the lease as soon as it is free and starts the writer's threads;
    the active replica stops if its lease is gone (another may hold it by now)."""
    while not stopping.wait(ACTIVE_POLL_S):
        if service.standby:
            if lease.try_acquire():
                log.warning("took the writer lease: now the active replica")
                for thread in threads:
                    thread.start()
                service.standby = False
        elif not lease.still_held():
            lost.set()
            stopping.set()
            return


def _publishers_of(topics: tuple[str, ...]) -> list[str]:
    return sorted({p for t in topics for p in TOPICS[t].publishers})


def _emit_hook(config: ServiceConfig, relay: Relay | None) -> Callable[[], None]:
    def on_emit() -> None:
        if config.crash_after_commit:
            os._exit(86)  # fault injection: committed, but the relay never ran
        if relay is not None:
            relay.wake()
    return on_emit
