"""Provider tests generated from shared.contracts; each test_<service>.py collects them.

The fixtures `method`, `bad_case`, `error_case`, `probe` and `reads` are parametrized per
service by conftest.py; these classes only say what must hold for each.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import msgspec
import pytest

from shared.contracts import COMMON_ERRORS, Health, Method, ServiceContract

from .generate import Case, Reads, example_params
from .wire import Wire, missing_paths, result_of


def _example_result(wire: Wire, method: Method) -> Any:
    """The answer to the contract's example (the fixture made the state it needs)."""
    params = example_params(method)
    return result_of(wire.call(method.name, params), f"{method.name}({params!r})")


def validator(schema_of: type, closed: bool = False) -> jsonschema.Draft202012Validator:
    """A validator for msgspec's JSON Schema of `schema_of`; `closed` forbids unlisted fields."""
    schema: dict[str, Any] = copy.deepcopy(msgspec.json.schema(schema_of))
    if closed:
        for definition in schema.get("$defs", {}).values():
            if definition.get("type") == "object":
                definition["additionalProperties"] = False
    return jsonschema.Draft202012Validator(schema)


def schema_errors(validator: jsonschema.Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(instance)]


class TestExampleRequestsAnswerPerSchema:
    def test_example_params_match_the_published_params_schema(self, method: Method) -> None:
        problems = schema_errors(validator(method.params), example_params(method))
        assert not problems, f"{method.name}: the contract's example is invalid: {problems}"

    def test_example_result_decodes_strictly_into_the_result_type(
            self, wire: Wire, method: Method) -> None:
        result = _example_result(wire, method)
        msgspec.json.decode(msgspec.json.encode(result), type=method.result, strict=True)

    def test_example_result_validates_against_the_published_json_schema(
            self, wire: Wire, method: Method) -> None:
        result = _example_result(wire, method)
        problems = schema_errors(validator(method.result), result)
        assert not problems, f"{method.name} answered outside its schema: {problems}"

    def test_example_result_has_no_field_the_schema_does_not_publish(
            self, wire: Wire, method: Method) -> None:
        result = _example_result(wire, method)
        problems = schema_errors(validator(method.result, closed=True), result)
        assert not problems, f"{method.name} sends undocumented fields: {problems}"


class TestConsumersFindWhatTheyRead:
    def test_every_field_a_consumer_reads_is_in_the_example_answer(
            self, wire: Wire, reads: Reads) -> None:
        result = _example_result(wire, reads.method)
        missing = [m for path in reads.paths for m in missing_paths(result, path)]
        assert not missing, (f"{reads.consumer} reads {', '.join(missing)} of "
                             f"{reads.method.name}, but the real answer has no such field")


class TestInvalidParamsAreRefused:
    def test_service_answers_bad_params(self, wire: Wire, bad_case: Case) -> None:
        code = wire.error(bad_case.method.name, bad_case.params)
        assert code == "bad_params", f"{bad_case.id}: expected bad_params, got {code}"

    def test_published_params_schema_refuses_it_too(self, bad_case: Case) -> None:
        assert schema_errors(validator(bad_case.method.params), bad_case.params), (
            f"{bad_case.id}: the service refuses {bad_case.params!r} but the published "
            f"params schema accepts it")


class TestDocumentedErrors:
    def test_each_documented_error_is_answered_with_exactly_its_code(
            self, wire: Wire, error_case: Case) -> None:
        method, code = error_case.method, error_case.label
        assert code not in COMMON_ERRORS, f"{method.name} lists common error {code} as its own"
        assert error_case.params is not None, (
            f"{method.name} documents {code!r} but no request triggers it: add "
            f"ERROR_REQUESTS[({method.name!r}, {code!r})] to the test module, or a generator "
            f"to tests/contract/generate.py TRIGGERS")
        assert wire.error(method.name, error_case.params) == code

    def test_unknown_ids_answer_ok_or_a_documented_error(self, wire: Wire, probe: Case) -> None:
        reply = wire.call(probe.method.name, probe.params)
        if not reply["ok"]:
            code = reply["error"]["code"]
            assert code in probe.method.errors, (
                f"{probe.method.name}({probe.params}) answered undocumented error {code!r}; "
                f"it documents {probe.method.errors or 'none'}")


class TestHealthListsTheContract:
    def test_health_lists_exactly_the_contract_methods(
            self, wire: Wire, service: str, contract: ServiceContract) -> None:
        health = msgspec.convert(wire.result("health", {}), Health, strict=True)
        assert (health.service, health.status) == (service, "ok")
        served, declared = set(health.methods), set(contract.methods)
        assert served == declared, (
            f"{service} serves undocumented {sorted(served - declared)} and is missing "
            f"{sorted(declared - served)}")


class TestProtocolErrors:
    def test_unknown_method_is_answered_unknown_method(self, wire: Wire) -> None:
        assert wire.error("no_such_method", {}) == "unknown_method"

    @pytest.mark.parametrize("frame", [
        b"", b"not json", b"\xff\xfe", b"[]", b'"health"', b"{}", b'{"params": {}}',
        b'{"method": 7}', b'{"method": "health", "id": 5}', b'{"method": "health", "params": {',
    ], ids=["empty", "not-json", "not-utf8", "array", "string", "no-method", "params-only",
            "method-not-a-string", "id-not-a-string", "truncated"])
    def test_malformed_frame_is_answered_bad_request(self, wire: Wire, frame: bytes) -> None:
        assert wire.error_of_frame(frame) == "bad_request"
