"""Audit a store: re-walk every org's chain and check every signed checkpoint against it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from reachguard.ledger.chain import LedgerEntry
from reachguard.ledger.checkpoint import public_keys, verify_checkpoint
from reachguard.ledger.verify import Break, verify_chain
from reachguard.store.base import Checkpoint, Store


@dataclass(frozen=True, slots=True)
class OrgReport:
    org: str
    checked: int
    checkpoints: int
    broken: Break | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def audit_org(store: Store, org: str) -> OrgReport:
    """Walk the org's chain from genesis; every checkpoint must sign the hash found at its seq."""
    checkpoints = store.checkpoints(org)
    keys = public_keys(store, {c.key_id for c in checkpoints})
    for checkpoint in checkpoints:
        problem = verify_checkpoint(checkpoint, keys.get(checkpoint.key_id))
        if problem is not None:
            return OrgReport(org, 0, len(checkpoints), Break(org, checkpoint.seq, f"checkpoint at seq {checkpoint.seq}: {problem}"))
    by_seq = {c.seq: c for c in checkpoints}
    mismatch: list[Break] = []
    last_seq = [0]

    def watched(entries: Iterable[LedgerEntry]) -> Iterator[LedgerEntry]:
        for entry in entries:
            checkpoint = by_seq.get(entry.seq)
            if checkpoint is not None and checkpoint.entry_hash != entry.entry_hash:
                mismatch.append(Break(org, entry.seq, "entry differs from the signed checkpoint (chain rewritten)"))
                return
            last_seq[0] = entry.seq
            yield entry

    checked, broken = verify_chain(watched(store.ledger_entries(org)))
    if broken is None and mismatch:
        broken = mismatch[0]
    if broken is None and checkpoints and checkpoints[-1].seq > last_seq[0]:
        broken = Break(org, last_seq[0] + 1, f"entries missing: a checkpoint signed seq {checkpoints[-1].seq}, "
                                            f"the chain ends at {last_seq[0]} (truncated)")
    return OrgReport(org, checked, len(checkpoints), broken)


def audit_store(store: Store) -> list[OrgReport]:
    return [audit_org(store, org) for org in store.ledger_orgs()]


def checkpoint_problem(checkpoint: Checkpoint, pem: str | None) -> str | None:
    return verify_checkpoint(checkpoint, pem)
