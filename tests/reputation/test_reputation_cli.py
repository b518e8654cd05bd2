"""`reachguard replay` accepts report events (validated like every event); `report`, `lookup`,
`appeal` and `sender-numbers` on a store file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from reachguard.cli import app

runner = CliRunner()
AT = "2026-11-01T10:00:00+08:00"


def _report(**fields) -> str:
    return json.dumps({"type": "report", "to": "138 0013 8000", "label": "collection", "reporter": "u1", "at": AT, **fields},
                      ensure_ascii=False)


def test_replay_validates_and_stores_reports(tmp_path) -> None:
    db = str(tmp_path / "r.db")
    lines = [
        _report(),
        _report(reporter="u2", text="您已逾期"),
        _report(colour="red"),
        _report(label="spam"),
        _report(to="12345"),
        _report(at="2026-11-01T10:00:00"),
        json.dumps({"type": "attempt", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000", "at": AT}),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["replay", str(events), "--db", db, "--no-progress"])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["error"]["code"] for o in out[:4]] == ["UNKNOWN_FIELD", "INVALID_FIELD", "INVALID_NUMBER", "TIME_WITHOUT_OFFSET"]
    assert [o["error"]["line"] for o in out[:4]] == [3, 4, 5, 6]
    assert out[4]["verdict"] == "deny"  # no consent: the attempt is still answered
    looked = runner.invoke(app, ["lookup", "13800138000", "--json", "--db", db, "--at", "2026-11-02T10:00:00+08:00"])
    assert looked.exit_code == 0, looked.output
    rep = json.loads(looked.stdout)
    assert (rep["label"], rep["reporters"], rep["reports"]) == ("collection", 2, 2)
    assert "u1" not in looked.stdout and "您已逾期" not in looked.stdout
    import sqlite3

    with sqlite3.connect(db) as conn:  # reports are not ledger entries (the ledger would keep the reporter)
        assert conn.execute("SELECT count(*) FROM ledger WHERE kind = 'report'").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM reports").fetchone()[0] == 2


def test_report_lookup_appeal_commands(tmp_path) -> None:
    db = str(tmp_path / "c.db")
    ok = runner.invoke(app, ["report", "--to", "+86 138 0013 8000", "--label", "fraud", "--reporter", "r9", "--db", db])
    assert ok.exit_code == 0 and "+8613800138000" in ok.stdout
    bad = runner.invoke(app, ["report", "--to", "12", "--label", "fraud", "--reporter", "r9", "--db", db])
    assert bad.exit_code == 1
    naive = runner.invoke(app, ["report", "--to", "13800138000", "--label", "fraud", "--reporter", "r9", "--db", db,
                                "--at", "2026-11-01T10:00:00"])
    assert naive.exit_code == 2
    for command in (["report", "--to", "13800138000", "--label", "fraud", "--reporter", "r9"], ["lookup", "13800138000"],
                    ["appeal", "13800138000", "--org", "acme", "--reason", "ours"]):
        far = runner.invoke(app, [*command, "--db", db, "--at", "9999-12-31T23:59:59-14:00"])  # a traceback before
        assert far.exit_code == 2 and "Time out of range" in far.output, far.output
    refused = runner.invoke(app, ["appeal", "13800138000", "--org", "acme", "--reason", "ours", "--db", db])
    assert refused.exit_code == 1
    assert runner.invoke(app, ["sender-numbers", "add", "13800138000", "--org", "acme", "--db", db]).exit_code == 0
    assert runner.invoke(app, ["appeal", "13800138000", "--org", "acme", "--reason", "ours", "--db", db]).exit_code == 0
    table = runner.invoke(app, ["lookup", "13800138000", "--db", db])
    assert table.exit_code == 0 and "acme (verified)" in table.stdout and "诈骗" in table.stdout
    invalid = runner.invoke(app, ["lookup", "nope", "--json", "--db", db])
    assert invalid.exit_code == 1 and json.loads(invalid.stdout)["error"]["code"] == "INVALID_NUMBER"
    bulk = tmp_path / "bulk.jsonl"
    bulk.write_text(_report(reporter="b1") + "\n" + _report(reporter="b2", label="oops") + "\n", encoding="utf-8")
    args = ["lookup", "13800138000", "--json", "--db", db, "--at", "2026-11-02T10:00:00+08:00"]
    before = json.loads(runner.invoke(app, args).stdout)["reporters"]
    loaded = runner.invoke(app, ["report", "--file", str(bulk), "--db", db])
    assert loaded.exit_code == 1 and json.loads(loaded.stdout)["error"]["line"] == 2  # as classify and review
    assert json.loads(runner.invoke(app, args).stdout)["reporters"] == before + 1  # folded when the load ends


def test_report_file_exit_status_is_that_of_classify_and_review(tmp_path) -> None:
    """0 when every line was stored, 1 when some (here: every) line was rejected."""
    db = str(tmp_path / "r.db")
    good, bad = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good.write_text(_report() + "\n", encoding="utf-8")
    bad.write_text(_report(label="oops") + "\n" + _report(to="12") + "\n", encoding="utf-8")
    assert runner.invoke(app, ["report", "--file", str(good), "--db", db]).exit_code == 0
    rejected = runner.invoke(app, ["report", "--file", str(bad), "--db", db])
    assert rejected.exit_code == 1, rejected.output
    assert [json.loads(line)["error"]["line"] for line in rejected.stdout.splitlines()] == [1, 2]


def test_report_file_fold_every_changes_when_not_what(tmp_path) -> None:
    """--fold-every 0 folds once, at the end of the load; every size gives the same lookups."""
    lines = [_report(reporter=f"f{i % 4}", label=("fraud", "collection", "harassment")[i % 3]) for i in range(11)]
    bulk = tmp_path / "many.jsonl"
    bulk.write_text("\n".join(lines) + "\n", encoding="utf-8")
    answers = []
    for every in ("0", "1", "3", "200000"):
        db = str(tmp_path / f"fold{every}.db")
        loaded = runner.invoke(app, ["report", "--file", str(bulk), "--db", db, "--fold-every", every])
        assert loaded.exit_code == 0, loaded.output
        looked = runner.invoke(app, ["lookup", "13800138000", "--json", "--db", db, "--at", "2026-11-02T10:00:00+08:00"])
        answers.append(json.loads(looked.stdout))
    assert answers[0]["reporters"] == 4 and answers[0]["reports"] == 11
    assert all(answer == answers[0] for answer in answers)
    refused = runner.invoke(app, ["report", "--file", str(bulk), "--db", str(tmp_path / "x.db"), "--fold-every", "-1"])
    assert refused.exit_code == 2 and "--fold-every" in refused.output
