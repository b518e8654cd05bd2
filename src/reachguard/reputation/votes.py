"""The per-number aggregate: the latest label of each distinct reporter, packed in one blob.

One reporter counts once per number: a later report by the same reporter replaces their vote
(their label and its time), an earlier one arriving late does not. The blob is read with one
primary-key lookup, which is what keeps a lookup under a millisecond with 10 million reports.

Layout: a header of 5 uint32 (distinct reporters per label, the unweighted consensus that
ingest judges agreement against), then one 25-byte vote per reporter: reporter hash (16),
label index (1), time in POSIX seconds (8, little-endian double). Ingest edits it in place
(find the reporter's hash with bytes.find, overwrite or append) without unpacking it.
"""

from __future__ import annotations

import struct

from reachguard.model import REPORT_LABELS

LABELS = REPORT_LABELS
LABEL_INDEX = {label: index for index, label in enumerate(LABELS)}
HEADER = struct.Struct("<5I")
VOTE = struct.Struct("<16sBd")
AT = struct.Struct("<d")
START = HEADER.size
SIZE = VOTE.size
EMPTY = bytes(START)

Votes = dict[bytes, tuple[int, float]]
"""reporter hash -> (label index, time of their latest report)."""


def unpack(blob: bytes) -> Votes:
    if len(blob) <= START:
        return {}
    return {h: (label, at) for h, label, at in VOTE.iter_unpack(memoryview(blob)[START:])}


def pack(votes: Votes) -> bytes:
    counts = [0] * len(LABELS)
    parts = []
    for h, (label, at) in votes.items():
        counts[label] += 1
        parts.append(VOTE.pack(h, label, at))
    return HEADER.pack(*counts) + b"".join(parts)


def counts(blob: bytes | bytearray) -> list[int]:
    """Distinct reporters per label (the header)."""
    return list(HEADER.unpack_from(blob, 0)) if len(blob) >= START else [0] * len(LABELS)


def find(blob: bytes | bytearray, h: bytes) -> int:
    """Offset of reporter `h`'s vote, or -1 (only offsets on a vote boundary count)."""
    pos = blob.find(h, START)
    while pos != -1 and (pos - START) % SIZE:
        pos = blob.find(h, pos + 1)
    return pos
