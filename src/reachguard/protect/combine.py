"""All signals for one message: the content review's findings (fast or plain call) and the own detectors.

Why a module of its own: the content review is another package, developed in parallel; this is
the one place that knows how to call it, what to do when it is missing or fails, and how its
findings and the own detectors' signals combine (a code fires once, the review wins).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from reachguard.protect.signals import CONTENT_CODE_SIGNALS, SPECS, Signal, own_signals

log = logging.getLogger(__name__)

_ReviewFn = Callable[..., Any]
_review_cache: list[_ReviewFn | None] = []


def content_review() -> _ReviewFn | None:
    """``reachguard.content.review`` if importable, else ``None`` (looked up once, lazily).

    Lazy because the content module is developed in parallel and may be absent or half-built;
    the classifier must keep working either way, so any import error means "not available".
    """
    if not _review_cache:
        fn: _ReviewFn | None
        try:
            from reachguard.content import review as fn  # type: ignore[attr-defined,no-redef]
        except Exception as exc:  # noqa: BLE001 - absent or broken module: fall back
            log.debug("content review not available (%s); using fallback detectors", exc)
            fn = None
        _review_cache.append(fn)
    return _review_cache[0]


def content_signals(text: str, review: _ReviewFn) -> list[Signal]:
    """Content-review findings on ``text`` mapped to signals (content-type codes only).

    An inbound message has no known purpose or relation. We ask as for marketing to the
    recipient themself (``borrower``): every content code except THIRD_PARTY_DISCLOSURE is then
    checked (that one would fire on any debt wording when asked for a ``contact``, and the
    recipient of an inbound SMS is usually the person it is about; our own detector looks for
    explicit third-party wording instead). Only findings about what the text *is* are kept.
    """
    try:
        result = review(text, "marketing", "borrower", "sms")
    except Exception as exc:  # noqa: BLE001 - a reviewer bug must not break classification
        log.warning("content review failed (%s); using fallback detectors only", exc)
        return []
    out: list[Signal] = []
    seen: set[str] = set()
    for finding in getattr(result, "findings", ()) or ():
        code = getattr(finding, "code", None)
        if code not in CONTENT_CODE_SIGNALS or code in seen:
            continue
        seen.add(code)
        spec = SPECS[code]
        evidence = str(getattr(finding, "evidence", "") or "")
        out.append(Signal(code, spec.label, spec.weight, evidence, "content"))
    return out


_SpansFn = Callable[..., list[tuple[int, int, str]]]
_spans_cache: list[tuple[_ReviewFn, _SpansFn] | None] = []


def _fast_review() -> tuple[_ReviewFn, _SpansFn] | None:
    """``(review, review_spans)`` from the content module if both import, else ``None``."""
    if not _spans_cache:
        pair: tuple[_ReviewFn, _SpansFn] | None
        try:
            from reachguard.content.review import review, review_spans
        except Exception:  # noqa: BLE001 - older or broken module: the plain path decides
            pair = None
        else:
            pair = (review, review_spans)
        _spans_cache.append(pair)
    return _spans_cache[0]


def content_signals_fast(text: str, spans: _SpansFn) -> list[Signal]:
    """Same signals as :func:`content_signals`, from ``review_spans``: only the content codes'
    spans, no findings, no MISSING_* checks, no length (a test compares the two on the
    labelled set and the corpus)."""
    try:
        found = spans(text, "marketing", "borrower", "sms", CONTENT_CODE_SIGNALS)
    except Exception as exc:  # noqa: BLE001 - a reviewer bug must not break classification
        log.warning("content review failed (%s); using fallback detectors only", exc)
        return []
    out: list[Signal] = []
    seen: set[str] = set()
    for start, end, code in found:
        if code in seen:
            continue
        seen.add(code)
        spec = SPECS[code]
        out.append(Signal(code, spec.label, spec.weight, text[start:end], "content"))
    return out


def collect(text: str, folded: str, use_content_review: bool = True, fast: bool = True) -> list[Signal]:
    """All signals for one message: content-review findings first, then own detectors.

    A name fires at most once. CODE_REQUEST cancels VERIFICATION_CODE (a code you are asked to
    hand over is the fraud, not the reassurance). ``fast=False`` takes the content review's
    plain path (full ``review()``), the reference the fast path is tested against.
    """
    return collect_many([text], [folded], use_content_review, fast)[0]


def collect_many(texts: list[str], folded: list[str], use_content_review: bool = True,
                 fast: bool = True) -> list[list[Signal]]:
    """:func:`collect` for a batch, same lists: the content review is looked up once per batch
    rather than per message (the batch path of ``Classifier.classify_many``)."""
    review = content_review() if use_content_review else None
    if review is None:
        return [_combine([], own_signals(f)) for f in folded]
    pair = _fast_review() if fast else None
    if pair is None or pair[0] is not review:  # no fast path, or a stand-in review
        return [_combine(content_signals(t, review), own_signals(f)) for t, f in zip(texts, folded, strict=True)]
    spans = pair[1]
    return [_combine(content_signals_fast(t, spans), own_signals(f)) for t, f in zip(texts, folded, strict=True)]


def _combine(content: list[Signal], own: list[Signal]) -> list[Signal]:
    """Content signals, then own signals of other names; CODE_REQUEST cancels VERIFICATION_CODE.

    Both lists are fresh and hold each name once (a code fires once per source), so a message
    without content signals keeps the own list as it is."""
    if content:
        names = {s.name for s in content}
        for s in own:
            if s.name not in names:
                content.append(s)
                names.add(s.name)
        signals = content
    else:
        signals, names = own, {s.name for s in own}
    if "CODE_REQUEST" in names and "VERIFICATION_CODE" in names:
        signals = [s for s in signals if s.name != "VERIFICATION_CODE"]
    return signals
