"""A service's Prometheus metrics, served on its side HTTP port (`<SERVICE>_METRICS_PORT`).

Counted on the way, by the runtime (never by handlers): RPC latency and errors per method,
events published (relay) and applied (consumer) per topic. Read when scraped: consumer lag
per publisher (the publisher's last sequence, as its heartbeats and fetches tell it, minus
the applied offset), dead letters not yet replayed, and outbox rows not yet published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import REGISTRY, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from shared.db import unit_of_work
from shared.events.models import DeadLetterRow, OutboxRow

log = logging.getLogger("zeroshop.metrics")

class LabelledChildren:
    """A metric's labelled children, each looked up once: `labels()` takes a lock and builds
    its key on every call, and the hot paths (every RPC, every event) use only a few."""

    def __init__(self, metric: Any) -> None:
        self._metric = metric
        self._children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *labels: str) -> Any:
        child = self._children.get(labels)
        if child is None:  # two threads may both look it up: labels() gives both the same
            child = self._children[labels] = self._metric.labels(*labels)
        return child


# From a reply cache hit (~50 us) to a page's deadline and beyond.
RPC_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
               0.5, 1.0, 2.5)

RPC_SECONDS = Histogram("zeroshop_rpc_duration_seconds",
                        "Time to answer one RPC request, by method", ("service", "method"),
                        buckets=RPC_BUCKETS)
RPC_GROUP_COMMITS = Histogram("zeroshop_rpc_group_commit_size",
                              "Write requests that queued up together and shared one commit "
                              "(groups of two or more)", ("service", "method"),
                              buckets=(2, 4, 8, 16, 32, 64))
RPC_ERRORS = Counter("zeroshop_rpc_errors_total", "RPC requests answered with an error",
                     ("service", "method", "code"))
EVENTS_PUBLISHED = Counter("zeroshop_events_published_total",
                           "Events the relay published for the first time, by topic",
                           ("service", "topic"))
EVENTS_APPLIED = Counter("zeroshop_events_applied_total",
                         "Events a consumer applied (committed with its offset), by topic",
                         ("service", "publisher", "topic"))

# The publisher -> lag of a running consumer (set by the runtime once it follows).
LagReader = Callable[[], Mapping[str, int]]


class BusState(Collector):
    """Gauges read at scrape time: consumer lag, dead letters, outbox backlog."""

    def __init__(self, service: str, sessions: sessionmaker[Session], publishes: bool,
                 consumes: bool) -> None:
        self.service = service
        self._sessions = sessions
        self._publishes, self._consumes = publishes, consumes
        self.lag: LagReader = dict

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self._consumes:
            lag = GaugeMetricFamily("zeroshop_consumer_lag_events",
                                    "Events the publisher has that this consumer has not "
                                    "applied yet", labels=("service", "publisher"))
            for publisher, behind in sorted(self.lag().items()):
                lag.add_metric((self.service, publisher), behind)
            yield lag
        try:
            counts = self._counts()
        except Exception:  # the database is away: the other metrics still answer
            log.warning("cannot count dead letters and outbox backlog", exc_info=True)
            return
        for name, about, value in counts:
            gauge = GaugeMetricFamily(name, about, labels=("service",))
            gauge.add_metric((self.service,), value)
            yield gauge

    def _counts(self) -> list[tuple[str, str, int]]:
        counts = []
        with unit_of_work(self._sessions, read_only=True) as db:
            if self._consumes:
                dead = db.scalar(select(func.count()).select_from(DeadLetterRow)
                                 .where(DeadLetterRow.replayed_at.is_(None))) or 0
                counts.append(("zeroshop_dead_letters",
                               "Dead letters not replayed yet (zeroshop dead-letters list)", dead))
            if self._publishes:
                backlog = db.scalar(select(func.count()).select_from(OutboxRow)
                                    .where(OutboxRow.published_at.is_(None))) or 0
                counts.append(("zeroshop_outbox_backlog_events",
                               "Committed events the relay has not published yet", backlog))
        return counts


def serve(port: int, host: str, state: BusState) -> tuple[WSGIServer, Thread]:
    """Start the side HTTP server of /metrics (prometheus_client's, in its own thread)."""
    REGISTRY.register(state)
    return start_http_server(port, host)
