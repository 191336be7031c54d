"""Benchmarks (not tests): the product-page fan-out, HTTP end to end, degradation cost.

`make bench` (or `.venv/bin/python -m bench.fanout`) runs them all against real service
processes on loopback and rewrites docs/BENCHMARKS.md with the numbers. Nothing here
asserts on speed: a benchmark reports, it does not pass or fail.
"""
