"""`reachguard scrub --db postgresql://…` end to end, with and without Redis (REACHGUARD_REDIS_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from worldkit import World

from test_scrub_agrees_pg import contacts, redis_only_contact
from test_scrub_cli import AT, OK, rows, write

runner = CliRunner()
LIST = "name,phone\na,138 0013 8000\nb,13800138001\nc,+86 138-0013-8000\nd,not a number\ne,13800138002\n"


@pytest.fixture(params=["postgres", "postgres+redis"])
def pg(request: pytest.FixtureRequest, new_store: Any, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    store = new_store(request.param)
    w = World(store=store)
    w.consent(to=OK)
    w.consent(to="+8613800138002")
    monkeypatch.delenv("REACHGUARD_REDIS_URL", raising=False)
    monkeypatch.delenv("REACHGUARD_CONFIG", raising=False)
    if store.uses_redis:  # the CLI finds the same counters through the URL's prefix
        monkeypatch.setenv("REACHGUARD_REDIS_URL", f"{redis_url}?prefix={store.counters.prefix}")
    return store


def scrub(store: Any, source: Path, *extra: str) -> Any:
    args = ["scrub", str(source), "--db", store.url, "--org", "acme", "--purpose", "marketing", "--channel", "sms",
            "--at", AT, "--no-progress", "--out", str(source.with_name("allowed.csv"))]
    return runner.invoke(app, args + list(extra))


def test_scrub_on_postgres(pg: Any, tmp_path: Path) -> None:
    before = contacts(pg)
    source = write(tmp_path / "list.csv", LIST)
    result = scrub(pg, source)
    assert result.exit_code == 0, result.output
    assert [r["name"] for r in rows(tmp_path / "allowed.csv")] == ["a", "e"]
    assert [(r["name"], r["reasons"]) for r in rows(tmp_path / "allowed.rejected.csv")] == [
        ("b", "NO_CONSENT"), ("c", "DUPLICATE"), ("d", "INVALID_NUMBER")]
    assert contacts(pg) == before
    if pg.uses_redis:  # a contact in Redis only (its PostgreSQL copy in flight): the daily cap is full
        redis_only_contact(pg, "+8613800138002", "2026-11-23T09:00:00+08:00")
        result = scrub(pg, source)
        assert result.exit_code == 0, result.output
        assert [r["name"] for r in rows(tmp_path / "allowed.csv")] == ["a"]
        assert ("e", "FREQUENCY_CAP") in [(r["name"], r["reasons"]) for r in rows(tmp_path / "allowed.rejected.csv")]


def test_reserve_is_refused_and_bad_lists_change_nothing(pg: Any, tmp_path: Path) -> None:
    before = contacts(pg)
    source = write(tmp_path / "list.csv", LIST)
    result = scrub(pg, source, "--reserve")
    assert result.exit_code == 2 and "INVALID_OPTION" in result.output and "--reserve" in result.output
    bad = write(tmp_path / "bad.csv", "name,phone\na,\"unterminated\nb,1\n")
    result = scrub(pg, bad)
    assert result.exit_code == 2 and "MALFORMED_CSV" in result.output
    missing = write(tmp_path / "nophone.csv", "name,email\na,x@y\n")
    assert scrub(pg, missing).exit_code == 2
    assert not (tmp_path / "allowed.csv").exists() and not (tmp_path / "allowed.rejected.csv").exists()
    assert contacts(pg) == before


def test_unknown_database_is_no_store(pg_server_url: str, tmp_path: Path) -> None:
    source = write(tmp_path / "list.csv", LIST)
    url = pg_server_url.rsplit("/", 1)[0] + "/no_such_database_rg"
    result = runner.invoke(app, ["scrub", str(source), "--db", url, "--org", "acme", "--purpose", "marketing",
                                 "--channel", "sms", "--at", AT, "--no-progress", "--out", str(tmp_path / "a.csv")])
    assert result.exit_code == 2 and "cannot open the store" in result.output
    assert not (tmp_path / "a.csv").exists()
