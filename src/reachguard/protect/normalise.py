"""Text normalisation for the inbound SMS classifier.

Why this exists: the training corpus (see /work/shared/data/README.md) carries artefacts that a
model must not learn. Every digit of a spam line was masked to ``x`` at the source, runs of
spaces occur only in spam (emoji were replaced by spaces), and full-width / half-width variants
are mixed. If training and inference both see the text through this one function, those
artefacts carry no information: every digit becomes ``x`` in every message, whitespace is
collapsed and dropped next to CJK characters, and NFKC folds full-width forms.
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT = re.compile(r"\d")
# A space is kept only between two Latin letters (English words). Anywhere else - next to a
# CJK character or punctuation - it carries no meaning in Chinese text, and in the corpus it is
# mostly a removed emoji, i.e. a spam-only artefact.
_SPACE_NOT_BETWEEN_WORDS = re.compile(r"(?<![a-z]) | (?![a-z])")


def fold(text: str) -> str:
    """NFKC + lower-case, digits kept: the view the signal detectors match on (a 6-digit code
    is evidence there), and the first step of :func:`normalise`."""
    return unicodedata.normalize("NFKC", text).lower()


def normalise(text: str) -> str:
    """Return the model's view of ``text``: NFKC, lower-case, digits → ``x``, whitespace collapsed.

    Runs of masked digits are kept as runs of ``x`` (``xxxxxxxxxxx`` for a phone number, ``xxxxxx``
    for a verification code): the run length tells a code from a price or a phone number, and it
    is the same whether the source masked the digits or we did.
    """
    return normalise_folded(fold(text))


def normalise_folded(folded: str) -> str:
    """:func:`normalise` for text already passed through :func:`fold` (saves a second NFKC)."""
    t = _DIGIT.sub("x", folded)
    # = re.sub(r"\s+", " ", t).strip(): split(), strip() and the regex's \s test the same whitespace
    # (Py_UNICODE_ISSPACE); split/join is C-level and costs nothing on a text without any.
    t = " ".join(t.split())
    if " " in t:  # 97 % of SMS have none left: skip a regex scan that cannot match
        t = _SPACE_NOT_BETWEEN_WORDS.sub("", t)
    # Dropping a space can join a base letter to a combining mark (NFKC turns "´" into
    # " " + U+0301); compose again so that normalise() is idempotent.
    return t if t.isascii() else _compose(t)


def _compose(t: str) -> str:
    """NFKC, repeated with the space rule until neither changes anything.

    Why: composing can turn the Latin letter beside a kept space into one outside [a-z]
    ("x u" + U+0304 → "x ū"), and that space must then go too, as a second normalise() would
    drop it. Each round that changes anything removes a space, so the loop ends."""
    composed = unicodedata.normalize("NFKC", t)
    while composed != t and " " in composed:
        t = composed
        composed = unicodedata.normalize("NFKC", _SPACE_NOT_BETWEEN_WORDS.sub("", t))
    return composed


def normalise_many(texts: list[str]) -> list[str]:
    """Normalise a batch (a list comprehension; kept as a function so callers share one path)."""
    return [normalise(t) for t in texts]
