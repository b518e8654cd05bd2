"""`reachguard scrub`: check a whole campaign list against the store, write allowed/rejected rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import typer

from reachguard.cli import app
from reachguard.cli.common import load_policies, time_option

_STAGE_NAMES = {"read": "reading the list", "numbers": "normalising numbers", "state": "reading the store",
                "judge": "judging", "write": "writing results"}


@app.command()
def scrub(
    file: Path = typer.Argument(..., help="The campaign list: CSV (UTF-8, header line) or Parquet."),
    org: str = typer.Option(..., "--org", help="The org that will send the campaign."),
    purpose: str = typer.Option(..., "--purpose", help="marketing, collection or service."),
    channel: str = typer.Option(..., "--channel", help="sms, call, robocall or push."),
    at: str = typer.Option(..., "--at", help="When the campaign goes out, with an offset: 2026-11-23T10:00:00+08:00."),
    out: Path = typer.Option(..., "--out", help="Allowed rows go here (every input column). .csv or .parquet."),
    db: Optional[str] = typer.Option(None, "--db", help="Store path or URL (default: $REACHGUARD_DB_URL or ./reachguard.db)."),
    rejected: Optional[Path] = typer.Option(
        None, "--rejected", help="Rejected rows plus a `reasons` column (default: <out>.rejected.csv beside --out)."),
    column: Optional[str] = typer.Option(
        None, "--column", help="The number column (default: the first of phone, mobile, to, number, 手机号, 电话)."),
    reserve: bool = typer.Option(False, "--reserve", help="Record the allowed rows as contacts made at --at (caps count them)."),
    profile: str = typer.Option("cn", "--profile", help="Built-in policy profile: cn or us."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="TOML/YAML policy file (overrides --profile)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
) -> None:
    """Scrub a campaign list: the same answers as `decide` for every row, in seconds.

    Writes the rows that may be contacted to --out and the others, with their reason codes
    joined by `;`, to --rejected; prints counts by reason, invalid numbers and duplicates
    (a number listed twice is kept once). Allowed rows are not counted as contacts unless
    --reserve. Collection lists may carry `subject` and `relation` columns.

    Example: reachguard scrub campaign.csv --db reachguard.db --org acme --purpose marketing
    --channel sms --at 2026-11-23T10:00:00+08:00 --out allowed.csv
    """
    from reachguard.core.memory import small_pages_for_numpy

    small_pages_for_numpy()  # before numpy is imported (core/memory.py: why)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    from reachguard.scrub import ScrubInputError, run_scrub
    from reachguard.scrub.report import render
    from reachguard.store import StoreUnavailable

    err = Console(stderr=True)
    when = _parse_at(at)
    policies = load_policies(profile, policy)
    store = _store(db)
    bar = Progress(TextColumn("{task.description:<22}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   console=err, disable=not progress, transient=True)
    try:
        with bar:
            task = bar.add_task("reading the list", total=1.0)
            report = run_scrub(
                file, store=store, org=org, purpose=purpose, channel=channel, at=when, out=out, rejected=rejected,
                column=column, reserve=reserve, policies=policies,
                progress=lambda stage, done: bar.update(task, completed=done, description=_STAGE_NAMES.get(stage, stage)),
            )
    except ScrubInputError as exc:
        err.print(f"[red]error[/red] ({exc.code}): {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
    except StoreUnavailable as exc:
        err.print(f"[red]error[/red] (UNAVAILABLE): {exc}", highlight=False)
        raise typer.Exit(3) from exc
    finally:
        if not isinstance(store, str):
            store.close()
    render(report, Console())


def _parse_at(text: str) -> datetime:
    return time_option(text, "--at")


def _store(db: str | None) -> Any:
    """The store the other commands would open: a SQLite path, or an open PostgreSQL(+Redis) store."""
    from reachguard.core.config import ConfigError, load_settings
    from reachguard.store.sqlite import sqlite_path

    try:
        settings = load_settings(db_url=db)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if not settings.is_sqlite:
        from reachguard.store import open_store

        try:
            return open_store(settings.db_url, redis_url=settings.redis_url)
        except Exception as exc:  # StoreUnavailable, connection errors
            typer.echo(f"error (NO_STORE): cannot open the store: {exc}", err=True)
            raise typer.Exit(2) from exc
    if settings.is_memory_db:
        typer.echo("error: --db :memory: is an empty store; name the store file the gateway uses", err=True)
        raise typer.Exit(2)
    return sqlite_path(settings.db_url)
