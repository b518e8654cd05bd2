"""Normalisation stage machinery: text transformations that keep a map to original offsets.

Why: every stage runs in two ways. ``run(text) -> str`` is the fast path used on every message
(C-speed ``re.sub``, ``str.translate``, Aho-Corasick); ``run_mapped(mapped) -> Mapped`` carries,
for each output character, the ``[start, end)`` of original characters it came from, and is only
needed when a finding has to be reported. Tests check that both paths agree on random text.
The concrete pipelines (which characters, which variants) are in ``normalise.py``.
"""

from __future__ import annotations

import operator
import re
from itertools import chain, compress, repeat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import ahocorasick


@dataclass(slots=True)
class Mapped:
    """Text plus, per character, the original ``[start, end)`` it stands for."""

    text: str
    starts: list[int]
    ends: list[int]

    @classmethod
    def identity(cls, text: str) -> "Mapped":
        n = len(text)
        return cls(text, list(range(n)), list(range(1, n + 1)))

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The original range covered by normalised characters ``[start, end)``."""
        return self.starts[start], self.ends[end - 1]


class Stage(Protocol):
    name: str

    def run(self, text: str) -> str: ...

    def run_mapped(self, mapped: Mapped) -> Mapped: ...


CharFn = Callable[[str], str]


class _Table(dict[int, str]):
    """A ``str.translate`` table filled lazily: each character is worked out once, then cached."""

    def __init__(self, fns: tuple[CharFn, ...], keep_nonempty: bool) -> None:
        super().__init__()
        self._fns = fns
        self._keep_nonempty = keep_nonempty

    def __missing__(self, code: int) -> str:
        original = chr(code)
        s = original
        for fn in self._fns:
            s = "".join(fn(c) for c in s)
        if self._keep_nonempty and not s:
            s = original
        self[code] = s
        return s


def _class_of(codes: list[int]) -> str:
    """A regex character class matching exactly ``codes`` (BMP only: compiles to a bitmap)."""
    parts: list[str] = []
    i = 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        lo, hi = re.escape(chr(codes[i])), re.escape(chr(codes[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


class CharStage:
    """Several character functions fused into one table.

    The fast path only touches characters that actually change: a regex class of every BMP
    character the table alters (worked out once, on first use) finds them. A stage that only
    deletes (separators) is one ``re.sub(class, "")``; otherwise each run of changed
    characters goes through ``str.translate``. Characters beyond the BMP (emoji, 𝐀, rare
    CJK) are matched by a separate single-range branch: a character class mixing thousands of
    BMP ranges with astral ones cannot be compiled to a bitmap and would make every scan
    linear in the number of ranges.
    """

    def __init__(
        self,
        name: str,
        fns: Iterable[CharFn],
        keep_nonempty: bool = False,
        candidates: Callable[[range], Iterable[int]] | None = None,
        lower_first: bool = False,
    ) -> None:
        self.name = name
        self.table = _Table(tuple(fns), keep_nonempty)
        self._candidates = candidates
        self._pattern: re.Pattern[str] | None = None
        self._delete_only = False
        self._lower_first = lower_first
        self._lower_unsafe = ""

    def _changed(self) -> re.Pattern[str]:
        if self._pattern is None:
            table = self.table
            bmp = range(0x10000)
            codes = sorted(set(self._candidates(bmp))) if self._candidates is not None else bmp
            changed: list[int] = []
            for c in codes:
                if 0xD800 <= c <= 0xDFFF:
                    continue
                if table[c] != chr(c):
                    changed.append(c)
                else:
                    del table[c]  # unchanged characters never reach the table on the fast path
            self._delete_only = all(table[c] == "" for c in changed)
            if self._delete_only:  # separators: every plane-1/plane-14 character goes too
                astral = "[\U00010000-\U0001FFFF\U000E0000-\U000E0FFF]"
            else:
                astral = "[\U00010000-\U0010FFFF]"
            if self._lower_first:
                self._lower_unsafe = self._unsafe_to_lower_first()
            self._pattern = re.compile(f"(?:{_class_of(changed)}|{astral})+")
        return self._pattern

    def _unsafe_to_lower_first(self) -> str:
        """Characters for which ``str.lower`` first, then the table, differs from the table.

        Why lower first: upper-case Latin letters (App, 回T退订) are most of what a fold changes
        in real messages, and each run of them costs a Python call; C-level ``str.lower``
        removes them before the regex looks. It is only allowed when every character comes out
        the same: Σ (``str.lower`` makes it ς at the end of a word) and the few BMP characters
        found here send the text down the plain path. tests/content/test_normalise.py checks
        every code point, astral ones included.
        """
        table = self.table

        def through_table(s: str) -> str:
            return "".join(table[ord(x)] for x in s)

        unsafe = {"Σ"}
        for c in range(0x10000):
            if 0xD800 <= c <= 0xDFFF:
                continue
            ch = chr(c)
            lowered = ch.lower()
            if lowered != ch and through_table(lowered) != table[c]:
                unsafe.add(ch)
        return "".join(sorted(unsafe))

    def _sub(self, m: re.Match[str]) -> str:
        return m.group().translate(self.table)

    def run(self, text: str) -> str:
        pattern = self._changed()
        if self._delete_only:
            return pattern.sub("", text)
        if self._lower_first:
            for ch in self._lower_unsafe:
                if ch in text:
                    break
            else:
                text = text.lower()
        return pattern.sub(self._sub, text)

    def run_mapped(self, mapped: Mapped) -> Mapped:
        # Each character becomes table[ord(ch)] ("" or one or more characters), and each output
        # character keeps its source's [start, end). C-level map/compress instead of a Python
        # loop per character: nearly always every character maps to exactly one (fold) or to
        # zero or one (separators), and then the offsets are a copy or a selection.
        reps = list(map(self.table.__getitem__, map(ord, mapped.text)))
        lens = list(map(len, reps))
        n = len(lens)
        text = "".join(reps)
        if len(text) == n and lens.count(1) == n:
            return Mapped(text, mapped.starts[:n], mapped.ends[:n])
        if max(lens, default=0) <= 1:
            return Mapped(text, list(compress(mapped.starts, lens)), list(compress(mapped.ends, lens)))
        return Mapped(
            text,
            list(chain.from_iterable(map(repeat, mapped.starts, lens))),
            list(chain.from_iterable(map(repeat, mapped.ends, lens))),
        )


# --- sequence stages ---------------------------------------------------------------------------


def _replace_mapped(mapped: Mapped, pieces: Iterable[tuple[int, int, str]]) -> Mapped:
    """Rebuild ``mapped`` replacing each (start, end, replacement) of normalised text."""
    text, starts, ends = mapped.text, mapped.starts, mapped.ends
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    pos = 0
    for s, e, rep in pieces:
        out.append(text[pos:s])
        new_starts.extend(starts[pos:s])
        new_ends.extend(ends[pos:s])
        if rep:
            out.append(rep)
            new_starts.extend([starts[s]] * len(rep))
            new_ends.extend([ends[e - 1]] * len(rep))
        pos = e
    out.append(text[pos:])
    new_starts.extend(starts[pos:])
    new_ends.extend(ends[pos:])
    return Mapped("".join(out), new_starts, new_ends)


class RepeatStage:
    """Collapse each run of one repeated non-digit character to one (贷贷贷款 → 贷款).

    Digits are left alone so amounts keep their value; the collapsed character stands for the
    whole run in the offset map. One C-level ``re.sub`` with a C-level callback
    (``methodcaller``): nearly every message has a run somewhere (``App`` folds to ``app``).
    """

    name = "repeats"
    # \D is "not Unicode category Nd", the same as not str.isdecimal(). Spelt \1\1* rather than
    # \1+ so a position that starts no run fails before the engine sets up a repeat (~30 % less).
    _RUN = re.compile(r"(\D)\1\1*")
    _FIRST = operator.methodcaller("group", 1)

    def run(self, text: str) -> str:
        return self._RUN.sub(self._FIRST, text)

    def run_mapped(self, mapped: Mapped) -> Mapped:
        runs = [(m.start(), m.end(), m.group(1)) for m in self._RUN.finditer(mapped.text)]
        return _replace_mapped(mapped, runs) if runs else mapped


class PhraseStage:
    """Replace variant spellings with their canonical form, longest match first, in one
    Aho-Corasick pass: homophones and variants anywhere (代款 → 贷款), pinyin initials only as a
    whole run of Latin letters (zx → 征信, but not the "zx" inside "zxcv")."""

    def __init__(
        self,
        name: str,
        variants: Mapping[str, str],
        prepare: Callable[[str], str],
        whole_words: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.automaton = ahocorasick.Automaton()
        for table, whole in ((variants, False), (whole_words or {}, True)):
            for variant, canonical in table.items():
                key = prepare(variant)
                if key and key != canonical:
                    self.automaton.add_word(key, (len(key), canonical, whole))
        self._empty = len(self.automaton) == 0
        if not self._empty:
            self.automaton.make_automaton()

    def _pieces(self, text: str) -> list[tuple[int, int, str]]:
        if self._empty:
            return []
        out: list[tuple[int, int, str]] = []
        last = len(text) - 1
        for end, (n, rep, whole) in self.automaton.iter_long(text):
            start = end - n + 1
            if whole and (
                (start > 0 and "a" <= text[start - 1] <= "z") or (end < last and "a" <= text[end + 1] <= "z")
            ):
                continue
            out.append((start, end + 1, rep))
        return out

    def run(self, text: str) -> str:
        pieces = self._pieces(text)
        if not pieces:
            return text
        out: list[str] = []
        pos = 0
        for s, e, rep in pieces:
            out.append(text[pos:s])
            out.append(rep)
            pos = e
        out.append(text[pos:])
        return "".join(out)

    def run_mapped(self, mapped: Mapped) -> Mapped:
        pieces = self._pieces(mapped.text)
        return _replace_mapped(mapped, pieces) if pieces else mapped


class Pipeline:
    """Stages applied in order; ``run`` and ``run_mapped`` mirror each stage's two paths."""

    def __init__(self, stages: list[Stage]) -> None:
        self.stages = stages

    def run(self, text: str) -> str:
        for stage in self.stages:
            text = stage.run(text)
        return text

    def run_mapped(self, text: "str | Mapped") -> Mapped:
        """From raw text, or continuing from an earlier pipeline's mapped output."""
        mapped = Mapped.identity(text) if isinstance(text, str) else text
        for stage in self.stages:
            mapped = stage.run_mapped(mapped)
        return mapped
