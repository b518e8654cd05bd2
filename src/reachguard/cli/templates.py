"""`reachguard templates`: submit message templates and take them through the approval chain."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from reachguard.cli import app
from reachguard.cli.common import Utf8Group, load_policies, own_utf8_check

if TYPE_CHECKING:  # the store and the registry load when a command runs (start-up cost)
    from reachguard.templates import TemplateError, TemplateRegistry

templates_app = typer.Typer(cls=Utf8Group, help="Message templates: submit, review level by level, inspect.", no_args_is_help=True)
app.add_typer(templates_app, name="templates")

DB = typer.Option("reachguard.db", "--db", envvar="REACHGUARD_DB_URL", help="Store: a SQLite path or a database URL.")
ORG = typer.Option(..., "--org", help="The organisation that owns the template.")
PROFILE = typer.Option("cn", "--profile", help="Policy profile (gives the approval levels).")
POLICY = typer.Option(None, "--policy", help="TOML/YAML policy file (overrides --profile).")


def _registry(db: str, org: str, profile: str, policy: Optional[Path]) -> TemplateRegistry:
    from reachguard.store import StoreUnavailable, open_store
    from reachguard.templates import TemplateRegistry

    levels = load_policies(profile, policy).for_org(org).templates.levels
    try:
        return TemplateRegistry(open_store(db), levels)
    except StoreUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _fail(exc: TemplateError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1)


@templates_app.command("submit")
@own_utf8_check("text")  # the registry refuses it by name (exit 1), as it does for library callers
def submit(
    template_id: str = typer.Argument(..., help="Template id, e.g. overdue-reminder."),
    text: str = typer.Argument(..., help="Template text with {placeholders}."),
    org: str = ORG, author: str = typer.Option(..., "--author", help="Who wrote it."),
    db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY,
) -> None:
    """Submit a template (a new version if the id exists); it waits for the first level.

    Example: reachguard templates submit overdue 【星河】您的借款已逾期{days}天，应还{amount}元。 --org xinghe --author lin
    """
    from reachguard.templates import TemplateError

    registry = _registry(db, org, profile, policy)
    try:
        version = registry.submit(org, template_id, text, author, time.time())
    except TemplateError as exc:  # no text, or bytes that are not UTF-8 on the command line
        _fail(exc)
    status = registry.status(org, template_id, version.version)
    typer.echo(f"{template_id} version {version.version}: pending {status.next_level} review")


@templates_app.command("review")
def review(
    template_id: str = typer.Argument(..., help="Template id."),
    verdict: str = typer.Argument(..., help="approve or reject."),
    org: str = ORG, reviewer: str = typer.Option(..., "--reviewer", help="Who reviews (each level a different person)."),
    comment: str = typer.Option("", "--comment", help="Why."),
    db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY,
) -> None:
    """Approve or reject the latest version at the level awaiting review.

    Example: reachguard templates review overdue approve --org xinghe --reviewer wang --comment "wording ok"
    """
    if verdict not in ("approve", "reject"):
        raise typer.BadParameter("approve or reject", param_hint="VERDICT")
    from reachguard.templates import TemplateError

    try:
        status = _registry(db, org, profile, policy).review(org, template_id, reviewer, verdict, comment, time.time())  # type: ignore[arg-type]
    except TemplateError as exc:
        _fail(exc)
        return
    after = f"pending {status.next_level} review" if status.status == "pending" else status.status
    typer.echo(f"{template_id} version {status.version.version}: {after}")


@templates_app.command("show")
def show(
    template_id: str = typer.Argument(..., help="Template id."), org: str = ORG,
    db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY,
) -> None:
    """Show the latest version, its status and every review.

    Example: reachguard templates show overdue --org xinghe
    """
    from reachguard.templates import TemplateError

    try:
        status = _registry(db, org, profile, policy).status(org, template_id)
    except TemplateError as exc:
        _fail(exc)
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{template_id}[/] version {status.version.version} by {status.version.author}: [bold]{status.status}[/]")
    console.print(status.version.text, markup=False)
    table = Table("level", "reviewer", "verdict", "comment")
    for r in status.reviews:
        table.add_row(r.level_name, r.reviewer, r.verdict, r.comment)
    console.print(table)


@templates_app.command("list")
def list_templates(org: str = ORG, db: str = DB, profile: str = PROFILE, policy: Optional[Path] = POLICY) -> None:
    """List an org's templates with their status.

    Example: reachguard templates list --org xinghe
    """
    registry = _registry(db, org, profile, policy)
    for template_id in registry.store.template_ids(org):
        status = registry.status(org, template_id)
        typer.echo(f"{template_id}\tv{status.version.version}\t{status.status}")
