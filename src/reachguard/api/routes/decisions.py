"""POST /v1/decisions, POST /v1/decisions:batch, GET /v1/decisions (an org's decisions)."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import AUDITOR, COMPLIANCE, SENDER, check_org, require
from reachguard.api.errors import ApiError, from_event_error
from reachguard.api.routes.common import decode_body, guarded, iso, json_response, parse_time, read
from reachguard.api.service import Principal, Service
from reachguard.events import EventError, decode_event
from reachguard.model import Attempt

router = APIRouter(tags=["decisions"])
_encode = msgspec.json.Encoder().encode
_batch_decoder = msgspec.json.Decoder(list[Attempt])

_EXAMPLE = {"type": "attempt", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "+86 138 0013 8000",
            "at": "2026-11-23T10:00:00+08:00", "id": "a17", "content": "【某某金融】… 回T退订"}


@router.post(
    "/v1/decisions",
    summary="Decide one attempt",
    description="Body: one contract `attempt` (its `org` must be the key's). Answer: the contract Decision. "
    "The decision, and the contact if allowed, are committed to the store and the ledger before the answer.",
    openapi_extra=schemas.json_body("Attempt", "One contract `attempt` event.", {"marketing SMS": _EXAMPLE}),
    responses={**schemas.answer("Decision", "The decision"), **schemas.errors(400, 401, 403, 413, 422, 429, 503)},
    response_class=Response,
)
async def decide(request: Request, principal: Principal = Depends(require(SENDER))) -> Response:
    payload = await decide_one(request.app.state.service, principal, await request.body())
    return Response(payload, media_type="application/json")


async def decide_one(svc: Service, principal: Principal, body: bytes) -> bytes:
    """Body → encoded Decision (shared by the route and the middleware's fast path)."""
    try:
        event = decode_event(body)
    except EventError as exc:
        raise from_event_error(exc) from None
    if type(event) is not Attempt:
        raise ApiError(422, "WRONG_EVENT_TYPE", f"/v1/decisions takes an `attempt`; send `{event.__struct_config__.tag}` to /v1/events")
    check_org(principal, event.org)
    return _encode(await guarded(svc.writer.decide(event)))


@router.post(
    "/v1/decisions:batch",
    summary="Decide many attempts in order",
    description="Body: a JSON array of up to `max_batch` (default 10,000) attempts of the key's org. Answer: the "
    "decisions in the same order. The batch is one transaction: each attempt sees the contacts of the ones before it.",
    openapi_extra=schemas.json_body("Batch", "A JSON array of contract `attempt` events.", {"two": [_EXAMPLE, {**_EXAMPLE, "id": "a18"}]}),
    responses={**schemas.answer("Decisions", "One decision per attempt, in order"), **schemas.errors(400, 401, 403, 413, 422, 429, 503)},
    response_class=Response,
)
async def decide_batch(request: Request, principal: Principal = Depends(require(SENDER))) -> Response:
    payload = await decide_batch_bytes(request.app.state.service, principal, await request.body())
    return Response(payload, media_type="application/json")


async def decide_batch_bytes(svc: Service, principal: Principal, body: bytes) -> bytes:
    attempts = decode_batch(body)
    if len(attempts) > svc.settings.max_batch:
        raise ApiError(422, "TOO_MANY", f"{len(attempts)} attempts; the limit is {svc.settings.max_batch} per batch")
    org = principal.org
    for index, attempt in enumerate(attempts):
        if attempt.org != org:
            raise ApiError(403, "ORG_MISMATCH", f"attempt {index} names org {attempt.org[:128]!r}; this key acts for {org!r}",
                           {"index": index})
    if not attempts:
        return b"[]"
    return _encode(await guarded(svc.writer.decide_many(attempts)))


def decode_batch(body: bytes) -> list[Attempt]:
    return decode_body(_batch_decoder, body, "array", "a JSON array of attempts")


class DecisionRecord(msgspec.Struct):
    seq: int
    at: str
    number: str | None
    verdict: str | None
    attempt: dict[str, Any]
    decision: dict[str, Any]
    entry_hash: str


class DecisionPage(msgspec.Struct):
    org: str
    decisions: list[DecisionRecord]
    next_after: int | None


_PAGE_SCHEMA, _PAGE_COMPONENTS = msgspec.json.schema_components([DecisionPage], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_PAGE_COMPONENTS)
_json = msgspec.json.Decoder(dict[str, Any])


@router.get(
    "/v1/decisions",
    summary="An org's decisions, filtered",
    description="The caller's org's decisions from the ledger, in recording order, filtered by the attempt's time "
    "(`from` ≤ at < `to`), verdict and reason code. Page with `after` = the previous page's `next_after`.",
    responses={**schemas.answer(_PAGE_SCHEMA[0], "A page of decisions"), **schemas.errors(400, 401, 403, 422, 429, 503)},
    response_class=Response,
)
async def list_decisions(
    request: Request,
    principal: Principal = Depends(require(COMPLIANCE, AUDITOR)),
    from_: str | None = Query(None, alias="from", max_length=64, description="ISO-8601 time with offset (inclusive)"),
    to: str | None = Query(None, max_length=64, description="ISO-8601 time with offset (exclusive)"),
    verdict: Literal["allow", "deny", "defer"] | None = Query(None),
    reason: str | None = Query(None, max_length=64, pattern=r"^[A-Z_]+$", description="a reason code, e.g. QUIET_HOURS"),
    after: int = Query(0, ge=0, le=2**62, description="the seq to continue after"),
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    start, end = parse_time(from_, "from"), parse_time(to, "to")
    svc = request.app.state.service
    entries = await read(
        svc.store.decisions, principal.org, start.timestamp() if start else None, end.timestamp() if end else None,
        verdict, reason, after, limit,
    )
    zone = svc.policies.for_org(principal.org).zones_for("+8613800138000")[0]
    records = []
    for e in entries:
        body = _json.decode(e.body)
        records.append(DecisionRecord(e.seq, iso(e.at, zone), e.number, e.tag, body.get("attempt", {}), body.get("decision", {}), e.entry_hash))
    next_after = entries[-1].seq if len(entries) == limit else None
    return json_response(DecisionPage(principal.org, records, next_after))
