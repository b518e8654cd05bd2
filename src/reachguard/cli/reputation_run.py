"""The work of `reachguard lookup` (tables) and `reachguard report --file` (a bulk load), imported
when those commands run (rich, numpy and the reputation module are not needed for `--help`)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from reachguard.policy.schema import ReputationPolicy
    from reachguard.reputation import Reputation
    from reachguard.store import Store

BATCH = 20_000


def show(rep: Reputation) -> None:
    """`reachguard lookup` as tables: the answer, its evidence per label, the owner's traffic, the model."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    head = Table(title=f"{rep.number} at {rep.at}", show_header=False)
    head.add_column("what", style="bold")
    head.add_column("value")
    label = f"{rep.name} ({rep.label})" if rep.label else "no reports"
    head.add_row("label", label)
    head.add_row("confidence", f"{rep.confidence:.0%}")
    head.add_row("distinct reporters", str(rep.reporters))
    head.add_row("reports filed", str(rep.reports))
    head.add_row("owner", f"{rep.owner.org} (verified)" if rep.owner else "not a registered sender number")
    head.add_row("appeals", str(len(rep.appeals)))
    console.print(head)
    if rep.scores:
        scores = Table(title="evidence per label")
        for column in ("label", "名称", "weight", "share"):
            scores.add_column(column)
        for s in rep.scores:
            scores.add_row(s.label, s.name, f"{s.weight:.3f}", f"{s.share:.0%}")
        console.print(scores)
    if rep.signals:
        table = Table(title=f"{rep.owner.org if rep.owner else ''}'s own traffic (harassment evidence)")
        for column in ("signal", "value", "reference", "weight", "contribution", "detail"):
            table.add_column(column)
        for s in rep.signals:
            table.add_row(s.name, "-" if s.value is None else f"{s.value:.4f}", f"{s.reference:g}", f"{s.weight:g}",
                          f"{s.contribution:.3f}", s.detail)
        console.print(table)
    for a in rep.appeals:
        console.print(f"appeal #{a.id} by {a.org} against {a.label or 'every label'} ({a.at}): {a.reason}")
    model = Table(title="model (policy \\[reputation])")
    for column in ("parameter", "value", "meaning"):
        model.add_column(column)
    for p in rep.model:
        model.add_row(p.name, f"{p.value:g}", p.meaning)
    console.print(model)


def load_file(store: Store, file: str, weights: ReputationPolicy, fold_every: int) -> int:
    """Stream report events into the store; bad lines give error lines (like replay) and are skipped.
    Loaded through BulkIngest: lookups see the reports at each fold (every `fold_every`; 0: none
    before the end) and when the load ends.
    Returns the number of rejected lines, so the caller can exit 1 as classify and review do."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from reachguard import reputation
    from reachguard.events import EventError, decode_event, error_line, iter_lines
    from reachguard.model import Report
    from reachguard.numbers import InvalidNumber
    from reachguard.reputation.ports import reportable

    try:
        source = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="--file") from exc
    out = sys.stdout.buffer
    batch: list[Report] = []
    stored = rejected = 0
    with source, Progress(TextColumn("reports"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), disable=file == "-") as bar, \
            reputation.BulkIngest(store, policy=weights, fold_every=fold_every or sys.maxsize) as bulk:
        task = bar.add_task("reports", total=None)
        for number, line in iter_lines(source):
            try:
                event = decode_event(line)
                if not isinstance(event, Report):
                    raise EventError("WRONG_EVENT_TYPE", f"expected a `report` event, got {event.__struct_config__.tag!r}")
                reportable(event.to)
            except (EventError, InvalidNumber) as exc:
                code, message = (exc.code, exc.message) if isinstance(exc, EventError) else ("INVALID_NUMBER", str(exc))
                out.write(error_line(code, message, number) + b"\n")
                rejected += 1
                continue
            batch.append(event)
            if len(batch) >= BATCH:
                stored += bulk.add(batch)
                batch.clear()
                bar.update(task, completed=stored)
        stored += bulk.add(batch)
        bar.update(task, completed=stored)
    typer.echo(f"stored {stored} reports" + (f", rejected {rejected} lines" if rejected else ""), err=True)
    return rejected
