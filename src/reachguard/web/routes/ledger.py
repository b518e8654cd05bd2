"""Ledger: the last chain verification (run on demand), the last checkpoint, an export with progress."""

from __future__ import annotations

import json
import os
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path as FsPath

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import FileResponse, Response

from reachguard.api.routes.common import iso
from reachguard.api.service import Service
from reachguard.ledger.audit import audit_org
from reachguard.ledger.export import export_ledger
from reachguard.web.deps import WebError, blocking, form, officer, org_zone, owned_job
from reachguard.web.jobs import Report
from reachguard.web.render import render, web_state
from reachguard.web.session import Officer

router = APIRouter()
_LAST = "console_last_verify:"


def _overview(svc: Service, org: str) -> dict:
    head = svc.store.ledger_head(org)
    checkpoints = svc.store.checkpoints(org)
    last = svc.store.get_meta(_LAST + org)
    return {"head": head, "checkpoint": checkpoints[-1] if checkpoints else None,
            "last": json.loads(last) if last else None}


@router.get("/console/ledger")
async def page(request: Request, who: Officer = Depends(officer)) -> Response:
    svc = request.app.state.service
    info = await blocking(_overview, svc, who.org)
    zone = org_zone(svc, who.org)
    return render(request, "ledger.html", info=info, when=lambda ts: (iso(ts, zone) or "")[:19].replace("T", " "))


@router.post("/console/ledger/verify")
async def verify(request: Request, who: Officer = Depends(officer)) -> Response:
    """Re-walk the org's chain now, remember the result, show it (htmx fragment)."""
    await form(request, {})
    svc = request.app.state.service
    report = await blocking(audit_org, svc.store, who.org, svc.trusted_keys)
    result = {"at": time.time(), "ok": report.ok, "checked": report.checked, "checkpoints": report.checkpoints,
              "seq": report.broken.seq if report.broken else None,
              "problem": report.broken.problem if report.broken else report.unchecked}
    await svc.writer.call(svc.store.set_meta, _LAST + who.org, json.dumps(result))
    zone = org_zone(svc, who.org)
    return render(request, "_verify.html", last=result, when=lambda ts: (iso(ts, zone) or "")[:19].replace("T", " "))


def _parse_day(value: str, zone: object, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).replace(tzinfo=zone)  # type: ignore[arg-type]
    except ValueError:
        raise WebError(400, "err.required", field=name) from None


@router.post("/console/ledger/export")
async def start_export(request: Request, who: Officer = Depends(officer)) -> Response:
    values = await form(request, {"from": 32, "to": 32})
    svc = request.app.state.service
    zone = org_zone(svc, who.org)
    start, end = _parse_day(values["from"], zone, "from"), _parse_day(values["to"], zone, "to")

    def work(report: Report) -> FsPath:
        report("running", 0.1)
        with tempfile.TemporaryDirectory(prefix="reachguard-export-") as tmp:
            folder = FsPath(tmp) / "export"
            export_ledger(svc.store, who.org, folder, start, end, svc.signer)
            names = sorted(os.listdir(folder))
            report("zipping", 0.7)
            fd, name = tempfile.mkstemp(prefix=f"ledger-{who.org}-", suffix=".zip")
            os.close(fd)
            with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as archive:
                for i, entry in enumerate(names):
                    archive.write(folder / entry, f"ledger-{who.org}/{entry}")
                    report("zipping", 0.7 + 0.3 * (i + 1) / len(names))
            return FsPath(name)

    job = web_state(request).jobs.start(who.org, work)
    return render(request, "_export.html", job=job)


@router.get("/console/ledger/export/{job_id}")
async def progress(request: Request, job_id: str = Path(..., max_length=32), who: Officer = Depends(officer)) -> Response:
    return render(request, "_export.html", job=owned_job(request, job_id, who.org))


@router.get("/console/ledger/export/{job_id}/download")
async def download(request: Request, job_id: str = Path(..., max_length=32), who: Officer = Depends(officer)) -> Response:
    job = owned_job(request, job_id, who.org, finished=True)
    return FileResponse(job.result, media_type="application/zip", filename=f"ledger-{who.org}.zip")
