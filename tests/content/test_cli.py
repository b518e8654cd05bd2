"""`reachguard review`: one text or JSON Lines, --json output, error lines that do not stop."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from reachguard.cli import app

runner = CliRunner()
CLEAN = "【安心借】您尾号6621的借款本期应还1,280.00元，已逾期3天，请通过安心借App还款。"
THREAT = "【安心借】您尾号6621的借款本期应还1,280.00元，已逾期3天，请通过安心借App还款，否则后果自负。"


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_help_explains_with_an_example() -> None:
    result = runner.invoke(app, ["review", "--help"])
    assert result.exit_code == 0
    assert "Review a draft SMS" in result.output and "reachguard review --purpose" in result.output


def test_single_text_json() -> None:
    result = runner.invoke(app, ["review", "--purpose", "collection", "--relation", "borrower", "--json", THREAT])
    assert result.exit_code == 0, result.output
    [line] = _lines(result.output)
    assert line["id"] is None and line["chars"] == len(THREAT) and line["segments"] == 1
    [finding] = line["findings"]
    assert finding["code"] == "THREAT" and finding["evidence"] == "后果自负"
    start, end = finding["span"]
    assert THREAT[start:end] == "后果自负"
    assert set(finding) == {"code", "span", "evidence", "message", "citation"}


def test_single_text_human_output_highlights() -> None:
    result = runner.invoke(app, ["review", "--purpose", "collection", "--relation", "borrower", THREAT])
    assert result.exit_code == 0, result.output
    assert "THREAT" in result.output and "后果自负" in result.output and "blocked" in result.output
    clean = runner.invoke(app, ["review", "--purpose", "collection", CLEAN])
    assert "clean" in clean.output and "THREAT" not in clean.output


def test_relation_defaults_and_channel() -> None:
    text = "您好，您在我们这里有一笔欠款，请尽快处理。"
    sms = _lines(runner.invoke(app, ["review", "--purpose", "collection", "--json", text]).output)[0]
    call = _lines(runner.invoke(app, ["review", "--purpose", "collection", "--channel", "call", "--json", text]).output)[0]
    assert {f["code"] for f in sms["findings"]} == {"MISSING_SENDER_SIGNATURE", "MISSING_DEBT_DETAILS"}
    assert {f["code"] for f in call["findings"]} == {"MISSING_DEBT_DETAILS"}


def test_bad_options_are_usage_errors() -> None:
    assert runner.invoke(app, ["review", "--purpose", "spam", "x"]).exit_code == 2
    assert runner.invoke(app, ["review", "x"]).exit_code == 2  # a single text needs --purpose


def test_json_lines_stream_with_errors_that_do_not_stop_it() -> None:
    good = json.dumps({"id": "a1", "purpose": "collection", "relation": "borrower", "text": THREAT}, ensure_ascii=False)
    contact = json.dumps({"id": 7, "purpose": "collection", "relation": "contact", "text": "【安心借】请转告张伟，他的借款已逾期。"}, ensure_ascii=False)
    lines = [
        good.encode(),
        b"{not json",
        json.dumps({"id": "x", "purpose": "collection", "text": "hi", "colour": "red"}).encode(),
        json.dumps({"id": "y", "purpose": "collection", "text": "贷" * 10_001}, ensure_ascii=False).encode(),
        b'{"id": "z", "purpose": "collection", "text": "\xff\xfe"}',
        json.dumps({"id": "p", "purpose": "nonsense", "text": "hi"}).encode(),
        b"",
        contact.encode(),
    ]
    result = runner.invoke(app, ["review", "--json", "-"], input=b"\n".join(lines) + b"\n")
    assert result.exit_code == 1  # some lines were rejected
    out = _lines(result.output)
    assert out[0]["id"] == "a1" and [f["code"] for f in out[0]["findings"]] == ["THREAT"]
    errors = [o["error"] for o in out[1:6]]
    assert [(e["code"], e["line"]) for e in errors] == [
        ("MALFORMED_JSON", 2),
        ("UNKNOWN_FIELD", 3),
        ("TEXT_TOO_LONG", 4),
        ("INVALID_UTF8", 5),
        ("INVALID_FIELD", 6),
    ]
    assert all(e["message"] for e in errors)
    assert out[6]["id"] == 7 and {f["code"] for f in out[6]["findings"]} == {"THIRD_PARTY_DISCLOSURE"}
    assert len(out) == 7


def test_stream_uses_option_defaults_and_needs_a_purpose() -> None:
    line = json.dumps({"id": "a", "text": CLEAN}, ensure_ascii=False).encode()
    ok = runner.invoke(app, ["review", "--purpose", "collection", "--json", "-"], input=line + b"\n")
    assert ok.exit_code == 0 and _lines(ok.output) == [{"id": "a", "findings": [], "chars": len(CLEAN), "segments": 1}]
    missing = runner.invoke(app, ["review", "--json", "-"], input=line + b"\n")
    assert _lines(missing.output)[0]["error"]["code"] == "MISSING_FIELD"


def test_org_lexicon_option(tmp_path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text("phrases:\n  THREAT: [派人过去]\n", encoding="utf-8")
    text = CLEAN + "否则派人过去。"
    result = runner.invoke(app, ["review", "--purpose", "collection", "--json", "--lexicon", str(path), text])
    assert [f["code"] for f in _lines(result.output)[0]["findings"]] == ["THREAT"]
    bad = runner.invoke(app, ["review", "--purpose", "collection", "--lexicon", str(tmp_path / "nope.yaml"), text])
    assert bad.exit_code == 2


@pytest.mark.parametrize("content", ["phrases: [1,2]\n", "phrases: {THREAT: [1]}\n", "{{{{\n"])
def test_malformed_lexicon_is_a_clean_error(tmp_path, content: str) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["review", "--purpose", "collection", "--lexicon", str(path), CLEAN])
    assert result.exit_code == 2, result.output
    assert f"error: cannot load lexicon {path}: " in result.output and "Traceback" not in result.output


def test_single_text_that_is_not_utf8_is_an_error_line() -> None:
    """Python decodes argv with surrogateescape: the byte 0xFF arrives as U+DCFF. The text gets
    the INVALID_UTF8 error line the stdin lines get (exit 1), not a review of mangled text."""
    result = runner.invoke(app, ["review", "--purpose", "marketing", "--json", "hello \udcff there"])
    assert result.exit_code == 1, result.output
    [line] = _lines(result.output)
    assert line == {"error": {"code": "INVALID_UTF8", "message": "the text is not valid UTF-8 (byte 6)", "line": None}}
