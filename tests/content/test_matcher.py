"""The matcher scans a byte spelling of the text (see ``lexicon.as_bytes``): it must report
exactly the character-level occurrences, never one straddling two characters."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content.lexicon import Matcher, Pack, as_bytes

# Every character's first UTF-32 byte is 00, so "ā" (00 00 01 01) also occurs across the
# boundary of "Ā" (00 00 01 00) and U+10100 (00 01 01 00), at byte offset 3: a misaligned match.
PHRASES = ["ā", "aāb", "贷款", "上门", "𪚥款", "ā贷", "\ud800"]
ALPHABET = list("Ā\U00010100\U00010101āab贷款上门𪚥\ud800\udc00\U00010000\x00")
MATCHER = Matcher([Pack("THREAT", tuple(PHRASES), ("上门",))])
KEYS = dict(MATCHER._entries)


def naive(text: str) -> list[tuple[int, int, str, bool]]:
    out = []
    for key, values in KEYS.items():
        start = text.find(key)
        while start >= 0:
            out.extend((start, start + len(key), code, is_allow) for code, is_allow in values)
            start = text.find(key, start + 1)
    return sorted(out)


def test_as_bytes_is_four_units_per_character() -> None:
    for text in ("", "a", "贷款", "𪚥", "\ud800", "\x00Ā"):
        assert len(as_bytes(text)) == 4 * len(text)
        assert all(ord(c) < 256 for c in as_bytes(text))


def test_misaligned_byte_matches_are_not_reported() -> None:
    assert "ā" in KEYS
    assert as_bytes("Ā\U00010100").find(as_bytes("ā")) == 3  # the byte pattern is there ...
    assert MATCHER.scan("Ā\U00010100") == []  # ... but not the character
    assert [h[:2] for h in MATCHER.scan("Āā\U00010100")] == [(1, 2)]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=24).map("".join))
def test_scan_reports_exactly_the_character_level_occurrences(text: str) -> None:
    assert sorted(MATCHER.scan(text)) == naive(text)
