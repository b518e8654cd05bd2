"""POST /v1/events (any state event) and POST /v1/inbound/sms (the SMS provider webhook)."""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from reachguard import inbound
from reachguard.api import schemas
from reachguard.api.deps import COMPLIANCE, SENDER, check_org, require
from reachguard.api.errors import ApiError, from_event_error
from reachguard.api.routes.common import decode_body, json_response, write
from reachguard.api.routes.reputation import limit_reporter
from reachguard.api.service import Principal, Service
from reachguard.events import EventError, decode_event
from reachguard.model import Attempt, Complaint, Dnc, InboundSms, OptOut, Report
from reachguard.numbers import InvalidNumber

router = APIRouter(tags=["events"])
_inbound_decoder = msgspec.json.Decoder(InboundSms)


def own_lists(org: str) -> tuple[str, str]:
    return org, f"org:{org}"


def scope_event(event, principal: Principal, svc: Service):
    """The org comes from the key: a body naming another org is refused; an absent org is the key's."""
    if isinstance(event, Dnc):
        if event.list not in own_lists(principal.org) and principal.org not in svc.settings.shared_list_orgs:
            raise ApiError(403, "LIST_FORBIDDEN",
                           f"org {principal.org!r} may write only its own list ({principal.org!r} or 'org:{principal.org}'), "
                           f"not {event.list[:128]!r}")
        return event
    org = getattr(event, "org", None)
    check_org(principal, org)
    if org is None and hasattr(event, "org"):
        event = msgspec.structs.replace(event, org=principal.org)
    return event


async def apply(svc: Service, event) -> str | None:
    """Apply on the writer thread; count it. Returns the reply's action for inbound_sms."""
    try:
        await write(svc, svc.gateway.apply, event)
    except InvalidNumber as exc:
        raise ApiError(422, "INVALID_NUMBER", str(exc)) from None
    tag = event.__struct_config__.tag
    svc.metrics.events.labels(tag).inc()
    if isinstance(event, OptOut):
        svc.metrics.opt_outs.labels("event").inc()
    elif isinstance(event, Complaint):
        svc.metrics.complaints.labels("event").inc()
    elif isinstance(event, InboundSms):
        return _count_reply(svc, event)
    return None


@router.post(
    "/v1/events",
    status_code=202,
    summary="Record a state event",
    description="Body: one contract event other than `attempt` (consent, consent_withdrawn, opt_out, dnc, account, "
    "inbound_sms, outcome, complaint). An `org` in the body must be the key's; an absent optional `org` becomes "
    "the key's (an org cannot opt a number out for every org). `dnc` may name only the org's own list "
    "(`acme` or `org:acme`) unless the org is in `shared_list_orgs`. Answer: 202 with the stored event.",
    openapi_extra=schemas.json_body("StateEvent", "One contract state event.", {
        "consent": {"type": "consent", "org": "acme", "to": "13800138000", "purpose": "marketing", "at": "2026-11-01T10:00:00+08:00"}}),
    responses={**schemas.answer("StateEvent", "The event as stored", 202), **schemas.errors(400, 401, 403, 413, 422, 429, 503)},
    response_class=Response,
)
async def post_event(request: Request, principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    body = await request.body()
    try:
        event = decode_event(body)
    except EventError as exc:
        raise from_event_error(exc) from None
    if isinstance(event, Attempt):
        raise ApiError(422, "WRONG_EVENT_TYPE", "attempts are decided: POST them to /v1/decisions")
    svc: Service = request.app.state.service
    event = scope_event(event, principal, svc)
    if isinstance(event, Report):  # the same per-reporter limit as POST /v1/reports
        await limit_reporter(svc, event)
    await apply(svc, event)
    return json_response(event, 202)


class InboundAnswer(msgspec.Struct):
    event: InboundSms
    action: str | None  # "opt_out", "complaint" or None


_ANSWER_SCHEMA, _ANSWER_COMPONENTS = msgspec.json.schema_components([InboundAnswer], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_ANSWER_COMPONENTS)


def _count_reply(svc: Service, event: InboundSms) -> str | None:
    kind = inbound.classify_reply(event.text)
    if kind == "opt_out":
        svc.metrics.opt_outs.labels("inbound_sms").inc()
    elif kind == "complaint":
        svc.metrics.complaints.labels("inbound_sms").inc()
    return kind


@router.post(
    "/v1/inbound/sms",
    status_code=202,
    summary="SMS provider webhook: a reply",
    description="Body: a contract `inbound_sms` object (`type` may be omitted). Opt-out keywords (回T, TD, 退订, STOP …) "
    "become an opt-out of the key's org, 投诉 a complaint — both in the number's history at once. `action` says which.",
    openapi_extra=schemas.json_body("InboundSms", "A reply as the provider received it.", {
        "opt-out": {"type": "inbound_sms", "from": "13800138000", "to": "1069000", "text": "退订", "at": "2026-11-23T10:05:00+08:00"}}),
    responses={**schemas.answer(_ANSWER_SCHEMA[0], "Recorded", 202), **schemas.errors(400, 401, 403, 413, 422, 429, 503)},
    response_class=Response,
)
async def inbound_sms(request: Request, principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    body = await request.body()
    if len(body) > 1 << 20:
        raise ApiError(413, "TOO_LARGE", "the body is over 1 MiB")
    event = decode_body(_inbound_decoder, body)
    svc: Service = request.app.state.service
    event = scope_event(event, principal, svc)
    kind = await apply(svc, event)
    return json_response(InboundAnswer(event, kind), 202)
