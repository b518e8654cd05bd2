"""The work of `reachguard classify` (cli/classify.py declares its options; this loads when it runs)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import typer

from reachguard.events import EventError, decode_json, error_text_line, json_error_message, validation_code
from reachguard.model import MAX_TEXT_CHARS
from reachguard.protect.classifier import Classifier

if TYPE_CHECKING:  # rich loads when a table is drawn
    from rich.table import Table


BATCH = 512


class ClassifyLine(msgspec.Struct, forbid_unknown_fields=True):
    """One JSON line of input; unknown fields are refused (a typo must not pass silently)."""

    text: str
    id: str | int | None = None


_DECODER = msgspec.json.Decoder(ClassifyLine)


def parse_line(raw: bytes, number: int) -> tuple[Any, str]:
    """One input line → (id, text). Plain lines get their line number as id."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError("INVALID_UTF8", f"the line is not valid UTF-8 (byte {exc.start})") from exc
    if decoded.lstrip().startswith("{"):
        try:
            item = decode_json(_DECODER, raw)
        except msgspec.ValidationError as exc:
            raise EventError(validation_code(str(exc)), str(exc)) from exc
        except msgspec.DecodeError as exc:
            raise EventError("MALFORMED_JSON", f"not a JSON object: {json_error_message(exc, raw)}") from exc
        item_id: Any = item.id if item.id is not None else number
        text_value = item.text
    else:
        item_id, text_value = number, decoded
    if len(text_value) > MAX_TEXT_CHARS:
        raise EventError("TEXT_TOO_LONG", f"text has {len(text_value)} characters; the limit is {MAX_TEXT_CHARS}")
    return item_id, text_value


def _read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    for number, raw in enumerate(stream, start=1):
        yield number, raw.rstrip(b"\r\n")


def _table(rows: list[tuple[Any, str, dict[str, Any]]]) -> Table:
    from rich.markup import escape
    from rich.table import Table

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


def run(file: str, as_json: bool) -> None:
    """Classify FILE (or stdin for `-`) in batches; exit 1 when some line was rejected."""
    if file == "-":
        stream: BinaryIO = typer.get_binary_stream("stdin")
    else:
        try:
            stream = Path(file).open("rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {file}: {exc.strerror}", param_hint="FILE") from exc

    clf = Classifier.load()
    out = sys.stdout
    if not as_json:
        from rich.console import Console

        console = Console(highlight=False, soft_wrap=False)
    failed = False
    pending: list[tuple[int, Any, str | None, EventError | None]] = []

    def flush() -> None:
        texts = [t for _, _, t, e in pending if e is None and t is not None]
        results = iter(clf.classify_many(texts)) if texts else iter(())
        rows: list[tuple[Any, str, dict[str, Any]]] = []
        for number, item_id, text, err in pending:
            if err is not None:
                if as_json:
                    out.write(error_text_line(err.code, err.message, number) + "\n")
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
            except EventError as exc:
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
