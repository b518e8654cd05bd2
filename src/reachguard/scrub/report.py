"""What a scrub did, as data (for the API) and as a Rich table (for the command line)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# Reason codes the scrub adds to the engine's (extend, don't rename).
DUPLICATE = "DUPLICATE"  # the number already appeared earlier in the list
INVALID_FIELD = "INVALID_FIELD"  # a `relation` or `subject` cell decide would refuse
INVALID_NUMBER = "INVALID_NUMBER"


@dataclass(slots=True)
class ScrubReport:
    """Counts of one scrub. `reasons` counts rows per code (a row may carry several)."""

    rows: int
    allowed: int
    rejected: int
    denied: int
    deferred: int
    invalid_numbers: int
    duplicates: int
    invalid_fields: int
    reasons: dict[str, int]
    number_column: str
    out: Path
    rejected_out: Path
    at: str
    org: str
    purpose: str
    channel: str
    reserved: int = 0
    numbers_in_sql: int = 0  # rows normalised by the SQL fast path
    numbers_in_python: int = 0  # distinct raw values handed to the Python normaliser
    signatures: int = 0  # distinct state signatures judged by the engine
    judged_set_wise: int = 0  # rows whose verdict came from their signature
    judged_row_by_row: int = 0  # rows the engine judged one by one
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["out"], data["rejected_out"] = str(self.out), str(self.rejected_out)
        return data


def render(report: ScrubReport, console: Console) -> None:
    """The summary table printed at the end of `reachguard scrub`."""
    table = Table(title=f"scrub · {report.org} · {report.purpose} · {report.channel} · at {report.at}", show_lines=False)
    table.add_column("", style="bold")
    table.add_column("rows", justify="right")
    table.add_row("in the list", f"{report.rows:,}")
    table.add_row("[green]allowed[/green]", f"{report.allowed:,}")
    table.add_row("[red]rejected[/red]", f"{report.rejected:,}")
    table.add_row("  denied", f"{report.denied:,}")
    table.add_row("  deferred (later is fine)", f"{report.deferred:,}")
    table.add_row("  invalid numbers", f"{report.invalid_numbers:,}")
    table.add_row("  duplicates (kept once)", f"{report.duplicates:,}")
    if report.invalid_fields:
        table.add_row("  invalid subject/relation", f"{report.invalid_fields:,}")
    if report.reserved:
        table.add_row("reserved as contacts", f"{report.reserved:,}")
    console.print(table)
    if report.reasons:
        by_reason = Table(title="rejected rows by reason (a row may have several)")
        by_reason.add_column("reason")
        by_reason.add_column("rows", justify="right")
        for code, count in sorted(report.reasons.items(), key=lambda item: (-item[1], item[0])):
            by_reason.add_row(code, f"{count:,}")
        console.print(by_reason)
    console.print(
        f"number column [bold]{report.number_column}[/bold] · allowed → {report.out} · rejected → {report.rejected_out} · "
        f"{report.seconds:.1f} s"
    )
    for note in report.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
