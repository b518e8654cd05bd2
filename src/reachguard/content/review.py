"""The content review: phrases (lexicon) + structure + length, and which findings block.

Why this shape: the engine reviews every attempt that carries content, so the common case (a
clean message) must cost one translate, a few regex passes and one automaton scan. Offsets are
mapped back to the original text only when something is actually reported.

A lone surrogate (U+D800..U+DFFF on its own, e.g. from text decoded with ``surrogateescape``) is
reviewed as U+FFFD REPLACEMENT CHARACTER — what it becomes when the text is encoded to be sent —
so every Python str can be reviewed; spans and evidence still index the text as given.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from reachguard.content.lexicon import Hit, OrgLexicon, codes, matcher_for
from reachguard.content.normalise import Mapped, fold_stage, squash_pipeline
from reachguard.content.stages import CharStage, Pipeline
from reachguard.content.sms import sms_length
from reachguard.content.structural import Context, checks_for
from reachguard.model import Finding

if TYPE_CHECKING:
    from reachguard.policy.schema import Policy

MISSING_CODES = frozenset(
    {"MISSING_SENDER_SIGNATURE", "MISSING_OPT_OUT", "MISSING_APR", "MISSING_DEBT_DETAILS"}
)
_BLOCK_SMS_CHANNELS = frozenset({"sms", "push"})
_BLOCK_SMS_PURPOSES = frozenset({"marketing", "collection"})
_SURROGATE = re.compile("[\ud800-\udfff]")


class ReviewResult(msgspec.Struct):
    """Every finding (spans on the original text), plus the SMS length and billed segments."""

    findings: list[Finding]
    chars: int
    segments: int


def _resolve(hits: list[Hit]) -> list[tuple[int, int, str]]:
    """Drop the hits an allow-list phrase of the same code overlaps."""
    allowed: dict[str, list[tuple[int, int]]] = {}
    kept: list[tuple[int, int, str]] = []
    for start, end, code, is_allow in hits:
        if is_allow:
            allowed.setdefault(code, []).append((start, end))
        else:
            kept.append((start, end, code))
    if allowed:
        kept = [
            (s, e, c)
            for s, e, c in kept
            if not any(a_s < e and s < a_e for a_s, a_e in allowed.get(c, ()))
        ]
    return kept


_EXPLAIN: dict[str, tuple[str, str]] = {}


def _finding(text: str, start: int, end: int, code: str) -> Finding:
    explain = _EXPLAIN.get(code)
    if explain is None:
        info = codes()[code]
        explain = _EXPLAIN[code] = (info.message, info.citation)
    evidence = "" if code in MISSING_CODES else text[start:end]
    return Finding(code=code, span=(start, end), evidence=evidence, message=explain[0], citation=explain[1])


def _merge(spans: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Sort by position; overlapping or touching spans of one code become one finding."""
    if len(spans) == 1:
        return spans
    merged: list[list[int | str]] = []
    last: dict[str, list[int | str]] = {}  # per code, the last span kept
    for s, e, c in sorted(spans, key=lambda x: (x[0], -x[1], x[2])):
        prev = last.get(c)
        if prev is not None and s <= prev[1]:  # type: ignore[operator]
            prev[1] = max(e, prev[1])  # type: ignore[call-overload]
            continue
        last[c] = [s, e, c]
        merged.append(last[c])
    return [(s, e, c) for s, e, c in merged]  # type: ignore[misc]


def review(
    text: str,
    purpose: str,
    relation: str,
    channel: str = "sms",
    org_lexicon: OrgLexicon | None = None,
) -> ReviewResult:
    """Review one SMS, push message or call script for ``purpose`` and ``relation``.

    Returns every finding (sorted by position, then code) with spans indexing ``text`` itself,
    plus ``chars`` and billed ``segments``. ``org_lexicon`` adds an org's phrases, allow-list
    entries and link domains; its automaton is compiled once and cached. A lone surrogate is
    reviewed and counted as U+FFFD (one UCS-2 character); it never raises.
    """
    spans = _spans(text, (purpose, relation, channel), org_lexicon, None)
    findings = [_finding(text, s, e, c) for s, e, c in spans]
    chars, segments = sms_length(text)
    return ReviewResult(findings=findings, chars=chars, segments=segments)


def review_spans(
    text: str,
    purpose: str,
    relation: str,
    channel: str,
    codes: frozenset[str],
    org_lexicon: OrgLexicon | None = None,
) -> list[tuple[int, int, str]]:
    """``(start, end, code)`` of exactly the findings :func:`review` reports whose code is in
    ``codes``, in the same order — without building findings, counting length, or running the
    checks that cannot produce one of ``codes`` (:data:`~reachguard.content.structural.EMITS`).

    Why: the SMS classifier needs only which prohibited-content codes fired and their evidence
    (``text[start:end]``); for it, the MISSING_* checks, their findings and the length were more
    than half of the review's cost. Merging is per code, so leaving other codes out changes
    neither the spans nor the order of these.
    """
    return _spans(text, (purpose, relation, channel), org_lexicon, codes)


def _spans(
    text: str, scope: tuple[str, str, str], org_lexicon: OrgLexicon | None, codes: frozenset[str] | None
) -> list[tuple[int, int, str]]:
    """Merged spans on the original text, sorted; only ``codes`` unless None."""
    text = _replace_surrogates(text)  # same length: spans still index the caller's text
    fold, squash = _pipelines()
    matcher = matcher_for(org_lexicon)
    folded = fold.run(text)
    spans: list[tuple[int, int, str]] = []

    hits = matcher.scan(squash.run(folded), scope)
    if hits:
        kept = _resolve(hits)
        if codes is not None:
            kept = [k for k in kept if k[2] in codes]
        if kept:
            mapped = squash.run_mapped(fold.run_mapped(Mapped.identity(text)))
            spans.extend((*mapped.original_span(s, e), c) for s, e, c in kept)

    ctx = Context(text, folded, matcher.known_domains)
    for check in checks_for(scope, codes):
        spans.extend(check(ctx))
    return _merge(spans) if spans else spans


def _replace_surrogates(text: str) -> str:
    """``text`` with each lone surrogate as U+FFFD, one character for one (so offsets hold).

    Why: the matching stages encode the text (UTF-8), which refuses lone surrogates, and a
    library caller's str may hold them; U+FFFD is what such a character turns into on the wire.
    (The SMS length counts a lone surrogate as one UTF-16 unit by itself: content/sms.py.)
    """
    if _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


_PIPELINES: tuple[CharStage, Pipeline] | None = None


def _pipelines() -> tuple[CharStage, Pipeline]:
    """The fold stage and the squash pipeline, looked up once (cheaper than an lru_cache call)."""
    global _PIPELINES
    if _PIPELINES is None:
        _PIPELINES = (fold_stage(), squash_pipeline())
    return _PIPELINES


def blocking(policy: "Policy", findings: Iterable[Finding], purpose: str, channel: str) -> list[Finding]:
    """The findings that deny the attempt (→ CONTENT_VIOLATION) under ``policy.content``.

    ``block`` codes always deny; ``block_sms`` codes (the MISSING_* ones by default) deny only an
    SMS or push message for marketing or collection, and are warnings for call scripts.
    """
    block = set(policy.content.block)
    block_sms = set(policy.content.block_sms)
    sms_like = channel in _BLOCK_SMS_CHANNELS and purpose in _BLOCK_SMS_PURPOSES
    return [f for f in findings if f.code in block or (sms_like and f.code in block_sms)]
