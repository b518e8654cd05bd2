"""The API key roles, in a module of their own so the CLI can name them without pydantic."""

from __future__ import annotations

ROLES = ("sender", "compliance", "auditor", "admin")
