"""The classifier's normaliser removes the corpus artefacts (digits, runs of spaces, widths)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reachguard.protect.normalise import fold, normalise


def test_digits_become_x_everywhere() -> None:
    assert normalise("验证码 123456") == "验证码xxxxxx"
    assert normalise("１３８００１３８０００") == "xxxxxxxxxxx"  # full-width digits too
    assert normalise("٣٤") == "xx"  # any Unicode digit


def test_whitespace_collapsed_and_dropped_next_to_cjk() -> None:
    assert normalise("全场  五折   ， 欢迎 光临") == "全场五折,欢迎光临"
    assert normalise("hello   world\t\nfoo") == "hello world foo"
    assert normalise("  ") == ""


def test_nfkc_and_lower() -> None:
    assert normalise("ＡＢＣ【签名】") == "abc【签名】"
    assert fold("ＶＸ：abc") == "vx:abc"


def test_a_space_beside_a_letter_composed_late_goes_too() -> None:
    """"u" + a combining mark left alone after a space is dropped composes to "ū" only at the
    end: the space before it is then not between two [a-z] letters and must go in the same call
    (found by the property test below)."""
    assert normalise("x u \u0304") == "xū"
    assert normalise(normalise("x u \u0304")) == "xū"
    assert normalise("hello w \u0301orld") == "helloẃorld"  # "ẃ" is not [a-z] either


@given(st.text(max_size=80))
def test_no_digit_and_no_double_space_survive(text: str) -> None:
    out = normalise(text)
    assert not any(ch.isdecimal() for ch in out)
    assert "  " not in out
    assert normalise(out) == out  # idempotent


def _reference_normalise_folded(folded: str) -> str:
    """normalise_folded as first written (three regex passes), the reference for the fast one."""
    import re
    import unicodedata

    t = re.sub(r"\d", "x", folded)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"(?<![a-z]) | (?![a-z])", "", t)
    return t if t.isascii() else unicodedata.normalize("NFKC", t)


def test_split_whitespace_is_the_regex_whitespace() -> None:
    """str.split()/strip() and re's \\s agree on every code point, so split/join == sub/strip."""
    import re

    space = re.compile(r"\s")
    assert all(bool(space.match(chr(c))) == chr(c).isspace() for c in range(0x110000))


@given(st.text(alphabet=st.sampled_from(list(" \t\n\x1c\x85\u3000\u2028ab中1 ́")) | st.characters(), max_size=40))
def test_normalise_folded_equals_the_three_regex_passes(text: str) -> None:
    from reachguard.protect.normalise import normalise_folded

    f = fold(text)
    assert normalise_folded(f) == _reference_normalise_folded(f)
