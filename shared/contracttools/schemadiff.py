"""Structural difference of two JSON Schemas of one message (old snapshot vs working tree).

Neutral facts only, each at a field path: a field removed or added, a field that became
optional or required, a type or constraint that accepts more values (`wider`), fewer
(`narrower`) or others (`changed`). Whether a fact breaks anyone depends on which way the
message flows and who reads the field: compat.py decides that.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .schemas import Schema, alternatives, deref, describe, join

Kind = Literal["removed", "added", "optional", "required", "type", "constraint", "default"]
Relation = Literal["wider", "narrower", "changed"]

_LOWER = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
_UPPER = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
_OTHER = ("pattern", "format", "multipleOf")
_IGNORED = ("title", "description", "examples", "$comment")


@dataclass(frozen=True)
class Change:
    path: str  # where, as a consumer would name it: `items[].promotion.kind`
    kind: Kind
    detail: str
    relation: Relation | None = None  # for `type` and `constraint`
    required: bool = False  # for `added`: a new required field


def diff(old_doc: Schema, old: Schema, new_doc: Schema, new: Schema, path: str = "",
         depth: int = 0) -> list[Change]:
    """Every change from `old` (in `old_doc`) to `new` (in `new_doc`), outermost first."""
    if depth > 32:  # a recursive type: what is below was compared on the way down
        return []
    olds, news = alternatives(old_doc, old), alternatives(new_doc, new)
    relation = _relation(_atoms(olds), _atoms(news))
    changes = []
    if relation is not None:
        changes.append(Change(path, "type", f"{describe(old_doc, old)} -> "
                              f"{describe(new_doc, new)}", relation))
    changes += _constraints(olds, news, path)
    o_obj, n_obj = _only(olds, "object"), _only(news, "object")
    if o_obj is not None and n_obj is not None and "properties" in o_obj:
        changes += _fields(old_doc, o_obj, new_doc, n_obj, path, depth)
    o_arr, n_arr = _only(olds, "array"), _only(news, "array")
    if o_arr is not None and n_arr is not None:
        changes += diff(old_doc, o_arr.get("items", {}), new_doc, n_arr.get("items", {}),
                        join(path, "[]"), depth + 1)
    return changes


def _fields(old_doc: Schema, old: Schema, new_doc: Schema, new: Schema, path: str,
            depth: int) -> list[Change]:
    o_props, n_props = old.get("properties", {}), new.get("properties", {})
    o_req, n_req = set(old.get("required", ())), set(new.get("required", ()))
    removed = [f for f in o_props if f not in n_props]
    added = [f for f in n_props if f not in o_props]
    changes = []
    for name in removed:
        twins = [a for a in added
                 if _plain(deref(new_doc, n_props[a])) == _plain(deref(old_doc, o_props[name]))]
        hint = f" (renamed to `{twins[0]}`?)" if len(twins) == 1 else ""
        changes.append(Change(join(path, name), "removed", f"field removed{hint}"))
    for name in added:
        changes.append(Change(join(path, name), "added",
                              f"new {'required' if name in n_req else 'optional'} field "
                              f"({describe(new_doc, n_props[name])})", required=name in n_req))
    for name in (f for f in o_props if f in n_props):
        where = join(path, name)
        if (name in o_req) != (name in n_req):
            kind: Kind = "required" if name in n_req else "optional"
            changes.append(Change(where, kind, f"field is now {kind}"))
        o_default, n_default = o_props[name].get("default"), n_props[name].get("default")
        if o_default != n_default:
            changes.append(Change(where, "default", f"default {o_default!r} -> {n_default!r}"))
        changes += diff(old_doc, o_props[name], new_doc, n_props[name], where, depth + 1)
    return changes


def _atoms(alts: list[Schema]) -> set[Any]:
    """The kinds of value a schema accepts: JSON types, and single enum values."""
    atoms: set[Any] = set()
    for alt in alts:
        if "enum" in alt or "const" in alt:
            atoms.update(("value", _hashable(v)) for v in alt.get("enum", [alt.get("const")]))
        elif "type" in alt:
            atoms.update(alt["type"] if isinstance(alt["type"], list) else [alt["type"]])
        else:
            atoms.add("any")
    return atoms


def _hashable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | None) else repr(value)


def _accepts(atoms: set[Any], atom: Any) -> bool:
    if atom in atoms or "any" in atoms:
        return True
    if atom == "integer":
        return "number" in atoms
    if isinstance(atom, tuple):  # one enum value: does a plain type take it?
        value = atom[1]
        kind = ("null" if value is None else "boolean" if isinstance(value, bool)
                else "string" if isinstance(value, str) else "integer"
                if isinstance(value, int) else "number")
        return _accepts(atoms, kind)
    return False


def _relation(old: set[Any], new: set[Any]) -> Relation | None:
    keeps = all(_accepts(new, a) for a in old)  # everything valid before is valid now
    adds = not all(_accepts(old, a) for a in new)  # something valid now was not before
    if keeps:
        return "wider" if adds else None
    return "changed" if adds else "narrower"


def _constraints(olds: list[Schema], news: list[Schema], path: str) -> list[Change]:
    changes = []
    for kind in ("integer", "number", "string", "array", "object"):
        o, n = _only(olds, kind), _only(news, kind)
        if o is None or n is None:
            continue
        for key in (*_LOWER, *_UPPER, *_OTHER):
            before, after = o.get(key), n.get(key)
            if before == after:
                continue
            if before is None or after is None:
                relation: Relation = "narrower" if before is None else "wider"
            elif key in _OTHER:
                relation = "changed"
            else:
                tighter = after > before if key in _LOWER else after < before
                relation = "narrower" if tighter else "wider"
            changes.append(Change(path, "constraint", f"{key} {before} -> {after}", relation))
    return changes


def _only(alts: list[Schema], kind: str) -> Schema | None:
    """The one alternative of JSON type `kind`, if exactly one."""
    found = [a for a in alts if a.get("type") == kind]
    return found[0] if len(found) == 1 else None


def _plain(node: Schema) -> Schema:
    return {k: v for k, v in node.items() if k not in _IGNORED}
