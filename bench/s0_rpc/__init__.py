"""S0: one RPC round trip and the 5-call product page without HTTP, against Zero (the Python
ZeroMQ RPC framework, PyPI `zeroapi`) and a bare pyzmq fan-out.

Part 1: ZeroShop's RpcClient calling pricing.get_price on the real pricing service (as
shipped, reply cache on; and again with ZEROSHOP_REPLY_CACHE=0) against a Zero server in
its own processes serving pricing's own get_price handler over the same SQLite file, called
with Zero's own client. Part 2: RpcClient.gather of the page's five calls to the five real
page services, the same five calls one after another, and a bare 5-way pyzmq fan-out to
five minimal ROUTER servers (one process each) answering a fixed reply of the real size.
Every comparison runs its arms in the same run, interleaved round by round (the order
rotates), after a warm-up. Writes the `s0` section of docs/BENCHMARKS.md and
docs/bench-s0.png. Progress on stderr. Nothing asserts on speed.

    .venv/bin/python -m bench.s0_rpc                  # `make bench-s0`, about 2 minutes
    .venv/bin/python -m bench.s0_rpc --quick --output /tmp/s0.md   # a smoke run
"""
