"""/openapi.json, generated from the routes' `@documented` schemas (never written by hand)."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from flask import Blueprint, Flask, Response, current_app

from .api import RouteDoc, documented, json_response
from .schemas import ErrorResponse

bp = Blueprint("openapi", __name__)
_REF = "#/components/schemas/{name}"
_STATUS_TEXT = {400: "Bad parameters", 404: "Not found", 409: "Conflict",
                415: "Body is not JSON", 422: "Body breaks the schema",
                503: "A required service is down"}


def _parameters(schema_type: type, where: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    (ref,), _ = msgspec.json.schema_components([schema_type], ref_template=_REF)
    struct = components[ref["$ref"].rsplit("/", 1)[-1]]
    required = set(struct.get("required", []))
    return [{"name": name, "in": where, "required": where == "path" or name in required,
             "schema": schema} for name, schema in struct["properties"].items()]


def build_spec(app: Flask) -> dict[str, Any]:
    docs: list[tuple[str, str, str, RouteDoc]] = []
    for rule in app.url_map.iter_rules():
        doc = getattr(app.view_functions[rule.endpoint], "route_doc", None)
        if doc is None:
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            docs.append((path, method.lower(), rule.endpoint.rsplit(".", 1)[-1], doc))
    types = [d.response for *_, d in docs] + [ErrorResponse]
    types += [t for *_, d in docs for t in (d.query, d.path, d.body) if t is not None]
    refs, components = msgspec.json.schema_components(types, ref_template=_REF)
    ref_of = dict(zip(types, refs, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for path, method, operation_id, doc in docs:
        params = []
        if doc.path is not None:
            params += _parameters(doc.path, "path", components)
        if doc.query is not None:
            params += _parameters(doc.query, "query", components)
        media = doc.stream or "application/json"
        responses: dict[str, Any] = {"200": {"description": "OK", "content": {
            media: {"schema": ref_of[doc.response]}}}}
        for status in doc.errors:
            responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Error"), "content": {
                "application/json": {"schema": ref_of[ErrorResponse]}}}
        operation: dict[str, Any] = {
            "summary": doc.summary, "operationId": operation_id, "parameters": params,
            "responses": responses}
        if doc.body is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref_of[doc.body]}}}
        paths.setdefault(path, {})[method] = operation
    return {"openapi": "3.1.0",
            "info": {"title": "ZeroShop storefront API", "version": "0.1.0"},
            "paths": paths, "components": {"schemas": components}}


@bp.get("/openapi.json")
@documented("This document.", dict)
def openapi() -> Response:
    return json_response(build_spec(current_app))
