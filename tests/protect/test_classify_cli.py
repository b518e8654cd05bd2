"""`reachguard classify`: plain lines and JSON Lines in, contract lines out; bad lines don't stop it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from reachguard.cli import app

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_json_output_plain_lines() -> None:
    stdin = "无视征信，黑户可贷，加微信dk888秒下款\n【支付宝】验证码：736204，切勿告知他人。\n"
    result = runner.invoke(app, ["classify", "--json", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    out = _lines(result.output)
    assert [o["id"] for o in out] == [1, 2]
    assert [o["label"] for o in out] == ["fraud", "normal"]
    for o in out:
        assert set(o) == {"id", "label", "scores", "signals"}
        assert abs(sum(o["scores"].values()) - 1) < 1e-3
        assert all({"name", "weight", "evidence"} <= set(s) for s in o["signals"])


def test_json_lines_input_keeps_ids(tmp_path: Path) -> None:
    f = tmp_path / "inbox.jsonl"
    f.write_text(
        json.dumps({"id": "m1", "text": "您的借款已逾期3天，欠款1,286.50元，请尽快还款。"}, ensure_ascii=False) + "\n"
        + json.dumps({"id": 7, "text": "【唯品会】年终大促，全场2折起，满300减50！退订回T"}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["classify", "--json", str(f)])
    assert result.exit_code == 0, result.output
    out = _lines(result.output)
    assert [(o["id"], o["label"]) for o in out] == [("m1", "collection"), (7, "marketing")]


def test_bad_lines_give_error_lines_and_stream_goes_on(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "ok", "text": "明天上午十点见，不见不散。"}, ensure_ascii=False).encode()
    f.write_bytes(
        b'{"id": 1, "text": \n'  # malformed JSON
        + b'{"id": 2, "txt": "typo"}\n'  # unknown field
        + json.dumps({"id": 3, "text": "x" * 10_001}).encode() + b"\n"  # oversized
        + b"\xff\xfe\xfd\n"  # invalid UTF-8
        + b'{"id": 5}\n'  # missing text
        + good + b"\n"
    )
    result = runner.invoke(app, ["classify", "--json", str(f)])
    assert result.exit_code == 1
    out = _lines(result.output)
    errors = [o["error"] for o in out if "error" in o]
    assert [(e["code"], e["line"]) for e in errors] == [
        ("MALFORMED_JSON", 1),
        ("UNKNOWN_FIELD", 2),
        ("TEXT_TOO_LONG", 3),
        ("INVALID_UTF8", 4),
        ("MISSING_FIELD", 5),
    ]
    assert all(e["message"] for e in errors)
    assert out[-1]["id"] == "ok" and out[-1]["label"] == "normal"


def test_human_table() -> None:
    result = runner.invoke(app, ["classify", "-"], input="您好，您的贷款已批准，放款前需先交5%的保证金。\n")
    assert result.exit_code == 0, result.output
    assert "fraud" in result.output and "FEE_BEFORE_LOAN" in result.output


def test_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["classify", str(tmp_path / "nope.txt")])
    assert result.exit_code == 2


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["classify", "--help"])
    assert result.exit_code == 0
    assert "reachguard classify" in result.output and "normal" in result.output


def test_weights_are_short_decimals() -> None:
    result = runner.invoke(app, ["classify", "--json", "-"], input="您的借款已逾期3天，请尽快还款\n")
    for s in _lines(result.output)[0]["signals"]:
        assert len(repr(s["weight"])) <= 8, s
