"""LabelledChildren: the hot paths' cache of a metric's labelled children hands out the
metric's own children, so what they count is what /metrics shows."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from shared.metrics import LabelledChildren


def test_each_child_is_the_metrics_own_and_counts_there() -> None:
    registry = CollectorRegistry()
    counter = Counter("demo_total", "demo", ("service", "topic"), registry=registry)
    children = LabelledChildren(counter)
    assert children("orders", "a") is children("orders", "a") is counter.labels("orders", "a")
    children("orders", "a").inc()
    children("orders", "b").inc(2)
    assert registry.get_sample_value("demo_total", {"service": "orders", "topic": "a"}) == 1
    assert registry.get_sample_value("demo_total", {"service": "orders", "topic": "b"}) == 2
