"""Long operations for the console (ledger exports) on a background thread, with progress.

A job runs one function that reports `(stage, fraction)` through a callback; the page polls
the job (htmx) and shows a progress bar, then a download link. Jobs live in memory, one
process: a restart forgets them (the export is simply started again).
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

Report = Callable[[str, float], None]


@dataclass
class Job:
    id: str
    org: str
    stage: str = "queued"
    fraction: float = 0.0
    result: Path | None = None
    cleanup: Path | None = None  # a file or folder removed when the job is forgotten
    error: str | None = None
    started: float = field(default_factory=time.time)

    @property
    def done(self) -> bool:
        return self.stage in ("done", "failed")


class Jobs:
    def __init__(self, keep: int = 50):
        self.keep = keep
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, org: str, work: Callable[[Report], Path], cleanup: Path | None = None) -> Job:
        job = Job(secrets.token_urlsafe(12), org, cleanup=cleanup)
        with self._lock:
            if len(self._jobs) >= self.keep:
                oldest = min(self._jobs.values(), key=lambda j: j.started)
                self._forget(oldest)
            self._jobs[job.id] = job

        def report(stage: str, fraction: float) -> None:
            job.stage, job.fraction = stage, max(0.0, min(1.0, fraction))

        def run() -> None:
            try:
                job.result = work(report)
                report("done", 1.0)
            except Exception as exc:  # shown on the page; the job is over either way
                job.error = str(exc)
                job.stage = "failed"

        threading.Thread(target=run, name=f"reachguard-job-{job.id}", daemon=True).start()
        return job

    def get(self, job_id: str, org: str) -> Job | None:
        """The job, only for the org that started it."""
        job = self._jobs.get(job_id)
        return job if job is not None and job.org == org else None

    def close(self) -> None:
        """Delete every job's files (a ledger export holds the org's entries, phone numbers
        included): they lived in /tmp after the server stopped. A job still running when this
        is called writes its file afterwards; the next start cannot find it, so `serve` waits
        for none — exports take seconds."""
        with self._lock:
            for job in list(self._jobs.values()):
                self._forget(job)

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.id, None)
        for path in (job.result, job.cleanup):
            if path is not None and path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path is not None:
                path.unlink(missing_ok=True)
