"""`reachguard review`: check a draft SMS or call script before it is sent.

One text on the command line, or JSON Lines ``{"id","purpose","relation","text"}`` on stdin
(``-``). Human output highlights the offending spans; ``--json`` prints one line per text.
A bad input line produces an error line and the stream goes on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reachguard.cli import app
from reachguard.cli.common import own_utf8_check

_HELP = """Review a draft SMS, push message or call script: every finding code with the span in the
original text, the evidence, a plain explanation and the citation, plus length and SMS segments.

Pass one TEXT, or - to read JSON Lines {"id","purpose","relation","text"} from stdin
(each line may also carry "channel"; missing purpose/relation fall back to the options).

Examples:

  reachguard review --purpose collection --relation borrower "【某某金融】您的借款已逾期，我们将上门"

  cat drafts.jsonl | reachguard review --json -

A TEXT that is not valid UTF-8 gets the error line {"error": {"code": "INVALID_UTF8", ...}}.

Exit status: 0 when every input was reviewed, 1 when the TEXT or some input line was rejected,
2 on usage errors.
"""


@app.command(name="review", help=_HELP)
@own_utf8_check("text")
def review_command(
    text: Annotated[str, typer.Argument(help="The text to review, or - to read JSON Lines from stdin.")],
    purpose: Annotated[str | None, typer.Option("--purpose", help="marketing | collection | service")] = None,
    relation: Annotated[
        str | None, typer.Option("--relation", help="borrower | contact | guarantor | prospect (default: prospect for marketing, else borrower)")
    ] = None,
    channel: Annotated[str, typer.Option("--channel", help="sms | push | call | robocall")] = "sms",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per text instead of a highlighted report.")] = False,
    lexicon: Annotated[
        Path | None, typer.Option("--lexicon", help="An org lexicon YAML: {phrases: {CODE: [...]}, allow: {CODE: [...]}, allowed_domains: [...]}")
    ] = None,
) -> None:
    from reachguard.cli.review_run import run  # the content review and rich load only now

    run(text, purpose, relation, channel, as_json, lexicon)
