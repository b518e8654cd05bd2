"""Which backend a database URL names, answered without importing any backend."""

from __future__ import annotations

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg://", "postgres://")
"""The URL schemes of the PostgreSQL backends; anything else names a SQLite store."""


def is_postgres_url(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)
