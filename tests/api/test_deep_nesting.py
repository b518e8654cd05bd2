"""JSON nested deeper than msgspec's recursion limit is malformed input everywhere JSON comes in.

Why: msgspec raises RecursionError (not a DecodeError) for about a thousand levels of `[`, when
it has to skip a value — an unknown field before the `type` tag, or a value of any type. It
went through every handler: a 500 from the API (a whole NDJSON import lost with it), a
traceback from `replay` and `report --file`, and no line after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from apikit import AT, NUMBER, Api, assert_error, attempt
from reachguard.cli import app
from reachguard.events import EventError, decode_event

DEEP = "[" * 5000 + "]" * 5000
NESTED = '{"x": ' + DEEP + "}"  # the unknown field comes before `type`: skipped while looking for the tag
runner = CliRunner()


def test_decode_event_calls_it_malformed() -> None:
    with pytest.raises(EventError) as caught:
        decode_event(NESTED.encode())
    assert caught.value.code == "MALFORMED_JSON" and "nested too deeply" in caught.value.message


@pytest.mark.parametrize("path, body, role", [
    ("/v1/decisions", NESTED, "sender"),
    ("/v1/events", NESTED, "compliance"),
    ("/v1/classify", DEEP, "sender"),  # any JSON value: decoded whole
])
def test_the_api_answers_400(api: Api, path: str, body: str, role: str) -> None:
    error = assert_error(api.post(path, body.encode(), role=role), 400, "MALFORMED_JSON")
    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize("path, body", [
    ("/v1/decisions:batch", "[" + NESTED + "]"), ("/v1/inbound/sms", NESTED), ("/v1/reports", NESTED)])
def test_bodies_of_one_type_stop_at_the_unknown_field(api: Api, path: str, body: str) -> None:
    assert_error(api.post(path, body.encode(), role="sender"), 422, "UNKNOWN_FIELD")


def test_an_import_reports_the_line_and_applies_the_others(api: Api) -> None:
    good = json.dumps({"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT})
    other = json.dumps({"type": "consent", "org": "acme", "to": "+8613900139000", "purpose": "marketing", "at": AT})
    response = api.post("/v1/import/consents", f"{good}\n{NESTED}\n{other}\n", role="compliance",
                        headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["accepted"] == 2 and [(e["line"], e["code"]) for e in report["errors"]] == [(2, "MALFORMED_JSON")]
    assert api.post("/v1/decisions", attempt()).json()["verdict"] == "allow"  # the consent before it was applied


def test_replay_prints_an_error_line_and_goes_on(tmp_path: Path) -> None:
    line = json.dumps(attempt(purpose="service"))
    events = tmp_path / "events.jsonl"
    events.write_text(f"{line}\n{NESTED}\n{line}\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", str(events), "--no-progress"])
    assert result.exit_code == 0, result.output
    out = [json.loads(text) for text in result.stdout.splitlines()]
    assert [o.get("verdict") or o["error"]["code"] for o in out] == ["allow", "MALFORMED_JSON", "allow"]


@pytest.mark.parametrize("command", [["review", "--purpose", "collection", "--json", "-"], ["classify", "--json", "-"]])
def test_review_and_classify_print_an_error_line_and_go_on(command: list[str]) -> None:
    """Their lines have one type: the unknown field stops the decoder before it descends."""
    text = json.dumps({"text": "您的借款已逾期3天，请尽快还款"}, ensure_ascii=False)
    result = runner.invoke(app, command, input=f"{text}\n{NESTED}\n{text}\n")
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 3 and out[1]["error"]["code"] == "UNKNOWN_FIELD" and "error" not in out[2], result.output


def test_report_file_prints_an_error_line_and_loads_the_rest(tmp_path: Path) -> None:
    report = json.dumps({"type": "report", "to": NUMBER, "label": "fraud", "reporter": "r1", "at": AT})
    lines = tmp_path / "reports.jsonl"
    lines.write_text(f"{NESTED}\n{report}\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    result = runner.invoke(app, ["report", "--file", str(lines), "--db", db])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert json.loads(result.stdout.splitlines()[0])["error"]["code"] == "MALFORMED_JSON"
    looked = json.loads(runner.invoke(app, ["lookup", NUMBER, "--json", "--db", db, "--at", AT]).stdout)
    assert looked["reporters"] == 1
