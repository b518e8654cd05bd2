"""API keys of the caller's org (admin): create (shown once), list, revoke."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

import msgspec
from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import ADMIN, check_org, require
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import decode_body, iso, json_response, read
from reachguard.api.service import Principal, Service
from reachguard.core.keys import create_key

router = APIRouter(tags=["keys"])


class KeyRequest(msgspec.Struct, forbid_unknown_fields=True):
    role: Literal["sender", "compliance", "auditor", "admin"]
    label: str | None = msgspec.field(default=None)
    org: str | None = None  # if given, must be the admin's own org


class KeyView(msgspec.Struct):
    key_id: str
    org: str
    role: str
    label: str | None
    created_at: str
    revoked_at: str | None


class NewKey(msgspec.Struct):
    key_id: str
    org: str
    role: str
    label: str | None
    created_at: str
    key: str  # shown once; only its SHA-256 is stored


class KeyList(msgspec.Struct):
    keys: list[KeyView]


_SCHEMAS, _COMPONENTS = msgspec.json.schema_components([KeyRequest, NewKey, KeyList, KeyView], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_COMPONENTS)
_decoder = msgspec.json.Decoder(KeyRequest)


def _view(record) -> KeyView:
    return KeyView(record.key_id, record.org, record.role, record.label, iso(record.created_at), iso(record.revoked_at))


@router.post(
    "/v1/keys", status_code=201, summary="Create an API key for the admin's org", response_class=Response,
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _SCHEMAS[0]}}}},
    responses={**schemas.answer(_SCHEMAS[1], "The new key: `key` is shown this once", 201), **schemas.errors(400, 401, 403, 413, 422, 429, 503)},
)
async def create(request: Request, principal: Principal = Depends(require(ADMIN))) -> Response:
    body = decode_body(_decoder, await request.body())  # the same error codes as every other body
    check_org(principal, body.org)
    if body.label is not None and len(body.label) > 200:
        raise ApiError(422, "INVALID_FIELD", "label is over 200 characters")
    svc: Service = request.app.state.service
    record, key = await read(create_key, svc.store, principal.org, body.role, body.label)
    return json_response(NewKey(record.key_id, record.org, record.role, record.label, iso(record.created_at), key), 201)


@router.get("/v1/keys", summary="The org's API keys (never the keys themselves)", response_class=Response,
            responses={**schemas.answer(_SCHEMAS[2], "Keys"), **schemas.errors(401, 403, 429, 503)})
async def list_keys(request: Request, principal: Principal = Depends(require(ADMIN))) -> Response:
    svc: Service = request.app.state.service
    records = await read(svc.store.api_keys, principal.org)
    return json_response(KeyList([_view(r) for r in records]))


@router.delete("/v1/keys/{key_id}", summary="Revoke one of the org's API keys", response_class=Response,
               responses={**schemas.answer(_SCHEMAS[3], "The revoked key"), **schemas.errors(401, 403, 404, 429, 503)})
async def revoke(request: Request, key_id: str = Path(..., max_length=64), principal: Principal = Depends(require(ADMIN))) -> Response:
    svc: Service = request.app.state.service
    now = datetime.now(timezone.utc).timestamp()
    done = await read(svc.store.revoke_api_key, key_id, now, principal.org)
    if not done:
        raise ApiError(404, "NOT_FOUND", f"no live key {key_id[:64]!r} in org {principal.org!r}")
    svc.keys.invalidate()
    record = next(r for r in await read(svc.store.api_keys, principal.org) if r.key_id == key_id)
    return json_response(_view(record))
