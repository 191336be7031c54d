"""Benchmarks (not tests), against real service processes on loopback.

- `bench.fanout`: the product-page fan-out, HTTP end to end, degradation cost;
- `bench.events`: the event bus - an order's reactions with PUB/SUB versus fetch-only,
  throughput, and one durable hop versus RabbitMQ.

`make bench` runs both, `make bench-events` only the second. Each rewrites only its own
section of docs/BENCHMARKS.md (bench.common.write_section). Nothing here asserts on speed:
a benchmark reports, it does not pass or fail.
"""
