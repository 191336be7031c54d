"""Endpoint specs naming several replicas, DNS names, and the per-replica circuit breaker."""

from __future__ import annotations

import pytest

from shared.messaging.replicas import (
    PROBE_INTERVAL_S,
    BadEndpoint,
    Breaker,
    ReplicaHealth,
    Replicas,
    resolve_dns,
)


class TestEndpointSpecs:
    def test_one_endpoint_is_one_replica(self) -> None:
        assert Replicas("tcp://127.0.0.1:5557").addresses() == ["tcp://127.0.0.1:5557"]

    def test_a_comma_separated_list_names_each_replica(self) -> None:
        spec = "tcp://10.0.0.1:5557, tcp://10.0.0.2:5557,,"
        assert Replicas(spec).addresses() == ["tcp://10.0.0.1:5557", "tcp://10.0.0.2:5557"]

    @pytest.mark.parametrize("spec", ["", " , ", "dns+tcp://pricing", "dns+tcp://:5557"])
    def test_a_spec_naming_no_replica_is_refused_with_the_form_expected(self, spec: str
                                                                        ) -> None:
        with pytest.raises(BadEndpoint):
            Replicas(spec)

    def test_a_dns_name_is_looked_up_again_after_the_refresh_interval(self) -> None:
        answers = [["tcp://10.0.0.1:5557"], ["tcp://10.0.0.1:5557", "tcp://10.0.0.2:5557"]]
        asked: list[tuple[str, int]] = []

        def resolve(host: str, port: int) -> list[str]:
            asked.append((host, port))
            return answers[min(len(asked), len(answers)) - 1]

        cached = Replicas("dns+tcp://pricing-replicas:5557", resolve, refresh_s=3600)
        assert cached.addresses() == cached.addresses() == ["tcp://10.0.0.1:5557"]
        assert asked == [("pricing-replicas", 5557)]
        fresh = Replicas("dns+tcp://pricing-replicas:5557", resolve, refresh_s=0)
        assert len(fresh.addresses()) == 2 and len(asked) == 2

    def test_the_real_resolver_finds_localhost_and_nothing_for_an_unknown_name(self) -> None:
        assert "tcp://127.0.0.1:5557" in resolve_dns("localhost", 5557)
        assert resolve_dns("no-such-host.invalid", 5557) == []


class TestBreaker:
    def test_a_failure_opens_it_and_one_caller_at_a_time_may_probe(self) -> None:
        breaker = Breaker()
        assert not breaker.claim_probe(0.0)  # closed: nothing to probe
        breaker.failed(10.0)
        assert breaker.open
        assert breaker.claim_probe(10.0)
        assert not breaker.claim_probe(10.0)  # the probe is out: others skip
        assert breaker.claim_probe(10.0 + PROBE_INTERVAL_S)  # unanswered: probe again
        breaker.succeeded()
        assert not breaker.open and breaker.failures == 0

    def test_health_lists_only_the_replicas_whose_circuit_is_closed(self) -> None:
        health = ReplicaHealth()
        health.breaker("tcp://b:1").failed(0.0)
        assert health.closed(["tcp://a:1", "tcp://b:1"]) == ["tcp://a:1"]
        assert health.open_addresses() == ["tcp://b:1"]
