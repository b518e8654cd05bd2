"""Backends behind one interface; `open_store` picks one from a path or URL."""

from __future__ import annotations

from reachguard.store.base import BadDatabaseUrl, StateQuery, Store, StoreUnavailable, is_postgres_url
from reachguard.store.sqlite import SQLiteStore

__all__ = ["BadDatabaseUrl", "SQLiteStore", "StateQuery", "Store", "StoreUnavailable", "open_store"]


def open_store(url: str | None = None, *, redis_url: str | None = None) -> Store:
    """The store a URL names; the same setting for every command (`--db` or REACHGUARD_DB_URL).

    * a file path, `:memory:`, `sqlite:///rel.db`, `sqlite:////abs.db` or `sqlite://` (in memory)
      → SQLite (the embedded default); another `sqlite:` form, or an empty URL, is refused;
    * `postgresql://…` (or `postgres://`, `postgresql+psycopg://`) → PostgreSQL;
    * PostgreSQL plus `redis_url` (or env REACHGUARD_REDIS_URL) → PostgreSQL with the frequency
      counters and their locks in Redis (docs/deploy.md).
    No URL: REACHGUARD_DB_URL, else `reachguard.db`.
    """
    import os

    if url is None:
        url = os.environ.get("REACHGUARD_DB_URL") or "reachguard.db"
    if not url.strip():
        # SQLite would open an unnamed temporary database: every write lost when it closes.
        raise BadDatabaseUrl("bad database URL: it is empty (name a file, sqlite:///…, :memory: or postgresql://…)")
    if is_postgres_url(url):
        redis_url = redis_url or os.environ.get("REACHGUARD_REDIS_URL") or None
        if redis_url:
            from reachguard.store.redis_counters import PostgresRedisStore

            return PostgresRedisStore(url, redis_url)
        from reachguard.store.postgres import PostgresStore

        return PostgresStore(url)
    if url.startswith(("redis://", "rediss://", "mysql", "oracle", "mssql")):
        raise StoreUnavailable(f"not a store URL: {url.split(':', 1)[0]}:// (use a file path, sqlite:/// or postgresql://)")
    return SQLiteStore(url)
