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


@given(st.text(max_size=80))
def test_no_digit_and_no_double_space_survive(text: str) -> None:
    out = normalise(text)
    assert not any(ch.isdecimal() for ch in out)
    assert "  " not in out
    assert normalise(out) == out  # idempotent
