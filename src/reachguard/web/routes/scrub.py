"""Campaign list scrub: the console links to the service's scrub endpoint when it is served."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from reachguard.web.deps import officer
from reachguard.web.render import render
from reachguard.web.session import Officer

router = APIRouter()


@router.get("/console/scrub")
async def page(request: Request, who: Officer = Depends(officer)) -> Response:
    served = any(getattr(route, "path", "") == "/v1/scrubs" for route in request.app.routes)
    return render(request, "scrub.html", served=served)
