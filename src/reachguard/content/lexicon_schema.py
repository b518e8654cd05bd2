"""The shape of an org lexicon YAML file, validated on load (pydantic, as policy files are).

Its own module so that `reachguard.content` loads pydantic only when a file is read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from reachguard.schema_errors import describe


class OrgLexiconFile(BaseModel):
    """``{phrases: {CODE: [...]}, allow: {CODE: [...]}, allowed_domains: [...]}``; every key optional.

    Phrases and domains must be strings: YAML reads an unquoted 110 as a number, and a number
    is refused rather than guessed at."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    phrases: dict[str, list[str]] | None = None
    allow: dict[str, list[str]] | None = None
    allowed_domains: list[str] | None = None


def parse(raw: Any) -> OrgLexiconFile:
    """The validated file; ValueError naming each bad place (`phrases.THREAT.0: ...`)."""
    try:
        return OrgLexiconFile.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"not an org lexicon: {describe(exc)}") from None
