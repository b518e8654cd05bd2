"""GET /healthz (the process answers), /readyz (store and writer usable), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import AUDITOR, COMPLIANCE, require
from reachguard.api.errors import error_response
from reachguard.api.routes.common import json_response, read
from reachguard.api.service import Principal, Service

router = APIRouter(tags=["operations"])
_STATUS = {"type": "object", "properties": {"status": {"type": "string"}}, "required": ["status"]}
_OK = b'{"status":"ok"}'


@router.get("/healthz", summary="Liveness", response_class=Response, responses=schemas.answer(_STATUS, "Alive"))
async def healthz() -> Response:
    return Response(_OK, media_type="application/json")


@router.get("/readyz", summary="Readiness: the store answers and the writer runs", response_class=Response,
            responses={**schemas.answer(_STATUS, "Ready"), **schemas.errors(503)})
async def readyz(request: Request) -> Response:
    svc: Service = request.app.state.service
    ok, why = await read(svc.ready)
    if not ok:
        return error_response(503, "UNAVAILABLE", why)
    return json_response({"status": "ready"})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}})
async def metrics(request: Request) -> Response:
    svc: Service = request.app.state.service
    return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/v1/policy", summary="The caller's org's effective policy", response_class=Response, tags=["reads"],
            responses={**schemas.answer({"type": "object"}, "The policy (profile + overrides)"), **schemas.errors(401, 403, 429)})
async def policy(request: Request, principal: Principal = Depends(require(COMPLIANCE, AUDITOR))) -> Response:
    svc: Service = request.app.state.service
    return json_response(svc.policies.for_org(principal.org).model_dump(mode="json"))
