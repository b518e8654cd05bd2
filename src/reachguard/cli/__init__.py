"""The `reachguard` command line: one module per command (group), registered here.

Start-up cost: every command pays for importing all command modules (scripts call
`reachguard keys create` in loops), so a command module imports at module level only typer,
the standard library and `reachguard.cli.common` — enough to declare its options and help.
What a command needs (engine, store, policy/pydantic, reputation/numpy, scrub/duckdb, rich,
fastapi/uvicorn) is imported inside the command, or in its work module (`review_run`,
`classify_run`, `reputation_run`) imported there. tests/test_cli_startup.py holds the line.
"""

from __future__ import annotations

import typer

from reachguard.cli.common import Utf8Group

app = typer.Typer(
    cls=Utf8Group,
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
