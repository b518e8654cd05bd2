"""Which numbers can be reported and looked up: phone numbers, and Chinese SMS service ports.

Why: most loan-marketing and fraud SMS in China arrive from 106 service ports (1069xxxxxxxx,
10655xxxxx, 106980095588 …), which are not phone numbers: `numbers.normalize` (used by the
engine for recipients, where a port can never be one) refuses them. Recipients report them
all the same, so reputation accepts them.

Rule (`reportable`): whatever `numbers.normalize` accepts keeps its E.164 form — so existing
data and callers are unchanged; note that a 10-digit `1069xxxxxx` already reads as a Beijing
landline (+86 10 69xxxxxx) there and keeps doing so. Otherwise, separators removed and an
optional +86 / 0086 prefix dropped, `106` followed by 5–17 digits is a port, kept as its bare
digits (`10690000123`): not prefixed with +86, where it could collide with a Beijing landline,
and the form the inbound-SMS path already stores ports in.
"""

from __future__ import annotations

import re

from reachguard.numbers import _FULLWIDTH, _SEPARATORS, InvalidNumber, try_normalize

_PORT = re.compile(r"(?:\+86|0086)?(106[0-9]{5,17})")  # ASCII digits only, as stored
_MAX_RAW_LENGTH = 64


def try_reportable(raw: str) -> str | None:
    """The stored form of a reportable number (E.164, or a port's digits), or None."""
    if not raw or len(raw) > _MAX_RAW_LENGTH:
        return None
    e164 = try_normalize(raw)
    if e164 is not None:
        return e164
    match = _PORT.fullmatch(_SEPARATORS.sub("", raw.translate(_FULLWIDTH)))
    return match.group(1) if match else None


def reportable(raw: str) -> str:
    """Like `try_reportable`, but raises InvalidNumber for text that is neither."""
    number = try_reportable(raw)
    if number is None:
        raise InvalidNumber(f"not a valid phone number or SMS port: {raw[:40]!r}")
    return number


def is_port(number: str) -> bool:
    """A stored number that is an SMS service port (no leading +)."""
    return number.startswith("106")
