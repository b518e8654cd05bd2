"""Phone-number normalisation to E.164.

Nearly every number ReachGuard sees is a Chinese mobile, so those take a regex fast path
(+86 / 0086 / 86 prefixes, spaces, dashes, dots, brackets, full-width digits); everything
else goes to `phonenumbers`, which knows every country's numbering plan.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone as pn_timezone

DEFAULT_REGION = "CN"

# Full-width digits and plus, and the separators people type between digit groups.
_FULLWIDTH = {ord("０") + i: ord("0") + i for i in range(10)} | {ord("＋"): ord("+")}
_SEPARATORS = re.compile(r"[\s\-\.\(\)\u3000\u2010-\u2015（）－]+")
_CN_MOBILE = re.compile(r"(?:\+86|0086|86)?(1[3-9][0-9]{9})")  # not \d: it matches ٨ and other non-ASCII digits
_MAX_RAW_LENGTH = 64


class InvalidNumber(ValueError):
    """The text cannot be a real phone number."""


def normalize(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return the E.164 form of `raw`, or raise InvalidNumber."""
    result = _normalize_cached(raw, region)
    if result is None:
        raise InvalidNumber(f"not a valid phone number: {raw[:40]!r}")
    return result


def try_normalize(raw: str, region: str = DEFAULT_REGION) -> str | None:
    """Like `normalize`, but None for an invalid number (for bulk paths)."""
    if is_cn_e164(raw) is not None:
        return raw  # already E.164 (most API traffic): what the full path returns, without it or the cache
    return _normalize_cached(raw, region)


is_cn_e164 = re.compile(r"\+861[3-9][0-9]{9}").fullmatch
"""Match (else None) for a Chinese mobile already in its stored form: normalising returns it as is."""


@lru_cache(maxsize=1 << 16)
def _normalize_cached(raw: str, region: str) -> str | None:
    if not raw or len(raw) > _MAX_RAW_LENGTH or "\x00" in raw:  # phonenumbers strips a NUL at either end
        return None
    compact = _SEPARATORS.sub("", raw.translate(_FULLWIDTH))
    match = _CN_MOBILE.fullmatch(compact)
    if match:
        return "+86" + match.group(1)
    return _normalize_slow(compact, region)


def _normalize_slow(compact: str, region: str) -> str | None:
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    try:
        parsed = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1 << 14)
def time_zones(e164: str) -> tuple[str, ...]:
    """IANA zones a number may ring in (several for numbers that span zones)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = tuple(z for z in pn_timezone.time_zones_for_number(parsed) if z != "Etc/Unknown")
    return zones


def region_of(e164: str) -> str | None:
    """ISO region code of a normalised number, e.g. 'CN' or 'US'."""
    if e164.startswith("+86"):
        return "CN"
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None
