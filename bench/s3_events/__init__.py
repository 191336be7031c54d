"""Scenario S3: events, durable, against RabbitMQ (`python -m bench.s3_events`).

- `__main__`: the entry point and the report (section "s3" of docs/BENCHMARKS.md);
- `durable`: the fan-out measurement both arms share (throughput, paced latency, sequence
  check); `zeroshop` and `rabbitmq`: the two arms; `sink`: a consumer process of either;
- `flow`: orders fully settled on the whole platform;
- `group_commit`: a consumer's group commit in process (`python -m
  bench.s3_events.group_commit`), for profiling the handlers without processes.
"""
