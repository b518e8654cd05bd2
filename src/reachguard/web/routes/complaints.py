"""Complaints queue: deadlines, assignment, status and a reply per case."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import RedirectResponse, Response

from reachguard.api.service import Service
from reachguard.web.cases import STATUSES, new_complaints, save_sync, view
from reachguard.web.deps import WebError, blocking, form, officer, org_zone, require_role
from reachguard.web.render import render
from reachguard.web.session import Officer

router = APIRouter()


async def _sync(svc: Service, org: str) -> bool:
    """Open cases for new complaints; False when the store keeps no cases (queue read-only)."""
    try:
        cases, upto = await blocking(new_complaints, svc.store, org)
        await svc.writer.call(save_sync, svc.store, org, cases, upto)
    except NotImplementedError:
        return False
    return True


@router.get("/console/complaints")
async def queue(request: Request, who: Officer = Depends(officer)) -> Response:
    svc: Service = request.app.state.service
    supported = await _sync(svc, who.org)
    cases = await blocking(svc.store.complaint_cases, who.org) if supported else []
    s = svc.settings
    zone = org_zone(svc, who.org)
    now = time.time()
    views = [view(c, zone, s.complaint_ack_working_days, s.complaint_resolve_working_days, now) for c in cases]
    officers = await blocking(lambda: sorted({k.label or k.key_id for k in svc.store.api_keys(who.org)
                                              if k.role == "compliance" and k.revoked_at is None}))
    return render(request, "complaints.html", views=views, statuses=STATUSES, officers=officers, supported=supported,
                  ack=s.complaint_ack_working_days, resolve=s.complaint_resolve_working_days)


@router.post("/console/complaints/{seq}")
async def update(request: Request, seq: int = Path(..., ge=1, le=2**62), who: Officer = Depends(officer)) -> Response:
    require_role(who, "compliance")
    values = await form(request, {"status": 16, "assignee": 128, "reply": 2000})
    if values["status"] not in STATUSES:
        raise WebError(400, "err.required", field="status")
    svc: Service = request.app.state.service
    try:
        found = await svc.writer.call(svc.store.complaint_case_update, who.org, seq, values["status"],
                                      values["assignee"] or None, values["reply"] or None, time.time())
    except NotImplementedError:
        raise WebError(501, "err.not_found") from None
    if not found:
        raise WebError(404, "err.not_found")
    return RedirectResponse(f"/console/complaints#case-{seq}", status_code=303)
