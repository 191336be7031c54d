"""Consumer expectations: every field the gateway reads exists in its provider's result schema.

READS is kept by hand from gateway/products.py and gateway/health.py: when the gateway starts
reading a field, add it here; when a provider drops or renames it, this fails by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from shared.config import PAGE_SERVICES
from shared.contracts import SERVICES


@dataclass(frozen=True)
class Reads:
    """`consumer` calls `provider.method` and reads `fields` ("a.b", "items[].c") of its result."""

    consumer: str
    provider: str
    method: str
    fields: tuple[str, ...]


_LIST, _PAGE = "gateway GET /api/products", "gateway GET /api/products/<id>"
READS = (
    Reads(_LIST, "product", "list",
          ("items[].id", "items[].name", "items[].category", "page", "page_size", "total")),
    Reads(_LIST, "pricing", "get_many",
          ("items[].product_id", "items[].amount", "items[].currency")),
    Reads(_LIST, "discount", "get_many",
          ("items[].product_id", "items[].promotion.kind", "items[].promotion.value")),
    Reads("gateway GET /api/categories", "product", "categories",
          ("items[].name", "items[].product_count")),
    Reads(_PAGE, "product", "get", ("id", "name", "category", "description")),
    Reads(_PAGE, "inventory", "get_stock", ("available", "in_stock")),
    Reads(_PAGE, "pricing", "get_price", ("amount", "currency")),
    # The page returns the whole promotion, so every field of it is read.
    Reads(_PAGE, "discount", "get_discount",
          tuple(f"promotion.{f}" for f in ("id", "name", "kind", "value", "scope", "product_id",
                                           "category", "code"))),
    Reads(_PAGE, "recommendation", "recommend", ("items[].id", "items[].name")),
    # /readyz only needs the method to answer: no field is read.
    *(Reads("gateway GET /readyz", name, "health", ()) for name in PAGE_SERVICES),
)


def _objects(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    """The object schemas `node` may be: $refs followed, anyOf/oneOf alternatives flattened."""
    if "$ref" in node:
        return _objects(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[-1]])
    alternatives = node.get("anyOf") or node.get("oneOf")
    if alternatives:
        return [o for alt in alternatives for o in _objects(schema, alt)]
    return [node]


def has_field(schema: dict[str, Any], path: str) -> bool:
    """Whether `path` ("items[].promotion.kind") is a property in some branch of `schema`."""
    nodes = [schema]
    for part in path.split("."):
        name, many = part.removesuffix("[]"), part.endswith("[]")
        found = [prop for n in nodes for o in _objects(schema, n)
                 if (prop := o.get("properties", {}).get(name)) is not None]
        if many:
            found = [o["items"] for f in found for o in _objects(schema, f)
                     if o.get("type") == "array"]
        if not found:
            return False
        nodes = found
    return True


def _missing(reads: Reads) -> list[str]:
    schema = msgspec.json.schema(SERVICES[reads.provider].methods[reads.method].result)
    return [f for f in reads.fields if not has_field(schema, f)]


class TestGatewayReadsExistInProviderSchemas:
    @pytest.mark.parametrize("reads", READS, ids=[f"{r.provider}.{r.method}" for r in READS])
    def test_every_field_read_is_in_the_result_schema(self, reads: Reads) -> None:
        methods = SERVICES[reads.provider].methods
        assert reads.method in methods, (
            f"{reads.consumer} calls {reads.provider}.{reads.method}, which the {reads.provider} "
            f"contract no longer has (it has {sorted(methods)})")
        missing = _missing(reads)
        assert not missing, "; ".join(
            f"{reads.consumer} reads {reads.provider}.{reads.method} -> {f}, which is not in "
            f"{methods[reads.method].result.__name__}'s schema" for f in missing)


class _Line(msgspec.Struct):
    kind: str


class _Answer(msgspec.Struct):
    items: list[_Line]
    best: _Line | None


class TestFieldPathsAreResolvedInSchemas:
    def test_lists_refs_and_optionals_are_followed(self) -> None:
        schema = msgspec.json.schema(_Answer)
        assert has_field(schema, "items[].kind") and has_field(schema, "best.kind")

    def test_absent_or_misshapen_paths_are_reported_missing(self) -> None:
        schema = msgspec.json.schema(_Answer)
        for path in ("items[].tax", "best[].kind", "items.kind[]", "total"):
            assert not has_field(schema, path), path
