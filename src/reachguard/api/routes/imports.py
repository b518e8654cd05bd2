"""Bulk import of consents and of a do-not-contact list: CSV or JSON Lines, streamed.

The body is read as it arrives and applied in chunks of 2,000 lines, one store transaction
per chunk (on the writer thread); a bad line is reported with its line number and the rest
go on. The answer counts accepted and rejected lines and lists the first 1,000 errors.
"""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import msgspec
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import COMPLIANCE, require
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import json_response, write
from reachguard.api.routes.events import own_lists
from reachguard.api.service import Principal, Service
from reachguard.events import EventError, decode_event
from reachguard.model import Consent, ConsentWithdrawn, Dnc
from reachguard.numbers import InvalidNumber

router = APIRouter(tags=["imports"])
CHUNK_LINES = 2_000
MAX_LINE = 1 << 20
MAX_ERRORS = 1_000
csv.field_size_limit(MAX_LINE)
_encode = msgspec.json.Encoder().encode


class LineError(msgspec.Struct):
    line: int
    code: str
    message: str


class ImportReport(msgspec.Struct):
    lines: int
    accepted: int
    rejected: int
    errors: list[LineError]
    errors_truncated: bool


_SCHEMA, _COMPONENTS = msgspec.json.schema_components([ImportReport], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_COMPONENTS)

_CSV_TYPES = ("text/csv", "application/csv")
_JSONL_TYPES = ("application/x-ndjson", "application/jsonl", "application/json-lines", "application/x-jsonlines", "application/json")


class LineProblem(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _body_format(request: Request) -> str:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype in _CSV_TYPES:
        return "csv"
    if ctype in _JSONL_TYPES:
        return "jsonl"
    raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE",
                   f"Content-Type {ctype or '(none)'!r}: send text/csv (with a header row) or application/x-ndjson")


async def _lines(request: Request) -> Any:
    """(line number, raw bytes) of the streamed body; over-long lines come back as None."""
    number = 0
    pending = b""
    skipping = False
    async for chunk in request.stream():
        pending += chunk
        while True:
            cut = pending.find(b"\n")
            if cut < 0:
                break
            line, pending = pending[:cut], pending[cut + 1:]
            number += 1
            if skipping or len(line) > MAX_LINE:
                skipping = False
                yield number, None
            else:
                yield number, line.rstrip(b"\r")
        if len(pending) > MAX_LINE:
            pending = b""
            skipping = True
    if skipping:
        number += 1
        yield number, None
    elif pending.strip():
        number += 1
        yield number, pending.rstrip(b"\r")


def _split(value: str) -> list[str]:
    return [part for part in value.replace("|", " ").replace(";", " ").replace(",", " ").split() if part]


def _csv_event(header: list[str], row: list[str], kind: str, principal: Principal, list_name: str | None) -> bytes:
    if len(row) != len(header):
        raise LineProblem("INVALID_FIELD", f"{len(row)} columns; the header has {len(header)}")
    fields = {name: value for name, value in zip(header, row) if value != ""}
    if kind == "consents":
        event: dict[str, Any] = {"type": fields.pop("type", "consent"), "org": fields.pop("org", principal.org)}
        if "channels" in fields:
            event["channels"] = _split(fields.pop("channels"))
        if event["type"] == "consent":
            fields.setdefault("purpose", "marketing")
    else:
        event = {"type": "dnc", "list": fields.pop("list", list_name)}
        if "remove" in fields:
            flag = fields.pop("remove").strip().lower()
            if flag not in ("true", "false", "1", "0", "yes", "no"):
                raise LineProblem("INVALID_FIELD", f"remove must be true or false, not {flag[:20]!r}")
            event["remove"] = flag in ("true", "1", "yes")
        fields.setdefault("at", datetime.now(timezone.utc).isoformat())
    event.update(fields)
    return _encode(event)


def _check(event: Any, kind: str, principal: Principal, list_name: str | None) -> None:
    if kind == "consents":
        if not isinstance(event, (Consent, ConsentWithdrawn)):
            raise LineProblem("WRONG_EVENT_TYPE", f"a consent import takes consent or consent_withdrawn, not {event.__struct_config__.tag}")
        if event.org != principal.org:
            raise LineProblem("ORG_MISMATCH", f"the line names org {event.org[:128]!r}; this key acts for {principal.org!r}")
    else:
        if not isinstance(event, Dnc):
            raise LineProblem("WRONG_EVENT_TYPE", f"a list import takes dnc events, not {event.__struct_config__.tag}")
        if event.list != list_name:
            raise LineProblem("LIST_FORBIDDEN", f"the line names list {event.list[:128]!r}, the import is for {list_name!r}")


def _apply_chunk(svc: Service, lines: list[tuple[int, bytes | None, str]], kind: str, principal: Principal,
                 list_name: str | None, fmt: str, header: list[str] | None) -> list[LineError]:
    """Decode, check and apply a chunk of lines in one transaction; the errors of its bad lines."""
    errors: list[LineError] = []
    with svc.store.transaction():
        for number, raw, _ in lines:
            try:
                if raw is None:
                    raise LineProblem("TOO_LARGE", f"line over {MAX_LINE} bytes")
                if fmt == "csv":
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        raise LineProblem("INVALID_UTF8", f"not valid UTF-8 at byte {exc.start}") from None
                    row = next(csv.reader([text]))
                    raw = _csv_event(header or [], row, kind, principal, list_name)
                event = decode_event(raw)
                _check(event, kind, principal, list_name)
                svc.gateway.apply(event)
            except EventError as exc:
                errors.append(LineError(number, exc.code, exc.message))
            except LineProblem as exc:
                errors.append(LineError(number, exc.code, exc.message))
            except InvalidNumber as exc:
                errors.append(LineError(number, "INVALID_NUMBER", str(exc)))
            except csv.Error as exc:
                errors.append(LineError(number, "INVALID_FIELD", f"CSV: {exc}"))
    return errors


def _csv_header(raw: bytes | None, kind: str) -> list[str]:
    """The CSV header's column names (stripped, lower case); ApiError 422 if unusable.

    A column named twice is refused (BAD_HEADER, as a scrub refuses it): otherwise the last
    one would silently win and the other's values be dropped."""
    if raw is None:
        raise ApiError(422, "INVALID_FIELD", "the CSV header line is over 1 MiB")
    try:
        header = [h.strip().lower() for h in next(csv.reader([raw.decode("utf-8-sig")]))]
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise ApiError(422, "INVALID_FIELD", "the first line must be a CSV header (e.g. to,at,channels)") from None
    allowed = _CSV_COLUMNS[kind]
    unknown = [h for h in header if h not in allowed]
    if unknown:
        raise ApiError(422, "UNKNOWN_FIELD", f"unknown CSV column(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")
    twice = sorted({h for h in header if header.count(h) > 1})
    if twice:
        raise ApiError(422, "BAD_HEADER", f"the CSV column(s) {', '.join(twice)} appear twice in the header")
    return header


async def _import(request: Request, principal: Principal, kind: str, list_name: str | None) -> Response:
    fmt = _body_format(request)
    svc: Service = request.app.state.service
    header: list[str] | None = None
    total = accepted = 0
    errors: list[LineError] = []
    rejected = 0
    chunk: list[tuple[int, bytes | None, str]] = []

    async def flush() -> None:
        nonlocal accepted, rejected
        if not chunk:
            return
        bad = await write(svc, _apply_chunk, svc, list(chunk), kind, principal, list_name, fmt, header)
        rejected += len(bad)
        accepted += len(chunk) - len(bad)
        room = MAX_ERRORS - len(errors)
        errors.extend(bad[:max(room, 0)])
        chunk.clear()

    async for number, raw in _lines(request):
        if raw is not None and not raw.strip():
            continue
        if fmt == "csv" and header is None:
            header = _csv_header(raw, kind)
            continue
        total += 1
        chunk.append((number, raw, ""))
        if len(chunk) >= CHUNK_LINES:
            await flush()
    await flush()
    return json_response(ImportReport(total, accepted, rejected, errors, rejected > len(errors)))


_CSV_COLUMNS = {
    "consents": ("type", "org", "to", "at", "purpose", "channels", "expires_at", "evidence"),
    "lists": ("list", "to", "at", "remove"),
}
_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string"}},
    "application/x-ndjson": {"schema": {"type": "string"}},
}}}
_RESPONSES = {**schemas.answer(_SCHEMA[0], "Counts and the first 1,000 line errors"), **schemas.errors(400, 401, 403, 413, 415, 422, 429, 503)}


@router.post(
    "/v1/import/consents", summary="Bulk import consents (CSV or JSON Lines)", response_class=Response,
    description="CSV with a header row — columns `to`, `at` (required), `type` (consent | consent_withdrawn), "
    "`purpose`, `channels` (separated by `|`, `;` or spaces), `expires_at`, `evidence`, `org` (if given, the key's) "
    "— or JSON Lines of contract `consent` / `consent_withdrawn` events of the key's org.",
    openapi_extra=_BODY, responses=_RESPONSES,
)
async def import_consents(request: Request, principal: Principal = Depends(require(COMPLIANCE))) -> Response:
    return await _import(request, principal, "consents", None)


@router.post(
    "/v1/import/lists/{list_name}", summary="Bulk import a do-not-contact list (CSV or JSON Lines)", response_class=Response,
    description="`list_name`: the org's own list (`acme` or `org:acme`), or a shared list if the org is in "
    "`shared_list_orgs`. CSV columns `to` (required), `at` (default: now), `remove` (true/false); or JSON Lines of "
    "contract `dnc` events naming that list.",
    openapi_extra=_BODY, responses=_RESPONSES,
)
async def import_list(
    request: Request,
    list_name: str = Path(..., min_length=1, max_length=128),
    principal: Principal = Depends(require(COMPLIANCE)),
) -> Response:
    svc: Service = request.app.state.service
    if list_name not in own_lists(principal.org) and principal.org not in svc.settings.shared_list_orgs:
        raise ApiError(403, "LIST_FORBIDDEN", f"org {principal.org!r} may import only its own list "
                                              f"({principal.org!r} or 'org:{principal.org}')")
    return await _import(request, principal, "lists", list_name)
