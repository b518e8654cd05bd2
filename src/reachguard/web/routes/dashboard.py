"""The live overview: decisions per minute by verdict, opt-outs and complaints, top denials."""

from __future__ import annotations

import json
import time
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from reachguard.web.deps import blocking, officer, org_zone
from reachguard.web.render import render
from reachguard.web.session import Officer
from reachguard.web.stats import WINDOWS, dashboard

router = APIRouter()


def _window(value: str) -> str:
    return value if value in WINDOWS else "1h"


@router.get("/console")
async def page(request: Request, window: str = Query("1h", max_length=8), who: Officer = Depends(officer)) -> Response:
    return render(request, "dashboard.html", window=_window(window), windows=list(WINDOWS))


@router.get("/console/stats")
async def stats(request: Request, window: str = Query("1h", max_length=8), who: Officer = Depends(officer)) -> Response:
    """The live part (polled by htmx): figures and the charts' data as a JSON island."""
    svc = request.app.state.service
    zone = org_zone(svc, who.org)
    figures = await blocking(dashboard, svc.store, who.org, time.time(), _window(window), zone)
    return render(request, "_stats.html", stats=figures, chart_json=json.dumps(figures.chart_data(), ensure_ascii=False),
                  updated=datetime.now(zone).strftime("%H:%M:%S"))
