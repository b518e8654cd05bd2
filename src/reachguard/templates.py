"""Template registry: approved once through an N-level chain, then sent without surprises.

A template is text with placeholders (`{amount}`); each new text is a new version, pending
until every level of the org's chain (default compliance → legal) has approved it, each by a
different reviewer (never its author). A rejection at any level ends that version. Attempts
that name a `template` are denied (`TEMPLATE_NOT_APPROVED`) unless its latest version is
approved and the attempt's content is a rendering of it; the rendered text is still reviewed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from reachguard.store.base import Store

Status = Literal["pending", "approved", "rejected"]
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TemplateError(ValueError):
    """A template operation that is not allowed, with the reason."""


@dataclass(frozen=True, slots=True)
class TemplateVersion:
    org: str
    template_id: str
    version: int
    text: str
    author: str
    at: float


@dataclass(frozen=True, slots=True)
class TemplateReview:
    level: int
    level_name: str
    reviewer: str
    verdict: Literal["approve", "reject"]
    comment: str
    at: float


@dataclass(frozen=True, slots=True)
class TemplateStatus:
    version: TemplateVersion
    status: Status
    next_level: str | None  # the level whose review is awaited, while pending
    reviews: list[TemplateReview]


class TemplateRegistry:
    def __init__(self, store: Store, levels: list[str]):
        if not 1 <= len(levels) <= 4:
            raise TemplateError("an approval chain has 1 to 4 levels")
        self.store = store
        self.levels = levels

    def submit(self, org: str, template_id: str, text: str, author: str, at: float) -> TemplateVersion:
        if not text.strip():
            raise TemplateError("a template needs text")
        try:  # no store can keep a lone surrogate (UTF-8); argv holds one for bytes not UTF-8
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise TemplateError(f"the template text is not valid UTF-8 (a lone surrogate at character {exc.start})") from None
        version = self.store.template_add_version(org, template_id, text, author, at)
        return TemplateVersion(org, template_id, version, text, author, at)

    def status(self, org: str, template_id: str, version: int | None = None) -> TemplateStatus:
        found = self.store.template_version(org, template_id, version)
        if found is None:
            raise TemplateError(f"{org} has no template {template_id!r}" + (f" version {version}" if version else ""))
        record = TemplateVersion(*found)
        reviews = [TemplateReview(*row) for row in self.store.template_reviews(org, template_id, record.version)]
        if any(r.verdict == "reject" for r in reviews):
            return TemplateStatus(record, "rejected", None, reviews)
        if len(reviews) >= len(self.levels):
            return TemplateStatus(record, "approved", None, reviews)
        return TemplateStatus(record, "pending", self.levels[len(reviews)], reviews)

    def review(self, org: str, template_id: str, reviewer: str, verdict: Literal["approve", "reject"], comment: str, at: float,
               version: int | None = None) -> TemplateStatus:
        """Record the awaited level's review of the latest (or given) version."""
        current = self.status(org, template_id, version)
        if current.status != "pending":
            raise TemplateError(f"template {template_id!r} version {current.version.version} is already {current.status}")
        if reviewer == current.version.author:
            raise TemplateError("the author cannot review their own template")
        if any(r.reviewer == reviewer for r in current.reviews):
            raise TemplateError(f"{reviewer} already reviewed this version: each level needs a different reviewer")
        level = len(current.reviews)
        self.store.template_add_review(org, template_id, current.version.version, level, self.levels[level], reviewer,
                                       verdict, comment, at)
        return self.status(org, template_id, current.version.version)

    def check_use(self, org: str, template_id: str, content: str | None) -> str | None:
        """None if an attempt may use the template with this content, else why not."""
        try:
            current = self.status(org, template_id)
        except TemplateError as exc:
            return str(exc)
        if current.status != "approved":
            return f"template {template_id!r} version {current.version.version} is {current.status}, not approved"
        if content is not None and not _pattern(current.version.text).fullmatch(content):
            return f"the content is not a rendering of template {template_id!r} version {current.version.version}"
        return None


@lru_cache(maxsize=1024)
def _pattern(text: str) -> re.Pattern[str]:
    """Literal parts must match exactly; each placeholder stands for some non-empty text."""
    parts, last = [], 0
    for match in _PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[last : match.start()]))
        parts.append(r".+?")
        last = match.end()
    parts.append(re.escape(text[last:]))
    return re.compile("".join(parts), re.DOTALL)
