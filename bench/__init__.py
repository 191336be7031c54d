"""Benchmarks (not tests), against real service processes on loopback, one module per
scenario, each against its baseline in the same run (interleaved rounds, medians, ratios):

- `bench.s0_rpc`: one RPC round trip against Zero (zeroapi), the 5-call page against a bare
  pyzmq fan-out;
- `bench.s1_page`: the product page over HTTP against Flask + gunicorn peers
  (`bench.peers`), and `bench.s1_page.servers`: uvicorn against waitress;
- `bench.s2_stragglers`: services with injected stragglers, and a hung service;
- `bench.s3_events`: durable events against RabbitMQ;
- `bench.s4_cold_start`: `zeroshop up` to /readyz, one service to its first reply;
- `bench.s5_memory`: PSS per service and for the whole platform.

Beside them, measurements that are not speed scenarios: `bench.resilience` (the chaos soak
repeated, writer failover) and `bench.feature_costs` (what CURVE and the instrumentation
cost). `bench.locustfile` is load for users (`make load`).

`make bench` runs S0-S5. Each rewrites only its own section of docs/BENCHMARKS.md
(bench.common.write_section) and its plot docs/bench-sN.png. Nothing here asserts on speed:
a benchmark reports, it does not pass or fail.
"""
