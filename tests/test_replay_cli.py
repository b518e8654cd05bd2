"""`reachguard replay` end to end (cli/replay.py)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from reachguard.cli import app

runner = CliRunner()

STREAM = [
    {"type": "consent", "org": "acme", "to": "+86 138 0013 8000", "purpose": "marketing", "at": "2026-11-20T10:00:00+08:00"},
    {"type": "attempt", "id": "a1", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000",
     "at": "2026-11-22T10:00:00+08:00", "content": "【星河消费金融】会员日活动，回T退订"},
    {"type": "attempt", "id": "a2", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000",
     "at": "2026-11-22T11:00:00+08:00"},
    {"type": "attempt", "id": "a3", "org": "acme", "channel": "call", "purpose": "marketing", "to": "12345",
     "at": "2026-11-22T11:00:00+08:00"},
]


def _write(tmp_path: Path, lines: list) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(l if isinstance(l, bytes) else json.dumps(l, ensure_ascii=False).encode() for l in lines) + b"\n")
    return path


def test_replay_answers_each_attempt_in_order(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(_write(tmp_path, STREAM)), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(d["id"], d["verdict"]) for d in lines] == [("a1", "allow"), ("a2", "defer"), ("a3", "deny")]
    assert list(lines[0]) == ["id", "verdict", "to", "reasons", "retry_at", "findings", "verification_code"]
    assert lines[1]["retry_at"] == "2026-11-23T09:00:00+08:00"
    assert lines[2]["reasons"][0]["code"] == "INVALID_NUMBER"


def test_replay_twice_gives_identical_output(tmp_path: Path) -> None:
    path = _write(tmp_path, STREAM)
    first = runner.invoke(app, ["replay", str(path), "--no-progress"]).stdout
    second = runner.invoke(app, ["replay", str(path), "--no-progress"]).stdout
    assert first == second and first


def test_bad_lines_give_error_lines_and_the_stream_goes_on(tmp_path: Path) -> None:
    lines = [STREAM[0], b"{not json", {**STREAM[1], "colour": "red"}, b"", {**STREAM[1], "at": "2026-11-22T10:00:00"},
             {"type": "opt_out", "to": "hello", "at": "2026-11-22T10:00:00+08:00"}, b'{"type":"dnc","list":"\xff"}', STREAM[1]]
    result = runner.invoke(app, ["replay", str(_write(tmp_path, lines)), "--no-progress"])
    assert result.exit_code == 0
    out = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [(o["error"]["code"], o["error"]["line"]) for o in out if "error" in o]
    assert errors == [("MALFORMED_JSON", 2), ("UNKNOWN_FIELD", 3), ("TIME_WITHOUT_OFFSET", 5), ("INVALID_NUMBER", 6), ("INVALID_UTF8", 7)]
    assert out[-1]["verdict"] == "allow"


def test_replay_with_db_keeps_state(tmp_path: Path) -> None:
    db = tmp_path / "rg.db"
    runner.invoke(app, ["replay", str(_write(tmp_path, STREAM[:2])), "--db", str(db), "--no-progress"])
    second = tmp_path / "more.jsonl"
    second.write_text(json.dumps(STREAM[2]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", str(second), "--db", str(db), "--no-progress"])
    assert json.loads(result.stdout)["verdict"] == "defer"  # the cap remembers a1


def test_replay_us_profile_and_bad_policy(tmp_path: Path) -> None:
    path = _write(tmp_path, STREAM)
    result = runner.invoke(app, ["replay", str(path), "--profile", "us", "--no-progress"])
    assert result.exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[marketing]\nquiet_hourz = 1\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", str(path), "--policy", str(bad)])
    assert result.exit_code == 2
    assert "quiet_hourz" in result.stderr


def test_replay_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(tmp_path / "none.jsonl")])
    assert result.exit_code != 0


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["replay", "--help"])
    assert "Example: reachguard replay" in result.stdout
