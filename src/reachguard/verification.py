"""Codes an allowed SMS carries so the recipient can check who really sent it.

HMAC-SHA256 over org, number, time and content digest, cut to 8 characters of Crockford's
base32 (no I, L, O, U: nothing to misread). The gateway keeps the issued codes; verifying
is a lookup by (code, number), the HMAC only makes codes unguessable.
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8


def issue_code(secret: bytes, org: str, number: str, at: float, content: str | None) -> str:
    digest = hashlib.sha256((content or "").encode("utf-8")).hexdigest()
    message = f"{org}\x1f{number}\x1f{at:.6f}\x1f{digest}".encode("utf-8")
    value = int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:5], "big")
    chars = []
    for _ in range(CODE_LENGTH):
        value, index = divmod(value, 32)
        chars.append(ALPHABET[index])
    return "".join(reversed(chars))


def canonical_code(text: str) -> str:
    """Read a code as a person types it: case-free, O→0, I/L→1, no spaces or dashes."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
