"""Audit a store: re-walk every org's chain and check every signed checkpoint against it, and,
given an anchor kept outside the database (ledger/anchor.py), every anchored head.

A checkpoint counts only if it is signed by a trusted key (`TrustedKeys`: pinned outside the
database). The keys registered in the store's meta table are not trusted: anyone who can
rewrite the chain can register a key of their own and re-sign every checkpoint with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator

from reachguard.ledger.anchor import Anchor
from reachguard.ledger.chain import LedgerEntry
from reachguard.ledger.checkpoint import TrustedKeys, verify_checkpoint
from reachguard.ledger.verify import Break, verify_chain
from reachguard.store.base import Checkpoint, Store


@dataclass(frozen=True, slots=True)
class OrgReport:
    org: str
    checked: int
    checkpoints: int
    broken: Break | None
    unchecked: str | None = None  # the chain holds, but its checkpoints' signatures could not be checked

    @property
    def ok(self) -> bool:
        return self.broken is None and self.unchecked is None


def audit_org(store: Store, org: str, trusted: TrustedKeys, anchored: tuple[int, str] | None = None) -> OrgReport:
    """Walk the org's chain from genesis; every checkpoint must sign the hash found at its seq
    with a trusted key. With no trusted key at all the chain is still walked, but a report
    with checkpoints is not ok: `unchecked` says their signatures were not checked.
    `anchored`: (seq, entry_hash) of the org's head in an anchor; that entry must still be there."""
    checkpoints = store.checkpoints(org)
    unchecked = trusted.missing if checkpoints and not trusted.pems else None
    for checkpoint in checkpoints if trusted.pems else ():
        pem = trusted.pems.get(checkpoint.key_id)
        if pem is None:
            return OrgReport(org, 0, len(checkpoints), Break(org, checkpoint.seq, trusted.untrusted(checkpoint)))
        problem = verify_checkpoint(checkpoint, pem)
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
            if anchored is not None and entry.seq == anchored[0] and entry.entry_hash != anchored[1]:
                mismatch.append(Break(org, entry.seq, "entry differs from the anchor (chain rewritten)"))
                return
            last_seq[0] = entry.seq
            yield entry

    checked, broken = verify_chain(watched(store.ledger_entries(org)))
    if broken is None and mismatch:
        broken = mismatch[0]
    if broken is None and checkpoints and checkpoints[-1].seq > last_seq[0]:
        broken = Break(org, last_seq[0] + 1, f"entries missing: a checkpoint signed seq {checkpoints[-1].seq}, "
                                            f"the chain ends at {last_seq[0]} (truncated)")
    if broken is None and anchored is not None and anchored[0] > last_seq[0]:
        broken = Break(org, last_seq[0] + 1, f"entries missing: the anchor holds seq {anchored[0]}, "
                                            f"the chain ends at {last_seq[0]} (truncated)")
    return OrgReport(org, checked, len(checkpoints), broken, None if broken else unchecked)


def audit_store(store: Store, trusted: TrustedKeys, anchor: Anchor | None = None) -> list[OrgReport]:
    """Every org with entries, checkpoints or an anchored head: one whose entries were all deleted
    is reported (its checkpoints or anchor name entries that are gone), not left out."""
    heads = anchor.heads if anchor is not None else {}
    orgs = sorted(set(store.ledger_orgs()) | set(store.checkpoint_orgs()) | set(heads))
    return [audit_org(store, org, trusted, heads.get(org)) for org in orgs]


def checkpoint_problem(checkpoint: Checkpoint, pem: str | None) -> str | None:
    return verify_checkpoint(checkpoint, pem)
