"""The running service: store, gateway, the writer thread (group commit), keys, limits, signer.

Writes never run on the event loop. One writer thread owns them (more if the store asks, see
Writer): single decisions that arrive together are decided in one store transaction
(`Gateway.decide_many`, which judges them in order, each seeing the ones before it), so a
commit is shared by every request of the group — and each request is answered only after that commit, so an acknowledged
decision survives a crash of the process.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from reachguard.api.metrics import Metrics
from reachguard.core.config import Settings
from reachguard.core.keys import hash_key
from reachguard.engine import Gateway
from reachguard.ledger.checkpoint import Signer, TrustedKeys
from reachguard.model import Attempt, Decision
from reachguard.policy import PolicyBook, load_policy_file
from reachguard.store import Store, StoreUnavailable, open_store

log = logging.getLogger("reachguard.service")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: from the API key, never from the body."""

    key_id: str
    org: str
    role: str


class Unavailable(RuntimeError):
    """The store failed; the request is answered 503 (decisions fail closed)."""


# --- the writer ------------------------------------------------------------------------------

_DECIDE, _CALL = 0, 1


class _Job:
    __slots__ = ("kind", "payload", "args", "loop", "future")

    def __init__(self, kind: int, payload: Any, args: tuple = ()):
        self.kind = kind
        self.payload = payload
        self.args = args


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
    more (`writer_threads`, the URL's `writers=N`), so one group is judged while another commits."""

    def __init__(self, gateway: Gateway, metrics: Metrics, max_group: int = 10_000, threads: int = 1):
        self.gateway = gateway
        self.metrics = metrics
        self.max_group = max_group
        self.threads = max(1, threads)
        self._jobs: collections.deque[_Job] = collections.deque()
        self._cv = threading.Condition()
        self._stopping = False
        self.used = False
        self._threads = [threading.Thread(target=self._run, name=f"reachguard-writer-{i}", daemon=True)
                         for i in range(self.threads)]

    def start(self) -> None:
        self.used = True
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)

    @property
    def alive(self) -> bool:
        return all(thread.is_alive() for thread in self._threads) and not self._stopping

    def _submit(self, job: _Job) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        job.loop = loop
        job.future = loop.create_future()
        with self._cv:
            if self._stopping:
                raise Unavailable("the service is shutting down")
            self._jobs.append(job)
            self._cv.notify()
        return job.future

    async def decide(self, attempt: Attempt) -> Decision:
        return (await self._submit(_Job(_DECIDE, (attempt,))))[0]

    async def decide_many(self, attempts: Sequence[Attempt]) -> list[Decision]:
        return await self._submit(_Job(_DECIDE, attempts))

    async def call(self, fn: Callable, *args: Any) -> Any:
        """Run fn(*args) on the writer thread (serialised with every other write)."""
        return await self._submit(_Job(_CALL, fn, args))

    def _take(self) -> list[_Job] | None:
        with self._cv:
            while not self._jobs:
                if self._stopping:
                    return None
                self._cv.wait()
            first = self._jobs.popleft()
            group = [first]
            if first.kind == _DECIDE:
                size = len(first.payload)
                while self._jobs and self._jobs[0].kind == _DECIDE and size + len(self._jobs[0].payload) <= self.max_group:
                    job = self._jobs.popleft()
                    group.append(job)
                    size += len(job.payload)
            return group

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


# --- keys and limits -------------------------------------------------------------------------


class KeyRing:
    """API key → Principal, with a short cache (a revocation takes effect within its TTL)."""

    def __init__(self, store: Store, ttl: float):
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[Principal | None, float]] = {}

    def cached(self, key: str) -> tuple[bool, Principal | None, str]:
        digest = hash_key(key)
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0], digest
        return False, None, digest

    def load(self, digest: str) -> Principal | None:
        record = self.store.api_key_by_hash(digest)
        principal = None
        if record is not None and record.revoked_at is None:
            principal = Principal(record.key_id, record.org, record.role)
        if self.ttl > 0:
            if len(self._cache) > 50_000:
                self._cache.clear()
            self._cache[digest] = (principal, time.monotonic() + self.ttl)
        return principal

    def invalidate(self) -> None:
        self._cache.clear()


class RateLimiter:
    """Fixed-window counter per client: in memory, or in Redis when a URL is configured."""

    def __init__(self, name: str, limit: int, window: float, redis_url: str | None = None):
        self.name = name
        self.limit = limit
        self.window = window
        self._counts: dict[str, tuple[int, int]] = {}
        self._redis = None
        if redis_url:
            import redis.asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, socket_timeout=0.5, socket_connect_timeout=0.5)

    async def hit(self, client: str) -> float | None:
        """None if allowed; else seconds until the window resets."""
        if self.limit <= 0:
            return None
        now = time.time()
        index = int(now // self.window)
        retry = (index + 1) * self.window - now
        if self._redis is not None:
            try:
                key = f"reachguard:rl:{self.name}:{client}:{index}"
                count = await self._redis.incr(key)
                if count == 1:
                    await self._redis.expire(key, int(self.window) + 1)
                return None if count <= self.limit else retry
            except Exception as exc:  # Redis down: limit locally rather than not at all
                log.warning("redis rate limit unavailable, limiting in memory", extra={"error": str(exc)})
        window, count = self._counts.get(client, (index, 0))
        if window != index:
            count = 0
        count += 1
        if len(self._counts) > 100_000:
            self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        self._counts[client] = (index, count)
        return None if count <= self.limit else retry


# --- the service -----------------------------------------------------------------------------


class Service:
    """Everything a request needs, built once per app from the settings."""

    def __init__(self, settings: Settings, store: Store | None = None):
        settings.require_durable_signing_key()  # before any store is opened: nothing to undo
        self.settings = settings
        self.store = store if store is not None else open_store(settings.db_url, redis_url=settings.redis_url)
        self.policies = load_policy_file(settings.policy_file) if settings.policy_file else PolicyBook.profile(settings.profile)
        self.gateway = Gateway(self.store, self.policies, secret=settings.verification_secret())
        self.metrics = Metrics()
        self.writer = Writer(self.gateway, self.metrics, max_group=max(settings.max_batch, 1),
                             threads=getattr(self.store, "writer_threads", 1))
        self.keys = KeyRing(self.store, settings.key_cache_seconds)
        self.signer = Signer.open(self.store, settings.signing_key_path())
        # Ledger verification trusts only keys pinned outside the database (never the store's meta table).
        self.trusted_keys = TrustedKeys.of([self.signer.public, *settings.ledger_trusted_keys()],
                                           hint="the signing key, or ledger_trusted_key_files")
        self.verify_limiter = RateLimiter("verify", settings.verify_rate_limit, 60.0, settings.redis_url)
        self.api_limiter = RateLimiter("api", settings.api_rate_limit, 1.0, settings.redis_url)
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        self._wal: threading.Thread | None = None
        self.started = False

    def start(self) -> None:
        """Start the writer (and checkpoint) threads; after stop() it can start again."""
        if self.started:
            return
        if self.writer.used:
            self.writer = Writer(self.gateway, self.metrics, max_group=self.writer.max_group, threads=self.writer.threads)
        self._stop = threading.Event()
        self.writer.start()
        self._wal = _WalCheckpointer.maybe(self.store, self._stop)
        if self.settings.checkpoint_interval_seconds > 0:
            self._checkpointer = threading.Thread(target=self._checkpoints, name="reachguard-checkpoints", daemon=True)
            self._checkpointer.start()
        self.started = True

    def stop(self) -> None:
        if not self.started:
            return
        self._stop.set()
        if self._checkpointer is not None:
            self._checkpointer.join(10)
        if self._wal is not None:
            self._wal.join(10)
        self.writer.stop()
        try:
            self.signer.checkpoint_all()
        except Exception:
            log.exception("final checkpoint failed")
        self.started = False

    def close(self) -> None:
        self.stop()
        self.store.close()

    def _checkpoints(self) -> None:
        while not self._stop.wait(self.settings.checkpoint_interval_seconds):
            try:
                made = self.signer.checkpoint_all()
                if made:
                    log.info("ledger checkpoints signed", extra={"orgs": len(made)})
            except Exception:
                log.exception("checkpoint failed")

    def ready(self) -> tuple[bool, str]:
        if not self.writer.alive:
            return False, "writer thread not running"
        try:
            self.store.get_meta("schema_version")
        except (sqlite3.Error, StoreUnavailable) as exc:
            return False, f"store: {exc}"
        return True, "ok"


class _WalCheckpointer(threading.Thread):
    """SQLite file stores: copy the WAL into the database in the background, off the commit path.

    SQLite's automatic checkpoint runs inside whichever commit crosses 1,000 WAL pages, and
    with synchronous=NORMAL it fsyncs the database there: a latency spike for the request
    that happens to commit. The service turns it off on the store's connection and runs a
    PASSIVE checkpoint (never blocks writers) from its own connection every 0.5 s instead.
    Durability is unchanged: a commit is durable once in the WAL.
    """

    def __init__(self, path: str, stop: threading.Event):
        super().__init__(name="reachguard-wal", daemon=True)
        self.path = path
        self.stop = stop

    @classmethod
    def maybe(cls, store: Store, stop: threading.Event) -> "_WalCheckpointer | None":
        from reachguard.store.sqlite import SQLiteStore

        if not isinstance(store, SQLiteStore) or store.path == ":memory:":
            return None
        with store.read() as db:
            db.execute("PRAGMA wal_autocheckpoint = 0")
        thread = cls(store.path, stop)
        thread.start()
        return thread

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            while not self.stop.wait(0.5):
                try:
                    db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.warning("WAL checkpoint failed", extra={"error": str(exc)})
        finally:
            db.close()


STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, StoreUnavailable)
try:  # the PostgreSQL backend's errors, when psycopg is installed
    import psycopg

    STORE_ERRORS = STORE_ERRORS + (psycopg.Error,)
except ImportError:  # pragma: no cover
    pass
