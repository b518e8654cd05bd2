"""The writer thread(s) of the service: every write off the event loop, concurrent decisions
grouped into one store transaction (group commit). Apart from service.py, which only builds it."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Sequence

from reachguard.api.failures import Unavailable
from reachguard.api.group_queue import GroupQueue
from reachguard.api.metrics import Metrics
from reachguard.engine import Gateway
from reachguard.model import Attempt, Decision

_DECIDE, _CALL = 0, 1


class _Job:
    __slots__ = ("kind", "payload", "args", "loop", "future")

    def __init__(self, kind: int, payload: Any, args: tuple = ()):
        self.kind = kind
        self.payload = payload
        self.args = args


def _is_decision(job: _Job) -> bool:
    return job.kind == _DECIDE


def _attempts(job: _Job) -> int:
    return len(job.payload)


def _resolve(items: list[tuple[asyncio.Future, bool, Any]]) -> None:
    for future, ok, value in items:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Writer:
    """One thread applies every write; concurrent decisions share one transaction. A store whose
    transactions lock across processes anyway (PostgreSQL: advisory or Redis locks) may ask for
    more (`writer_threads`, the URL's `writers=N`), so one group is judged while another commits.
    `group_wait`: seconds the writer waits for concurrent decisions to join a group
    (group_queue.py says when)."""

    def __init__(self, gateway: Gateway, metrics: Metrics, max_group: int = 10_000, threads: int = 1,
                 group_wait: float = 0.0):
        self.gateway = gateway
        self.metrics = metrics
        self.max_group = max_group
        self.threads = max(1, threads)
        self.group_wait = group_wait
        self._queue: GroupQueue[_Job] = GroupQueue(group_wait)
        self.used = False
        self._threads = [threading.Thread(target=self._run, name=f"reachguard-writer-{i}", daemon=True)
                         for i in range(self.threads)]

    def start(self) -> None:
        self.used = True
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.close()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads) and not self._queue.closed

    def _submit(self, job: _Job) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        job.loop = loop
        job.future = loop.create_future()
        if not self._queue.put(job):
            raise Unavailable("the service is shutting down")
        return job.future

    async def decide(self, attempt: Attempt) -> Decision:
        return (await self._submit(_Job(_DECIDE, (attempt,))))[0]

    async def decide_many(self, attempts: Sequence[Attempt]) -> list[Decision]:
        return await self._submit(_Job(_DECIDE, attempts))

    async def call(self, fn: Callable, *args: Any) -> Any:
        """Run fn(*args) on the writer thread (serialised with every other write)."""
        return await self._submit(_Job(_CALL, fn, args))

    def _take(self) -> list[_Job] | None:
        """The next job, or the next decisions together (at most max_group attempts)."""
        return self._queue.take(_is_decision, _attempts, self.max_group)

    def _run(self) -> None:
        while True:
            group = self._take()
            if group is None:
                return
            if group[0].kind == _CALL:
                job = group[0]
                try:
                    results = [(job, True, job.payload(*job.args))]
                except BaseException as exc:  # handed to the request, which maps it
                    results = [(job, False, exc)]
            else:
                results = self._decide(group)
            by_loop: dict[asyncio.AbstractEventLoop, list] = {}
            for job, ok, value in results:
                by_loop.setdefault(job.loop, []).append((job.future, ok, value))
            for loop, items in by_loop.items():
                try:
                    loop.call_soon_threadsafe(_resolve, items)
                except RuntimeError:  # that loop is closed: nobody waits for the answer
                    pass

    def _decide(self, group: list[_Job]) -> list[tuple[_Job, bool, Any]]:
        attempts = [a for job in group for a in job.payload]
        started = time.perf_counter()
        try:
            decisions = self.gateway.decide_many(attempts)
        except BaseException as exc:
            if len(group) == 1:
                return [(group[0], False, exc)]
            return [r for job in group for r in self._decide([job])]  # isolate the failing request
        self.metrics.decide_latency.observe(time.perf_counter() - started)
        self.metrics.group_size.observe(len(attempts))
        self.metrics.count_decisions(decisions)
        results, start = [], 0
        for job in group:
            end = start + len(job.payload)
            results.append((job, True, decisions[start:end]))
            start = end
        return results
