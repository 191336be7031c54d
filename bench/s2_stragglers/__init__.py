"""S2: the product page with stragglers (every service 2 ms of I/O, 1% of calls 20 ms,
injected by this bench only), then with a hung service (SIGSTOP, SIGCONT).

    .venv/bin/python -m bench.s2_stragglers          # `make bench-s2`
    .venv/bin/python -m bench.s2_stragglers --quick --output /tmp/s2.md   # a smoke run

serve.py: the bench-only launcher of a service with injected latency; stragglers.py: part 1
(four arms, interleaved rounds); hung.py: part 2; report.py: the section, targets and plot;
cli.py: the command line and the platform's processes.
"""
