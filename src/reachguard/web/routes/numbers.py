"""Number search → the number's full history, as GET /v1/numbers/{n} reads it (own org only)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from reachguard.api.routes.numbers import number_view
from reachguard.numbers import try_normalize
from reachguard.web.deps import blocking, officer
from reachguard.web.render import render
from reachguard.web.session import Officer

router = APIRouter()
SECTIONS = ("consents", "opt_outs", "lists", "accounts", "outcomes", "contacts", "inbound")


@router.get("/console/numbers")
async def search(request: Request, q: str = Query("", max_length=4096), who: Officer = Depends(officer)) -> Response:
    if not q.strip():
        return render(request, "numbers.html", q="", view=None)
    number = try_normalize(q) if len(q) <= 64 else None
    if number is None:
        return render(request, "numbers.html", status=422, q=q[:64], view=None, error="num.invalid")
    view = await blocking(number_view, request.app.state.service, who.org, number, 500)
    history = [(item, _short(item.body)) for item in reversed(view.history)]
    sections = [(name, view.state.get(name, [])) for name in SECTIONS]
    return render(request, "numbers.html", q=q, view=view, history=history, sections=sections)


def _short(body: dict) -> str:
    """A decision's reasons, or an event's fields, in one line."""
    decision = body.get("decision")
    if isinstance(decision, dict):
        codes = [r.get("code") for r in decision.get("reasons", [])]
        attempt = body.get("attempt", {})
        parts = [f"{attempt.get('purpose')}/{attempt.get('channel')}"]
        if attempt.get("agent"):
            parts.append(f"agent={attempt['agent']}")
        if codes:
            parts.append(" ".join(str(c) for c in codes))
        return " · ".join(parts)
    return json.dumps({k: v for k, v in body.items() if k not in ("type", "to", "at")}, ensure_ascii=False)[:300]
