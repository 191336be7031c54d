"""Payloads holding only what a consumer declared it reads, to show the declaration is honest.

`build` makes a value of a schema type where the declared field paths hold ordinary values
and every other field holds `Undeclared`, which fails on any use (as a struct), or is left
out (as a dict). A handler that reads a field it did not declare then fails by that field.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from msgspec import inspect

from shared.contracttools.schemas import join, tokens


class UndeclaredRead(Exception):
    """A consumer used a field its expects.py does not list."""


class Undeclared:
    """Stands for a field the consumer did not declare: using it in any way raises."""

    def __init__(self, path: str) -> None:
        object.__setattr__(self, "_path", path)

    def __repr__(self) -> str:
        return f"<undeclared {object.__getattribute__(self, '_path')}>"

    def __getattr__(self, name: str) -> Any:
        path = object.__getattribute__(self, "_path")
        raise UndeclaredRead(path if name.startswith("__") else f"{path}.{name}")

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise UndeclaredRead(object.__getattribute__(self, "_path"))

    __str__ = __format__ = __bool__ = __len__ = __iter__ = __getitem__ = __contains__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = _fail  # type: ignore[assignment]
    __int__ = __float__ = __index__ = __neg__ = __abs__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail


def build(cls: type, paths: Iterable[str], as_dict: bool = False) -> Any:
    """An instance of `cls` (or its JSON-like dict) with only `paths` really filled in."""
    return _build(inspect.type_info(cls), {tokens(p) for p in paths}, "", as_dict)


def _build(t: inspect.Type, reads: set[tuple[str, ...]], at: str, as_dict: bool) -> Any:
    t = _bare(t)
    if isinstance(t, inspect.StructType):
        fields: dict[str, Any] = {}
        for field in t.fields:
            sub = {r[1:] for r in reads if r[:1] == (field.name,)} | ({()} & reads)
            if sub:
                fields[field.name] = _build(field.type, sub, join(at, field.name), as_dict)
            elif not as_dict:
                fields[field.name] = Undeclared(join(at, field.name))
        return fields if as_dict else t.cls(**fields)
    if isinstance(t, inspect.ListType):
        sub = {r[1:] for r in reads if r[:1] == ("[]",)} | ({()} & reads)
        return [_build(t.item_type, sub, join(at, "[]"), as_dict)]
    return _sample(t)


def _bare(t: inspect.Type) -> inspect.Type:
    """`t` without Metadata, and an Optional as the type it wraps."""
    if isinstance(t, inspect.Metadata):
        return _bare(t.type)
    if isinstance(t, inspect.UnionType):
        return _bare(next(m for m in t.types if not isinstance(m, inspect.NoneType)))
    return t


def _sample(t: inspect.Type) -> Any:
    """An ordinary valid value: ids and quantities 1 (the seeded product, the first order)."""
    if isinstance(t, inspect.LiteralType):
        return t.values[0]
    if isinstance(t, inspect.IntType):
        return max(1, t.ge or 1)
    if isinstance(t, inspect.FloatType):
        return 1.0
    if isinstance(t, inspect.BoolType):
        return True
    if isinstance(t, inspect.StrType):
        return "x" * max(1, t.min_length or 1)
    return None
