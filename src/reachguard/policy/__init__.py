"""Policy profiles (`cn`, `us`) and per-org overrides from a TOML or YAML file.

A policy file looks like::

    profile = "cn"                      # the base profile (default "cn")
    [marketing]                         # overrides for every org
    caps = [{ name = "per day", days = 1, max = 2 }]
    [orgs.acme.collection.third_party]  # overrides for one org
    unreachable_min_calls = 8

Tables merge key by key into the profile; lists and numbers replace. The result is
validated as a whole, so a typo or a bad number fails at load with the path to it.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from reachguard.policy.schema import Cap, Policy, QuietHours
from reachguard.schema_errors import describe

__all__ = ["Cap", "Policy", "PolicyBook", "PolicyError", "QuietHours", "load_profile", "load_policy_file"]

PROFILES = ("cn", "us")


class PolicyError(ValueError):
    """A policy file or profile that cannot be used, with the reason."""


@lru_cache(maxsize=8)
def _profile_data(name: str) -> dict[str, Any]:
    if name not in PROFILES:
        raise PolicyError(f"unknown policy profile {name!r}; choose one of {', '.join(PROFILES)}")
    text = resources.files("reachguard.policy").joinpath("profiles", f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_profile(name: str = "cn") -> Policy:
    return _validate(_profile_data(name), f"profile {name}")


class PolicyBook:
    """The effective policy of each org: base profile + global overrides + org overrides."""

    def __init__(self, base: dict[str, Any], org_overrides: dict[str, dict[str, Any]] | None = None):
        self._base_data = base
        self._org_data = org_overrides or {}
        self.default = _validate(base, "policy")
        self._per_org = {org: _validate(_merge(base, data), f"orgs.{org}") for org, data in self._org_data.items()}

    @classmethod
    def profile(cls, name: str = "cn") -> "PolicyBook":
        return cls(_profile_data(name))

    def for_org(self, org: str) -> Policy:
        return self._per_org.get(org, self.default)


def load_policy_file(path: str | Path) -> PolicyBook:
    """Read a TOML or YAML policy file; raise PolicyError with a clear message if it is bad."""
    path = Path(path)
    try:
        raw = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(raw) or {}
        else:
            data = tomllib.loads(raw)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"policy file {path} is not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"policy file {path} must hold a table/mapping at the top")
    data = dict(data)
    profile = data.pop("profile", "cn")
    orgs = data.pop("orgs", {}) or {}
    if not isinstance(orgs, dict) or not all(isinstance(v, dict) for v in orgs.values()):
        raise PolicyError(f"policy file {path}: `orgs` must map org ids to tables")
    base = _merge(_profile_data(str(profile)), data)
    return PolicyBook(base, orgs)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(data: dict[str, Any], where: str) -> Policy:
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid {where}: {describe(exc)}") from exc
