"""Backends behind one interface; `open_store` picks one from a path or URL."""

from __future__ import annotations

from reachguard.store.base import StateQuery, Store, StoreUnavailable
from reachguard.store.sqlite import SQLiteStore

__all__ = ["SQLiteStore", "StateQuery", "Store", "StoreUnavailable", "open_store"]


def open_store(url: str = "reachguard.db") -> Store:
    """A file path, `:memory:` or `sqlite:///…` → SQLite (the embedded default)."""
    if url.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
        raise StoreUnavailable("the PostgreSQL backend is not available in this build")
    return SQLiteStore(url)
