"""docs/cli.md is generated from the commands' help, and every command's help shows an example."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.cli.reference import commands_without_example, render

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_reference_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run `python -m reachguard.cli.reference > docs/cli.md`"
    )


def test_every_command_shows_an_example_in_its_help() -> None:
    assert commands_without_example() == []


def test_reference_lists_every_registered_command() -> None:
    page = render()
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("replay", "review", "classify", "serve", "templates", "keys", "audit", "db", "scrub", "lookup", "report"):
        assert f"### `reachguard {name}`" in page
        assert name in result.output
