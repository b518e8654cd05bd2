"""What the routes answer 503 for (decisions fail closed): the service's own Unavailable and
the store's errors. Apart from service.py so the writer and the routes share them."""

from __future__ import annotations

import sqlite3

from reachguard.store import StoreUnavailable


class Unavailable(RuntimeError):
    """The store failed; the request is answered 503 (decisions fail closed)."""


STORE_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, StoreUnavailable)
try:  # the PostgreSQL backend's errors, when psycopg is installed
    import psycopg

    STORE_ERRORS = STORE_ERRORS + (psycopg.Error,)
except ImportError:  # pragma: no cover
    pass
