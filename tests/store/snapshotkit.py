"""Shared by the batch-snapshot tests (store/sqlite_snapshot.py): gateways on one file, events
as plain dicts, answers as (verdict, codes)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from worldkit import PROSPECT, codes
from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.policy import PolicyBook
from reachguard.store import SQLiteStore

AT = "2026-11-23T10:00:00+08:00"
OTHER = "+8613600136000"
CONSENT = dict(type="consent", org="acme", to=PROSPECT, purpose="marketing", at="2026-11-01T10:00:00+08:00")


def gateway(db: Path | str) -> Gateway:
    """A gateway on the SQLite file `db`: a second one on the same file is another worker."""
    return Gateway(SQLiteStore(str(db)), PolicyBook.profile("cn"), secret=b"test")


def event(**fields: Any):
    return decode_event(json.dumps(fields, ensure_ascii=False))


def sms(i: int, to: str = PROSPECT, at: str = AT):
    """A marketing SMS attempt."""
    return event(type="attempt", id=f"m{i}", org="acme", channel="sms", purpose="marketing", to=to, at=at)


def answers(decisions: list) -> list[tuple[str, list[str]]]:
    return [(d.verdict, codes(d)) for d in decisions]
