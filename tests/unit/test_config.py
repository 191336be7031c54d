"""Free loopback ports for a platform of its own (tests, `zeroshop chaos --scratch`)."""

from __future__ import annotations

import socket

from shared.config import free_port


def test_free_ports_are_distinct_bindable_and_below_the_ephemeral_range() -> None:
    # An ephemeral port may be taken by any outgoing connection before its service binds it.
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        ephemeral_low = int(ports.read().split()[0])
    picked = [free_port() for _ in range(60)]  # more than a platform's, picked unbound
    assert len(set(picked)) == len(picked)
    assert all(1024 <= port < ephemeral_low for port in picked)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", picked[-1]))
