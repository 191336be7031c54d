"""Contract fixtures: one real service per test module, and tests generated from its contract.

A test module sets `SERVICE = "<name>"`; every test asking for `method`, `bad_case`,
`error_case`, `probe` or `reads` is then parametrized over that service's contract (and its
consumers' expects.py), so a method added to shared.contracts gets its provider tests without
anyone writing them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from shared.contracts import SERVICES, TOPICS, ServiceContract
from shared.contracttools.expectations import load as load_expectations

from ..support import Platform, wait_for
from .generate import Case, Reads, bad_params, error_cases, unknown_id
from .stub import StubPublisher
from .wire import Wire

POISON: dict[str, Any] = {}  # a payload without one field: no handler can decode it


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.module.SERVICE
    return name


@pytest.fixture(scope="module")
def contract(service: str) -> ServiceContract:
    return SERVICES[service]


@pytest.fixture(scope="module")
def wire(service: str, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    """The service alone, as a real process on a free port, and a raw socket to it.

    A consumer follows a stub of one of its publishers, which serves a poison event first (a
    dead letter to list and replay), then the module's UPSTREAM events; the module's
    `prepare(wire)` then makes whatever state its examples need.
    """
    consumes = SERVICES[service].consumes
    with ExitStack() as stack:
        # Two quick attempts: with ZEROSHOP_MAX_ATTEMPTS=1 the consumer cannot record the
        # failure (it deletes a DeliveryFailure it has not flushed) and retries forever.
        env = {"ZEROSHOP_MAX_ATTEMPTS": "2", "ZEROSHOP_RETRY_BASE_MS": "1"}
        stub = None
        if consumes:
            upstream = [(consumes[0], POISON), *getattr(request.module, "UPSTREAM", [])]
            stub = StubPublisher(TOPICS[consumes[0]].publishers[0], upstream)
            stack.callback(stub.close)
            assert all(stub.name in TOPICS[t].publishers for t, _ in upstream), upstream
            env[f"{stub.name.upper()}_ENDPOINT"] = stub.endpoint
        platform = Platform(tmp_path_factory.mktemp(service), services=[service],
                            gateway=False, **env)
        stack.callback(platform.close)
        client = Wire(platform.endpoints[service])
        stack.callback(client.close)
        if stub is not None:
            wait_for(lambda: _applied(client, stub.name, len(stub.events)),
                     what=f"{service} to apply the {len(stub.events)} event(s) of {stub.name}")
        prepare = getattr(request.module, "prepare", None)
        if prepare is not None:
            prepare(client)
        yield client


def _applied(wire: Wire, publisher: str, seq: int) -> bool:
    offsets = {o["publisher"]: o["last_seq"] for o in wire.result("offsets")["items"]}
    return offsets.get(publisher) == seq and bool(wire.result("dead_letters")["items"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    service = getattr(metafunc.module, "SERVICE", None)
    if service is None:
        return
    methods = list(SERVICES[service].methods.values())
    names = metafunc.fixturenames
    if "method" in names:
        metafunc.parametrize("method", methods, ids=[m.name for m in methods])
    if "bad_case" in names:
        metafunc.parametrize("bad_case", [pytest.param(c, id=c.id)
                                          for m in methods for c in bad_params(m)])
    if "error_case" in names:
        hand_written = getattr(metafunc.module, "ERROR_REQUESTS", {})
        cases = [c for m in methods for c in error_cases(m, hand_written)]
        _parametrize(metafunc, "error_case", cases, f"{service} documents no errors of its own")
    if "probe" in names:
        probes = [Case(m, "unknown-id", p) for m in methods if (p := unknown_id(m)) is not None]
        _parametrize(metafunc, "probe", probes, f"no {service} method takes an id")
    if "reads" in names:
        # A method the contract lacks is reported by test_consumers.py, not collected here.
        reads = [Reads(e.consumer, SERVICES[service].methods[method], paths)
                 for e in load_expectations() for key, paths in e.rpc.items()
                 for provider, method in [key.split(".")]
                 if provider == service and method in SERVICES[service].methods]
        metafunc.parametrize("reads", [pytest.param(r, id=r.id) for r in reads] or [
            pytest.param(None, id="none", marks=pytest.mark.skip(
                reason=f"no consumer declares what it reads of {service}"))])


def _parametrize(metafunc: pytest.Metafunc, name: str, cases: list[Case], none: str) -> None:
    """Parametrize over `cases`; with none, one skipped test that says why (not a bare skip)."""
    params = [pytest.param(c, id=c.id) for c in cases] or [
        pytest.param(None, id="none", marks=pytest.mark.skip(reason=none))]
    metafunc.parametrize(name, params)
