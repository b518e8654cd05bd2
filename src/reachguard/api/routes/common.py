"""Helpers shared by the routers: encoding, times, numbers, store-error mapping."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Awaitable, Callable, TypeVar
from zoneinfo import ZoneInfo

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from reachguard.api.errors import ApiError
from reachguard.api.service import STORE_ERRORS, Service, Unavailable
from reachguard import events
from reachguard.events import json_error_message, nul_field, nul_message, validation_code
from reachguard.numbers import try_normalize

_encode = msgspec.json.Encoder().encode
T = TypeVar("T")


def service(request: Request) -> Service:
    return request.app.state.service


def json_response(value: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(value), status_code=status, media_type="application/json", headers=headers)


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO-8601 query parameter with an offset, in the contract's range (as every time of the contract)."""
    if value is None:
        return None
    try:
        return events.parse_time(value, name)
    except events.EventError as exc:
        raise ApiError(422, exc.code, exc.message, {"parameter": name}) from None


def number_or_422(raw: str, name: str = "number") -> str:
    number = try_normalize(raw) if len(raw) <= 64 else None
    if number is None:
        raise ApiError(422, "INVALID_NUMBER", f"{raw[:40]!r} is not a valid phone number", {"parameter": name})
    return number


def iso(ts: float | None, zone: ZoneInfo | timezone = timezone.utc) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, zone).isoformat()


async def write(svc: Service, fn: Callable[..., T], *args: Any) -> T:
    """Run a write on the writer thread; store failures become 503."""
    try:
        return await svc.writer.call(fn, *args)
    except (Unavailable, *STORE_ERRORS) as exc:
        raise ApiError(503, "UNAVAILABLE", f"the store is unavailable: {exc}") from exc


async def read(fn: Callable[..., T], *args: Any) -> T:
    """Run a read in the thread pool (never on the event loop); store failures become 503."""
    try:
        return await run_in_threadpool(fn, *args)
    except STORE_ERRORS as exc:
        raise ApiError(503, "UNAVAILABLE", f"the store is unavailable: {exc}") from exc


async def guarded(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except (Unavailable, *STORE_ERRORS) as exc:
        raise ApiError(503, "UNAVAILABLE", f"the store is unavailable: {exc}") from exc


def decode_body(decoder: msgspec.json.Decoder, body: bytes, expected: str = "object",
                shape: str = "a JSON object") -> Any:
    """Decode a request body with a typed decoder and the event stream's error codes:
    400 for what is not JSON of the expected shape, 422 (by field) for what is."""
    try:
        value = events.decode_json(decoder, body)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "INVALID_UTF8", f"input is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except msgspec.ValidationError as exc:
        message = str(exc)
        if message.startswith(f"Expected `{expected}`"):
            raise ApiError(400, "NOT_AN_OBJECT", f"the body must be {shape}") from None
        raise ApiError(422, validation_code(message), message) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "MALFORMED_JSON", json_error_message(exc, body)) from None
    where = nul_field(value, body)
    if where is not None:
        raise ApiError(422, "INVALID_FIELD", nul_message(where))
    return value
