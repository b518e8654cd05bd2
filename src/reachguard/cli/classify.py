"""`reachguard classify`: label incoming SMS as normal, marketing, collection or fraud.

Reads a file (or ``-`` for stdin) with one message per line, or JSON Lines ``{"id","text"}``
(a line whose first non-blank character is ``{`` is read as JSON). ``--json`` prints one line
per message ``{"id","label","scores","signals"}`` as in the contract; otherwise a Rich table.
A bad line (malformed JSON, unknown field, text over 10,000 characters, invalid UTF-8) gives an
error line ``{"error": {"code","message","line"}}`` in its place, and the stream goes on.
Messages are classified in batches, so a large file runs at the model's batch speed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from reachguard.cli import app
from reachguard.model import MAX_TEXT_CHARS

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

BATCH = 512


class ClassifyLine(msgspec.Struct, forbid_unknown_fields=True):
    """One JSON line of input; unknown fields are refused (a typo must not pass silently)."""

    text: str
    id: str | int | None = None


_DECODER = msgspec.json.Decoder(ClassifyLine)


class InputError(ValueError):
    """A rejected input line, reported as an error line."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def parse_line(raw: bytes, number: int) -> tuple[Any, str]:
    """One input line → (id, text). Plain lines get their line number as id."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("INVALID_UTF8", f"the line is not valid UTF-8 (byte {exc.start})") from exc
    if decoded.lstrip().startswith("{"):
        try:
            item = _DECODER.decode(raw)
        except msgspec.ValidationError as exc:
            text = str(exc)
            if "unknown field" in text:
                code = "UNKNOWN_FIELD"
            elif "missing required field" in text:
                code = "MISSING_FIELD"
            else:
                code = "INVALID_FIELD"
            raise InputError(code, text) from exc
        except msgspec.DecodeError as exc:
            raise InputError("MALFORMED_JSON", f"not a JSON object: {exc}") from exc
        item_id: Any = item.id if item.id is not None else number
        text_value = item.text
    else:
        item_id, text_value = number, decoded
    if len(text_value) > MAX_TEXT_CHARS:
        raise InputError("TEXT_TOO_LONG", f"text has {len(text_value)} characters; the limit is {MAX_TEXT_CHARS}")
    return item_id, text_value


def error_line(code: str, message: str, line: int | None) -> str:
    return json.dumps({"error": {"code": code, "message": message, "line": line}}, ensure_ascii=False)


def _read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield number, raw.rstrip(b"\r\n")


def _table(rows: list[tuple[Any, str, dict[str, Any]]]) -> Table:
    table = Table(show_lines=False)
    table.add_column("id", style="bold")
    table.add_column("label")
    table.add_column("score", justify="right")
    table.add_column("signals (weight → label)")
    table.add_column("text", overflow="fold", max_width=60)
    colours = {"normal": "green", "marketing": "yellow", "collection": "magenta", "fraud": "red"}
    for item_id, text, body in rows:
        if "error" in body:
            err = body["error"]
            table.add_row(str(item_id), "[red]error[/red]", "", escape(f"{err['code']}: {err['message']}"), "")
            continue
        label = body["label"]
        sigs = "\n".join(
            f"{s['name']} {s['weight']:+g} → {s['label']}" + (f" «{escape(s['evidence'])}»" if s["evidence"] else "")
            for s in body["signals"]
        )
        table.add_row(
            str(item_id),
            f"[{colours[label]}]{label}[/{colours[label]}]",
            f"{body['scores'][label]:.2f}",
            sigs,
            escape(text),
        )
    return table


@app.command(name="classify", help=_HELP)
def classify_command(
    file: Annotated[str, typer.Argument(metavar="FILE|-", help="Messages, one per line or JSON Lines {id,text}; - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON line per message instead of a table.")] = False,
) -> None:
    from reachguard.protect.classifier import Classifier  # lazy: other commands skip numpy/sklearn

    if file == "-":
        stream: BinaryIO = typer.get_binary_stream("stdin")
    else:
        try:
            stream = Path(file).open("rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc

    clf = Classifier.load()
    out = sys.stdout
    console = Console(highlight=False, soft_wrap=False)
    failed = False
    pending: list[tuple[int, Any, str | None, InputError | None]] = []

    def flush() -> None:
        texts = [t for _, _, t, e in pending if e is None and t is not None]
        results = iter(clf.classify_many(texts)) if texts else iter(())
        rows: list[tuple[Any, str, dict[str, Any]]] = []
        for number, item_id, text, err in pending:
            if err is not None:
                if as_json:
                    out.write(error_line(err.code, err.message, number) + "\n")
                else:
                    rows.append((f"line {number}", "", {"error": {"code": err.code, "message": err.message}}))
                continue
            body = next(results).to_dict(digits=4)
            if as_json:
                out.write(json.dumps({"id": item_id, **body}, ensure_ascii=False) + "\n")
            else:
                rows.append((item_id, text or "", body))
        if rows:
            console.print(_table(rows))
        out.flush()
        pending.clear()

    try:
        for number, raw in _read_lines(stream):
            if not raw.strip():
                continue
            try:
                item_id, text = parse_line(raw, number)
                pending.append((number, item_id, text, None))
            except InputError as exc:
                failed = True
                pending.append((number, None, None, exc))
            if len(pending) >= BATCH:
                flush()
        flush()
    finally:
        if file != "-":
            stream.close()
    if failed:
        raise typer.Exit(1)
