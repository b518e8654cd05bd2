"""The scrub's options checked before any work: what could only fail, or destroy the input,
after the whole list had been read."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from reachguard.model import CHANNELS
from reachguard.scrub.source import ScrubInputError
from reachguard.timeutil import range_problem

PURPOSES = ("marketing", "collection", "service")


def check_options(org: str, purpose: str, channel: str, at: datetime) -> None:
    if not org or len(org) > 128:
        raise ScrubInputError("INVALID_OPTION", "--org must be 1 to 128 characters")
    if purpose not in PURPOSES:
        raise ScrubInputError("INVALID_OPTION", f"--purpose must be one of {', '.join(PURPOSES)}, not {purpose!r}")
    if channel not in CHANNELS:
        raise ScrubInputError("INVALID_OPTION", f"--channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    if at.tzinfo is None or at.utcoffset() is None:
        raise ScrubInputError("INVALID_OPTION", "--at needs an offset, e.g. 2026-11-23T10:00:00+08:00")
    problem = range_problem(at, "--at")  # the CLI and the API check it too; a library caller may not
    if problem is not None:
        raise ScrubInputError("INVALID_OPTION", problem)


def check_paths(src: Path, out: Path, rejected: Path) -> None:
    """Refuse output paths that could only fail (or destroy the input) after the whole scrub ran."""
    resolved = {"--out": out.resolve(), "--rejected": rejected.resolve()}
    if resolved["--out"] == resolved["--rejected"]:
        raise ScrubInputError("INVALID_OPTION", "--out and --rejected must be different files")
    for name, path in resolved.items():
        if src.exists() and path == src.resolve():
            raise ScrubInputError("INVALID_OPTION", f"{name} would overwrite the input list {src}")
        if path.is_dir():
            raise ScrubInputError("INVALID_OPTION", f"{name} {path} is a directory; name a file in it")
