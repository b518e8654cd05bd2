"""Reporter ids are kept only as keyed hashes: HMAC-SHA256 with a server secret, cut to 16 bytes.

Why keyed: reporter ids are often guessable (a phone number, an app account id). A plain hash
of a phone number is reversed by hashing every phone number; an HMAC is not, without the
secret. The secret comes from (first that is set) an explicit argument (the service passes
`reporter_secret_file`), the file named by env REACHGUARD_REPORTER_SECRET_FILE, or the store's
meta table (generated on first use, like the verification secret). Keep it outside the
database in production, so a copy of the database alone cannot test guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import weakref
from collections.abc import Callable
from pathlib import Path

from reachguard.store.base import Store

ENV = "REACHGUARD_REPORTER_SECRET_FILE"
META_KEY = "reporter_secret"
HASH_BYTES = 16  # 128 bits: collisions between reporters are out of reach

_keys: "weakref.WeakKeyDictionary[Store, bytes]" = weakref.WeakKeyDictionary()


class SecretError(ValueError):
    """A configured reporter secret that cannot be used."""


def read_secret(path: str | Path) -> bytes:
    try:
        secret = Path(path).read_bytes().strip()
    except OSError as exc:
        raise SecretError(f"cannot read the reporter secret {path}: {exc.strerror or exc}") from exc
    if len(secret) < 16:
        raise SecretError(f"the reporter secret {path} holds fewer than 16 bytes: too guessable")
    return secret


def reporter_key(store: Store, explicit: bytes | None = None) -> bytes:
    """The HMAC key for reporter ids of this store (cached per store object; an explicit key
    becomes the store's key for later calls without one, so every caller hashes alike)."""
    if explicit:
        _keys[store] = explicit
        return explicit
    key = _keys.get(store)
    if key is None:
        path = os.environ.get(ENV)
        if path:
            key = read_secret(path)
        else:
            stored = store.get_meta(META_KEY)
            if stored is None:
                stored = os.urandom(32).hex()
                store.set_meta(META_KEY, stored)
            key = bytes.fromhex(stored)
        _keys[store] = key
    return key


def reporter_hash(key: bytes, reporter: str) -> bytes:
    """The only form in which a reporter id is ever stored or used as a rate-limit key."""
    return hmac.digest(key, reporter.encode("utf-8", "surrogatepass"), hashlib.sha256)[:HASH_BYTES]


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def reporter_hasher(key: bytes) -> Callable[[str], bytes]:
    """`reporter_hash` for one key, with the key's HMAC pads hashed once: the same bytes, about
    half the time per id (hmac.digest sets the key up again on every call). Bulk ingest uses it."""
    block = hashlib.sha256().block_size
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    inner, outer = hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))

    def digest(reporter: str) -> bytes:
        h = inner.copy()
        h.update(reporter.encode("utf-8", "surrogatepass"))
        o = outer.copy()
        o.update(h.digest())
        return o.digest()[:HASH_BYTES]

    return digest
