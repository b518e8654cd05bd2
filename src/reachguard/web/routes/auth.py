"""Log in with an API key (compliance or auditor role), log out (ending the session server-side)."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from reachguard.api.routes.verify import client_address
from reachguard.core.keys import hash_key
from reachguard.web.deps import blocking, form, officer
from reachguard.web.render import render, web_state
from reachguard.web.session import Officer

router = APIRouter()


@router.get("/console/login")
async def login_page(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/console/login")
async def login(request: Request) -> Response:
    web = web_state(request)
    svc = request.app.state.service
    values = await form(request, {"key": 200})
    if await web.login_limiter.hit(client_address(request, svc)) is not None:
        return render(request, "login.html", status=429, error="pub.report.limited")
    record = await run_in_threadpool(svc.store.api_key_by_hash, hash_key(values["key"])) if values["key"] else None
    if record is None or record.revoked_at is not None:
        return render(request, "login.html", status=401, error="login.bad")
    if record.role not in web.console_roles:
        return render(request, "login.html", status=403, error="login.role")
    # A session this browser still holds ends here too: a copy of its cookie must not outlive
    # the login that replaced it (the browser's cookie is overwritten, the copy is refused).
    await blocking(web.sessions.end, request)
    response = RedirectResponse("/console", status_code=303)
    web.sessions.issue(response, request, Officer(record.key_id, record.org, record.role, record.label))
    web.sessions.set_csrf(response, request, secrets.token_urlsafe(24))  # a new token after login
    return response


@router.post("/console/logout")
async def logout(request: Request, who: Officer = Depends(officer)) -> Response:
    """End the session in the store (a copy of the cookie is then refused everywhere), then
    drop the browser's cookie; a store failure is the 503 page and the session stays."""
    await form(request, {})
    sessions = web_state(request).sessions
    await blocking(sessions.end, request)
    response = RedirectResponse("/console/login", status_code=303)
    sessions.clear(response)
    return response


