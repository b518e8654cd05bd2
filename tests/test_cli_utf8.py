"""Command-line text that is not valid UTF-8 is a usage error (exit 2), never a traceback.

The shell passes bytes; Python keeps an undecodable byte as a lone surrogate (U+DC80..U+DCFF),
which the store's INSERT and the JSON output cannot encode. Before cli.common.Utf8Group each of
these commands ended in `UnicodeEncodeError: surrogates not allowed`, some after opening the store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reachguard.cli import app

BAD = "a\udcffb"  # what Python makes of the bytes a, 0xFF, b in argv
runner = CliRunner()


@pytest.mark.parametrize("args", [
    ["keys", "create", "--org", "acme", "--role", "sender", "--label", BAD],
    ["keys", "create", "--org", BAD, "--role", "sender"],
    ["keys", "revoke", BAD],
    ["keys", "list", "--org", BAD],
    ["report", "--to", "13800138000", "--label", "fraud", "--reporter", "u1", "--text", BAD],
    ["report", "--to", "13800138000", "--label", "fraud", "--reporter", BAD],
    ["templates", "submit", BAD, "您好", "--org", "acme", "--author", "x"],
    ["templates", "submit", "t1", "您好", "--org", "acme", "--author", BAD],
    ["sender-numbers", "add", "13800138000", "--org", BAD],
    ["appeal", "13800138000", "--org", "acme", "--reason", BAD],
])
def test_undecodable_text_is_a_usage_error_and_stores_nothing(tmp_path: Path, args: list[str]) -> None:
    db = str(tmp_path / "rg.db")
    result = runner.invoke(app, [*args, "--db", db])
    assert result.exit_code == 2, (result.output, result.exception)
    assert "is not valid UTF-8" in result.output
    listed = runner.invoke(app, ["keys", "list", "--db", db])
    assert listed.exit_code == 0 and "acme" not in listed.output  # no key was made


def test_a_path_may_hold_any_bytes_the_file_system_takes(tmp_path: Path) -> None:
    events = tmp_path / f"events-{BAD}.jsonl"  # a file name in a legacy encoding
    events.write_text(json.dumps({"type": "attempt", "org": "acme", "channel": "sms", "purpose": "service",
                                  "to": "13800138000", "at": "2026-11-23T10:00:00+08:00"}) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", str(events), "--no-progress"])
    assert result.exit_code == 0 and json.loads(result.stdout)["verdict"] == "allow", result.output


def test_text_that_happens_to_name_a_file_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only parameters that name files (--db, FILE, --file) may hold a legacy-encoded file name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / BAD).write_text("x")
    result = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "sender", "--label", BAD, "--db", "k.db"])
    assert result.exit_code == 2 and "is not valid UTF-8" in result.output, (result.output, result.exception)
