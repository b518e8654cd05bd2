"""Normalisation stages: each evasion folds to the canonical form, and offsets map back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reachguard.content.normalise import fold_pipeline, fold_stage, normalise, normalise_mapped
from reachguard.content.stages import Mapped, RepeatStage


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("ＡＢＣ１２３", "abc123"),  # NFKC full-width → half-width, then lower case
        ("徵信", "征信"),  # Traditional → Simplified (OpenCC)
        ("後果自負", "后果自负"),
        ("贷 款", "贷款"),  # spaces between characters
        ("贷*款", "贷款"),
        ("贷-款", "贷款"),
        ("贷.款", "贷款"),
        ("贷\u200b款", "贷款"),  # zero-width space
        ("贷😀款", "贷款"),  # emoji
        ("代款", "贷款"),  # homophone variant
        ("嘿户", "黑户"),
        ("zx", "征信"),  # pinyin initials
        ("ZX", "征信"),
        ("贷贷贷款", "贷款"),  # repeated characters
        ("秒ｐｉ", "秒批"),
    ],
)
def test_evasions_fold_to_canonical(written: str, canonical: str) -> None:
    assert normalise(written) == canonical


def test_pinyin_initials_only_as_whole_letter_runs() -> None:
    # "zxc" is not "zx": initials are replaced only when the whole Latin run is in the table.
    assert "征信" not in normalise("zxcv")
    assert normalise("无视zx") == "无视征信"


def test_digits_are_not_collapsed() -> None:
    assert normalise("1000元") == "1000元"


def test_sentence_ends_are_kept() -> None:
    assert normalise("上。门") == "上。门"


def test_fold_keeps_every_character_and_chinese_punctuation() -> None:
    text = "【某某】徵信ＡＢ，还款"
    folded = fold_pipeline().run(text)
    assert folded == "【某某】征信ab，还款"
    assert len(folded) == len(text)


@pytest.mark.parametrize(
    ("text", "phrase_original"),
    [
        ("您好，黑 户 可 代 款！", "黑 户 可 代 款"),
        ("前缀ＺＸ后缀", "ＺＸ"),
        ("一二😀上\u200b门三", "上\u200b门"),
        ("逾期後果自負", "後果自負"),
    ],
)
def test_mapped_spans_point_at_original_characters(text: str, phrase_original: str) -> None:
    mapped = normalise_mapped(text)
    target = normalise(phrase_original)
    i = mapped.text.index(target)
    start, end = mapped.original_span(i, i + len(target))
    assert text[start:end] == phrase_original


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("贷款代徵信征黑户嘿 *-.zxZXＡ１，。！😀\u200b上门门1234abc後果自負")),
        max_size=40,
    )
)
def test_fast_and_mapped_paths_agree(text: str) -> None:
    mapped = normalise_mapped(text)
    assert mapped.text == normalise(text)
    assert len(mapped.starts) == len(mapped.text) == len(mapped.ends)
    for s, e in zip(mapped.starts, mapped.ends):
        assert 0 <= s < e <= len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_fast_and_mapped_paths_agree_on_any_unicode(text: str) -> None:
    assert normalise_mapped(text).text == normalise(text)
    folded = fold_pipeline()
    assert folded.run_mapped(text).text == folded.run(text)


def _naive_collapse(text: str) -> str:
    """Reference: drop every character equal to the one before it, unless it is a digit."""
    return "".join(c for i, c in enumerate(text) if i == 0 or c != text[i - 1] or c.isdecimal())


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("a贷11222\x00\x01\n😀٣٣\U0010ffff\u0100")), max_size=14))
def test_repeats_collapse_matches_the_naive_definition(text: str) -> None:
    stage = RepeatStage()
    assert stage.run(text) == _naive_collapse(text)
    mapped = stage.run_mapped(Mapped.identity(text))
    assert mapped.text == stage.run(text)
    for ch, s, e in zip(mapped.text, mapped.starts, mapped.ends):
        assert set(text[s:e]) == {ch}  # each kept character stands for its whole run


def test_fold_may_lower_case_first_for_every_code_point_but_the_unsafe_ones() -> None:
    """The fold's fast path runs str.lower() first unless the text has a character found
    unsafe (BMP only, at run time); this checks every code point, astral ones included."""
    fold = fold_stage()
    fold.run("warm up")
    unsafe = fold._lower_unsafe
    assert "Σ" in unsafe
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        lowered = ch.lower()
        if lowered == ch or ch in unsafe:
            continue
        plain = fold.run_mapped(Mapped.identity(ch)).text  # the table alone, no lower() first
        assert fold.run_mapped(Mapped.identity(lowered)).text == plain, (hex(code), ch)


@pytest.mark.parametrize("text", ["ΑΣ", "ΑΣ Β", "ϹΑ", "App回T退订", "ＡＢＣΣ", "İstanbul", "ΣΑ"])
def test_fold_fast_path_equals_the_table_around_unsafe_characters(text: str) -> None:
    fold = fold_stage()
    assert fold.run(text) == fold.run_mapped(Mapped.identity(text)).text
