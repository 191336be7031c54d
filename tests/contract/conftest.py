"""Contract fixtures: one real service per test module, and tests generated from its contract.

A test module sets `SERVICE = "<name>"`; every test asking for `method`, `bad_case`,
`error_case` or `probe` is then parametrized over that service's contract, so a method added
to shared.contracts gets its provider tests without anyone writing them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.contracts import SERVICES, ServiceContract

from ..support import Platform
from .generate import Case, bad_params, error_cases, unknown_id
from .wire import Wire


@pytest.fixture(scope="module")
def service(request: pytest.FixtureRequest) -> str:
    name: str = request.module.SERVICE
    return name


@pytest.fixture(scope="module")
def contract(service: str) -> ServiceContract:
    return SERVICES[service]


@pytest.fixture(scope="module")
def wire(service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Wire]:
    """The service alone, as a real process on a free port, and a raw socket to it."""
    platform = Platform(tmp_path_factory.mktemp(service), services=[service], gateway=False)
    try:
        client = Wire(platform.endpoints[service])
        try:
            yield client
        finally:
            client.close()
    finally:
        platform.close()


def _param(case: Case, on_the_wire: bool) -> object:
    return pytest.param(case, id=case.id)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    service = getattr(metafunc.module, "SERVICE", None)
    if service is None:
        return
    methods = list(SERVICES[service].methods.values())
    names = metafunc.fixturenames
    if "method" in names:
        metafunc.parametrize("method", methods, ids=[m.name for m in methods])
    if "bad_case" in names:
        wired = "wire" in names
        metafunc.parametrize("bad_case", [_param(c, wired) for m in methods for c in bad_params(m)])
    if "error_case" in names:
        hand_written = getattr(metafunc.module, "ERROR_REQUESTS", {})
        cases = [c for m in methods for c in error_cases(m, hand_written)]
        _parametrize(metafunc, "error_case", cases, f"{service} documents no errors of its own")
    if "probe" in names:
        probes = [Case(m, "unknown-id", p) for m in methods if (p := unknown_id(m)) is not None]
        _parametrize(metafunc, "probe", probes, f"no {service} method takes an id")


def _parametrize(metafunc: pytest.Metafunc, name: str, cases: list[Case], none: str) -> None:
    """Parametrize over `cases`; with none, one skipped test that says why (not a bare skip)."""
    params = [pytest.param(c, id=c.id) for c in cases] or [
        pytest.param(None, id="none", marks=pytest.mark.skip(reason=none))]
    metafunc.parametrize(name, params)
