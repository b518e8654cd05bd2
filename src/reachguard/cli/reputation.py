"""`reachguard lookup`, `report`, `appeal` and `sender-numbers`: number reputation from reports."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from reachguard.cli import app
from reachguard.cli.common import Utf8Group, load_policies, time_option

if TYPE_CHECKING:  # reputation (numpy), the store, phonenumbers and rich load when a command runs
    from reachguard import reputation
    from reachguard.store import Store

DB = typer.Option("reachguard.db", "--db", envvar="REACHGUARD_DB_URL", help="Store: a SQLite path or a database URL.")
PROFILE = typer.Option("cn", "--profile", help="Policy profile (gives the reputation weights).")
POLICY = typer.Option(None, "--policy", help="TOML/YAML policy file (overrides --profile; see its [reputation]).")
AT = typer.Option(None, "--at", help="ISO-8601 time with offset (default: now).")

reputation_app = typer.Typer(cls=Utf8Group, help="Maintenance of the reputation data derived from the reports log.",
                             no_args_is_help=True)
app.add_typer(reputation_app, name="reputation")

numbers_app = typer.Typer(cls=Utf8Group, help="Numbers an org sends from: registered numbers show as that org (verified).",
                          no_args_is_help=True)
app.add_typer(numbers_app, name="sender-numbers")


def _store(db: str) -> Store:
    from reachguard.store import StoreUnavailable, open_store

    try:
        return open_store(db)
    except StoreUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _time(text: str | None) -> datetime:
    """--at: an ISO-8601 time with an offset, as every time of the contract (default: now)."""
    if text is None:
        return datetime.now(timezone.utc).astimezone()
    return time_option(text, "--at")


def _fail(code: str, message: str, as_json: bool = False, exit_code: int = 1) -> None:
    from reachguard.events import error_line

    if as_json:
        sys.stdout.buffer.write(error_line(code, message, None) + b"\n")
    else:
        typer.echo(f"error: {code}: {message}", err=True)
    raise typer.Exit(exit_code)


@contextmanager
def _owner_store(db: str) -> Iterator[Store]:
    """The store for an owner's command; a bad number or a refused ownership exits 1 with its code."""
    from reachguard import reputation
    from reachguard.numbers import InvalidNumber

    store = _store(db)
    try:
        yield store
    except InvalidNumber as exc:
        _fail("INVALID_NUMBER", str(exc))
    except reputation.OwnerError as exc:
        _fail(exc.code, exc.message)
    finally:
        store.close()


@app.command()
def lookup(
    number: str = typer.Argument(..., help="The number, in any common written form."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of tables."),
    at: Optional[str] = AT, db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY,
) -> None:
    """What a number is: label (催收/贷款推销/诈骗/骚扰/其他), confidence, reporters, owner, appeals.

    Example: reachguard lookup "138 0013 8000"
    """
    from reachguard import reputation
    from reachguard.numbers import InvalidNumber
    from reachguard.reputation.keying import SecretError

    weights = load_policies(profile, policy).default.reputation
    store = _store(db)
    try:
        rep = reputation.lookup(store, number, _time(at), policy=weights)
    except InvalidNumber as exc:
        _fail("INVALID_NUMBER", str(exc), as_json)
        return
    except SecretError as exc:
        _fail("CONFIG", str(exc), as_json, 2)
        return
    finally:
        store.close()
    if as_json:
        import msgspec

        sys.stdout.buffer.write(msgspec.json.encode(rep) + b"\n")
        return
    from reachguard.cli.reputation_run import show

    show(rep)


@app.command()
def report(
    to: Optional[str] = typer.Option(None, "--to", help="The reported number."),
    label: Optional[str] = typer.Option(None, "--label", help="harassment, collection, loan_marketing, fraud or other."),
    reporter: Optional[str] = typer.Option(None, "--reporter", help="Opaque reporter id (stored only as a keyed hash)."),
    text: Optional[str] = typer.Option(None, "--text", help="The message or a note (at most 10,000 characters)."),
    file: Optional[str] = typer.Option(None, "--file", help="JSON Lines of `report` events (or - for stdin) instead."),
    fold_every: int = typer.Option(
        200_000, "--fold-every", min=0,
        help="With --file: fold the loaded reports into the lookups every this many (0: once, when the load ends)."),
    at: Optional[str] = AT, db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY,
) -> None:
    """Report a number, or load many reports (--file) in batches.

    With --file, a bad line gets an error line {"error": {"code","message","line"}} on stdout and
    the other lines are still stored. Lookups see the loaded reports at each fold; a larger
    --fold-every loads faster (a 10,000,000-report history: --fold-every 0) and lags longer.

    Example: reachguard report --to 13800138000 --label collection --reporter user-42 --text "您已逾期…"

    Exit status: 0 when the report (or every --file line) was stored, 1 when it or some line was
    rejected, 2 on usage errors.
    """
    from reachguard import reputation
    from reachguard.events import EventError
    from reachguard.numbers import InvalidNumber
    from reachguard.reputation.keying import SecretError

    weights = load_policies(profile, policy).default.reputation
    store = _store(db)
    try:
        if file is not None:
            from reachguard.cli.reputation_run import load_file

            if load_file(store, file, weights, fold_every):
                raise typer.Exit(1)
            return
        if to is None or label is None or reporter is None:
            raise typer.BadParameter("give --to, --label and --reporter (or --file)")
        try:
            number = reputation.record_report(store, to, label, reporter, _time(at), text, policy=weights)
        except InvalidNumber as exc:
            _fail("INVALID_NUMBER", str(exc))
        except EventError as exc:
            _fail(exc.code, exc.message)
        except SecretError as exc:
            _fail("CONFIG", str(exc), exit_code=2)
        typer.echo(f"reported {number} as {label}")
    finally:
        store.close()


@reputation_app.command("rebuild")
def reputation_rebuild(db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY) -> None:
    """Rebuild every number's aggregate and every reporter's record from the reports log.

    Replays the log in order through the ingest code, in one transaction (ingest waits; lookups
    see the old figures until it commits). Use it after restoring the log, or after changing the
    policy's ingest-time constants (consensus_min_reporters, consensus_share, burst_half_life_hours).

    Example: reachguard reputation rebuild --db reachguard.db
    """
    from rich.console import Console
    from rich.progress import MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from reachguard import reputation

    weights = load_policies(profile, policy).default.reputation
    store = _store(db)
    try:
        with Progress(TextColumn("replaying reports"), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=Console(stderr=True)) as bar:
            task = bar.add_task("reports", total=None)
            replayed = reputation.rebuild(store, weights, progress=lambda n: bar.update(task, completed=n))
        typer.echo(f"rebuilt reputation from {replayed} reports")
    except NotImplementedError as exc:
        _fail("UNSUPPORTED", str(exc), exit_code=2)
    finally:
        store.close()


@app.command()
def appeal(
    number: str = typer.Argument(..., help="The org's own (registered) number."),
    org: str = typer.Option(..., "--org", help="The org appealing; must have registered the number."),
    reason: str = typer.Option(..., "--reason", help="Why the label is wrong (at most 2,000 characters)."),
    label: Optional[str] = typer.Option(None, "--label", help="The label appealed against (default: the labelling)."),
    at: Optional[str] = AT, db: str = DB,
) -> None:
    """Appeal a number's label. Recorded and shown by lookup; reports are never deleted.

    Example: reachguard appeal 4008123123 --org xinghe --label fraud --reason "our licensed service line"
    """
    from reachguard import reputation

    with _owner_store(db) as store:
        appeal_id = reputation.appeal(store, number, org, reason, label=label, at=_time(at))
    typer.echo(f"appeal #{appeal_id} recorded")


@numbers_app.command("add")
def numbers_add(number: str = typer.Argument(...), org: str = typer.Option(..., "--org"), db: str = DB) -> None:
    """Register a number the org sends from (lookups then show it as the org, verified).

    Example: reachguard sender-numbers add 13800138000 --org xinghe --db reachguard.db
    """
    from reachguard import reputation

    with _owner_store(db) as store:
        e164 = reputation.register_sender_number(store, number, org)
    typer.echo(f"{e164} registered to {org}")


@numbers_app.command("remove")
def numbers_remove(number: str = typer.Argument(...), org: str = typer.Option(..., "--org"), db: str = DB) -> None:
    """Remove a registration (only the org that made it).

    Example: reachguard sender-numbers remove 13800138000 --org xinghe --db reachguard.db
    """
    from reachguard import reputation

    with _owner_store(db) as store:
        removed = reputation.unregister_sender_number(store, number, org)
    if not removed:
        _fail("NOT_OWNER", f"{number[:40]!r} is not registered to {org!r}")
    typer.echo("removed")


@numbers_app.command("list")
def numbers_list(org: str = typer.Option(..., "--org"), db: str = DB) -> None:
    """The org's registered sender numbers, one per line with the time of registration.

    Example: reachguard sender-numbers list --org xinghe --db reachguard.db
    """
    store = _store(db)
    try:
        rows = store.sender_numbers(org)
    finally:
        store.close()
    for number, at in rows:
        typer.echo(f"{number}\t{datetime.fromtimestamp(at, timezone.utc).isoformat()}")
