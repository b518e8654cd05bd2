"""One error shape for every failure: `{"error": {"code", "message", "details"}}`.

Every bad input is a 4xx with a stable `code`; a 500 means a bug on our side, never the
caller's input. The codes of the event decoder (events.py) are reused unchanged, so the API
and `reachguard replay` name the same mistake the same way.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from reachguard.events import EventError

log = logging.getLogger("reachguard.api")
_encode = msgspec.json.Encoder().encode

# EventError codes (events.py) → HTTP status.
EVENT_STATUS = {
    "MALFORMED_JSON": 400,
    "INVALID_UTF8": 400,
    "NOT_AN_OBJECT": 400,
    "TOO_LARGE": 413,
    "UNKNOWN_EVENT_TYPE": 422,
    "UNKNOWN_FIELD": 422,
    "MISSING_FIELD": 422,
    "TIME_WITHOUT_OFFSET": 422,
    "INVALID_TIME": 422,
    "INVALID_FIELD": 422,
    "INVALID_NUMBER": 422,
}

# Every code the API answers with, for docs/api.md and the OpenAPI description.
ERROR_CODES: dict[str, tuple[int, str]] = {
    "MALFORMED_JSON": (400, "the body is not JSON"),
    "INVALID_UTF8": (400, "the body is not valid UTF-8"),
    "NOT_AN_OBJECT": (400, "the body is JSON but not an object (an array for batches)"),
    "BAD_REQUEST": (400, "a malformed query parameter or header"),
    "UNAUTHENTICATED": (401, "no API key, or an unknown or revoked one"),
    "FORBIDDEN": (403, "the key's role may not use this endpoint"),
    "ORG_MISMATCH": (403, "the body names an org other than the key's"),
    "LIST_FORBIDDEN": (403, "a do-not-contact list that is neither the org's own nor writable by it"),
    "NOT_FOUND": (404, "no such endpoint or object (for this org)"),
    "METHOD_NOT_ALLOWED": (405, "wrong HTTP method"),
    "TOO_LARGE": (413, "the body is over the configured limit"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "an import body that is neither CSV nor JSON Lines"),
    "UNKNOWN_EVENT_TYPE": (422, "`type` is not a contract event type"),
    "WRONG_EVENT_TYPE": (422, "a valid event sent to the wrong endpoint (attempts go to /v1/decisions)"),
    "UNKNOWN_FIELD": (422, "a field the contract does not have (typos are never ignored)"),
    "MISSING_FIELD": (422, "a required field is absent"),
    "TIME_WITHOUT_OFFSET": (422, "a time without a UTC offset"),
    "INVALID_TIME": (422, "not an ISO-8601 time"),
    "INVALID_FIELD": (422, "a bad value: enum, type, range or size"),
    "INVALID_NUMBER": (422, "a state event or path whose number cannot be a phone number"),
    "TOO_MANY": (422, "a batch over the configured maximum of attempts"),
    "RATE_LIMITED": (429, "too many requests; retry after `Retry-After` seconds"),
    "INTERNAL": (500, "a bug: reported with the request id"),
    "UNAVAILABLE": (503, "the store cannot be reached; decisions fail closed"),
}


class ApiError(Exception):
    """Raise anywhere in a request to answer with the error shape."""

    def __init__(self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers


def from_event_error(exc: EventError, details: Any = None) -> ApiError:
    return ApiError(EVENT_STATUS.get(exc.code, 422), exc.code, exc.message, details)


def error_bytes(code: str, message: str, details: Any = None) -> bytes:
    return _encode({"error": {"code": code, "message": message, "details": details}})


def error_response(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None) -> Response:
    return Response(error_bytes(code, message, details), status_code=status, media_type="application/json", headers=headers)


_STATUS_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE", 429: "RATE_LIMITED"}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"where": ".".join(str(p) for p in err.get("loc", ())), "problem": err.get("msg", "")}
            for err in exc.errors()
        ]
        first = problems[0] if problems else {"where": "", "problem": "invalid request"}
        return error_response(400, "BAD_REQUEST", f"{first['where']}: {first['problem']}", problems)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "BAD_REQUEST" if exc.status_code < 500 else "INTERNAL")
        message = exc.detail if isinstance(exc.detail, str) else code.lower()
        if exc.status_code == 404:
            message = f"no such endpoint: {request.method} {request.url.path}"
        return error_response(exc.status_code, code, message, None, getattr(exc, "headers", None))
