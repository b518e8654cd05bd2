"""Codes an allowed SMS carries so the recipient can check who really sent it.

HMAC-SHA256 over org, number, time and content digest, cut to 8 characters of Crockford's
base32 (no I, L, O, U: nothing to misread). The gateway keeps the issued codes; verifying
is a lookup by (code, number), the HMAC only makes codes unguessable.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Any

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8

_NO_CONTENT = hashlib.sha256(b"").hexdigest()
# Two Crockford digits per 10 bits: the code is the first 40 bits of the MAC, most significant first.
_PAIRS = [ALPHABET[i >> 5] + ALPHABET[i & 31] for i in range(1024)]
_BLOCK = 64  # SHA-256's block size, as HMAC pads the key to it
_XOR_IPAD = bytes(b ^ 0x36 for b in range(256))
_XOR_OPAD = bytes(b ^ 0x5C for b in range(256))


@lru_cache(maxsize=16)
def _keyed(secret: bytes) -> tuple[Any, Any]:
    """HMAC-SHA256's inner and outer hash states after the padded key (RFC 2104), once per secret.

    `hmac.digest` sets the key up again on every call, which was most of a code's cost; copying
    the two prepared states is the same computation from the second block on.
    """
    key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_XOR_IPAD)), hashlib.sha256(key.translate(_XOR_OPAD))


def issue_code(secret: bytes, org: str, number: str, at: float, content: str | None) -> str:
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest() if content else _NO_CONTENT
    inner, outer = _keyed(secret)
    inner = inner.copy()
    inner.update(f"{org}\x1f{number}\x1f{at:.6f}\x1f{digest}".encode("utf-8"))
    outer = outer.copy()
    outer.update(inner.digest())
    value = int.from_bytes(outer.digest()[:5], "big")
    return _PAIRS[value >> 30] + _PAIRS[(value >> 20) & 1023] + _PAIRS[(value >> 10) & 1023] + _PAIRS[value & 1023]


def canonical_code(text: str) -> str:
    """Read a code as a person types it: case-free, O→0, I/L→1, no spaces or dashes."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
