"""`reachguard db upgrade|current|chain`: the store's schema (Alembic migrations on PostgreSQL)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from reachguard.cli.common import Utf8Group

from reachguard.cli import app

if TYPE_CHECKING:  # SQLAlchemy loads only when a PostgreSQL command runs
    from sqlalchemy.engine import Engine

db_app = typer.Typer(
    cls=Utf8Group,
    name="db",
    help="The store's schema: run the migrations before starting new replicas.\n\n"
    "Example: reachguard db upgrade --db postgresql://reachguard@db.internal/reachguard",
    no_args_is_help=True,
)
app.add_typer(db_app, name="db")

_DB_HELP = "Store path or URL: a file, sqlite:///…, or postgresql://… (default: $REACHGUARD_DB_URL or ./reachguard.db)."


def _url(db: str | None) -> str:
    if db is not None:
        if not db:  # not taken for "not given" (the default store): refused, as every command does
            _fail("bad database URL: it is empty")
        return db
    try:
        from reachguard.core.config import load_settings

        return load_settings().db_url
    except Exception:  # noqa: BLE001 - no service config: the plain default
        import os

        return os.environ.get("REACHGUARD_DB_URL") or "reachguard.db"


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _engine(url: str) -> tuple[Engine, str | None]:
    """The PostgreSQL engine; a bad URL (BadDatabaseUrl) exits 2 instead of a traceback."""
    from reachguard.store import StoreUnavailable
    from reachguard.store.postgres import engine_for

    try:
        return engine_for(url)
    except StoreUnavailable as exc:
        _fail(str(exc))


@db_app.command("upgrade")
def upgrade(
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
    revision: str = typer.Option("head", "--revision", help="Target revision (default: the newest)."),
) -> None:
    """Create or migrate the schema (PostgreSQL: Alembic, one upgrader at a time; SQLite: created on open).

    Safe to run from every replica at start-up: a database already at the target is left alone.

    Example: reachguard db upgrade --db postgresql://postgres@127.0.0.1:5432/test
    """
    url = _url(db)
    from reachguard.store import StoreUnavailable
    from reachguard.store.postgres import is_postgres_url, upgrade as run_upgrade

    if not is_postgres_url(url):
        from reachguard.store import SQLiteStore

        try:
            SQLiteStore(url).close()
        except StoreUnavailable as exc:
            _fail(str(exc))
        typer.echo(f"SQLite store {url}: schema is current (created on open)")
        return
    import sqlalchemy as sa

    engine, schema = _engine(url)
    try:
        before, after = run_upgrade(engine, schema, revision)
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach PostgreSQL: {exc.orig or exc}")
    _init_secret(url)
    where = f" (schema {schema})" if schema else ""
    if before == after:
        typer.echo(f"PostgreSQL{where}: already at {after}")
    else:
        typer.echo(f"PostgreSQL{where}: upgraded {before or 'empty'} -> {after}")


def _init_secret(url: str) -> None:
    """Create the store's verification-code secret now, once, so replicas started together
    all read the same one (each would otherwise make its own if none existed yet)."""
    from reachguard.engine import Gateway
    from reachguard.store import StoreUnavailable
    from reachguard.store.postgres import PostgresStore

    try:
        store = PostgresStore(url, chain_interval=0)
    except StoreUnavailable as exc:
        _fail(str(exc))
    try:
        Gateway(store)
    finally:
        store.close()


@db_app.command("current")
def current(db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP)) -> None:
    """Show the schema revision of the database and the one this ReachGuard needs.

    Example: reachguard db current --db postgresql://postgres@127.0.0.1:5432/test
    """
    url = _url(db)
    from reachguard.store.postgres import current_revision, head_revision, is_postgres_url

    if not is_postgres_url(url):
        typer.echo("SQLite: the schema is created and kept current when the store is opened")
        return
    import sqlalchemy as sa

    engine, schema = _engine(url)
    try:
        have = current_revision(engine, schema)
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach PostgreSQL: {exc.orig or exc}")
    need = head_revision()
    state = "current" if have == need else "needs `reachguard db upgrade`"
    typer.echo(f"database: {have or 'empty'}   this ReachGuard: {need}   ({state})")
    if have != need:
        raise typer.Exit(1)


@db_app.command("chain")
def chain(
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
    org: Optional[str] = typer.Option(None, "--org", help="Only this org's chain."),
) -> None:
    """Chain the ledger entries still pending, then VACUUM the pending queue (PostgreSQL;
    replicas also chain every second, and vacuum every 10,000 entries they chained).

    Example: reachguard db chain --db postgresql://postgres@127.0.0.1:5432/test
    """
    from reachguard.store import StoreUnavailable, open_store

    try:
        store = open_store(_url(db))
    except StoreUnavailable as exc:
        _fail(str(exc))
    try:
        chain_ledger = getattr(store, "chain_ledger", None)
        try:
            done = chain_ledger(org) if chain_ledger else 0
        except StoreUnavailable as exc:
            _fail(str(exc))
        vacuum_pending = getattr(store, "vacuum_pending", None)
        if vacuum_pending is None:  # SQLite: no queue
            typer.echo(f"chained {done} pending ledger entries")
            return
        try:
            skipped = vacuum_pending()
        except StoreUnavailable as exc:  # the chaining is committed: say so, then why the VACUUM failed
            typer.echo(f"chained {done} pending ledger entries")
            _fail(f"the queue (ledger_pending) was not vacuumed: {exc}")
    finally:
        store.close()
    if skipped is None:
        typer.echo(f"chained {done} pending ledger entries; the queue vacuumed")
    else:
        typer.echo(f"chained {done} pending ledger entries; the queue not vacuumed: {skipped.reason}")
