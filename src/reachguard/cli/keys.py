"""`reachguard keys create|list|revoke`: API keys (hashed at rest, shown once, revocable)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Optional

import typer

from reachguard.cli.common import Utf8Group

from reachguard.cli import app
from reachguard.core.roles import ROLES

keys_app = typer.Typer(
    cls=Utf8Group,
    name="keys",
    help="Manage API keys: each key acts for one org with one role (sender, compliance, auditor, admin).\n\n"
    "Example: reachguard keys create --org acme --role sender --db ./reachguard.db",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")

_DB_HELP = "Store path or URL (default: $REACHGUARD_DB_URL or ./reachguard.db)."


def _store(db: str | None):
    """The store --db names, else the configured one (settings, and pydantic, only then)."""
    from reachguard.store import StoreUnavailable, open_store

    try:
        return open_store(db if db is not None else _configured_db_url())  # an empty --db is refused, not the default
    except StoreUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _configured_db_url() -> str:
    from reachguard.core.config import ConfigError, load_settings

    try:
        return load_settings().db_url
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@keys_app.command("create")
def create(
    org: str = typer.Option(..., "--org", help="The org the key acts for."),
    role: str = typer.Option(..., "--role", help=f"One of: {', '.join(ROLES)}."),
    label: Optional[str] = typer.Option(None, "--label", help="A note to recognise the key by (e.g. 'dialer prod')."),
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Create an API key and print it ONCE, alone on the last line of stdout (only its SHA-256 is stored).

    Example: KEY=$(reachguard keys create --org acme --role sender | tail -1)
    """
    from reachguard.core.keys import KeyError_, create_key

    store = _store(db)
    try:
        record, key = create_key(store, org, role, label)
    except KeyError_ as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        store.close()
    typer.echo(f"created key {record.key_id} for org {record.org} with role {record.role}; store it now, it is not shown again:")
    typer.echo(key)


@keys_app.command("list")
def list_keys(
    org: Optional[str] = typer.Option(None, "--org", help="Only this org's keys."),
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """List API keys (id, org, role, created, revoked, label); never the keys themselves.

    Example: reachguard keys list --org acme
    """
    store = _store(db)
    try:
        records = store.api_keys(org)
    finally:
        store.close()
    typer.echo(f"{'key_id':<14} {'org':<16} {'role':<11} {'created':<21} {'revoked':<21} label")
    for r in records:
        typer.echo(f"{r.key_id:<14} {r.org:<16} {r.role:<11} {_when(r.created_at):<21} {_when(r.revoked_at):<21} {r.label or ''}")


@keys_app.command("revoke")
def revoke(
    key_id: str = typer.Argument(..., help="The key id shown by `keys create` / `keys list`."),
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Revoke an API key: requests with it are refused (a running server notices within key_cache_seconds).

    Example: reachguard keys revoke 3f2a9c01b7de
    """
    store = _store(db)
    try:
        done = store.revoke_api_key(key_id, time.time())
    finally:
        store.close()
    if not done:
        typer.echo(f"error: no live key {key_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {key_id}")
