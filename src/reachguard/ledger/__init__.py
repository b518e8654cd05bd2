"""Tamper-evident ledger: every decision and state-changing event, hash-chained per org."""

from reachguard.ledger.chain import GENESIS, LedgerEntry, canonical, entry_hash

__all__ = ["GENESIS", "LedgerEntry", "canonical", "entry_hash"]
