"""`reachguard replay`: decide every attempt of an event stream, in order."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Optional

import typer

from reachguard.cli import app
from reachguard.cli.common import load_policies

if TYPE_CHECKING:  # the engine, store and rich load when the command runs (start-up cost)
    from reachguard.engine import Gateway
    from reachguard.store import Store

REPLAY_SECRET = b"reachguard-replay: deterministic codes for an in-memory replay"
_CHUNK = 2_000  # events per store transaction
_BATCH = 500  # consecutive attempts decided together


@app.command()
def replay(
    file: str = typer.Argument(..., help="JSON Lines event stream, or - for standard input."),
    db: Optional[str] = typer.Option(None, "--db", help="Start from (and write to) this store instead of an empty one: a file, sqlite:///…, or postgresql://… (+ env REACHGUARD_REDIS_URL)."),
    profile: str = typer.Option("cn", "--profile", help="Built-in policy profile: cn or us."),
    policy: Optional[Path] = typer.Option(None, "--policy", help="TOML/YAML policy file (overrides --profile)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr."),
) -> None:
    """Replay an event stream and print one decision (or error) line per attempt.

    Every event updates the state; each `attempt` is answered in order with a JSON line
    (verdict, reasons with citations, retry_at). Malformed lines give an error line with
    their line number and the stream goes on.

    Example: reachguard replay examples/events.jsonl
    """
    from reachguard.engine import Gateway
    from reachguard.store import BadDatabaseUrl, StoreUnavailable

    policies = load_policies(profile, policy)
    try:
        with _open_store(db) as (store, secret):
            gateway = Gateway(store, policies, secret=secret)
            source = sys.stdin.buffer if file == "-" else _open_input(file)
            total = None if file == "-" else os.path.getsize(file)
            _run(gateway, source, sys.stdout.buffer, total, progress and total is not None)
    except BadDatabaseUrl as exc:  # a usage error (exit 2), raised before anything is read
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    except StoreUnavailable as exc:
        # Fail closed: lines are printed only for committed chunks; what follows the last
        # printed line was not recorded. Replay the rest once the store is back.
        sys.stdout.flush()
        typer.echo(f"error: the store is unavailable, replay stopped: {exc}", err=True)
        raise typer.Exit(3) from exc


def _open_input(file: str) -> BinaryIO:
    try:
        return open(file, "rb")
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc


class _open_store:
    """--db: that store, with its own secret. Otherwise: a throw-away file (bounded memory).

    An explicit but empty --db (an unset shell variable) goes to open_store, which refuses it:
    it used to mean the throw-away store, so the replay's writes were silently dropped."""

    def __init__(self, db: str | None):
        self.db = db
        self.tmp: tempfile.TemporaryDirectory | None = None

    def __enter__(self) -> tuple[Store, bytes | None]:
        from reachguard.store import SQLiteStore, open_store

        if self.db is not None:
            self.store = open_store(self.db)
            return self.store, None
        self.tmp = tempfile.TemporaryDirectory(prefix="reachguard-replay-")
        self.store: Store = SQLiteStore(os.path.join(self.tmp.name, "replay.db"), synchronous="OFF")
        return self.store, REPLAY_SECRET

    def __exit__(self, *exc: object) -> None:
        self.store.close()
        if self.tmp is not None:
            self.tmp.cleanup()


def _run(gateway: Gateway, source: BinaryIO, out: BinaryIO, total: int | None, show: bool) -> None:
    """Stream the events through the gateway, in order, committing every few thousand.

    Consecutive attempts are decided together with `decide_many` (same answers: a batch judges
    in order and each attempt sees the contacts recorded before it), which saves a store round
    trip per attempt. A chunk's lines are written once its transaction has committed, so a
    store failure never leaves a printed decision unrecorded (fail closed).
    """
    import msgspec
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    from reachguard.events import EventError, decode_event, error_line, iter_lines
    from reachguard.model import Attempt
    from reachguard.numbers import InvalidNumber

    encode = msgspec.json.Encoder().encode
    console = Console(stderr=True)
    store = gateway.store
    attempts: list[tuple[int, Attempt]] = []
    sink = bytearray()  # this chunk's output, written after its commit

    def flush() -> None:
        if attempts:
            for decision in gateway.decide_many([a for _, a in attempts]):
                sink.extend(encode(decision))
                sink.extend(b"\n")
            attempts.clear()

    def commit(tx) -> None:
        tx.__exit__(None, None, None)
        out.write(sink)
        sink.clear()

    with Progress(
        TextColumn("replay"), BarColumn(), TransferSpeedColumn(), TimeElapsedColumn(),
        console=console, disable=not show, transient=False,
    ) as bar:
        task = bar.add_task("replay", total=total)
        done_bytes = 0
        since_commit = 0
        tx = store.transaction()
        tx.__enter__()
        try:
            for number, line in iter_lines(source):
                done_bytes += len(line) + 1
                try:
                    event = decode_event(line)
                except EventError as exc:
                    flush()
                    sink.extend(error_line(exc.code, exc.message, number) + b"\n")
                    continue
                if isinstance(event, Attempt):
                    attempts.append((number, event))
                    if len(attempts) >= _BATCH:
                        flush()
                else:
                    flush()
                    try:
                        gateway.apply(event)
                    except InvalidNumber as exc:
                        sink.extend(error_line("INVALID_NUMBER", str(exc), number) + b"\n")
                since_commit += 1
                if since_commit >= _CHUNK:
                    flush()
                    commit(tx)
                    tx = store.transaction()
                    tx.__enter__()
                    since_commit = 0
                    bar.update(task, completed=done_bytes)
            flush()
        except BaseException:
            if not tx.__exit__(*sys.exc_info()):
                raise
        else:
            commit(tx)
        bar.update(task, completed=total or done_bytes)
    out.flush()
