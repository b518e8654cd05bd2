"""The writer's queue: jobs taken in groups, with a short wait for company (group commit).

Why wait at all: on PostgreSQL (+ Redis) a group's cost is mostly per group (round trips,
statements, the commit), so a group of 8 costs little more than a group of 4. Left alone,
concurrent callers settle into half-size groups: while one group is decided the callers it
answered are still waking up, so the writer finds only part of them queued and takes that
part. When fewer jobs are queued than the recent groups held, the writer therefore waits up
to `wait` seconds for more to arrive (like PostgreSQL's commit_delay, which also waits only
when other transactions are active). The target is the largest of the last 8 groups taken
within `horizon` seconds (default 50 × wait: 25 ms at 0.5 ms), so a caller alone waits only
right after larger groups; once they are older than the horizon its groups hold one job and
the target is one. The writer waits only while arrivals could still join the first group: not
when a job that cannot be grouped comes next, nor when the group is already full.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from typing import Callable, Generic, TypeVar

T = TypeVar("T")

RECENT_GROUPS = 8  # the target is the largest of this many recent groups
HORIZON_WAITS = 50  # ... taken within this many waits


class GroupQueue(Generic[T]):
    """A FIFO of jobs shared by the writer threads; `take` hands out the next group."""

    def __init__(self, wait: float = 0.0, recent: int = RECENT_GROUPS, horizon: float | None = None):
        if not math.isfinite(wait) or wait < 0:
            raise ValueError(f"wait must be a finite number of seconds >= 0, not {wait!r}")
        self.wait = wait
        self.horizon = HORIZON_WAITS * wait if horizon is None else horizon
        self._jobs: collections.deque[T] = collections.deque()
        self._cv = threading.Condition()
        self._closed = False
        self._recent: collections.deque[tuple[float, int]] = collections.deque(maxlen=max(1, recent))  # (taken at, size)

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
        """How many jobs the writer waits for: the largest recent group within the horizon (else 1)."""
        since = time.monotonic() - self.horizon
        return max((size for at, size in self._recent if at >= since), default=1)

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
                self._wait_for_company(groupable, size, limit)  # releases the lock: another thread may take the jobs
                waited = True
            group = [self._jobs.popleft()]
            total = size(group[0])
            while self._jobs and groupable(self._jobs[0]) and (limit is None or total + size(self._jobs[0]) <= limit):
                job = self._jobs.popleft()
                total += size(job)
                group.append(job)
            self._recent.append((time.monotonic(), len(group)))
            return group

    def _wait_for_company(self, groupable: Callable[[T], bool], size: Callable[[T], int], limit: int | None) -> None:
        """Called holding the lock with a groupable job first; waits until the deadline at most."""
        if not self.wait:
            return
        target = self.target()
        deadline = time.monotonic() + self.wait
        while self._could_grow(target, groupable, size, limit) and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cv.wait(left)

    def _could_grow(self, target: int, groupable: Callable[[T], bool], size: Callable[[T], int], limit: int | None) -> bool:
        """Whether a job arriving now would join the first group and it is still below target:
        the groupable run at the front is shorter than target, within limit, and not followed
        by a job that cannot be grouped."""
        if not self._jobs:  # another writer thread took them
            return False
        count = total = 0
        for job in self._jobs:
            if not groupable(job):
                return False
            count += 1
            total += size(job)
            if count >= target or (limit is not None and total >= limit):
                return False
        return True
