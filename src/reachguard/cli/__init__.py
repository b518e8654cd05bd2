"""The `reachguard` command line: one module per command (group), registered here."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="reachguard",
    help="ReachGuard: decide, review, classify and audit loan marketing and collection contacts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



@app.callback()
def _root() -> None:
    """ReachGuard: decide, review, classify and audit loan marketing and collection contacts."""


# Each command module registers itself on `app` when imported.
from reachguard.cli import replay as _replay  # noqa: E402,F401
from reachguard.cli import templates as _templates  # noqa: E402,F401
from reachguard.cli import review as _review  # noqa: E402,F401
from reachguard.cli import classify as _classify  # noqa: E402,F401
from reachguard.cli import keys as _keys  # noqa: E402,F401
from reachguard.cli import serve as _serve  # noqa: E402,F401
from reachguard.cli import audit as _audit  # noqa: E402,F401
from reachguard.cli import db as _db  # noqa: E402,F401
from reachguard.cli import scrub as _scrub  # noqa: E402,F401
from reachguard.cli import reputation as _reputation  # noqa: E402,F401


def main() -> None:
    app()
