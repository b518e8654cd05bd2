"""Replies to an SMS: opt-out keywords (回T, TD, 退订, STOP …) and complaints (投诉).

A reply is an opt-out only when the keyword is the whole trimmed message ("T", "回T退订",
"ＴＤ"), so that "T恤到货了吗" never unsubscribes anyone by accident.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

OPT_OUT_KEYWORDS = frozenset(
    {"回T", "TD", "T", "退订", "N", "R", "拒收", "STOP", "UNSUBSCRIBE", "回TD", "回N", "回R", "回T退订", "回TD退订", "退订回T"}
)
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$", re.UNICODE)
_INNER_SPACE = re.compile(r"\s+")

ReplyKind = Literal["opt_out", "complaint"]


def classify_reply(text: str) -> ReplyKind | None:
    """'opt_out', 'complaint' or None for an ordinary reply."""
    folded = unicodedata.normalize("NFKC", text)
    core = _INNER_SPACE.sub("", _TRIM.sub("", folded)).upper()
    if core in OPT_OUT_KEYWORDS:
        return "opt_out"
    if "投诉" in folded:
        return "complaint"
    return None
