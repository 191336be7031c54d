"""Walking exported JSON Schemas: follow $refs, flatten unions, find fields by path.

A field path names what a consumer reads of a result or payload: `order_id`, `customer.email`,
`items[].promotion.kind` (`[]` steps into the items of a list). Tokens are the path split
into names and `[]`: `items[].kind` -> ("items", "[]", "kind").
"""

from __future__ import annotations

import json
import re
from typing import Any

Schema = dict[str, Any]

PATH = re.compile(r"^[a-z_][a-z0-9_]*(\[\])?(\.[a-z_][a-z0-9_]*(\[\])?)*$")


def tokens(path: str) -> tuple[str, ...]:
    """`items[].kind` -> ("items", "[]", "kind"); "" (the whole value) -> ()."""
    if not path:
        return ()
    if not PATH.match(path):
        raise ValueError(f"field path {path!r} must look like `name`, `a.b` or `items[].name`")
    out: list[str] = []
    for part in path.split("."):
        out.append(part.removesuffix("[]"))
        if part.endswith("[]"):
            out.append("[]")
    return tuple(out)


def join(path: str, token: str) -> str:
    if token == "[]":
        return path + "[]"
    return f"{path}.{token}" if path else token


def overlaps(a: str, b: str) -> bool:
    """Whether one path is the other or lies inside it (`lines` and `lines[].quantity`)."""
    ta, tb = tokens(a), tokens(b)
    n = min(len(ta), len(tb))
    return ta[:n] == tb[:n]


def deref(doc: Schema, node: Schema) -> Schema:
    """`node` with every `$ref` ("#/components/Name", "#/$defs/Name") followed."""
    seen = 0
    while "$ref" in node:
        target: Any = doc
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node, seen = target, seen + 1
        if seen > 50:
            raise ValueError(f"$ref loop at {node!r}")
    return node


def alternatives(doc: Schema, node: Schema) -> list[Schema]:
    """The schemas a value may match: anyOf/oneOf flattened, refs followed."""
    node = deref(doc, node)
    members = node.get("anyOf") or node.get("oneOf")
    if members:
        return [alt for member in members for alt in alternatives(doc, member)]
    return [node]


def children(doc: Schema, node: Schema, token: str) -> list[Schema]:
    """The schemas one step down: a property by name, or the items of an array (`[]`)."""
    if token == "[]":
        return [alt["items"] for alt in alternatives(doc, node)
                if alt.get("type") == "array" and "items" in alt]
    return [alt["properties"][token] for alt in alternatives(doc, node)
            if token in alt.get("properties", {})]


def resolve(doc: Schema, node: Schema, path: str) -> list[Schema]:
    """Every schema `path` may reach from `node`; empty when the path does not exist."""
    nodes = [node]
    for token in tokens(path):
        nodes = [child for n in nodes for child in children(doc, n, token)]
    return nodes


def describe(doc: Schema, node: Schema) -> str:
    """A short type for people: `integer`, `"a" | "b"`, `list[OrderLine]`, `Promotion | null`."""
    parts: list[str] = []
    for alt in alternatives(doc, node):
        if "enum" in alt:
            parts.extend(_json(v) for v in alt["enum"])
        elif "const" in alt:
            parts.append(_json(alt["const"]))
        elif alt.get("type") == "array":
            parts.append(f"list[{describe(doc, alt.get('items', {}))}]")
        elif alt.get("type") == "object" and "title" in alt:
            parts.append(str(alt["title"]))
        elif alt.get("type") == "object" and isinstance(alt.get("additionalProperties"), dict):
            parts.append(f"dict[string, {describe(doc, alt['additionalProperties'])}]")
        elif "type" in alt:
            types = alt["type"] if isinstance(alt["type"], list) else [alt["type"]]
            parts.extend(str(t) for t in types)
        else:
            parts.append("any")
    return " | ".join(dict.fromkeys(parts))


def _json(value: Any) -> str:
    return json.dumps(value)
