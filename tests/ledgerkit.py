"""Ledger test helpers for tests/ledger and tests/api: a small two-org ledger, and the attack
the signed checkpoints exist to catch."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from worldkit import World
from reachguard.ledger.chain import GENESIS, make_entry
from reachguard.ledger.checkpoint import Signer
from reachguard.store import SQLiteStore


def _repurpose(body: str) -> str:
    return body.replace('"marketing"', '"collection"')


def rewrite_and_resign(store: SQLiteStore, org: str, edit: Callable[[str], str] = _repurpose) -> str:
    """The attack: `edit` entry bodies, re-chain every hash, register a new key in meta, re-sign every
    checkpoint with it (same seqs, the forged hashes). Returns the attacker's key id."""
    entries = list(store.ledger_entries(org))
    checkpoints = store.checkpoints(org)
    forged = {}
    with store.read() as conn:
        prev = GENESIS
        for e in entries:
            body = edit(e.body).encode()
            new = make_entry(e.org, e.seq, e.kind, e.at, e.number, e.tag, body, prev)
            conn.execute("UPDATE ledger SET body=?, body_hash=?, prev_hash=?, entry_hash=? WHERE org=? AND seq=?",
                         (new.body, new.body_hash, new.prev_hash, new.entry_hash, org, e.seq))
            forged[e.seq] = new.entry_hash
            prev = new.entry_hash
        conn.execute("DELETE FROM checkpoints WHERE org=?", (org,))
    assert any(e.body != store_e.body for e, store_e in zip(entries, store.ledger_entries(org)))  # something changed
    attacker = Signer(Ed25519PrivateKey.generate(), store)  # registers its public key in meta, as a genuine key does
    assert store.get_meta(f"ledger_public_key:{attacker.key_id}") is not None
    for c in checkpoints:
        store.add_checkpoint(attacker.sign(org, c.seq, forged[c.seq], c.signed_at))
    return attacker.key_id


def small_ledger(tmp_path: Path) -> Path:
    """A store file with two orgs' chains: acme (a consent, six attempts), xinghe (a consent, one)."""
    path = tmp_path / "rg.db"
    world = World(store=SQLiteStore(str(path)))
    world.consent()
    for hour in range(10, 16):
        world.attempt(f"2026-11-23T{hour}:00:00+08:00")
    world.consent(org="xinghe")
    world.attempt("2026-11-23T10:00:00+08:00", org="xinghe")
    world.gateway.store.close()
    return path
