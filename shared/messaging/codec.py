"""Wire format: one JSON frame per request and per reply.

Request: {"method": str, "params": {...}, "id"?: str, "deadline"?: unix seconds, "trace"?: str,
          "traceparent"?: W3C trace context (only when OpenTelemetry is on)}
Reply:   {"id"?, "ok": true, "result": ...} or {"id"?, "ok": false, "error": {"code", "message"}}
"""

from __future__ import annotations

from typing import Any

import msgspec

_EMPTY = msgspec.Raw(b"{}")
_NULL = msgspec.Raw(b"null")


class Request(msgspec.Struct, frozen=True, kw_only=True):
    method: str
    params: msgspec.Raw = _EMPTY
    id: str | None = None
    deadline: float | None = None
    trace: str | None = None
    traceparent: str | None = None


class ErrorBody(msgspec.Struct, frozen=True):
    code: str
    message: str


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    id: str | None = None
    result: msgspec.Raw = _NULL  # decoded later, into the method's own result type
    error: ErrorBody | None = None


class _OutgoingReply(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    ok: bool
    id: str | None = None
    result: Any = None
    error: ErrorBody | None = None


_encoder = msgspec.json.Encoder()
_request_decoder = msgspec.json.Decoder(Request)
_reply_decoder = msgspec.json.Decoder(Reply)


def decode_request(body: bytes) -> Request:
    """Raises msgspec.DecodeError (bad JSON) or msgspec.ValidationError (bad shape)."""
    return _request_decoder.decode(body)


def encode_request(request: Request, params: Any) -> bytes:
    body = {"method": request.method, "params": params, "id": request.id,
            "deadline": request.deadline, "trace": request.trace}
    if request.traceparent is not None:
        body["traceparent"] = request.traceparent
    return _encoder.encode(body)


def encode_result(request_id: str | None, result: Any) -> bytes:
    return _encoder.encode(_OutgoingReply(ok=True, id=request_id, result=result))


def encode_error(request_id: str | None, code: str, message: str) -> bytes:
    return _encoder.encode(_OutgoingReply(ok=False, id=request_id, error=ErrorBody(code, message)))


def decode_reply(body: bytes) -> Reply:
    return _reply_decoder.decode(body)
