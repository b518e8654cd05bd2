"""Number reputation over HTTP: GET /v1/numbers/{number}/reputation (public) and POST /v1/reports.

Both are open to the public (no API key): recipients look numbers up and report them. The
lookup is rate limited per client address (`reputation_rate_limit` per minute) and answers
only aggregates: never a reporter id, hash or report text. Reports are rate limited per
reporter (`report_rate_limit` per hour, counted under the reporter's keyed hash, so not even
the rate-limit keys in Redis hold a reporter id; the same counter applies to a `report` sent
through POST /v1/events) and per client address, unless the caller sends a valid API key (an
app relaying its users' reports).
"""

from __future__ import annotations

import weakref
from functools import partial

import msgspec
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from reachguard import reputation
from reachguard.api import schemas
from reachguard.api.deps import bearer_key, principal_for_key
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import decode_body, json_response, parse_time, read, write
from reachguard.api.routes.verify import client_address
from reachguard.api.service import RateLimiter, Service
from reachguard.model import Report
from reachguard.reputation.keying import read_secret, reporter_hash, reporter_key
from reachguard.reputation.ports import try_reportable

router = APIRouter(tags=["public"])
_decoder = msgspec.json.Decoder(Report)


class ReportAccepted(msgspec.Struct):
    number: str
    label: str
    at: str


_SCHEMAS, _COMPONENTS = msgspec.json.schema_components([reputation.Reputation, ReportAccepted, Report],
                                                       ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_COMPONENTS)


class _Parts:
    """Per service: the limiters and the reporter key (built on first use)."""

    def __init__(self, svc: Service):
        s = svc.settings
        self.lookups = RateLimiter("reputation", s.reputation_rate_limit, 60.0, s.redis_url)
        self.reporters = RateLimiter("reports", s.report_rate_limit, 3600.0, s.redis_url)
        self.clients = RateLimiter("report-clients", s.report_rate_limit, 3600.0, s.redis_url)
        explicit = read_secret(s.reporter_secret_file) if s.reporter_secret_file is not None else None
        self.key = reporter_key(svc.store, explicit)


_parts: "weakref.WeakKeyDictionary[Service, _Parts]" = weakref.WeakKeyDictionary()


def parts(svc: Service) -> _Parts:
    found = _parts.get(svc)
    if found is None:
        found = _parts[svc] = _Parts(svc)
    return found


async def _limit(limiter: RateLimiter, client: str, what: str) -> None:
    retry = await limiter.hit(client)
    if retry is not None:
        raise ApiError(429, "RATE_LIMITED", f"too many {what}; try again later",
                       headers={"Retry-After": str(max(1, int(retry + 0.999)))})


def reportable_or_422(raw: str, name: str = "number") -> str:
    """A phone number (E.164) or a Chinese SMS service port (106…, its digits): reputation/ports.py."""
    number = try_reportable(raw)
    if number is None:
        raise ApiError(422, "INVALID_NUMBER", f"{raw[:40]!r} is not a valid phone number or SMS port", {"parameter": name})
    return number


async def limit_reporter(svc: Service, report: Report) -> None:
    """The per-reporter limit (`report_rate_limit` per hour), shared by every path a report takes
    into the service (POST /v1/reports and POST /v1/events): one counter per keyed hash. Building
    the parts also makes the service's reporter secret the store's key for the engine's ingest."""
    p = parts(svc)
    await _limit(p.reporters, reporter_hash(p.key, report.reporter).hex(), "reports by this reporter")


@router.get(
    "/v1/numbers/{number}/reputation",
    summary="What is this number? (public, no API key)",
    description="The number's label (harassment 骚扰, collection 催收, loan_marketing 贷款推销, fraud 诈骗, other 其他) "
    "with its confidence, the distinct reporters and reports filed, the registered org it belongs to (verified), "
    "orgs' appeals, signals from the owner's own traffic, and every constant of the model with its meaning. "
    "Aggregates only: no reporter ids, no report texts. Rate limited per client (`reputation_rate_limit`).",
    responses={**schemas.answer(_SCHEMAS[0], "The number's reputation"), **schemas.errors(400, 422, 429, 503)},
    response_class=Response,
)
async def get_reputation(
    request: Request,
    number: str = Path(..., max_length=64, description="any common written form; normalised to E.164 (an SMS port 106…: its digits)"),
    at: str | None = Query(None, max_length=64, description="ISO-8601 time with offset (default: now)"),
) -> Response:
    svc: Service = request.app.state.service
    await _limit(parts(svc).lookups, client_address(request, svc), "reputation lookups")
    e164 = reportable_or_422(number)
    when = parse_time(at, "at")
    weights = svc.policies.default.reputation
    answer = await read(partial(reputation.lookup, svc.store, e164, when, policy=weights))
    return json_response(answer)


@router.post(
    "/v1/reports",
    status_code=202,
    summary="Report a number (public; rate limited per reporter)",
    description="Body: a contract `report` object (`type` may be omitted): `to`, `label`, `reporter` (an opaque id "
    "of the person reporting, stored only as a keyed hash), `at`, optional `text`. One reporter counts once per "
    "number (their latest label). Rate limited per reporter and, without an API key, per client "
    "(`report_rate_limit` per hour). Answer: 202 with the number, label and time — never the reporter.",
    openapi_extra={"requestBody": {"required": True, "description": "One report.", "content": {"application/json": {
        "schema": _SCHEMAS[2], "example": {
            "type": "report", "to": "138 0013 8000", "label": "collection", "reporter": "app-user-42",
            "at": "2026-11-23T10:05:00+08:00", "text": "您的借款已逾期，今天不还就上门"}}}}},
    responses={**schemas.answer(_SCHEMAS[1], "Recorded", 202), **schemas.errors(400, 413, 422, 429, 503)},
    response_class=Response,
)
async def post_report(request: Request) -> Response:
    svc: Service = request.app.state.service
    body = await request.body()
    report = decode_body(_decoder, body)
    number = reportable_or_422(report.to, "to")
    p = parts(svc)
    key = bearer_key(request.headers.get("authorization"))
    if key is not None:
        await principal_for_key(svc, key)  # a relaying app: its key must be valid (401 otherwise)
    else:
        await _limit(p.clients, client_address(request, svc), "reports from this client")
    await limit_reporter(svc, report)
    weights = svc.policies.default.reputation
    await write(svc, partial(reputation.record_reports, svc.store, [report], policy=weights, key=p.key))
    return json_response(ReportAccepted(number, report.label, report.at.isoformat()), 202)
