"""Reading the contract's JSON Lines event stream: one event or one clear error per line."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Iterable, Iterator

import msgspec

from reachguard.model import AwareTime, ErrorBody, ErrorLine, Event
from reachguard.timeutil import OUT_OF_RANGE, range_problem

MAX_LINE_BYTES = 1 << 20  # 1 MiB: far above any real event, small enough to never hurt

_decoder = msgspec.json.Decoder(Event)
_encoder = msgspec.json.Encoder()


class EventError(ValueError):
    """An input line that is not a valid event; `code` is stable, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def decode_json(decoder: msgspec.json.Decoder, raw: bytes | str) -> Any:
    """`decoder.decode(raw)`, with JSON nested deeper than the interpreter's recursion limit (about
    a thousand levels of `[` or `{`) raised as the msgspec.DecodeError it is — malformed input —
    instead of a RecursionError that every caller would let through as a crash."""
    try:
        return decoder.decode(raw)
    except RecursionError:
        raise msgspec.DecodeError("JSON is malformed: nested too deeply (over about 1,000 levels of arrays or objects)") from None


def decode_event(raw: bytes | str) -> Event:
    """Decode one event; raise EventError with a stable code for anything malformed."""
    if len(raw) > MAX_LINE_BYTES:
        raise EventError("TOO_LARGE", f"event is {len(raw)} bytes; the limit is {MAX_LINE_BYTES}")
    try:
        event = decode_json(_decoder, raw)
    except UnicodeDecodeError as exc:
        raise EventError("INVALID_UTF8", f"input is not valid UTF-8 ({exc.reason} at byte {exc.start})") from exc
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: test it first
        raise EventError(validation_code(str(exc)), str(exc)) from exc
    except msgspec.DecodeError as exc:
        raise EventError("MALFORMED_JSON", json_error_message(exc, raw)) from exc
    where = nul_field(event, raw)
    if where is not None:
        raise EventError("INVALID_FIELD", nul_message(where))
    return event


# A high-surrogate escape (\\uD800-\\uDBFF) not followed by a low one, with an even number of
# backslashes before it (an odd one would make it literal text).
_LONE_HIGH_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})")


def json_error_message(exc: msgspec.DecodeError, raw: bytes | str) -> str:
    """msgspec's message, except where it misleads: a lone high-surrogate escape (`"\\ud800"`)
    is reported as "Input data was truncated" — say what is really wrong."""
    message = str(exc)
    if message == "Input data was truncated":
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
        found = _LONE_HIGH_SURROGATE.search(data)
        if found is not None:
            at = found.end() - 6
            return (f"JSON is malformed: the escape {data[at:found.end()].decode()} at byte {at} is a lone surrogate "
                    "(a high surrogate with no low surrogate after it), which is not valid Unicode")
    return message


# Fields holding phone numbers: a NUL there makes the number unusable (INVALID_NUMBER), as any
# other stray character does, so they are not refused here.
_NUMBER_FIELDS = frozenset({"to", "borrower", "sender"})


def nul_field(value: object, raw: bytes | str) -> str | None:
    """The path (`$.subject`, `$[3].org`) of a text field holding NUL, or None.

    Why: PostgreSQL cannot store NUL in text (a store error, not an answer), so every store
    refuses it alike at decode. JSON can only carry NUL as the escape `\\u0000`, so bodies
    without that escape — all of them, in practice — cost one substring search."""
    if (b"\\u0000" not in raw) if isinstance(raw, bytes) else ("\\u0000" not in raw):
        return None
    return _find_nul(value, "$")


def _find_nul(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            if (found := _find_nul(item, f"{path}[{index}]")) is not None:
                return found
        return None
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            if name not in _NUMBER_FIELDS and (found := _find_nul(getattr(value, name), f"{path}.{name}")) is not None:
                return found
    return None


def nul_message(where: str) -> str:
    return f"Expected text without NUL characters (\\u0000) - at `{where}`"


def validation_code(message: str) -> str:
    """Map msgspec's validation message to a stable error code."""
    if "unknown field" in message:
        return "UNKNOWN_FIELD"
    if "missing required field" in message:
        return "MISSING_FIELD"
    if "timezone" in message:
        return "TIME_WITHOUT_OFFSET"
    if message.startswith(OUT_OF_RANGE):
        return "INVALID_TIME"
    if "datetime" in message:
        return "INVALID_TIME"
    if "`$.type`" in message:
        return "UNKNOWN_EVENT_TYPE"
    if "Expected `object`" in message and "at `" not in message:
        return "NOT_AN_OBJECT"
    return "INVALID_FIELD"


def parse_time(text: str, name: str = "time") -> datetime:
    """An ISO-8601 time with an offset inside the contract's range, from a query parameter or a
    command-line option: the same rules as an event's `at`. Raises EventError
    (TIME_WITHOUT_OFFSET or INVALID_TIME)."""
    try:
        moment = msgspec.convert(text, AwareTime)
    except msgspec.ValidationError as exc:
        if "timezone" in str(exc):
            raise EventError("TIME_WITHOUT_OFFSET", f"{text[:40]!r} needs a UTC offset, e.g. 2026-11-22T20:59:00+08:00") from None
        raise EventError("INVALID_TIME", f"{text[:40]!r} is not an ISO-8601 time with an offset, e.g. 2026-11-22T20:59:00+08:00") from None
    problem = range_problem(moment, name)
    if problem is not None:
        raise EventError("INVALID_TIME", problem)
    return moment


def error_line(code: str, message: str, line: int | None) -> bytes:
    return _encoder.encode(ErrorLine(ErrorBody(code, message, line)))


def error_text_line(code: str, message: str, line: int | None) -> str:
    """The same error as text, as `review` and `classify` print it (spaced separators)."""
    return json.dumps({"error": {"code": code, "message": message, "line": line}}, ensure_ascii=False)


def iter_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Numbered non-blank lines (1-based, counting blank ones too), trailing newline removed."""
    for number, line in enumerate(stream, start=1):
        stripped = line.strip()
        if stripped:
            yield number, stripped
