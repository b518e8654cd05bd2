"""One Aho-Corasick automaton over phrases, scanned fast: phrases and text spelt as bytes.

Why bytes: pyahocorasick finds a node's child by a linear search over its children. With
thousands of Chinese phrases the root has hundreds of children, so each character of a message
costs hundreds of comparisons, and that scan was the largest part of a review. Spelt as
UTF-16-BE bytes (one Latin-1 character per byte, two per character) no node has more than 256
children and most have a handful; the scan takes well under half the time.

It stays exact. Every character of a text with no astral characters and no lone surrogates
("narrow", nearly every SMS) is exactly two bytes, so a byte match that ends on a character
boundary is a match of the same characters; matches that straddle characters are dropped.
A wide text (astral characters such as 𪚥, or lone surrogates) is scanned character by
character with a second automaton over the same phrases, built only the first time one comes.
"""

from __future__ import annotations

from typing import Any

import ahocorasick


def narrow_bytes(text: str) -> str | None:
    """``text`` as UTF-16-BE bytes, one Latin-1 character per byte; None if it is not narrow."""
    try:
        spelt = text.encode("utf-16-be")
    except UnicodeEncodeError:  # a lone surrogate
        return None
    if len(spelt) != 2 * len(text):  # an astral character took a surrogate pair
        return None
    return spelt.decode("latin-1")


def _key_bytes(key: str) -> str:
    # Keys with astral characters or lone surrogates are spelt too (surrogatepass); they can
    # never match a narrow text, which has neither, and wide texts use the character automaton.
    return key.encode("utf-16-be", "surrogatepass").decode("latin-1")


class Automaton:
    """Phrases → values; :meth:`find` gives every occurrence, overlapping ones included."""

    def __init__(self, entries: dict[str, Any]) -> None:
        if not entries:
            raise ValueError("an automaton needs at least one phrase")
        self._entries = entries
        self._narrow = ahocorasick.Automaton()
        for key, value in entries.items():
            self._narrow.add_word(_key_bytes(key), (len(key), value))
        self._narrow.make_automaton()
        self._wide: ahocorasick.Automaton | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def _wide_automaton(self) -> ahocorasick.Automaton:
        if self._wide is None:
            wide = ahocorasick.Automaton()
            for key, value in self._entries.items():
                wide.add_word(key, (len(key), value))
            wide.make_automaton()
            self._wide = wide
        return self._wide

    def find(self, text: str) -> list[tuple[int, int, Any]]:
        """Every ``(start, end, value)`` occurrence in ``text``, in character offsets."""
        spelt = narrow_bytes(text)
        if spelt is None:
            wide = self._wide_automaton()
            return [(last + 1 - n, last + 1, value) for last, (n, value) in wide.iter(text)]
        # An odd byte index is the second byte of a character: the match ends on a boundary.
        return [
            (((last + 1) >> 1) - n, (last + 1) >> 1, value)
            for last, (n, value) in self._narrow.iter(spelt)
            if last & 1
        ]
