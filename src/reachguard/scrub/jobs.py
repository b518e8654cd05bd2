"""Scrub jobs for the HTTP service: an uploaded list scrubbed in the background, results kept a while.

Why a single worker thread: a scrub uses every core DuckDB is given and up to `memory_limit` of
RAM; two at once would only slow each other and the deciders. Jobs queue behind each other,
their state is in memory (a restart forgets them, like any upload in progress), and the files of
the oldest finished jobs are deleted once more than `keep` are held.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reachguard.policy import PolicyBook
from reachguard.scrub.pipeline import run_scrub
from reachguard.scrub.report import ScrubReport
from reachguard.scrub.source import ScrubInputError
from reachguard.store.base import StoreUnavailable


@dataclass(slots=True)
class ScrubJob:
    """One upload: what was asked, where it is, how far it got."""

    id: str
    org: str
    purpose: str
    channel: str
    at: datetime
    column: str | None
    reserve: bool
    folder: Path
    source: Path
    created_at: float = field(default_factory=time.time)
    status: str = "queued"  # queued | running | done | failed
    stage: str = "queued"
    progress: float = 0.0
    report: ScrubReport | None = None
    error: dict[str, str] | None = None
    finished_at: float | None = None

    @property
    def allowed(self) -> Path:
        return self.folder / ("allowed" + self._suffix)

    @property
    def rejected(self) -> Path:
        return self.folder / ("rejected" + self._suffix)

    @property
    def _suffix(self) -> str:
        return ".parquet" if self.source.suffix == ".parquet" else ".csv"

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id, "status": self.status, "stage": self.stage, "progress": round(self.progress, 4),
            "org": self.org, "purpose": self.purpose, "channel": self.channel, "at": self.at.isoformat(),
            "reserve": self.reserve, "error": self.error, "report": None,
        }
        if self.report is not None:
            report = self.report.as_dict()
            report.pop("out"), report.pop("rejected_out")
            body["report"] = report
        return body


class ScrubJobs:
    """Queue, run and keep scrub jobs for one service (thread-safe)."""

    def __init__(self, store: Any, policies: PolicyBook, secret: bytes | None, *, keep: int = 20,
                 memory_limit: str = "2GB", threads: int | None = None):
        self.store, self.policies, self.secret = store, policies, secret
        self.keep, self.memory_limit, self.threads = keep, memory_limit, threads
        self.root = Path(tempfile.mkdtemp(prefix="reachguard-scrubs-"))
        self._jobs: dict[str, ScrubJob] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reachguard-scrub")
        self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.root), True)

    def new_upload(self, filename: str | None) -> ScrubJob:
        """A job folder to receive the upload into (`job.source`); submit() once it is written."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir()
        suffix = ".parquet" if (filename or "").lower().endswith((".parquet", ".pq")) else ".csv"
        return ScrubJob(job_id, "", "", "", datetime.now().astimezone(), None, False, folder, folder / ("list" + suffix))

    def submit(self, job: ScrubJob) -> None:
        with self._lock:
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        self._prune()

    def get(self, job_id: str, org: str) -> ScrubJob | None:
        """The job, only for the org that uploaded it."""
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.org == org else None

    def discard(self, job: ScrubJob) -> None:
        shutil.rmtree(job.folder, ignore_errors=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._cleanup()

    def _run(self, job: ScrubJob) -> None:
        job.status = "running"

        def progress(stage: str, done: float) -> None:
            job.stage, job.progress = stage, done

        try:
            job.report = run_scrub(
                job.source, store=self.store, org=job.org, purpose=job.purpose, channel=job.channel, at=job.at,
                out=job.allowed, rejected=job.rejected, column=job.column, reserve=job.reserve,
                policies=self.policies, progress=progress, secret=self.secret, memory_limit=self.memory_limit,
                threads=self.threads,
            )
            job.status, job.stage, job.progress = "done", "done", 1.0
        except ScrubInputError as exc:
            job.status, job.error = "failed", {"code": exc.code, "message": _for_caller(exc.message, job)}
        except StoreUnavailable as exc:  # the store failed mid-scrub (the CLI's exit 3)
            job.status, job.error = "failed", {"code": "UNAVAILABLE", "message": f"the store failed: {exc}"}
        except Exception as exc:  # reported to the caller; the service goes on
            message = _for_caller(f"the scrub failed: {type(exc).__name__}: {exc}", job)
            job.status, job.error = "failed", {"code": "INTERNAL", "message": message}
        finally:
            job.finished_at = time.time()
            try:
                os.unlink(job.source)  # the upload is not needed any more
            except OSError:
                pass

    def _prune(self) -> None:
        with self._lock:
            finished = sorted((j for j in self._jobs.values() if j.finished_at is not None), key=lambda j: j.finished_at or 0)
            for job in finished[: max(0, len(finished) - self.keep)]:
                del self._jobs[job.id]
                shutil.rmtree(job.folder, ignore_errors=True)


def _for_caller(message: str, job: ScrubJob) -> str:
    """The scrub's message with the server's paths taken out: the caller sent a file, not a path,
    and the job folder's location is the server's business."""
    return message.replace(str(job.source), "the uploaded list").replace(str(job.folder), "the job folder")
