"""Lexicons as data: phrase packs per finding code, compiled into one Aho-Corasick automaton.

Why data and not code: compliance officers change phrase lists far more often than engineers
change logic, and an org needs its own phrases and allow-list entries without a release. Every
pack (the shipped YAML files under ``reachguard/data/lexicons`` plus an org's extras) goes into
ONE automaton, built once per distinct org lexicon and cached, so a message is scanned once
whatever the number of phrases.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from reachguard.content.automata import Automaton
from reachguard.content.normalise import normalise

LEXICON_DIR = Path(__file__).resolve().parent.parent / "data" / "lexicons"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """What a finding code means, its citation, and where it applies (None = everywhere)."""

    code: str
    message: str
    citation: str
    purposes: frozenset[str] | None = None
    relations: frozenset[str] | None = None
    channels: frozenset[str] | None = None

    def applies(self, purpose: str, relation: str, channel: str) -> bool:
        return (
            (self.purposes is None or purpose in self.purposes)
            and (self.relations is None or relation in self.relations)
            and (self.channels is None or channel in self.channels)
        )


@dataclass(frozen=True, slots=True)
class Pack:
    """Phrases that produce a finding of ``code``, and allow-list phrases that suppress one."""

    code: str
    phrases: tuple[str, ...] = ()
    allow: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OrgLexicon:
    """An org's additions: extra packs (phrases / allow-list per code) and its own link domains.

    Hashable, so the compiled automaton is cached per distinct lexicon: build it once, reuse it.
    """

    packs: tuple[Pack, ...] = ()
    allowed_domains: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        phrases: Mapping[str, Iterable[str]] | None = None,
        allow: Mapping[str, Iterable[str]] | None = None,
        allowed_domains: Iterable[str] = (),
    ) -> "OrgLexicon":
        """Build from plain dicts: ``{"THREAT": ["..."]}``, ``{"IMPERSONATION": ["..."]}``."""
        phrases = phrases or {}
        allow = allow or {}
        codes = sorted(set(phrases) | set(allow))
        packs = tuple(
            Pack(code, tuple(phrases.get(code, ())), tuple(allow.get(code, ()))) for code in codes
        )
        return cls(packs, tuple(d.lower().strip(".") for d in allowed_domains))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "OrgLexicon":
        """Load ``{phrases: {CODE: [...]}, allow: {CODE: [...]}, allowed_domains: [...]}``.

        Raises OSError if unreadable and ValueError for anything else wrong with it (not YAML,
        not UTF-8, wrong shape), so a caller reports one clean error instead of a traceback."""
        from reachguard.content.lexicon_schema import parse

        with Path(path).open(encoding="utf-8") as fh:
            try:
                raw = yaml.safe_load(fh) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"not valid YAML: {exc}") from None
        spec = parse(raw)
        return cls.of(spec.phrases, spec.allow, spec.allowed_domains or ())


def _opt_set(value: Any) -> frozenset[str] | None:
    return None if value is None else frozenset(str(v) for v in value)


@lru_cache(maxsize=1)
def codes() -> dict[str, CodeInfo]:
    """Every finding code with its message, citation and scope (``_codes.yaml``)."""
    with (LEXICON_DIR / "_codes.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return {
        code: CodeInfo(
            code=code,
            message=str(spec["message"]),
            citation=str(spec["citation"]),
            purposes=_opt_set(spec.get("purposes")),
            relations=_opt_set(spec.get("relations")),
            channels=_opt_set(spec.get("channels")),
        )
        for code, spec in raw.items()
    }


@lru_cache(maxsize=1)
def shipped_packs() -> tuple[Pack, ...]:
    """The packs shipped with ReachGuard: every ``*.yaml`` not starting with ``_``."""
    packs = []
    known = codes()
    for path in sorted(LEXICON_DIR.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
        code = raw.get("code")
        if code not in known:
            raise ValueError(f"{path.name}: unknown finding code {code!r}")
        packs.append(
            Pack(code, tuple(str(p) for p in raw.get("phrases") or ()), tuple(str(p) for p in raw.get("allow") or ()))
        )
    return tuple(packs)


@lru_cache(maxsize=1)
def link_data() -> dict[str, frozenset[str]]:
    """Shorteners, risky TLDs, known domains and recognised TLDs (``_links.yaml``)."""
    with (LEXICON_DIR / "_links.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    return {key: frozenset(str(v).lower() for v in raw[key]) for key in ("tlds", "shorteners", "risky_tlds", "known_domains")}


# A hit as the matcher reports it: normalised [start, end), code, is it an allow-list entry.
Hit = tuple[int, int, str, bool]



class Matcher:
    """Aho-Corasick automata over every phrase of every pack, keyed by normalised text (scanned
    as bytes, see :mod:`reachguard.content.automata`).

    One automaton per set of codes in scope (a marketing SMS never needs the contact-only
    THIRD_PARTY_DISCLOSURE words, which occur in nearly every collection message), each built on
    first use and kept: a scan only ever reports phrases that can become findings.
    """

    def __init__(self, packs: Iterable[Pack], known_domains: Iterable[str] = ()) -> None:
        self.known_domains = frozenset(known_domains)
        self._entries: dict[str, set[tuple[str, bool]]] = {}
        known = codes()
        for pack in packs:
            if pack.code not in known:
                raise ValueError(f"unknown finding code {pack.code!r}")
            for phrases, is_allow in ((pack.phrases, False), (pack.allow, True)):
                for phrase in phrases:
                    key = normalise(phrase)
                    if key:
                        self._entries.setdefault(key, set()).add((pack.code, is_allow))
        self.size = len(self._entries)
        self._by_codes: dict[frozenset[str], Automaton | None] = {}
        self._by_scope: dict[tuple[str, str, str] | None, Automaton | None] = {}

    def _build(self, active: frozenset[str]) -> Automaton | None:
        entries = {}
        for key, values in self._entries.items():
            kept = tuple(sorted(v for v in values if v[0] in active))
            if kept:
                entries[key] = kept
        return Automaton(entries) if entries else None

    def automaton(self, scope: tuple[str, str, str] | None = None) -> Automaton | None:
        """The automaton for (purpose, relation, channel); None scope = every code."""
        try:
            return self._by_scope[scope]
        except KeyError:
            pass
        info = codes()
        active = frozenset(c for c, i in info.items() if scope is None or i.applies(*scope))
        if active not in self._by_codes:
            self._by_codes[active] = self._build(active)
        self._by_scope[scope] = self._by_codes[active]
        return self._by_scope[scope]

    def scan(self, normalised: str, scope: tuple[str, str, str] | None = None) -> list[Hit]:
        """Every (overlapping) occurrence, in an already-normalised text, of a phrase in scope."""
        automaton = self.automaton(scope)
        if automaton is None:
            return []
        out: list[Hit] = []
        for start, end, values in automaton.find(normalised):
            for code, is_allow in values:
                out.append((start, end, code, is_allow))
        return out


_BY_IDENTITY: dict[int, tuple[OrgLexicon, Matcher]] = {}


@lru_cache(maxsize=64)
def _matcher_by_value(org: OrgLexicon | None) -> Matcher:
    packs = shipped_packs() + (org.packs if org is not None else ())
    return Matcher(packs, org.allowed_domains if org is not None else ())


def matcher_for(org: OrgLexicon | None) -> Matcher:
    """The compiled automaton for the shipped packs plus an org's packs, cached.

    Looked up by identity first: hashing a lexicon of thousands of phrases on every message
    would cost more than the scan itself.
    """
    if org is None:
        return _matcher_by_value(None)
    entry = _BY_IDENTITY.get(id(org))
    if entry is not None and entry[0] is org:
        return entry[1]
    matcher = _matcher_by_value(org)
    if len(_BY_IDENTITY) >= 256:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(org)] = (org, matcher)
    return matcher
