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
