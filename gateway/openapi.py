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
_SUCCESS_TEXT = {200: "OK", 201: "Created"}
_STATUS_TEXT = {400: "Bad parameters", 404: "Not found", 409: "Conflict",
                413: "Body larger than the limit (not read)", 415: "Body is not JSON",
                422: "Body breaks the schema", 429: "Too many requests: retry after Retry-After",
                503: "A required service is down"}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                                "schema": {"type": "integer", "minimum": 0}}}


def _parameters(schema_type: type, where: str, components: dict[str, Any]) -> list[dict[str, Any]]:
    (ref,), _ = msgspec.json.schema_components([schema_type], ref_template=_REF)
    struct = components[ref["$ref"].rsplit("/", 1)[-1]]
    required = set(struct.get("required", []))
    return [{"name": name, "in": where, "required": where == "path" or name in required,
             "schema": schema} for name, schema in struct["properties"].items()]


def _event(data: dict[str, Any]) -> dict[str, Any]:
    """One Server-Sent Event (OpenAPI 3.1 describes each event of a stream): its `data` is a
    JSON document of the `data` schema."""
    return {"type": "object", "required": ["data"], "properties": {
        "id": {"type": "string"}, "event": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json",
                 "contentSchema": data}}}


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
        body_schema = _event(ref_of[doc.response]) if doc.stream else ref_of[doc.response]
        responses: dict[str, Any] = {
            str(status): {"description": _SUCCESS_TEXT.get(status, "OK"), "content": {
                media: {"schema": body_schema}}} for status in doc.statuses}
        errors = set(doc.errors)
        if path.startswith("/api/"):
            errors.add(429)  # the rate limits (gateway/edge.py)
        for status in sorted(errors):
            responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Error"), "content": {
                "application/json": {"schema": ref_of[ErrorResponse]}}}
            if status == 429:
                responses[str(status)]["headers"] = _RETRY_AFTER
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
