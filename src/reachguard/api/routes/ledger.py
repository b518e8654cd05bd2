"""Ledger reads for auditors: entries, checkpoints and public keys, a chain check, an export."""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from pathlib import Path as FsPath
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from reachguard.api import schemas
from reachguard.api.deps import AUDITOR, require
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import json_response, parse_time, read
from reachguard.api.service import Principal, Service
from reachguard.ledger.audit import audit_org
from reachguard.ledger.chain import LedgerEntry
from reachguard.ledger.checkpoint import public_keys
from reachguard.ledger.export import ExportError, export_ledger

router = APIRouter(tags=["ledger"])


class EntryPage(msgspec.Struct):
    org: str
    entries: list[LedgerEntry]
    next_after: int | None


class CheckpointView(msgspec.Struct):
    org: str
    seq: int
    entry_hash: str
    signed_at: float
    key_id: str
    signature: str


class CheckpointList(msgspec.Struct):
    org: str
    checkpoints: list[CheckpointView]
    public_keys: dict[str, str]  # key_id -> PEM
    current_key_id: str


class ChainReport(msgspec.Struct):
    org: str
    ok: bool
    checked: int
    checkpoints: int
    broken_seq: int | None
    problem: str | None


_SCHEMAS, _COMPONENTS = msgspec.json.schema_components([EntryPage, CheckpointList, ChainReport], ref_template="#/components/schemas/{name}")
schemas.COMPONENTS.update(_COMPONENTS)
_ERR = schemas.errors(400, 401, 403, 422, 429, 503)


@router.get("/v1/ledger/entries", summary="A page of the org's hash chain", response_class=Response,
            responses={**schemas.answer(_SCHEMAS[0], "Entries in chain order"), **_ERR})
async def entries(
    request: Request,
    after: int = Query(0, ge=0, le=2**62, description="the seq to continue after"),
    limit: int = Query(1000, ge=1, le=10_000),
    principal: Principal = Depends(require(AUDITOR)),
) -> Response:
    svc: Service = request.app.state.service
    page = await read(lambda: list(svc.store.ledger_range(principal.org, after + 1, after + limit)))
    return json_response(EntryPage(principal.org, page, page[-1].seq if len(page) == limit else None))


@router.get("/v1/ledger/checkpoints", summary="The org's signed checkpoints and the public keys", response_class=Response,
            responses={**schemas.answer(_SCHEMAS[1], "Checkpoints"), **_ERR})
async def checkpoints(request: Request, principal: Principal = Depends(require(AUDITOR))) -> Response:
    svc: Service = request.app.state.service

    def load() -> CheckpointList:
        cps = svc.store.checkpoints(principal.org)
        keys = public_keys(svc.store, {c.key_id for c in cps} | {svc.signer.key_id})
        views = [CheckpointView(c.org, c.seq, c.entry_hash, c.signed_at, c.key_id, c.signature) for c in cps]
        return CheckpointList(principal.org, views, keys, svc.signer.key_id)

    return json_response(await read(load))


@router.get("/v1/ledger/verify", summary="Re-walk the org's chain and check its checkpoints", response_class=Response,
            responses={**schemas.answer(_SCHEMAS[2], "The result; `ok: false` names the first broken entry"), **_ERR})
async def verify_chain(request: Request, principal: Principal = Depends(require(AUDITOR))) -> Response:
    svc: Service = request.app.state.service
    report = await read(audit_org, svc.store, principal.org, svc.trusted_keys)
    broken = report.broken
    return json_response(ChainReport(principal.org, report.ok, report.checked, report.checkpoints,
                                     broken.seq if broken else None, broken.problem if broken else report.unchecked))


@router.get(
    "/v1/ledger/export",
    summary="Export the org's ledger with its proof (zip)",
    description="The same folder as `reachguard audit export`, zipped: entries.jsonl, checkpoints.json, "
    "public_keys.json, manifest.json (signed with the ledger key), VERIFY.md and a standalone verify.py.",
    response_class=Response,
    responses={200: {"description": "A zip archive", "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
               404: schemas.errors(404)[404], **_ERR},
)
async def export(
    request: Request,
    from_: str | None = Query(None, alias="from", max_length=64, description="ISO-8601 time with offset (inclusive)"),
    to: str | None = Query(None, max_length=64, description="ISO-8601 time with offset (exclusive)"),
    principal: Principal = Depends(require(AUDITOR)),
) -> Response:
    start, end = parse_time(from_, "from"), parse_time(to, "to")
    svc: Service = request.app.state.service

    def build() -> bytes:
        with tempfile.TemporaryDirectory(prefix="reachguard-export-") as tmp:
            folder = FsPath(tmp) / "export"
            export_ledger(svc.store, principal.org, folder, start, end, svc.signer)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for name in sorted(os.listdir(folder)):
                    archive.write(folder / name, f"ledger-{principal.org}/{name}")
            return buffer.getvalue()

    try:
        data = await read(build)
    except ExportError as exc:
        raise ApiError(404, "NOT_FOUND", str(exc)) from None
    return Response(data, media_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="ledger-{principal.org}.zip"'})
