"""Every error leaves the gateway as JSON {"error": {"code", "message"}}: one mapping table."""

from __future__ import annotations

import logging

import msgspec
from flask import Flask, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from shared.messaging import RpcError

from .schemas import ErrorDetail, ErrorResponse

log = logging.getLogger("zeroshop.gateway")

# RPC error code of a required call -> HTTP status.
RPC_STATUS = {
    "not_found": 404,
    "bad_params": 400,
    "timeout": 503,
    "unavailable": 503,
    "bad_reply": 502,
    "internal": 502,
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after  # seconds, for a 429 or a 503


def error_response(status: int, code: str, message: str,
                   retry_after: int | None = None) -> Response:
    body = msgspec.json.encode(ErrorResponse(ErrorDetail(code, message)))
    response = Response(body, status=status, mimetype="application/json")
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.retry_after)

    @app.errorhandler(RpcError)
    def _rpc(exc: RpcError) -> Response:
        status = RPC_STATUS.get(exc.code, 502)
        if exc.code in ("timeout", "unavailable"):
            message = f"the {exc.service} service is unavailable ({exc.code}: {exc.message})"
            return error_response(status, "service_unavailable", message)
        return error_response(status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        code = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, code, exc.description or code)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))  # RFC 9110
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal", "internal error; the gateway log has details")
