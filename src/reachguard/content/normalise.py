"""Text normalisation for matching: a chain of small stages with a map back to original offsets.

Why: senders who want to slip past a filter write 貸 款, 代款, ｚｘ, 贷*贷*款 or hide zero-width
characters between letters. The matcher sees one canonical form; every finding still points at
the characters the author actually wrote, so each stage can run in two ways:

* ``run(text) -> str``: the fast path, C-speed (``str.translate``, ``re.sub``, Aho-Corasick),
  used on every message;
* ``run_mapped(mapped) -> Mapped``: the same transformation carrying, for each output character,
  the ``[start, end)`` range of original characters it came from. Only needed when the fast
  path found something worth reporting, so clean messages never pay for it.

The two paths must agree (tests check ``run_mapped(...).text == run(...)`` on random text).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

import opencc
import yaml

from reachguard.content.stages import (
    CharStage,
    Mapped,
    Pipeline,
    PhraseStage,
    RepeatStage,
    Stage,
)

__all__ = [
    "Mapped",
    "Stage",
    "drop_separator",
    "fold_pipeline",
    "fold_stage",
    "lower",
    "match_pipeline",
    "nfkc",
    "normalise",
    "normalise_mapped",
    "squash_pipeline",
    "traditional_to_simplified",
]

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "lexicons" / "_normalise.yaml"

# --- character functions: each maps one character to zero or more characters ------------------

# Chinese full-width punctuation stays as written: it is how Chinese is punctuated, not an
# evasion, and leaving it alone keeps the fast path from touching almost every message.
_KEEP_FULLWIDTH = frozenset("，：；！？（）")


def nfkc(ch: str) -> str:
    """Full-width → half-width, compatibility forms (⾦ → 金, ① → 1, 𝐀 → A)."""
    if ch in _KEEP_FULLWIDTH:
        return ch
    return unicodedata.normalize("NFKC", ch)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def traditional_to_simplified(ch: str) -> str:
    """OpenCC t2s, one character at a time so offsets stay one-to-one (徵 → 征, 還 → 还)."""
    if ord(ch) < 0x2E80:
        return ch
    out = _t2s().convert(ch)
    return out or ch


def lower(ch: str) -> str:
    """Case folding so ZX, Zx and zx are one thing."""
    return ch.lower()


_DROP_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "So", "Sk", "Mn", "Me"})
_DROP_PUNCT = frozenset("-*._·•‧∙・|/\\~`'\"^+#=<>&@_—–―…,，、")


def drop_separator(ch: str) -> str:
    """Spaces, zero-width characters, emoji and filler punctuation inserted between characters.

    Sentence ends (。！？；) are kept so phrases do not match across sentences; commas are
    not, so "上，门" still reads as 上门.
    """
    o = ord(ch)
    if ch in _DROP_PUNCT or 0x10000 <= o < 0x20000 or 0xE0000 <= o < 0xE1000:
        return ""  # plane 1 (emoji, symbols) and plane 14 (tags, variation selectors)
    return "" if unicodedata.category(ch) in _DROP_CATEGORIES else ch


# --- the two pipelines used by review ---------------------------------------------------------


@lru_cache(maxsize=1)
def _data() -> dict[str, dict[str, str]]:
    with DATA_FILE.open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    return {
        "variants": {str(k): str(v) for k, v in (raw.get("variants") or {}).items()},
        "pinyin": {str(k).lower(): str(v) for k, v in (raw.get("pinyin_initials") or {}).items()},
    }


def _fold_candidates(plane: range) -> Iterable[int]:
    """Characters NFKC, lower case or t2s might change; one OpenCC call for all CJK at once."""
    cjk: list[str] = []
    for c in plane:
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        if not unicodedata.is_normalized("NFKC", ch) or ch.lower() != ch:
            yield c
        elif c >= 0x2E80:
            cjk.append(ch)
    converted = _t2s().convert("\n".join(cjk)).split("\n")
    if len(converted) == len(cjk):
        yield from (ord(a) for a, b in zip(cjk, converted) if a != b)
    else:  # a conversion merged or split lines: fall back to every CJK character
        yield from (ord(a) for a in cjk)


def _separator_candidates(plane: range) -> Iterable[int]:
    category = unicodedata.category
    for c in plane:
        if not 0xD800 <= c <= 0xDFFF and category(chr(c)) in _DROP_CATEGORIES:
            yield c
    yield from (ord(c) for c in _DROP_PUNCT)


@lru_cache(maxsize=1)
def fold_stage() -> CharStage:
    """NFKC, Traditional → Simplified, lower case; keeps every character (for structural checks)."""
    return CharStage(
        "fold",
        (nfkc, traditional_to_simplified, lower),
        keep_nonempty=True,
        candidates=_fold_candidates,
        lower_first=True,
    )


@lru_cache(maxsize=1)
def fold_pipeline() -> Pipeline:
    """The folded text structural checks read: :func:`fold_stage` alone."""
    return Pipeline([fold_stage()])


@lru_cache(maxsize=1)
def squash_pipeline() -> Pipeline:
    """After folding: drop separators, canonical variants, pinyin initials, collapse repeats."""
    separators = CharStage("separators", (drop_separator,), candidates=_separator_candidates)
    prepare = lambda s: separators.run(fold_stage().run(s))  # noqa: E731
    variants = PhraseStage("variants+pinyin", _data()["variants"], prepare, whole_words=_data()["pinyin"])
    repeats = RepeatStage()
    return Pipeline([separators, variants, repeats])


@lru_cache(maxsize=1)
def match_pipeline() -> Pipeline:
    """Everything the lexicon matcher needs: fold, then squash."""
    return Pipeline(fold_pipeline().stages + squash_pipeline().stages)


def normalise(text: str) -> str:
    """The matcher's canonical form of ``text`` (also applied to every lexicon phrase)."""
    return match_pipeline().run(text)


def normalise_mapped(text: str) -> Mapped:
    """The canonical form with, per character, its original span."""
    return match_pipeline().run_mapped(text)
