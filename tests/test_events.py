"""Bad input to the event stream: each class gets a clear, stable error code."""

import json

import pytest

from reachguard.events import MAX_LINE_BYTES, EventError, decode_event
from reachguard.model import Attempt, InboundSms

GOOD = {"type": "attempt", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000",
        "at": "2026-11-22T20:59:00+08:00"}


def _line(**changes: object) -> bytes:
    event = dict(GOOD)
    event.update(changes)
    return json.dumps({k: v for k, v in event.items() if v is not None}, ensure_ascii=False).encode()


def test_good_attempt_decodes_with_defaults() -> None:
    event = decode_event(_line())
    assert isinstance(event, Attempt)
    assert event.effective_relation == "prospect"
    assert decode_event(_line(purpose="collection")).effective_relation == "borrower"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{bad json", "MALFORMED_JSON"),
        (b'{"type": "attempt", "org": "acme"', "MALFORMED_JSON"),
        (_line(colour="red"), "UNKNOWN_FIELD"),
        (_line(org=None), "MISSING_FIELD"),
        (_line(at="2026-11-22T20:59:00"), "TIME_WITHOUT_OFFSET"),
        (_line(at="yesterday"), "INVALID_TIME"),
        (_line(at="9999-12-31T23:00:00+08:00"), "INVALID_TIME"),
        (_line(at="1969-12-31T23:59:59Z"), "INVALID_TIME"),
        (_line(channel="fax"), "INVALID_FIELD"),
        (_line(purpose=3), "INVALID_FIELD"),
        (_line(type="teleport"), "UNKNOWN_EVENT_TYPE"),
        (b"[1, 2]", "NOT_AN_OBJECT"),
        (b'{"type": "attempt", "org": "\xff\xfe"}', "INVALID_UTF8"),
        (_line(content="x" * 10_001), "INVALID_FIELD"),
        (b" " * (MAX_LINE_BYTES + 1), "TOO_LARGE"),
    ],
)
def test_bad_lines_have_stable_codes(raw: bytes, code: str) -> None:
    with pytest.raises(EventError) as caught:
        decode_event(raw)
    assert caught.value.code == code
    assert caught.value.message


def test_unknown_field_names_the_field() -> None:
    with pytest.raises(EventError) as caught:
        decode_event(_line(consnet=True))
    assert "consnet" in caught.value.message


def test_inbound_sms_uses_from() -> None:
    event = decode_event(b'{"type":"inbound_sms","from":"13800138000","to":"10690000","text":"T","at":"2026-11-22T20:59:00+08:00"}')
    assert isinstance(event, InboundSms) and event.sender == "13800138000"


NUL_LINES = [
    {"type": "attempt", "org": "ac\u0000me", "to": "13800138000", "channel": "sms", "purpose": "marketing", "at": "2026-11-22T10:00:00+08:00"},
    {"type": "attempt", "org": "acme", "to": "13800138000", "channel": "call", "purpose": "collection", "relation": "borrower",
     "subject": "L\u00001", "at": "2026-11-22T10:00:00+08:00"},
    {"type": "attempt", "id": "a\u0000", "org": "acme", "to": "13800138000", "channel": "sms", "purpose": "marketing",
     "at": "2026-11-22T10:00:00+08:00"},
    {"type": "attempt", "org": "acme", "to": "13800138000", "channel": "sms", "purpose": "service", "content": "您好\u0000",
     "at": "2026-11-22T10:00:00+08:00"},
    {"type": "consent", "org": "acme", "to": "13800138000", "purpose": "marketing", "evidence": "form\u0000",
     "at": "2026-11-22T10:00:00+08:00"},
    {"type": "report", "to": "13800138000", "label": "fraud", "reporter": "r\u0000", "at": "2026-11-22T10:00:00+08:00"},
]


@pytest.mark.parametrize("event", NUL_LINES, ids=lambda e: next(k for k, v in e.items() if isinstance(v, str) and "\u0000" in v))
def test_text_with_nul_is_refused_at_decode_with_a_plain_message(event: dict) -> None:
    """PostgreSQL refuses NUL in text: every store refuses it at decode alike (model.NO_NUL)."""
    field = next(k for k, v in event.items() if isinstance(v, str) and "\u0000" in v)
    with pytest.raises(EventError) as caught:
        decode_event(json.dumps(event).encode())
    assert caught.value.code == "INVALID_FIELD"
    assert str(caught.value) == f"Expected text without NUL characters (\\u0000) - at `$.{field}`"
    clean = {k: (v.replace("\u0000", "") if isinstance(v, str) else v) for k, v in event.items()}
    decode_event(json.dumps(clean).encode())  # the same event without the NUL is fine


def test_a_nul_in_a_number_is_an_invalid_number_not_a_decode_error() -> None:
    event = decode_event(json.dumps({"type": "attempt", "org": "acme", "to": "138\u000000138000", "channel": "sms",
                                     "purpose": "marketing", "at": "2026-11-22T10:00:00+08:00"}).encode())
    assert isinstance(event, Attempt)  # the engine answers INVALID_NUMBER, as for any unusable number


def test_the_text_backslash_u0000_is_not_a_nul() -> None:
    """`\\\\u0000` in JSON is the six characters \\u0000, not NUL: kept as written."""
    raw = b'{"type": "attempt", "org": "acme", "to": "13800138000", "channel": "sms", "purpose": "service", ' \
          b'"content": "path C:\\\\u0000x", "at": "2026-11-22T10:00:00+08:00"}'
    event = decode_event(raw)
    assert isinstance(event, Attempt) and event.content == "path C:\\u0000x"


@pytest.mark.parametrize(
    ("raw", "surrogate"),
    [
        (b'{"type": "attempt", "org": "acme", "content": "hi \\ud800"}', True),  # alone: msgspec says "truncated"
        (b'{"type": "attempt", "org": "acme", "content": "\\uD83Dx"}', True),  # no low surrogate after it
        (b'{"type": "attempt", "org": "acme", "content": "\\\\ud800', False),  # literal text, really truncated
        (b'{"type": "attempt", "org": "acme", "content": "\\ud83d\\ude00', False),  # a pair, really truncated
    ],
)
def test_a_lone_surrogate_escape_is_named_not_called_truncated(raw: bytes, surrogate: bool) -> None:
    with pytest.raises(EventError) as caught:
        decode_event(raw)
    assert caught.value.code == "MALFORMED_JSON"
    assert ("lone surrogate" in caught.value.message) is surrogate
    assert ("truncated" in caught.value.message) is not surrogate
