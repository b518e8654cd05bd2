"""Campaign scrubs over HTTP: upload a list, poll the job, download allowed and rejected rows.

The scrub itself is `reachguard.scrub.run_scrub`, the same code as `reachguard scrub`; jobs run
one at a time on a background thread (scrub/jobs.py) and read the store through their own
snapshot, so deciders are not held up. Jobs are visible only to the uploading org.
"""

from __future__ import annotations

import shutil
import threading
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse, Response

from reachguard.api import schemas
from reachguard.api.deps import COMPLIANCE, SENDER, check_org, require
from reachguard.api.errors import ApiError
from reachguard.api.routes.common import json_response, parse_time
from reachguard.api.service import Principal, Service
from reachguard.model import CHANNELS
from reachguard.scrub.jobs import ScrubJob, ScrubJobs
from reachguard.scrub.options import PURPOSES
from reachguard.scrub.snapshot_pg import is_pg_store
from reachguard.store.sqlite import SQLiteStore

router = APIRouter(tags=["scrubs"])
_FIELDS = {"file", "org", "purpose", "channel", "at", "column", "reserve"}
_JOBS_LOCK = threading.Lock()

_UPLOAD = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file", "purpose", "channel", "at"],
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "CSV (UTF-8, header line) or Parquet"},
        "purpose": {"type": "string", "enum": list(PURPOSES)},
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "at": {"type": "string", "format": "date-time", "description": "with an offset"},
        "column": {"type": "string", "description": "the number column (default: phone, mobile, to, number, 手机号, 电话)"},
        "reserve": {"type": "boolean", "description": "record the allowed rows as contacts made at `at`"},
        "org": {"type": "string", "description": "optional; must be the key's org"},
    }}}}}}


_JOB_SCHEMA = {"type": "object", "required": ["id", "status", "stage", "progress"], "properties": {
    "id": {"type": "string"}, "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
    "stage": {"type": "string"}, "progress": {"type": "number", "minimum": 0, "maximum": 1},
    "org": {"type": "string"}, "purpose": {"type": "string"}, "channel": {"type": "string"},
    "at": {"type": "string"}, "reserve": {"type": "boolean"},
    "error": {"anyOf": [{"type": "null"}, {"type": "object"}]}, "report": {"anyOf": [{"type": "null"}, {"type": "object"}]}}}


def _errors(*statuses: int) -> dict:
    """The shared error answers, plus the two only scrubs give (409, 501)."""
    own = {409: "Results asked for before the job is done (NOT_READY)",
           501: "The service's store cannot be scrubbed (NOT_IMPLEMENTED)"}
    out = schemas.errors(*(s for s in statuses if s not in own))
    for status in statuses:
        if status in own:
            out[status] = {"description": own[status], "content": {"application/json": {"schema": schemas.ref("Error")}}}
    return out


_FILE = {200: {"description": "The rows, in the upload's format",
               "content": {"text/csv": {"schema": {"type": "string"}},
                           "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}}}
_POST_RESPONSES = {**schemas.answer(_JOB_SCHEMA, "The job, queued", 202), **_errors(400, 401, 403, 413, 415, 422, 429, 501, 503)}
_GET_RESPONSES = {**schemas.answer(_JOB_SCHEMA, "The job"), **_errors(400, 401, 403, 404, 422, 429, 501)}
_FILE_RESPONSES = {**_FILE, **_errors(400, 401, 403, 404, 409, 422, 429, 501)}


def jobs_for(request: Request) -> ScrubJobs:
    """The app's job queue, made on first use (the store a scrub reads is the service's)."""
    state = request.app.state
    with _JOBS_LOCK:
        jobs = getattr(state, "scrub_jobs", None)
        if jobs is None:
            svc: Service = state.service
            store: Any = svc.store
            if is_pg_store(store):
                target = store  # PostgreSQL(+Redis): the scrub opens its own snapshot connection from its pool
            elif isinstance(store, SQLiteStore):
                target = store if store.path == ":memory:" else store.path
            else:
                raise ApiError(501, "NOT_IMPLEMENTED", "this store cannot be scrubbed (docs/scrub.md)")
            jobs = state.scrub_jobs = ScrubJobs(target, svc.policies, svc.settings.verification_secret())
    return jobs


def close_jobs(app: Any) -> None:
    """Stop the app's job queue (if any) and delete its folder: the uploaded lists hold phone numbers.

    Called when the app's lifespan ends; the next request after a restart of the lifespan gets
    a fresh queue. Waits for a running scrub; queued ones are dropped."""
    with _JOBS_LOCK:
        jobs: ScrubJobs | None = getattr(app.state, "scrub_jobs", None)
        app.state.scrub_jobs = None
    if jobs is not None:
        jobs.close()


def _text(form: Any, name: str, required: bool = True) -> str | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ApiError(422, "MISSING_FIELD", f"the form needs a `{name}` field", {"field": name})
        return None
    if not isinstance(value, str):
        raise ApiError(422, "INVALID_FIELD", f"`{name}` must be a plain form field, not a file", {"field": name})
    if len(value) > 256:
        raise ApiError(422, "INVALID_FIELD", f"`{name}` is longer than 256 characters", {"field": name})
    return value.strip()


def _options(form: Any, principal: Principal) -> dict[str, Any]:
    unknown = sorted(set(form.keys()) - _FIELDS)
    if unknown:
        raise ApiError(422, "UNKNOWN_FIELD", f"unknown form field(s): {', '.join(unknown)[:200]}", {"fields": unknown[:20]})
    check_org(principal, _text(form, "org", required=False))
    purpose, channel = _text(form, "purpose"), _text(form, "channel")
    if purpose not in PURPOSES:
        raise ApiError(422, "INVALID_FIELD", f"`purpose` must be one of {', '.join(PURPOSES)}", {"field": "purpose"})
    if channel not in CHANNELS:
        raise ApiError(422, "INVALID_FIELD", f"`channel` must be one of {', '.join(CHANNELS)}", {"field": "channel"})
    at: datetime = parse_time(_text(form, "at"), "at")  # type: ignore[assignment]
    reserve = (_text(form, "reserve", required=False) or "false").lower()
    if reserve not in ("true", "false", "1", "0"):
        raise ApiError(422, "INVALID_FIELD", "`reserve` must be true or false", {"field": "reserve"})
    return {"org": principal.org, "purpose": purpose, "channel": channel, "at": at,
            "column": _text(form, "column", required=False), "reserve": reserve in ("true", "1")}


@router.post(
    "/v1/scrubs", status_code=202, summary="Scrub an uploaded campaign list (a job)",
    description="multipart/form-data: `file` (CSV or Parquet), `purpose`, `channel`, `at`, optional `column`, "
                "`reserve`. Answers 202 with the job; poll `GET /v1/scrubs/{id}`.",
    openapi_extra=_UPLOAD, responses=_POST_RESPONSES, response_class=Response,
)
async def create_scrub(request: Request, principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send multipart/form-data with the list in a `file` field")
    jobs = jobs_for(request)
    async with request.form(max_files=1, max_fields=16, max_part_size=1024) as form:
        options = _options(form, principal)
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ApiError(422, "MISSING_FIELD", "the form needs the list as a file in a `file` field", {"field": "file"})
        job = jobs.new_upload(upload.filename)
        try:
            await run_in_threadpool(_save, upload, job)
        except BaseException:
            jobs.discard(job)
            raise
    job.org, job.purpose, job.channel, job.at = options["org"], options["purpose"], options["channel"], options["at"]
    job.column, job.reserve = options["column"], options["reserve"]
    jobs.submit(job)
    return json_response(job.as_dict(), 202, headers={"Location": f"/v1/scrubs/{job.id}"})


def _save(upload: UploadFile, job: ScrubJob) -> None:
    upload.file.seek(0)
    with open(job.source, "wb") as handle:
        shutil.copyfileobj(upload.file, handle, 1 << 20)


def _job(request: Request, principal: Principal, job_id: str) -> ScrubJob:
    job = jobs_for(request).get(job_id, principal.org) if len(job_id) <= 64 else None
    if job is None:
        raise ApiError(404, "NOT_FOUND", "no such scrub job for this org (finished jobs are kept for a while)")
    return job


@router.get("/v1/scrubs/{job_id}", summary="A scrub job: status, progress, and its report when done",
            responses=_GET_RESPONSES, response_class=Response)
async def get_scrub(request: Request, job_id: str = Path(..., max_length=64),
                    principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    return json_response(_job(request, principal, job_id).as_dict())


def _download(request: Request, principal: Principal, job_id: str, which: str) -> Response:
    job = _job(request, principal, job_id)
    if job.status != "done":
        raise ApiError(409, "NOT_READY", f"the scrub is {job.status}; results are there once it is done",
                       {"status": job.status, "error": job.error})
    path = job.allowed if which == "allowed" else job.rejected
    media = "application/vnd.apache.parquet" if path.suffix == ".parquet" else "text/csv; charset=utf-8"
    return FileResponse(path, media_type=media, filename=f"{which}{path.suffix}")


@router.get("/v1/scrubs/{job_id}/allowed", summary="The allowed rows of a finished scrub (every input column)",
            responses=_FILE_RESPONSES, response_class=Response)
async def scrub_allowed(request: Request, job_id: str = Path(..., max_length=64),
                        principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    return _download(request, principal, job_id, "allowed")


@router.get("/v1/scrubs/{job_id}/rejected", summary="The rejected rows of a finished scrub, with `reasons`",
            responses=_FILE_RESPONSES, response_class=Response)
async def scrub_rejected(request: Request, job_id: str = Path(..., max_length=64),
                         principal: Principal = Depends(require(SENDER, COMPLIANCE))) -> Response:
    return _download(request, principal, job_id, "rejected")
