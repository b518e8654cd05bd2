"""API keys: `rg_<key id>_<secret>`, shown once, stored only as SHA-256, revocable.

The secret part carries 256 bits from `secrets`, so a plain SHA-256 at rest is enough (no
slow hash needed: nobody can brute-force 2**256). The key id is public: it names the key in
`keys list` and `keys revoke` and in logs.
"""

from __future__ import annotations

import hashlib
import secrets
import time

from reachguard.core.roles import ROLES
from reachguard.store.base import ApiKeyRecord, Store

PREFIX = "rg_"


class KeyError_(ValueError):
    """A bad role or org for a new key."""


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def create_key(store: Store, org: str, role: str, label: str | None = None) -> tuple[ApiKeyRecord, str]:
    """Make and store a key; returns (record, the key itself — shown once, never stored)."""
    if role not in ROLES:
        raise KeyError_(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
    if not org or len(org) > 128 or org == "*" or any(c.isspace() for c in org):
        raise KeyError_(f"invalid org {org!r}: 1-128 characters, no spaces, not '*'")
    key_id = secrets.token_hex(6)
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    record = ApiKeyRecord(key_id, org, role, time.time(), None, label)
    store.add_api_key(record, hash_key(key))
    return record, key
