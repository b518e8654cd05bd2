"""Codes an allowed SMS carries so the recipient can check who really sent it.

HMAC-SHA256 over org, number, time and content digest, cut to 8 characters of Crockford's
base32 (no I, L, O, U: nothing to misread). The gateway keeps the issued codes; verifying
is a lookup by (code, number), the HMAC only makes codes unguessable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8

_NO_CONTENT = hashlib.sha256(b"").hexdigest()
# RFC 4648 base32 of the first 5 bytes is the same 8 groups of 5 bits, most significant first:
# only the alphabet differs (one C call instead of a Python loop per code).
_TO_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET.encode("ascii"))


def issue_code(secret: bytes, org: str, number: str, at: float, content: str | None) -> str:
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest() if content else _NO_CONTENT
    message = f"{org}\x1f{number}\x1f{at:.6f}\x1f{digest}".encode("utf-8")
    mac = hmac.digest(secret, message, "sha256")
    return base64.b32encode(mac[:5]).translate(_TO_CROCKFORD).decode("ascii")


def canonical_code(text: str) -> str:
    """Read a code as a person types it: case-free, O→0, I/L→1, no spaces or dashes."""
    cleaned = text.strip().upper().replace("-", "").replace(" ", "")
    return cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
