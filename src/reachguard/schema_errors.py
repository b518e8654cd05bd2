"""One way to word a pydantic ValidationError for people: `where: what`, joined by `; `.

Policy files, lexicon files and settings are all checked by pydantic models; their errors read
alike (`marketing.caps.0.max: Input should be greater than or equal to 0`). No pydantic import:
the error object carries everything, and callers import pydantic only when a file is read."""

from __future__ import annotations

from typing import Any


def describe(exc: Any, top: str = "(top)") -> str:
    """Each error of a pydantic ValidationError as `dotted.location: message`; `top` names an
    error about the whole document. An unknown key says so plainly."""
    return "; ".join(
        f"{'.'.join(str(part) for part in err['loc']) or top}: "
        + ("unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, "))
        for err in exc.errors()
    )
