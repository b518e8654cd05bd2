"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from reachguard.policy import PolicyBook


def load_policies(profile: str, policy_file: Path | None) -> PolicyBook:
    """The policy book from --policy FILE, else the built-in --profile; a bad one exits 2."""
    from reachguard.policy import PolicyBook, PolicyError, load_policy_file  # pydantic: only when a command runs

    try:
        if policy_file is not None:
            return load_policy_file(policy_file)
        return PolicyBook.profile(profile)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
