"""The work of `reachguard review` (cli/review.py declares its options; this loads when it runs)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import msgspec
import typer

from reachguard.content import OrgLexicon, ReviewResult, blocking, review
from reachguard.events import EventError, decode_json, error_text_line, json_error_message
from reachguard.model import MAX_TEXT_CHARS, Channel, Purpose, Relation

if TYPE_CHECKING:  # rich and the policy (pydantic) load only for the human report
    from rich.console import Console


class ReviewLine(msgspec.Struct, forbid_unknown_fields=True):
    """One line of the stdin stream; unknown fields are refused (a typo must not pass silently)."""

    text: str
    id: str | int | None = None
    purpose: Purpose | None = None
    relation: Relation | None = None
    channel: Channel | None = None


_DECODER = msgspec.json.Decoder(ReviewLine)
_ENCODER = msgspec.json.Encoder()


def _default_relation(purpose: str) -> str:
    return "prospect" if purpose == "marketing" else "borrower"


def _parse_line(raw: bytes, purpose: str | None, relation: str | None, channel: str) -> tuple[Any, str, str, str, str]:
    """Decode and validate one stdin line → (id, text, purpose, relation, channel)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise EventError("INVALID_UTF8", f"the line is not valid UTF-8 (byte {exc.start})") from exc
    try:
        item = decode_json(_DECODER, raw)
    except msgspec.ValidationError as exc:
        text = str(exc)
        code = "UNKNOWN_FIELD" if "unknown field" in text else "INVALID_FIELD"
        raise EventError(code, text) from exc
    except msgspec.DecodeError as exc:
        raise EventError("MALFORMED_JSON", f"not a JSON object: {json_error_message(exc, raw)}") from exc
    if len(item.text) > MAX_TEXT_CHARS:
        raise EventError("TEXT_TOO_LONG", f"text has {len(item.text)} characters; the limit is {MAX_TEXT_CHARS}")
    use_purpose = item.purpose or purpose
    if use_purpose is None:
        raise EventError("MISSING_FIELD", "no purpose: give it on the line or with --purpose")
    use_relation = item.relation or relation or _default_relation(use_purpose)
    return item.id, item.text, use_purpose, use_relation, item.channel or channel


def _undecodable_at(text: str) -> int | None:
    """Byte offset of the first byte that is not UTF-8 in a command-line argument, else None.

    Why: Python decodes argv with ``surrogateescape``, so invalid bytes arrive as lone
    surrogates; they get the stdin lines' INVALID_UTF8 error, not a review of mangled text.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _escaped_only(text) else "surrogatepass")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return exc.start
    return None


def _escaped_only(text: str) -> bool:
    """True when every surrogate is a surrogateescape'd byte (U+DC80..U+DCFF)."""
    return all(0xDC80 <= ord(c) <= 0xDCFF for c in text if 0xD800 <= ord(c) <= 0xDFFF)


def _as_json(item_id: Any, result: ReviewResult) -> str:
    body = {"id": item_id, "findings": result.findings, "chars": result.chars, "segments": result.segments}
    return _ENCODER.encode(body).decode("utf-8")


def _render(console: Console, item_id: Any, text: str, result: ReviewResult, blocked: set[int]) -> None:
    """The text with each offending span highlighted, then one row per finding."""
    from rich.markup import escape
    from rich.text import Text

    label = f"[bold]{item_id}[/bold] · " if item_id is not None else ""
    status = "[red]blocked[/red]" if blocked else ("[yellow]warnings[/yellow]" if result.findings else "[green]clean[/green]")
    console.print(f"{label}{status} · {result.chars} chars · {result.segments} SMS segment(s)")
    shown = Text(text)
    for i, f in enumerate(result.findings):
        if not f.code.startswith("MISSING_"):
            shown.stylize("bold red reverse" if i in blocked else "bold yellow reverse", f.span[0], f.span[1])
    console.print(shown)
    if not result.findings:
        return
    for i, f in enumerate(result.findings):
        mark = "[red]block[/red]" if i in blocked else "[yellow]warn[/yellow]"
        where = f"{f.span[0]}–{f.span[1]}"
        evidence = f" «{escape(f.evidence)}»" if f.evidence else ""
        console.print(f"  {mark} [bold]{f.code}[/bold] [{where}]{evidence} — {escape(f.message)}")
        console.print(f"        [dim]{escape(f.citation)}[/dim]")


def _read_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Lines as raw bytes (decoded one by one, so one bad line does not spoil the rest)."""
    for raw in stream:
        yield raw.rstrip(b"\r\n")


def run(text: str, purpose: str | None, relation: str | None, channel: str, as_json: bool, lexicon: Path | None) -> None:
    """Review TEXT, or each stdin line for `-`; exit 1 when an input was rejected."""
    for name, value, allowed in (
        ("--purpose", purpose, ("marketing", "collection", "service")),
        ("--relation", relation, ("borrower", "contact", "guarantor", "prospect")),
        ("--channel", channel, ("sms", "push", "call", "robocall")),
    ):
        if value is not None and value not in allowed:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}", param_hint=name)
    org: OrgLexicon | None = None
    if lexicon is not None:
        try:
            org = OrgLexicon.from_yaml(lexicon)
        except (OSError, ValueError) as exc:
            typer.echo(f"error: cannot load lexicon {lexicon}: {exc}", err=True)
            raise typer.Exit(2) from exc

    if as_json:
        policy = console = None
    else:  # the blocking levels and the highlighting: only for the human report
        from rich.console import Console

        from reachguard.policy import load_profile

        policy = load_profile("cn")
        console = Console(highlight=False, soft_wrap=True)
    out = sys.stdout

    def emit(item_id: Any, body: str, p: str, r: str, c: str) -> None:
        result = review(body, p, r, c, org)
        if as_json:
            out.write(_as_json(item_id, result) + "\n")
        else:
            denied = {id(f) for f in blocking(policy, result.findings, p, c)}
            _render(console, item_id, body, result, {i for i, f in enumerate(result.findings) if id(f) in denied})

    if text != "-":
        if purpose is None:
            raise typer.BadParameter("required for a single text", param_hint="--purpose")
        bad = _undecodable_at(text)
        if bad is not None:  # the shell passed bytes that are not UTF-8 (surrogateescape)
            out.write(error_text_line("INVALID_UTF8", f"the text is not valid UTF-8 (byte {bad})", None) + "\n")
            raise typer.Exit(1)
        if len(text) > MAX_TEXT_CHARS:
            out.write(error_text_line("TEXT_TOO_LONG", f"text has {len(text)} characters; the limit is {MAX_TEXT_CHARS}", None) + "\n")
            raise typer.Exit(1)
        emit(None, text, purpose, relation or _default_relation(purpose), channel)
        return

    failed = False
    stream = typer.get_binary_stream("stdin")
    for number, raw in enumerate(_read_lines(stream), start=1):
        if not raw.strip():
            continue
        try:
            item_id, body, p, r, c = _parse_line(raw, purpose, relation, channel)
        except EventError as exc:
            failed = True
            out.write(error_text_line(exc.code, exc.message, number) + "\n")
            continue
        emit(item_id, body, p, r, c)
        out.flush()
    if failed:
        raise typer.Exit(1)
