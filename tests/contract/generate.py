"""Requests generated from a method's params schema: invalid ones, and ones that trigger errors.

Every case starts from the method's own `example` and changes one thing, so a failure names
exactly one field and one rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import inspect

from shared.contracts import Method

UNKNOWN_ID = 999_999  # no seeded product has this id

# One value per JSON kind, tried in this order when a field needs a value of the wrong kind.
_SAMPLES: dict[str, Any] = {
    "string": "wrong-type", "integer": 12345, "array": ["wrong-type"], "object": {"wrong": 1},
    "boolean": True,
}


@dataclass(frozen=True)
class Case:
    """One request for `method`: `params` as sent on the wire, `label` says what it tests."""

    method: Method
    label: str
    params: Any

    @property
    def id(self) -> str:
        return f"{self.method.name}-{self.label}"


@dataclass(frozen=True)
class Reads:
    """`consumer` calls `method` and reads `paths` of its result (from its expects.py)."""

    consumer: str
    method: Method
    paths: tuple[str, ...]

    @property
    def id(self) -> str:
        return f"{self.consumer}-reads-{self.method.name}"


def example_params(method: Method) -> dict[str, Any]:
    params: dict[str, Any] = msgspec.to_builtins(method.example)
    return params


def json_kinds(t: inspect.Type) -> set[str]:
    """The JSON kinds a msgspec type accepts when decoding strictly."""
    if isinstance(t, inspect.Metadata):
        return json_kinds(t.type)
    if isinstance(t, inspect.UnionType):
        return set().union(*(json_kinds(member) for member in t.types))
    if isinstance(t, inspect.LiteralType):
        return {"string" if isinstance(v, str) else "integer" for v in t.values}
    if isinstance(t, inspect.AnyType):
        return {*_SAMPLES, "null"}
    kinds = {
        inspect.IntType: {"integer"}, inspect.FloatType: {"integer", "number"},
        inspect.StrType: {"string"}, inspect.BoolType: {"boolean"}, inspect.NoneType: {"null"},
        inspect.ListType: {"array"}, inspect.SetType: {"array"},
        inspect.VarTupleType: {"array"}, inspect.TupleType: {"array"},
        inspect.StructType: {"object"}, inspect.DictType: {"object"},
    }
    return kinds.get(type(t), {*_SAMPLES, "null"})  # unknown kinds: generate nothing wrong


def wrong_values(t: inspect.Type) -> Iterator[tuple[str, Any]]:
    """(label, value) pairs of the wrong JSON kind for `t`: one non-null kind, then null."""
    accepted = json_kinds(t)
    for kind, value in _SAMPLES.items():
        if kind not in accepted:
            yield "wrong-type", value
            break
    if "null" not in accepted:
        yield "null", None


def _bare(t: inspect.Type) -> inspect.Type:
    """`t` without Metadata and without the None of an Optional."""
    if isinstance(t, inspect.Metadata):
        return _bare(t.type)
    if isinstance(t, inspect.UnionType):
        rest = [m for m in t.types if not isinstance(m, inspect.NoneType)]
        return _bare(rest[0]) if len(rest) == 1 else t
    return t


def out_of_bounds(t: inspect.Type, valid: Any) -> Iterator[tuple[str, Any]]:
    """Values just outside the declared bounds (ge/le/gt/lt, min_length/max_length)."""
    t = _bare(t)
    if isinstance(t, inspect.IntType):
        bounds = (("below-ge", t.ge, -1), ("below-gt", t.gt, 0), ("above-le", t.le, 1),
                  ("above-lt", t.lt, 0))
        for label, bound, step in bounds:
            if bound is not None:
                yield label, bound + step
    elif isinstance(t, inspect.StrType):
        if t.min_length:
            yield "below-min_length", "A" * (t.min_length - 1)
        if t.max_length is not None:
            yield "above-max_length", "A" * (t.max_length + 1)
    elif isinstance(t, inspect.ListType):
        item = valid[0] if isinstance(valid, list) and valid else None
        if t.min_length:
            yield "below-min_length", [item] * (t.min_length - 1)
        if t.max_length is not None and item is not None:
            yield "above-max_length", [item] * (t.max_length + 1)
        for label, value in wrong_values(t.item_type):
            yield f"item-{label}", [value]


def bad_params(method: Method) -> Iterator[Case]:
    """Requests the params schema forbids: each must be answered with `bad_params`."""
    base = example_params(method)
    yield Case(method, "unknown-field", {**base, "unexpected_field": 1})
    yield Case(method, "not-an-object", [base])
    for field in inspect.type_info(method.params).fields:  # type: ignore[union-attr]
        name = field.encode_name
        for label, value in [*wrong_values(field.type), *out_of_bounds(field.type, base.get(name))]:
            yield Case(method, f"{name}-{label}", {**base, name: value})
        if field.required:
            yield Case(method, f"{name}-missing", {k: v for k, v in base.items() if k != name})


def unknown_id(method: Method) -> dict[str, Any] | None:
    """The example with every id (or list of ids) pointing nowhere; None: it has no id field."""
    params = example_params(method)
    changed = {}
    for field in msgspec.structs.fields(method.params):
        name, value = field.encode_name, params.get(field.encode_name)
        if (name == "id" or name.endswith("_id")) and isinstance(value, int):
            changed[name] = UNKNOWN_ID
        elif (name == "ids" or name.endswith("_ids")) and isinstance(value, list):
            changed[name] = [UNKNOWN_ID]
    return {**params, **changed} if changed else None


def error_cases(method: Method, hand_written: dict[tuple[str, str], Any]) -> Iterator[Case]:
    """One request per documented error code: hand-written first, else generated by TRIGGERS.

    `params` is None when neither knows how to trigger the code, so that test fails by name.
    """
    for code in method.errors:
        params = hand_written.get((method.name, code))
        if params is None and code in TRIGGERS:
            params = TRIGGERS[code](method)
        yield Case(method, code, params)


# How to trigger each documented error code from a method's schema alone; a code that is not
# here needs a hand-written request in the service's test module (ERROR_REQUESTS).
TRIGGERS: dict[str, Callable[[Method], dict[str, Any] | None]] = {"not_found": unknown_id}
