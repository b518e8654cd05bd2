"""`reachguard classify`: label incoming SMS as normal, marketing, collection or fraud.

Reads a file (or ``-`` for stdin) with one message per line, or JSON Lines ``{"id","text"}``
(a line whose first non-blank character is ``{`` is read as JSON). ``--json`` prints one line
per message ``{"id","label","scores","signals"}`` as in the contract; otherwise a Rich table.
A bad line (malformed JSON, unknown field, text over 10,000 characters, invalid UTF-8) gives an
error line ``{"error": {"code","message","line"}}`` in its place, and the stream goes on.
Messages are classified in batches, so a large file runs at the model's batch speed.
"""

from __future__ import annotations

from typing import Annotated

import typer

from reachguard.cli import app

_HELP = """Label incoming SMS: normal, marketing (loan or other commercial), collection or fraud,
with the score of each label and the named, weighted signals that drove the answer.

FILE holds one message per line, or JSON Lines {"id","text"}; - reads stdin.
With --json, one line per message: {"id","label","scores","signals"}; without, a table.
Bad lines (malformed JSON, unknown fields, text over 10,000 characters, invalid UTF-8) produce
{"error": {"code","message","line"}} and the rest of the input is still classified.

Examples:

  echo "无视征信，黑户可贷，加微信dk888秒下款" | reachguard classify -

  reachguard classify --json inbox.jsonl

Exit status: 0 when every line was classified, 1 when some line was rejected, 2 on usage errors.
"""


@app.command(name="classify", help=_HELP)
def classify_command(
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="Messages, one per line or JSON Lines {id,text}; - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per message instead of a table.")] = False,
) -> None:
    from reachguard.cli.classify_run import run  # the classifier (numpy/sklearn) loads only now

    run(file, as_json)
