"""Jinja2 rendering with the language, the CSRF token and the officer in every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from reachguard.web.i18n import COOKIE, LANGS, pick_lang, translator

TEMPLATES = Path(__file__).parent / "templates"
env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                  trim_blocks=True, lstrip_blocks=True)
env.globals["id_of"] = id


def web_state(request: Request) -> Any:
    return request.app.state.web


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render `name` for this request; sets the language and CSRF cookies when needed."""
    web = web_state(request)
    lang = pick_lang(request)
    token, fresh = web.sessions.csrf_token(request)
    page = env.get_template(name).render(
        request=request, t=translator(lang), lang=lang, other_lang=LANGS[1 - LANGS.index(lang)],
        csrf=token, officer=getattr(request.state, "officer", None), path=request.url.path, **context,
    )
    response = HTMLResponse(page, status_code=status)
    if fresh:
        web.sessions.set_csrf(response, request, token)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/")
    return response
