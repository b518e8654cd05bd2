"""Opening a PostgreSQL store checks the schema revision with plain SQL, against the head known
at build time (pg_engine.REVISIONS); Alembic is imported only to upgrade.

Why: Alembic's imports and its parsing of every migration cost ~0.5-0.7 s on each CLI command
that opens a store, to compare one string. The refusals must stay as they were.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import psycopg
import pytest

from reachguard.store import StoreUnavailable


@pytest.fixture
def empty_schema(pg_server_url: str):
    name = f"rg_chk_{int(time.time() * 1000) % 10**9}"
    url = pg_server_url + ("&" if "?" in pg_server_url else "?") + f"schema={name}"
    yield url, name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_the_known_revisions_are_alembics_history() -> None:
    """A new migration must be added to REVISIONS (else a current schema looks newer)."""
    from alembic.script import ScriptDirectory

    from reachguard.store.pg_engine import HEAD, REVISIONS, _alembic_config, alembic_head_revision, head_revision

    history = [rev.revision for rev in ScriptDirectory.from_config(_alembic_config()).walk_revisions()]
    assert tuple(reversed(history)) == REVISIONS
    assert head_revision() == HEAD == alembic_head_revision()


def test_opening_a_current_store_does_not_import_alembic(pg_url: str) -> None:
    code = (
        "import json, sys\n"
        "from reachguard.store.postgres import PostgresStore\n"
        f"PostgresStore({pg_url!r}, chain_interval=0).close()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'alembic' or m.startswith('alembic.'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_a_stale_or_missing_schema_is_refused_with_the_same_message(empty_schema) -> None:
    from reachguard.store.postgres import PostgresStore, _CURRENT, current_revision, engine_for, upgrade

    url, name = empty_schema
    engine, schema = engine_for(url)
    assert current_revision(engine, schema) is None  # no such schema yet
    with pytest.raises(StoreUnavailable) as info:
        PostgresStore(url, upgrade=False)
    assert str(info.value) == "the database schema is at nothing, this ReachGuard needs 0006: run `reachguard db upgrade`"
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    assert current_revision(engine, schema) is None  # a schema without alembic_version
    assert upgrade(engine, schema, "0003") == (None, "0003")
    assert current_revision(engine, schema) == "0003"
    _CURRENT.clear()
    with pytest.raises(StoreUnavailable) as info:
        PostgresStore(url, upgrade=False)
    assert str(info.value) == "the database schema is at 0003, this ReachGuard needs 0006: run `reachguard db upgrade`"
    PostgresStore(url, chain_interval=0).close()  # auto-upgrade still runs the migrations
    assert current_revision(engine, schema) == "0006"
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('0004')")
    _CURRENT.clear()
    with pytest.raises(StoreUnavailable, match="several revisions"):
        PostgresStore(url)
