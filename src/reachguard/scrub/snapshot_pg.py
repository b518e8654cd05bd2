"""One consistent view of a PostgreSQL store for a whole scrub (the counterpart of snapshot.py).

Why REPEATABLE READ on a connection of its own: every statement of the transaction reads the
one snapshot its first statement took, and `pg_export_snapshot()` hands that snapshot to the
ADBC connection that exports the sets (export_pg.py). So the set-based export and the engine's
row-by-row loading (`PgView.load_states`, the store's own state statement run on this
connection) see exactly the same commits; READ ONLY, deciders are never blocked or blocking.

Why no advisory locks: a plain scrub judges each row against the stored state and records
nothing; locking a million (org, number) keys would exhaust the server's lock table for no
gain. `--reserve` is refused on PostgreSQL (see `open_pg_snapshot`).

PostgreSQL + Redis: the engine's view merges each number's Redis window with the contacts in
the snapshot, as decide merges them when Redis does not cover a window. The window is the one
the export read (redis_windows.py: `windows`, set when the export has finished), not Redis as it
is when a row is judged: the representatives of a signature group are then judged on exactly
the state the features were built from. Read live (without taking any lock) only what that read
does not hold: a subject's counter (collection rows, judged one by one), a window starting
before the export's, or any window when no export ran (a plan judged wholly row by row) — each
of those rows' verdicts is its own, copied to no other row.

PostgreSQL failing mid-scrub: every statement on the snapshot connection turns a psycopg error
into StoreUnavailable (exit 3 / UNAVAILABLE, as docs/scrub.md says), and a connection that
failed is invalidated, never handed back to the pool.
"""

from __future__ import annotations

import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

from reachguard.scrub.redis_windows import RedisWindows
from reachguard.scrub.source import ScrubInputError
from reachguard.state import RecipientState
from reachguard.store.base import StateQuery, StoreUnavailable

INF = float("inf")

RESERVE_REFUSED = (
    "--reserve is not available on a PostgreSQL store: reserving a whole list atomically would have to lock every "
    "number against concurrent deciders. Scrub without --reserve, then send through decide or decisions:batch, "
    "which record each contact (docs/scrub.md)")


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
        self.windows: RedisWindows | None = None  # the export's read of Redis (PostgreSQL + Redis)
        self.failed = False  # a statement failed: the connection is not handed back to the pool

    def execute(self, sql: str, params: Any = None) -> Any:
        """Run one statement on the snapshot connection; a psycopg error is StoreUnavailable."""
        import psycopg

        try:
            return self.conn.execute(sql, params)
        except psycopg.Error as exc:
            self.failed = True
            gone = self.conn.closed or self.conn.broken
            raise StoreUnavailable(f"PostgreSQL is unreachable: {exc}" if gone else f"PostgreSQL: {exc}") from exc

    def _fetch(self, sql: str, params: Any, *, lock_keys: Any = None) -> list[tuple]:
        """PostgresStore._state_rows's only call: run on the snapshot connection, no locks."""
        import psycopg

        cur = self.execute(sql, params)
        try:
            return cur.fetchall()
        except psycopg.Error as exc:
            self.failed = True
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc

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
        names = {("n", k): (counters.number_key(*k), since) for k, since in numbers.items()}
        names.update({("s", k): (counters.subject_key(*k), since) for k, since in subjects.items()})
        members: dict[tuple, list[str] | None] = {
            k: self.windows.members(name, since) if self.windows is not None and k[0] == "n" else None
            for k, (name, since) in names.items()}
        live = [k for k, found in members.items() if found is None]  # not in the export's read
        if live:
            read = counters.acquire(secrets.token_hex(8), [], [names[k] for k in live])
            members.update((k, found) for k, (_, found) in zip(live, read))
        merge = PostgresRedisStore._merge
        contacts = {k: merge(k[0], k, members[("n", k)] or [], loaded.contact_rows.get(k, ()), True, "", since, None)
                    for k, since in numbers.items()}
        subject_contacts = {k: merge(k[0], k, members[("s", k)] or [], loaded.subject_rows.get(k, ()), True, "", since, None)
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
    view = PgView(store, fairy.driver_connection)
    try:
        try:
            view.conn.autocommit = True
        except psycopg.Error as exc:
            view.failed = True
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
        view.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        snapshot = view._fetch("SELECT pg_export_snapshot()", None)[0][0]
        yield view, snapshot
    finally:
        try:
            if not view.failed:
                view.conn.execute("ROLLBACK")
        except psycopg.Error:
            view.failed = True
        if view.failed:
            fairy.invalidate()  # broken, or in an unknown state: closed, not returned to the pool
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
            future = pool.submit(_export, store, snapshot, plan, view)
            yield view, future.result
        finally:
            pool.shutdown(wait=True)


def _export(store: Any, snapshot: str, plan: Any, view: PgView | None = None) -> dict:
    """The sets; with Redis, the windows read for them are handed to `view` (the engine's)."""
    from reachguard.scrub import export_pg

    try:
        windows = None
        if getattr(store, "uses_redis", False) and "frequency" in plan.rule_names and (plan.caps or plan.subject_caps):
            windows = RedisWindows.read(store.counters, plan.org, plan.since)
        tables = export_pg.export(store.url, store.schema, snapshot, plan, windows)
    except Exception as exc:  # adbc and redis errors carry the server's message
        raise StoreUnavailable(f"reading the PostgreSQL store failed: {exc}") from exc
    if view is not None:
        view.windows = windows
    return tables
