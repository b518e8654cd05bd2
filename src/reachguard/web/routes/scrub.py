"""Campaign list scrub: upload a list (CSV or Parquet), scrub it in the background with
progress (reachguard.scrub.run_scrub), download the allowed and the rejected rows.

The scrub opens its own read connection on the store's file, so it never holds the
service's connection; stores that are not a SQLite file are scrubbed through the CLI or the
API (`POST /v1/scrubs`, linked when this service serves it). Uploads obey the service's body
limit (`max_body_bytes`); bigger lists go through the CLI or the API.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path as FsPath

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from reachguard.api.service import Service
from reachguard.web.deps import WebError, form, officer, owned_job, require_role
from reachguard.web.jobs import Report
from reachguard.web.render import render, web_state
from reachguard.web.session import Officer

router = APIRouter()
PURPOSES = ("marketing", "collection", "service")
CHANNELS = ("sms", "call", "robocall", "push")
SUFFIXES = (".csv", ".parquet", ".txt")


def _store_file(svc: Service) -> str | None:
    from reachguard.store.sqlite import SQLiteStore

    store = svc.store
    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        return store.path
    return None


def _api_served(request: Request) -> bool:
    return any(getattr(route, "path", "") == "/v1/scrubs" for route in request.app.routes)


@router.get("/console/scrub")
async def page(request: Request, who: Officer = Depends(officer)) -> Response:
    svc: Service = request.app.state.service
    return render(request, "scrub.html", served=_api_served(request), local=_store_file(svc) is not None,
                  purposes=PURPOSES, channels=CHANNELS, limit=svc.settings.max_body_bytes)


@router.post("/console/scrub")
async def start(request: Request, who: Officer = Depends(officer)) -> Response:
    require_role(who, "compliance")
    svc: Service = request.app.state.service
    path = _store_file(svc)
    if path is None:
        raise WebError(501, "scrub.absent")
    values = await form(request, {"purpose": 16, "channel": 16})
    if values["purpose"] not in PURPOSES or values["channel"] not in CHANNELS:
        raise WebError(400, "err.required", field="purpose/channel")
    upload = (await request.form()).get("list")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise WebError(400, "err.required", field="list")
    suffix = FsPath(upload.filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise WebError(400, "err.required", field="list (.csv, .parquet)")
    folder = FsPath(tempfile.mkdtemp(prefix="reachguard-console-scrub-"))
    source = folder / f"list{'.csv' if suffix == '.txt' else suffix}"
    source.write_bytes(await upload.read())
    purpose, channel, org = values["purpose"], values["channel"], who.org

    def work(report: Report) -> FsPath:
        from reachguard.scrub import run_scrub

        run_scrub(source, store=path, org=org, purpose=purpose, channel=channel, at=datetime.now(timezone.utc),
                  out=folder / "allowed.csv", rejected=folder / "rejected.csv", policies=svc.policies,
                  progress=report, threads=1, memory_limit="512MB")
        source.unlink(missing_ok=True)
        return folder

    job = web_state(request).jobs.start(org, work, cleanup=folder)
    return render(request, "_scrub_job.html", job=job)


@router.get("/console/scrub/{job_id}")
async def progress(request: Request, job_id: str = Path(..., max_length=32), who: Officer = Depends(officer)) -> Response:
    return render(request, "_scrub_job.html", job=owned_job(request, job_id, who.org))


@router.get("/console/scrub/{job_id}/download")
async def download(request: Request, job_id: str = Path(..., max_length=32),
                   part: str = Query("allowed", pattern="^(allowed|rejected)$"), who: Officer = Depends(officer)) -> Response:
    job = owned_job(request, job_id, who.org, finished=True)
    return FileResponse(job.result / f"{part}.csv", media_type="text/csv", filename=f"{part}.csv")

