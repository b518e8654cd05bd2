"""Templates: submit a text, review it level by level (each level a different officer)."""

from __future__ import annotations

import re
import time
from typing import Any, Callable, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import RedirectResponse, Response

from reachguard.api.errors import ApiError
from reachguard.api.routes.common import write
from reachguard.api.service import Service
from reachguard.content.review import blocking as blocking_findings
from reachguard.content.review import review
from reachguard.templates import TemplateError, TemplateRegistry
from reachguard.web.deps import WebError, blocking, form, officer, require_role
from reachguard.web.render import render
from reachguard.web.routes.review import highlight
from reachguard.web.session import Officer

router = APIRouter()
T = TypeVar("T")
_ID = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"


def registry(request: Request, org: str) -> TemplateRegistry:
    svc = request.app.state.service
    return TemplateRegistry(svc.store, svc.policies.for_org(org).templates.levels)


def reviewer_name(who: Officer) -> str:
    """Each key is one officer: the label people read, the key id that keeps them apart."""
    return f"{who.label}#{who.key_id}" if who.label else who.key_id


@router.get("/console/templates")
async def index(request: Request, who: Officer = Depends(officer)) -> Response:
    reg = registry(request, who.org)

    def load() -> list:
        return [reg.status(who.org, tid) for tid in reg.store.template_ids(who.org)]

    return render(request, "templates.html", items=await blocking(load), levels=reg.levels)


@router.post("/console/templates")
async def submit(request: Request, who: Officer = Depends(officer)) -> Response:
    require_role(who, "compliance")
    values = await form(request, {"template_id": 64, "text": 2000})
    if not values["template_id"] or not values["text"]:
        raise WebError(400, "err.required", field="template_id/text")
    if not re.match(_ID, values["template_id"]):
        raise WebError(400, "err.required", field="template_id (A-Z a-z 0-9 . _ -)")
    reg = registry(request, who.org)
    svc = request.app.state.service
    await _write(svc, reg.submit, who.org, values["template_id"], values["text"], reviewer_name(who), time.time())
    return RedirectResponse(f"/console/templates/{values['template_id']}", status_code=303)


@router.get("/console/templates/{template_id}")
async def show(request: Request, template_id: str = Path(..., max_length=64),
               purpose: str = Query("collection", pattern="^(marketing|collection|service)$"),
               who: Officer = Depends(officer)) -> Response:
    reg = registry(request, who.org)
    try:
        status = await blocking(reg.status, who.org, template_id)
    except TemplateError:
        raise WebError(404, "err.not_found") from None
    text = status.version.text
    policy = request.app.state.service.policies.for_org(who.org)
    relation = "prospect" if purpose == "marketing" else "borrower"
    findings = review(text, purpose, relation).findings
    blocks = {id(f) for f in blocking_findings(policy, findings, purpose, "sms")}
    return render(request, "template.html", item=status, levels=reg.levels,
                  segments=highlight(text, findings, blocks), findings=findings, me=reviewer_name(who),
                  purpose=purpose)


@router.post("/console/templates/{template_id}/review")
async def review_template(request: Request, template_id: str = Path(..., max_length=64), who: Officer = Depends(officer)) -> Response:
    require_role(who, "compliance")
    values = await form(request, {"verdict": 16, "comment": 1000, "version": 12})
    if values["verdict"] not in ("approve", "reject"):
        raise WebError(400, "err.required", field="verdict")
    version = int(values["version"]) if values["version"].isdigit() else None
    reg = registry(request, who.org)
    svc = request.app.state.service
    try:
        await _write(svc, reg.review, who.org, template_id, reviewer_name(who), values["verdict"], values["comment"],
                     time.time(), version)
    except TemplateError as exc:
        return render(request, "error.html", status=409, message=str(exc))
    return RedirectResponse(f"/console/templates/{template_id}", status_code=303)


async def _write(svc: Service, fn: Callable[..., T], *args: Any) -> T:
    """Template writes go through the service's writer thread, like every other write."""
    try:
        return await write(svc, fn, *args)
    except ApiError as exc:
        raise WebError(503, "err.store") from exc
