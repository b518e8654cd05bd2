"""Array parameters as PostgreSQL array literals: one text parameter per column.

The batch statements pass their rows column by column (`unnest(%s::text[], …)`). psycopg's
array dumper walks every list in Python (dimensions, element types, binary packing) and was
a third of a decision's client CPU in groups of 8; an array literal is one string built by
C-level joins and `str.replace`, parsed by the server's array_in. Every element is quoted,
so any text (commas, braces, quotes, backslashes, control characters, non-ASCII) round-trips;
None is an unquoted NULL. Floats are written with repr(), which PostgreSQL's float8 input
reads back to the same double (shortest round-trip digits; 'inf' and 'nan' included).
"""

from __future__ import annotations

from typing import Iterable, Sequence


def _quoted(value: str) -> str:
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if '"' in value:
        value = value.replace('"', '\\"')
    return value


def text_array(values: Sequence[str | None]) -> str:
    """A text[] literal: every element quoted, None as NULL."""
    if not values:
        return "{}"
    if None in values:
        return "{" + ",".join("NULL" if v is None else '"' + _quoted(v) + '"' for v in values) + "}"
    joined = "\x00".join(values)  # NUL never occurs in PostgreSQL text: a safe probe separator
    if "\\" in joined or '"' in joined:
        return '{"' + '","'.join(_quoted(v) for v in values) + '"}'
    return '{"' + '","'.join(values) + '"}'


def float_array(values: Iterable[float | None]) -> str:
    """A float8[] literal; repr() round-trips exactly through float8 input."""
    return "{" + ",".join("NULL" if v is None else repr(float(v)) for v in values) + "}"


def int_array(values: Iterable[int]) -> str:
    """A bigint[] literal."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


__all__ = ["float_array", "int_array", "text_array"]
