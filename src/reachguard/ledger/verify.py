"""Re-walk a chain and report the first entry that does not hold."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable

from reachguard.ledger.chain import GENESIS, LedgerEntry, columns_problem, entry_hash


@dataclass(frozen=True, slots=True)
class Break:
    org: str
    seq: int
    problem: str


def verify_chain(entries: Iterable[LedgerEntry], *, start_hash: str = GENESIS, start_seq: int = 1) -> tuple[int, Break | None]:
    """(entries checked, first break or None). Detects edits, deletions and reorderings, and a
    `tag` or `number` column that disagrees with the body (chain.columns_problem)."""
    expected_prev, expected_seq, checked = start_hash, start_seq, 0
    for entry in entries:
        if entry.seq != expected_seq:
            return checked, Break(entry.org, entry.seq, f"sequence gap or reorder: expected {expected_seq}, found {entry.seq}")
        if entry.prev_hash != expected_prev:
            return checked, Break(entry.org, entry.seq, "prev_hash does not match the previous entry")
        if hashlib.sha256(entry.body.encode("utf-8")).hexdigest() != entry.body_hash:
            return checked, Break(entry.org, entry.seq, "body was changed (body_hash mismatch)")
        if entry_hash(entry.org, entry.seq, entry.kind, entry.at, entry.prev_hash, entry.body_hash) != entry.entry_hash:
            return checked, Break(entry.org, entry.seq, "entry_hash mismatch (kind, time or hashes changed)")
        problem = columns_problem(entry.kind, entry.body, entry.tag, entry.number)
        if problem is not None:
            return checked, Break(entry.org, entry.seq, f"{problem} (the column was changed)")
        expected_prev, expected_seq, checked = entry.entry_hash, entry.seq + 1, checked + 1
    return checked, None
