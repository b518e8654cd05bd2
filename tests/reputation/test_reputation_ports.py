"""Chinese SMS service ports (106…) can be reported, looked up and registered; phone numbers
keep exactly the form `numbers.normalize` gives them, and the engine's normaliser is unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from reachguard import reputation
from reachguard.numbers import normalize, try_normalize
from reachguard.reputation.ports import is_port, reportable, try_reportable
from reachguard.store import SQLiteStore

AT = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize("raw, expected", [
    ("10690000123", "10690000123"),
    ("1069 0123 4567 8", "1069012345678"),
    ("106-980-095-588", "106980095588"),
    ("+86 10655059555", "10655059555"),
    ("0086106575000123456", "106575000123456"),
    ("１０６９００００１２３", "10690000123"),
    # phone numbers: exactly what numbers.normalize says, including its reading of a
    # 10-digit 1069… as a Beijing landline (+86 10 69xxxxxx)
    ("138 0013 8000", "+8613800138000"),
    ("1069000012", "+861069000012"),
    ("010 6900 0012", "+861069000012"),
])
def test_reportable_forms(raw: str, expected: str) -> None:
    assert reportable(raw) == expected
    assert is_port(expected) == (not expected.startswith("+"))
    if expected.startswith("+"):
        assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["1069", "106123", "10612345678901234567890", "1070000123456", "106x0000123",
                                 "10086", "95588", "", "port 10690000123", "+1 10690000123"])
def test_not_reportable(raw: str) -> None:
    assert try_reportable(raw) is None
    with pytest.raises(reputation.InvalidNumber):
        reportable(raw)


def test_engine_normaliser_still_refuses_ports() -> None:
    assert try_normalize("10690000123") is None and try_normalize("106980095588") is None


def test_port_reported_looked_up_and_registered(tmp_path) -> None:
    store = SQLiteStore(str(tmp_path / "r.db"))
    try:
        for who in ("a", "b", "c"):
            assert reputation.record_report(store, "1069 0000 123", "loan_marketing", who, AT) == "10690000123"
        rep = reputation.lookup(store, "+86 10690000123", AT + timedelta(days=1))
        assert rep.number == "10690000123" and rep.label == "loan_marketing" and rep.reporters == 3
        assert reputation.register_sender_number(store, "10690000123", "acme") == "10690000123"
        assert reputation.lookup(store, "10690000123", AT + timedelta(days=1)).owner.org == "acme"
        with pytest.raises(reputation.InvalidNumber):
            reputation.record_report(store, "106123", "fraud", "a", AT)
    finally:
        store.close()


def test_port_through_the_cli(tmp_path) -> None:
    import json

    from typer.testing import CliRunner

    from reachguard.cli import app

    runner = CliRunner()
    db = str(tmp_path / "r.db")
    one = runner.invoke(app, ["report", "--db", db, "--to", "1069 0000 123", "--label", "fraud", "--reporter", "u1",
                              "--at", "2026-11-01T10:00:00+08:00"])
    assert one.exit_code == 0 and "10690000123" in one.stdout, one.output
    lines = tmp_path / "reports.jsonl"
    lines.write_text("\n".join(json.dumps({"type": "report", "to": to, "label": "fraud", "reporter": "u2",
                                           "at": "2026-11-01T11:00:00+08:00"}) for to in ("10690000123", "106123")) + "\n")
    many = runner.invoke(app, ["report", "--db", db, "--file", str(lines)])
    assert '"INVALID_NUMBER"' in many.stdout and '"line": 2' in many.stdout.replace('"line":2', '"line": 2')
    looked = runner.invoke(app, ["lookup", "10690000123", "--db", db, "--json", "--at", "2026-11-02T10:00:00+08:00"])
    assert looked.exit_code == 0, looked.output
    body = json.loads(looked.stdout)
    assert body["number"] == "10690000123" and body["reporters"] == 2 and body["label"] == "fraud"
