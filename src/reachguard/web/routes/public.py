"""Public pages (no login): check a number, verify an SMS code, report / complain.

Every form is rate limited per client address; the report form also needs the CSRF token
its page set, so another site cannot file complaints in a visitor's name.
"""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from reachguard.api.routes.common import iso, write
from reachguard.api.routes.verify import client_address
from reachguard.api.service import Service
from reachguard.model import Complaint
from reachguard.numbers import try_normalize
from reachguard.reputation.ports import try_reportable
from reachguard.verification import ALPHABET, CODE_LENGTH, canonical_code
from reachguard.web.deps import WebError, blocking, form
from reachguard.web.render import render, web_state
from reachguard.web.reputation import LABELS, public_view, record_public_report

router = APIRouter()
_ORG_MAX = 128
_CODE_CHARS = frozenset(ALPHABET)


@router.get("/public")
async def index(request: Request) -> Response:
    return render(request, "public_verify.html", result=None, code="", to="")


@router.get("/public/number")
async def number(request: Request, n: str = Query("", max_length=4096)) -> Response:
    if not n.strip():
        return render(request, "public_number.html", n="", view=None)
    svc: Service = request.app.state.service
    if await svc.verify_limiter.hit(client_address(request, svc)) is not None:
        raise WebError(429, "pub.report.limited")
    number = try_reportable(n)  # a phone number or a 106 SMS port, as GET /v1/numbers/{n}/reputation
    if number is None:
        return render(request, "public_number.html", status=422, n=n[:64], view=None, error="num.invalid")
    view = await blocking(public_view, svc, number)
    return render(request, "public_number.html", n=n, view=view)


@router.get("/public/verify")
async def verify(request: Request, code: str = Query("", max_length=4096), to: str = Query("", max_length=4096)) -> Response:
    if not code.strip() and not to.strip():
        return render(request, "public_verify.html", result=None, code="", to="")
    svc: Service = request.app.state.service
    if await svc.verify_limiter.hit(client_address(request, svc)) is not None:
        raise WebError(429, "pub.report.limited")
    wanted = canonical_code(code) if len(code) <= 32 else ""
    e164 = try_normalize(to) if len(to) <= 64 else None
    found = None
    if e164 is not None and len(wanted) == CODE_LENGTH and set(wanted) <= _CODE_CHARS:
        found = await blocking(svc.store.contact_by_code, wanted, e164)
    svc.metrics.verifications.labels("true" if found else "false").inc()
    result = None
    if found is not None:
        org, at = found
        zones = svc.policies.for_org(org).zones_for(e164)
        sent = (iso(at, zones[0] if zones else timezone.utc) or "")[:19].replace("T", " ")
        result = {"genuine": True, "org": org, "sent_at": sent}
    return render(request, "public_verify.html", result=result or {"genuine": False}, code=code[:32], to=to[:64])


@router.get("/public/report")
async def report_page(request: Request) -> Response:
    return render(request, "public_report.html", values={}, done=None, labels=LABELS)


@router.post("/public/report")
async def report(request: Request) -> Response:
    svc: Service = request.app.state.service
    values = await form(request, {"to": 64, "org": _ORG_MAX, "from": 64, "label": 32, "text": 1000})
    errors = []
    to = try_normalize(values["to"]) if values["to"] else None
    if to is None:
        errors.append("num.invalid")
    if values["from"] and try_reportable(values["from"]) is None:
        errors.append("num.invalid")
    if values["label"] and values["label"] not in LABELS:
        errors.append("err.label")
    if errors:
        return render(request, "public_report.html", status=422, values=values, done=None, error=errors[0],
                      labels=LABELS)
    if await web_state(request).report_limiter.hit(client_address(request, svc)) is not None:
        return render(request, "public_report.html", status=429, values=values, done=None, error="pub.report.limited",
                      labels=LABELS)
    text = values["text"]
    caller = try_reportable(values["from"]) if values["from"] else None  # SMS spam often comes from a 106 port
    if caller:
        text = f"[{caller}] {text}".strip()
    now = datetime.now(timezone.utc)
    event = Complaint(to=to, at=now, org=values["org"] or None, text=text or None)
    reporter = "web:" + client_address(request, svc)

    def apply() -> str:
        svc.gateway.apply(event)
        head = svc.store.ledger_head(event.org or "*")
        if caller:  # the caller's number, for its reputation (when that service is there)
            record_public_report(svc, caller, values["label"] or "harassment", reporter, now, values["text"] or None)
        return f"{event.org or '*'}-{head[0] if head else 0}"

    ref = await write(svc, apply)
    return render(request, "public_report.html", values={}, done=ref, labels=LABELS)
