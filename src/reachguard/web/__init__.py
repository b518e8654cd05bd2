"""The web console (/console) and the public pages (/public), served by the API's app.

Server-rendered Jinja2 pages; htmx (vendored) refreshes the live parts and Chart.js
(vendored) draws the charts, so nothing is fetched from another site at run time.
`install(app)` adds the routes, the static files, the security headers and the error pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response

from reachguard.api.service import RateLimiter, Service
from reachguard.web.deps import LoginRequired, WebError, error_page, login_redirect
from reachguard.web.jobs import Jobs
from reachguard.web.security import SecureHeaders
from reachguard.web.session import CONSOLE_ROLES, Sessions

STATIC = Path(__file__).parent / "static"


@dataclass
class WebState:
    """What the web routes share: sessions, limits, background jobs."""

    sessions: Sessions
    login_limiter: RateLimiter
    report_limiter: RateLimiter
    jobs: Jobs
    console_roles: frozenset[str] = field(default=CONSOLE_ROLES)


def install(app: FastAPI) -> None:
    from reachguard.web.routes import auth, complaints, dashboard, ledger, numbers, public, review, scrub, templates

    svc: Service = app.state.service
    s = svc.settings
    app.state.web = WebState(
        sessions=Sessions(svc, s.console_session_hours * 3600),
        login_limiter=RateLimiter("login", s.login_rate_limit, 60.0, s.redis_url),
        report_limiter=RateLimiter("report", s.public_form_rate_limit, 3600.0, s.redis_url),
        jobs=Jobs(),
    )
    for module in (auth, dashboard, numbers, templates, review, ledger, complaints, scrub, public):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    async def on_web_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, WebError)
        return error_page(request, exc)

    async def on_login_required(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    app.add_exception_handler(WebError, on_web_error)
    app.add_exception_handler(LoginRequired, on_login_required)

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/public/verify", status_code=307)

    app.add_middleware(SecureHeaders)
