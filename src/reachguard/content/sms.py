"""SMS length and billing segments, reported with every review.

Why: a template that silently grows from one billed SMS to two doubles the cost of a campaign,
and operators count Chinese text very differently from plain Latin text.

* Text made only of GSM 03.38 (GSM-7) characters: 160 septets in a single SMS, 153 per part of
  a long one; characters of the extension table (``^{}\\[~]|€`` and form feed) take two septets.
* Anything else (Chinese, emoji, …) is sent as UCS-2: 70 UTF-16 code units single, 67 per part.
"""

from __future__ import annotations

import re

_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def _charset(chars: frozenset[str], negate: bool = False) -> re.Pattern[str]:
    return re.compile("[" + ("^" if negate else "") + "".join(re.escape(c) for c in sorted(chars)) + "]")


# One C-level scan instead of a Python loop over the characters.
_NOT_GSM7 = _charset(_GSM7_BASIC | _GSM7_EXTENSION, negate=True)
_GSM7_EXT = _charset(_GSM7_EXTENSION)


def _gsm7_septets(text: str) -> int | None:
    """Septets needed in GSM-7, or None when the text needs UCS-2."""
    if _NOT_GSM7.search(text):
        return None
    return len(text) + len(_GSM7_EXT.findall(text))  # extension characters take two


def _segments(units: int, single: int, part: int) -> int:
    if units == 0:
        return 0
    if units <= single:
        return 1
    return -(-units // part)


def sms_length(text: str) -> tuple[int, int]:
    """``(chars, segments)``: characters as the reader counts them, and billed SMS parts."""
    chars = len(text)
    septets = _gsm7_septets(text)
    if septets is not None:
        return chars, _segments(septets, 160, 153)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2  # a lone surrogate is one unit too
    return chars, _segments(units, 70, 67)
