"""PostgreSQL URLs, pooled engines and the schema (Alembic migrations in `store/migrations/`).

One engine per (process, URL, settings): every store opened on the same URL in a process
shares its pool. Migrations run one upgrader at a time per database (an advisory lock), so
`reachguard db upgrade` is safe from every replica at once.
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from pathlib import Path
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from reachguard.store.base import BadDatabaseUrl, StoreUnavailable, is_postgres_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The migrations in store/migrations/versions, oldest first; the last is the head. Why here: the
# check that runs on every store opening compares `alembic_version` with HEAD in one plain query,
# and Alembic (~0.5 s of imports plus parsing every migration) is imported only to upgrade or
# to tell a newer schema from an older one. A test checks this equals Alembic's own history.
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")
HEAD = REVISIONS[-1]
_MIGRATION_LOCK = 0x5247_4442_4D49_4752  # "RGDBMIGR": one upgrade at a time per database

# --- URL, engine --------------------------------------------------------------------------

_OUR_PARAMS = ("schema", "synchronous_commit", "pool_size", "writers")


def parse_url(url: str) -> tuple[sa.URL, dict[str, str]]:
    """SQLAlchemy URL for psycopg 3, and our own parameters taken out of the query string.

    Refused here, before any connection, as BadDatabaseUrl: a host:port that does not parse,
    and a parameter neither ours nor libpq's (psycopg raised ProgrammingError when connecting).
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    parsed = _sa_url(url)
    _check_known(parsed.query)
    ours: dict[str, str] = {}
    for key in _OUR_PARAMS:
        if key in parsed.query:
            value = parsed.query[key]
            if not isinstance(value, str):  # given twice: SQLAlchemy hands a tuple
                raise BadDatabaseUrl(f"bad database URL: {key} is given {len(value)} times")
            ours[key] = _checked(key, value)
    parsed = parsed.difference_update_query(_OUR_PARAMS).set(drivername="postgresql+psycopg")
    return parsed, ours


def _sa_url(url: str) -> sa.URL:
    """make_url, whose int() of the port (`h:abc`, an unclosed `[::1`) raised a bare ValueError.
    The message does not repeat the URL: it may hold a password."""
    try:
        parsed = make_url(url)
    except (ValueError, sa.exc.ArgumentError) as exc:
        raise BadDatabaseUrl("bad database URL: cannot read its host and port "
                             "(expected host, host:PORT with a number, or [IPv6 address]:PORT)") from exc
    if parsed.port is not None and not 0 < parsed.port < 65536:  # else "cannot reach PostgreSQL", as if it were down
        raise BadDatabaseUrl(f"bad database URL: port {parsed.port} is not a TCP port (1-65535)")
    return parsed


def _libpq_params() -> tuple[str, ...]:
    """The connection parameters the linked libpq knows: psycopg passes these through."""
    from psycopg import pq

    return tuple(option.keyword.decode() for option in pq.Conninfo.get_defaults())


def _check_known(query: Mapping[str, Any]) -> None:
    libpq = _libpq_params()
    unknown = [key for key in query if key not in _OUR_PARAMS and key not in libpq]
    if unknown:
        raise BadDatabaseUrl(f"bad database URL: unknown parameter {', '.join(unknown)} (known: {', '.join(_OUR_PARAMS)}, "
                             "and libpq's connection parameters such as sslmode, connect_timeout, application_name)")


_SYNCHRONOUS_COMMIT = ("on", "off", "local", "remote_write", "remote_apply")
_SCHEMA_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


def _checked(key: str, value: str) -> str:
    """Our URL parameters end up in the server's start-up options (`-c name=value`, split on
    spaces) or in int(): refuse a bad one here, with a message naming it, rather than as a
    traceback or the server's puzzling complaint about a mangled option."""
    if key == "synchronous_commit" and value not in _SYNCHRONOUS_COMMIT:
        raise BadDatabaseUrl(f"bad database URL: synchronous_commit={value!r}: expected one of {', '.join(_SYNCHRONOUS_COMMIT)}")
    if key == "schema" and not _SCHEMA_RE.fullmatch(value):
        raise BadDatabaseUrl(f"bad database URL: schema={value!r}: expected a plain identifier (letters, digits, _; at most 63)")
    if key == "pool_size" and not (value.isdigit() and 1 <= int(value) <= 1000):
        raise BadDatabaseUrl(f"bad database URL: pool_size={value!r}: expected a whole number from 1 to 1000")
    if key == "writers" and not (value.isdigit() and 1 <= int(value) <= 16):
        raise BadDatabaseUrl(f"bad database URL: writers={value!r}: expected a whole number from 1 to 16")
    if key == "schema":
        # PostgreSQL folds an unquoted identifier to lower case, and search_path names the schema
        # unquoted: `schema=Rg` used the tables of `rg` but created (quoted) an empty "Rg" and took
        # the Redis prefix rg:Rg: — replicas whose URLs differed in case shared tables, not counters.
        return value.lower()
    return value


_ENGINES: dict[tuple, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(url: str, *, schema: str | None = None, synchronous_commit: str | None = None, pool_size: int | None = None) -> tuple[Engine, str | None]:
    """One pooled engine per (process, URL, settings); returns it and the schema in use."""
    sa_url, ours = parse_url(url)
    schema = schema or ours.get("schema")
    synchronous_commit = synchronous_commit or ours.get("synchronous_commit")
    size = pool_size or int(ours.get("pool_size", 0) or 0) or 10
    key = (os.getpid(), sa_url.render_as_string(hide_password=False), schema, synchronous_commit, size)
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            # Every statement is prepared once per connection. The state statement is a UNION
            # ALL of up to 8 parts: planned afresh on each run (PostgreSQL keeps custom plans
            # when it rates the generic one dearer), planning costs more than executing. Its
            # filters are equalities on indexed keys, so the generic plan is the right one.
            options = ["-c plan_cache_mode=force_generic_plan"]
            if schema:
                options.append(f"-c search_path={schema}")
            if synchronous_commit:
                options.append(f"-c synchronous_commit={synchronous_commit}")
            connect_args = _connect_args(sa_url.query, options)
            engine = sa.create_engine(
                sa_url, pool_size=size, max_overflow=size, pool_timeout=30, pool_pre_ping=False, pool_use_lifo=True,
                pool_reset_on_return=None,  # a session returns its connection only outside any transaction
                connect_args=connect_args,
            )
            _ENGINES[key] = engine
    return engine, schema


_CONNECT_DEFAULTS = {"connect_timeout": 5, "application_name": "reachguard"}


def _connect_args(query: Mapping[str, Any], options: list[str]) -> dict[str, Any]:
    """psycopg's connect arguments. SQLAlchemy lets connect_args override the URL's query, so
    the defaults go in only where the URL says nothing (a `?connect_timeout=` or
    `?application_name=` was silently ignored), and the URL's own `options` come before ours
    (ours, later, win for the settings the URL names as schema= and synchronous_commit=)."""
    args: dict[str, Any] = {key: value for key, value in _CONNECT_DEFAULTS.items() if key not in query}
    given = query.get("options", ())
    args["options"] = " ".join([*((given,) if isinstance(given, str) else given), *options])
    return args


def _alembic_config(connection: sa.Connection | None = None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The schema revision this ReachGuard needs (the newest migration)."""
    return HEAD


def alembic_head_revision() -> str:
    """The head as Alembic computes it from the migration files (tests compare it with HEAD)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()  # type: ignore[return-value]


# One statement: is the schema there, and the alembic_version table in it (search_path is the
# schema when one is set; to_regclass is NULL when the table, or the schema, does not exist).
_PROBE = sa.text("SELECT (CAST(:s AS text) IS NULL OR EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = :s)), "
                 "to_regclass('alembic_version') IS NOT NULL")


def current_revision(engine: Engine, schema: str | None = None) -> str | None:
    """The database's revision (None: no schema or no migration run yet), read with plain SQL —
    what Alembic's MigrationContext.get_current_revision reads, without importing Alembic."""
    with engine.connect() as conn:
        has_schema, has_table = conn.execute(_PROBE, {"s": schema}).one()
        if not (has_schema and has_table):
            return None
        rows = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(rows) > 1:  # several heads: not a history of ours
        raise StoreUnavailable(f"the database schema has several revisions ({', '.join(sorted(rows))}): not ReachGuard's")
    return rows[0] if rows else None


def upgrade(engine: Engine, schema: str | None = None, revision: str = "head") -> tuple[str | None, str | None]:
    """Run the migrations up to `revision` (one upgrader at a time); (before, after) revisions."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    _CURRENT.get(engine, set()).discard(schema)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        if schema:
            conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        before = MigrationContext.configure(conn).get_current_revision()
        command.upgrade(_alembic_config(conn), revision)
        after = MigrationContext.configure(conn).get_current_revision()
    return before, after


# engine -> schemas known to be at head in this process (weak keys: a disposed engine's entry goes with it)
_CURRENT: "weakref.WeakKeyDictionary[Engine, set[str | None]]" = weakref.WeakKeyDictionary()


def ensure_schema(engine: Engine, schema: str | None, auto_upgrade: bool) -> None:
    if schema in _CURRENT.get(engine, ()):
        return
    try:
        current = current_revision(engine, schema)
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"cannot reach PostgreSQL: {exc.orig or exc}") from exc
    head = head_revision()
    if current == head:
        _CURRENT.setdefault(engine, set()).add(schema)
        return
    if current is not None and current not in REVISIONS:
        raise StoreUnavailable(f"the database schema ({current}) is newer than this ReachGuard ({head}): upgrade ReachGuard")
    if not auto_upgrade:
        raise StoreUnavailable(f"the database schema is at {current or 'nothing'}, this ReachGuard needs {head}: run `reachguard db upgrade`")
    upgrade(engine, schema)
    _CURRENT.setdefault(engine, set()).add(schema)


__all__ = ["HEAD", "MIGRATIONS", "REVISIONS", "alembic_head_revision", "current_revision", "engine_for", "ensure_schema", "head_revision", "is_postgres_url", "parse_url",
           "upgrade"]
