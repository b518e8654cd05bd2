"""How a store fails. Apart from the interface (base.py) so every layer can catch these
without importing a backend or the interface."""

from __future__ import annotations


class StoreUnavailable(RuntimeError):
    """The backend cannot be reached; decisions must fail closed."""


class BadDatabaseUrl(StoreUnavailable, ValueError):
    """The database URL is wrong (its form, or a parameter): the commands report it as they
    report a store they cannot open; library callers may catch it as the ValueError it also is.
    Here, not in pg_engine, so that SQLite URLs can raise it without importing SQLAlchemy."""
