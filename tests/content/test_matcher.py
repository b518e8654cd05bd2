"""The matcher scans a byte spelling of the text (``content.automata``): it must report exactly
the character-level occurrences, never a byte match straddling two characters, for narrow
texts (two bytes a character) and wide ones (astral characters, lone surrogates) alike."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content.automata import Automaton, narrow_bytes
from reachguard.content.lexicon import Matcher, Pack

# "ā" is 01 01 in UTF-16-BE, and "ȁĀ" is 02 01 01 00: the phrase's bytes occur at byte offset
# 1, straddling two characters — a misaligned match that must not be reported.
PHRASES = ["ā", "aāb", "贷款", "上门", "𪚥款", "ā贷", "\ud800", "ĀĀā"]
ALPHABET = list("ȁĀāab贷款上门𪚥\ud800\udc00\U00010000\x00\u0101\u0201")
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


def test_narrow_bytes() -> None:
    assert narrow_bytes("贷款a") == "\x8d\x37\x6b\x3e\x00a"
    assert narrow_bytes("") == ""
    assert narrow_bytes("𪚥") is None  # astral: a surrogate pair
    assert narrow_bytes("a\ud800") is None  # lone surrogate


def test_misaligned_byte_matches_are_not_reported() -> None:
    assert "ā" in KEYS
    assert narrow_bytes("ȁĀ").find(narrow_bytes("ā")) == 1  # the byte pattern is there ...
    assert MATCHER.scan("ȁĀ") == []  # ... but not the character
    assert [h[:2] for h in MATCHER.scan("ȁāĀ")] == [(1, 2)]


def test_wide_texts_are_scanned_by_character() -> None:
    assert [h[:2] for h in MATCHER.scan("x𪚥款ā")] == [(1, 3), (3, 4)]
    # Two lone surrogates are not the astral character their UTF-16 bytes would spell.
    assert MATCHER.scan("\ud869\udea5款") == []


def test_an_automaton_needs_phrases() -> None:
    try:
        Automaton({})
    except ValueError as exc:
        assert "at least one phrase" in str(exc)
    else:
        raise AssertionError("empty automaton accepted")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=24).map("".join))
def test_scan_reports_exactly_the_character_level_occurrences(text: str) -> None:
    assert sorted(MATCHER.scan(text)) == naive(text)
