"""Route helpers: who is logged in, CSRF checks on every POST, form limits, errors as pages."""

from __future__ import annotations

from typing import Any, Callable
from zoneinfo import ZoneInfo

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from reachguard.api.service import STORE_ERRORS, Service
from reachguard.web.i18n import pick_lang, translator
from reachguard.web.jobs import Job
from reachguard.web.render import render, web_state
from reachguard.web.session import CSRF_FIELD, CSRF_HEADER, Officer


class WebError(Exception):
    """A page-level error: rendered as the error page (or a fragment for htmx) with a status."""

    def __init__(self, status: int, key: str, **values: Any):
        super().__init__(key)
        self.status = status
        self.key = key
        self.values = values


class LoginRequired(Exception):
    """No (valid) session: pages redirect to the login page, htmx requests get 401."""


async def officer(request: Request) -> Officer:
    """Dependency: the logged-in officer, whose role may use the console (a store that fails
    while checking the key or the session is the 503 page, never a pass)."""
    web = web_state(request)
    found = await blocking(web.sessions.officer, request)
    if found is None:
        raise LoginRequired()
    if found.role not in web.console_roles:
        raise WebError(403, "err.forbidden")
    request.state.officer = found
    return found


def org_zone(svc: Service, org: str) -> ZoneInfo:
    """The zone the org's pages show times in: its policy's zone (the fallback for `recipient`)."""
    policy = svc.policies.for_org(org)
    return ZoneInfo(policy.fallback_timezone if policy.timezone == "recipient" else policy.timezone)


def owned_job(request: Request, job_id: str, org: str, *, finished: bool = False) -> Job:
    """The console job `job_id` if `org` started it (and, with `finished`, it is done): else a 404,
    the same for a job that does not exist and one of another org."""
    job = web_state(request).jobs.get(job_id, org)
    if job is None or (finished and (job.result is None or job.stage != "done")):
        raise WebError(404, "err.not_found")
    return job


def require_role(found: Officer, *roles: str) -> None:
    if found.role not in roles:
        raise WebError(403, "err.forbidden")


async def form(request: Request, limits: dict[str, int]) -> dict[str, str]:
    """The POSTed form after the CSRF check; fields over their limit are refused, not cut."""
    data = await request.form()
    sent = data.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not isinstance(sent, str) or not web_state(request).sessions.csrf_ok(request, sent):
        raise WebError(403, "err.csrf")
    values: dict[str, str] = {}
    for name, limit in limits.items():
        value = data.get(name, "")
        if not isinstance(value, str):
            raise WebError(400, "err.required", field=name)
        if len(value) > limit:
            raise WebError(413, "err.too_long", field=name, max=limit)
        if "\x00" in value:  # as the API (events.nul_field): PostgreSQL cannot store NUL
            raise WebError(422, "err.nul", field=name)
        values[name] = value.strip()
    return values


async def blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a store call in the thread pool; store failures become the 503 page."""
    try:
        return await run_in_threadpool(fn, *args)
    except STORE_ERRORS as exc:
        raise WebError(503, "err.store") from exc


def error_page(request: Request, exc: WebError) -> Response:
    message = translator(pick_lang(request))(exc.key, **exc.values)
    if request.headers.get("hx-request"):
        return render(request, "_error.html", status=exc.status, message=message)
    return render(request, "error.html", status=exc.status, message=message)


def login_redirect(request: Request) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/console/login"})
    return RedirectResponse("/console/login", status_code=303)
