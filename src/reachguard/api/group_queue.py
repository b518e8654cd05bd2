"""The writer's queue: jobs taken in groups, with a short wait for company (group commit).

Why wait at all: on PostgreSQL (+ Redis) a group's cost is mostly per group (round trips,
statements, the commit), so a group of 8 costs little more than a group of 4. Left alone,
concurrent callers settle into half-size groups: while one group is decided the callers it
answered are still waking up, so the writer finds only part of them queued and takes that
part. When fewer jobs are queued than the recent groups held, the writer therefore waits up
to `wait` seconds for more to arrive (like PostgreSQL's commit_delay, which also waits only
when other transactions are active). A caller alone never waits: its groups hold one job,
so the target is one.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

RECENT_GROUPS = 8  # the target is the largest of this many recent groups


class GroupQueue(Generic[T]):
    """A FIFO of jobs shared by the writer threads; `take` hands out the next group."""

    def __init__(self, wait: float = 0.0, recent: int = RECENT_GROUPS):
        if wait < 0:
            raise ValueError("wait must be >= 0")
        self.wait = wait
        self._jobs: collections.deque[T] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self._recent: collections.deque[int] = collections.deque(maxlen=max(1, recent))

    @property
    def closed(self) -> bool:
        return self._closed

    def put(self, job: T) -> bool:
        """Queue a job; False once closed (nothing is queued then)."""
        with self._cv:
            if self._closed:
                return False
            self._jobs.append(job)
            self._cv.notify()
            return True

    def close(self) -> None:
        """No more jobs; the ones queued are still handed out, then `take` returns None."""
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def target(self) -> int:
        """How many jobs the writer waits for: the largest recent group (1 with none yet)."""
        return max(self._recent, default=1)

    def take(self, groupable: Callable[[T], bool] = lambda job: True,
             size: Callable[[T], int] = lambda job: 1, limit: int | None = None) -> list[T] | None:
        """The next group: the first job and, if `groupable(first)`, the groupable jobs queued
        after it while their sizes add up to at most `limit`. None when closed and empty."""
        with self._cv:
            waited = False
            while True:
                while not self._jobs:
                    if self._closed:
                        return None
                    self._cv.wait()
                if not groupable(self._jobs[0]):
                    return [self._jobs.popleft()]
                if waited:
                    break
                self._wait_for_company()  # releases the lock: another writer thread may take the jobs
                waited = True
            group = [self._jobs.popleft()]
            total = size(group[0])
            while self._jobs and groupable(self._jobs[0]) and (limit is None or total + size(self._jobs[0]) <= limit):
                job = self._jobs.popleft()
                total += size(job)
                group.append(job)
            self._recent.append(len(group))
            return group

    def _wait_for_company(self) -> None:
        """Called holding the lock with at least one job queued."""
        target = self.target()
        if not self.wait or len(self._jobs) >= target:
            return
        deadline = time.monotonic() + self.wait
        while len(self._jobs) < target and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cv.wait(left)
