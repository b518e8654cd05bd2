"""Shared test helpers: a World wraps a Gateway on an in-memory store and speaks JSON events."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.model import Decision
from reachguard.policy import PolicyBook
from reachguard.store import SQLiteStore

from worldkit import BORROWER, CONTACT, PROSPECT, World, codes  # noqa: F401  (re-exported)


# --- `from conftest import …` with several conftest.py files -----------------------------------
# Every conftest.py is imported under the one module name "conftest", so the last one loaded
# (e.g. tests/api/conftest.py) would shadow this one for `from conftest import World`. Before a
# test module is imported, point "conftest" at the nearest conftest.py above it.


def pytest_collectstart(collector: pytest.Collector) -> None:
    if not isinstance(collector, pytest.Module):
        return
    path = str(collector.path)
    best, best_dir = None, ""
    for plugin in collector.config.pluginmanager.get_plugins():
        file = getattr(plugin, "__file__", None) or ""
        if os.path.basename(file) != "conftest.py":
            continue
        folder = os.path.dirname(file)
        if path.startswith(folder + os.sep) and len(folder) > len(best_dir):
            best, best_dir = plugin, folder
    if best is not None:
        sys.modules["conftest"] = best


# --- backends ----------------------------------------------------------------------------------
# The `world` and `us_world` fixtures run every test that uses them on each store backend: the
# embedded SQLite, PostgreSQL, and PostgreSQL + Redis. The servers come from
# REACHGUARD_TEST_PG_URL / REACHGUARD_TEST_REDIS_URL (default: this machine's). Each test run gets
# a fresh PostgreSQL schema (migrated once, emptied between tests, dropped at the end) and a
# fresh Redis key prefix per test (deleted at the end). A server that does not answer skips its
# backends locally and FAILS them in CI (env CI set), where scripts/services.sh starts them.

BACKENDS = ["sqlite", "postgres", "postgres+redis"]
PG_URL = os.environ.get("REACHGUARD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("REACHGUARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unreachable(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({exc}); run scripts/services.sh"
    if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated schema on the test PostgreSQL for this run (per xdist worker)."""
    import psycopg

    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        _unreachable(f"PostgreSQL at {PG_URL}", exc)
    from reachguard.store.postgres import PostgresStore, engine_for

    schema = f"rg_test_{os.getpid()}_{secrets.token_hex(3)}"
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}schema={schema}"
    PostgresStore(url, chain_interval=0).close()  # creates the schema and runs the migrations
    yield url
    engine, _ = engine_for(url)
    engine.dispose()
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session")
def redis_prefix() -> Iterator[str]:
    """A key prefix of its own for this run; every key under it is deleted at the end."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # noqa: BLE001
        _unreachable(f"Redis at {REDIS_URL}", exc)
    prefix = f"rgtest:{os.getpid()}:{secrets.token_hex(3)}:"
    yield prefix
    batch = list(client.scan_iter(match=prefix + "*", count=1000))
    for i in range(0, len(batch), 500):
        client.delete(*batch[i:i + 500])
    client.close()


_counter = iter(range(1, 1 << 30))


def make_store(backend: str, request: pytest.FixtureRequest) -> Any:
    """A fresh, empty store of that backend (closed at the end of the test)."""
    if backend == "sqlite":
        return SQLiteStore(":memory:")
    from reachguard.store.postgres import PostgresStore, truncate_all

    url = request.getfixturevalue("pg_url")
    if backend == "postgres":
        store = PostgresStore(url, chain_interval=0)
    else:
        from reachguard.store.redis_counters import PostgresRedisStore

        prefix = request.getfixturevalue("redis_prefix") + f"{next(_counter)}:"
        store = PostgresRedisStore(url, REDIS_URL, prefix=prefix, chain_interval=0)
    truncate_all(store)
    request.addfinalizer(store.close)
    return store


@pytest.fixture
def signing_key_file(tmp_path: Path) -> Path:
    """An Ed25519 key file made in advance, as a PostgreSQL deployment needs (core/config.py:
    there the file is never made on demand); SQLite makes its own beside the database."""
    from reachguard.ledger.checkpoint import load_or_create_key

    path = tmp_path / "ledger-signing-key.pem"
    load_or_create_key(path)
    return path


@pytest.fixture
def new_store(request: pytest.FixtureRequest) -> Any:
    """make_store as a fixture: `new_store("postgres+redis")` (tests need not import conftest)."""
    return lambda backend: make_store(backend, request)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The test server's URL without a schema (pg_url is this run's schema on it)."""
    return PG_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store(backend: str, request: pytest.FixtureRequest) -> Any:
    return make_store(backend, request)


@pytest.fixture
def world(store: Any) -> World:
    return World(store=store)


@pytest.fixture
def us_world(store: Any) -> World:
    return World(PolicyBook.profile("us"), store=store)
