"""The hash chain: each entry commits to the previous one and to its own canonical JSON.

entry_hash = SHA-256 over the org, the sequence number, the kind, the time, the previous
entry's hash and the SHA-256 of the body. Changing, deleting or reordering any entry breaks
every hash after it; an external auditor needs only this function and the entries.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import msgspec

GENESIS = "0" * 64
GLOBAL_ORG = "*"  # chain for events that name no org (opt-outs for everyone, lists, …)

_canonical_encoder = msgspec.json.Encoder(order="sorted")


class LedgerEntry(msgspec.Struct, frozen=True):
    org: str
    seq: int
    kind: str  # "decision" or the event type
    at: float
    number: str | None
    tag: str | None  # the verdict of a decision
    body: str  # canonical JSON
    body_hash: str
    prev_hash: str
    entry_hash: str


def canonical(value: Any) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8.

    A str holding a lone surrogate (only a library caller can pass one: the API and replay refuse
    it at decode) has no UTF-8 form: a ValueError saying so, before anything is recorded.
    """
    try:
        return _canonical_encoder.encode(value)
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"a text field holds a lone surrogate ({exc.object[exc.start:exc.end]!r} at character {exc.start} of "
            f"{exc.object[:40]!r}): not valid Unicode, so it cannot be recorded"
        ) from exc


def entry_hash(org: str, seq: int, kind: str, at: float, prev_hash: str, body_hash: str) -> str:
    material = f"{org}\n{seq}\n{kind}\n{at!r}\n{prev_hash}\n{body_hash}".encode("utf-8")
    return hashlib.sha256(material).hexdigest()


def make_entry(org: str, seq: int, kind: str, at: float, number: str | None, tag: str | None, body: bytes, prev_hash: str) -> LedgerEntry:
    digest = hashlib.sha256(body).hexdigest()
    return LedgerEntry(org, seq, kind, at, number, tag, body.decode("utf-8"), digest, prev_hash,
                       entry_hash(org, seq, kind, at, prev_hash, digest))


def columns_problem(kind: str, body: str, tag: str | None, number: str | None) -> str | None:
    """Why an entry's `tag` and `number` columns disagree with its body, or None.

    The hashes cover the body, not these two columns, yet they drive the decision listings
    (`verdict=`) and a number's history: an edit of either passed every hash. A decision's tag
    is its verdict and its number the decided `to` (none for INVALID_NUMBER; releases before
    2026-12-07 stored the number as written there); other kinds carry no tag. A state event's
    number is its `to` normalised, which needs the number plan, so it is not checked here.
    ledger/export_script.py copies this function into every export's verify.py (standard library only)."""
    if kind != "decision":
        return None if tag is None else f"tag is {tag!r}, but only decisions carry one"
    try:
        decision = json.loads(body)["decision"]
        verdict, decided = decision["verdict"], decision["to"]
    except (ValueError, KeyError, TypeError):
        return "the body of a decision entry holds no decision"
    if tag != verdict:
        return f"tag is {tag!r}, but the body's verdict is {verdict!r}"
    reasons = decision.get("reasons") or []
    unusable = bool(reasons) and reasons[0].get("code") == "INVALID_NUMBER"
    if number != decided and not (unusable and number is None):
        return f"number is {number!r}, but the body decided {decided!r}"
    return None
