"""One consistent view of a PostgreSQL store for a whole scrub (the counterpart of snapshot.py).

Why REPEATABLE READ on a connection of its own: every statement of the transaction reads the
one snapshot its first statement took, and `pg_export_snapshot()` hands that snapshot to the
ADBC connection that exports the sets (export_pg.py). So the set-based export and the engine's
row-by-row loading (`PgView.load_states`, the store's own state statement run on this
connection) see exactly the same commits; READ ONLY, deciders are never blocked or blocking.

Why no advisory locks: a plain scrub judges each row against the stored state and records
nothing; locking a million (org, number) keys would exhaust the server's lock table for no
gain. `--reserve` is refused on PostgreSQL (see `open_pg_snapshot`).

PostgreSQL + Redis: the engine's view merges each number's Redis counter (read without taking
its lock) with the contacts in the snapshot, as decide merges them when Redis does not cover a
window — a superset of what decide counts, never less.
"""

from __future__ import annotations

import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from reachguard.scrub.source import ScrubInputError
from reachguard.state import RecipientState
from reachguard.store.base import StateQuery, StoreUnavailable

INF = float("inf")

RESERVE_REFUSED = (
    "--reserve is not available on a PostgreSQL store: reserving a whole list atomically would have to lock every "
    "number against concurrent deciders. Scrub without --reserve, then send through decide or decisions:batch, "
    "which record each contact (docs/scrub.md)")


PG_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")


def is_pg_store(store: Any) -> bool:
    """Whether `store` is a PostgreSQL(+Redis) store object (without importing that backend:
    if its module was never imported, no such object exists)."""
    module = sys.modules.get("reachguard.store.postgres")
    return module is not None and isinstance(store, module.PostgresStore)


def open_pg(url: str) -> Any:
    """The store a postgresql:// URL names (with Redis if REACHGUARD_REDIS_URL is set), as every command opens it."""
    from reachguard.store import open_store

    try:
        return open_store(url)
    except Exception as exc:  # StoreUnavailable, psycopg / SQLAlchemy connection errors
        raise ScrubInputError("NO_STORE", f"cannot open the store {url.split('@')[-1]}: {exc}") from exc


class PgView:
    """What the engine reads through SnapshotStore: the store's state statement on the snapshot."""

    def __init__(self, store: Any, conn: Any):
        self.store = store
        self.conn = conn
        self.counters = getattr(store, "counters", None) if getattr(store, "uses_redis", False) else None

    def _fetch(self, sql: str, params: Any, *, lock_keys: Any = None) -> list[tuple]:
        """PostgresStore._state_rows's only call: run on the snapshot connection, no locks."""
        return self.conn.execute(sql, params).fetchall()

    def load_states(self, queries: Sequence[StateQuery]) -> list[RecipientState]:
        from reachguard.store.postgres import Loaded, PostgresStore

        if not queries:
            return []
        loaded = Loaded(queries)
        loaded.add(PostgresStore._state_rows(self, queries))  # type: ignore[arg-type]
        if self.counters is None:
            return loaded.finish(queries)
        return self._with_redis(queries, loaded)

    def _with_redis(self, queries: Sequence[StateQuery], loaded: Any) -> list[RecipientState]:
        from reachguard.store.redis_counters import PostgresRedisStore

        counters = self.counters
        numbers: dict[tuple[str, str], float] = {}
        subjects: dict[tuple[str, str], float] = {}
        for q in queries:
            if q.contacts_since != INF:
                numbers[(q.org, q.number)] = min(numbers.get((q.org, q.number), INF), q.contacts_since)
                if q.need_subject_contacts and q.subject is not None and q.purpose == "collection":
                    subjects[(q.org, q.subject)] = min(subjects.get((q.org, q.subject), INF), q.contacts_since)
        reads = [(counters.number_key(*k), since) for k, since in numbers.items()]
        reads += [(counters.subject_key(*k), since) for k, since in subjects.items()]
        found = iter(counters.acquire(secrets.token_hex(8), [], reads) if reads else [])
        merge = PostgresRedisStore._merge
        contacts = {k: merge(k[0], k, next(found)[1], loaded.contact_rows.get(k, ()), True, "", since, None)
                    for k, since in numbers.items()}
        subject_contacts = {k: merge(k[0], k, next(found)[1], loaded.subject_rows.get(k, ()), True, "", since, None)
                            for k, since in subjects.items()}
        return loaded.finish(queries, contacts, subject_contacts)

    def __getattr__(self, name: str) -> Any:  # meta, templates… straight from the store
        return getattr(self.store, name)


@contextmanager
def open_pg_snapshot(store: Any, *, reserve: bool) -> Iterator[tuple[PgView, str]]:
    """(engine view, exported snapshot id) of one READ ONLY REPEATABLE READ transaction."""
    if reserve:
        raise ScrubInputError("INVALID_OPTION", RESERVE_REFUSED)
    import psycopg

    try:
        fairy = store.engine.raw_connection()
    except Exception as exc:  # pool timeout, server gone
        raise StoreUnavailable(f"cannot reach PostgreSQL: {exc}") from exc
    conn = fairy.driver_connection
    try:
        conn.autocommit = True
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        try:
            yield PgView(store, conn), snapshot
        finally:
            try:
                conn.execute("ROLLBACK")
            except psycopg.Error:
                fairy.invalidate()
    finally:
        fairy.close()


@contextmanager
def open_pg_state(store: Any, plan: Any, *, reserve: bool) -> Iterator[tuple[PgView, Callable[[], dict]]]:
    """(engine view, the export's result) over one snapshot: the export runs in a thread of its
    own (ADBC works outside the GIL) while the caller loads the list; the snapshot stays open
    until the export has finished, even when the scrub fails."""
    with open_pg_snapshot(store, reserve=reserve) as (view, snapshot):
        if not plan.set_based:
            yield view, dict
            return
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reachguard-scrub-export")
        try:
            future = pool.submit(_export, store, snapshot, plan)
            yield view, future.result
        finally:
            pool.shutdown(wait=True)


def _export(store: Any, snapshot: str, plan: Any) -> dict:
    from reachguard.scrub import export_pg

    counters = store.counters if getattr(store, "uses_redis", False) else None
    try:
        return export_pg.export(store.url, store.schema, snapshot, plan, counters)
    except Exception as exc:  # adbc and redis errors carry the server's message
        raise StoreUnavailable(f"reading the PostgreSQL store failed: {exc}") from exc
