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


def fail_mid_scrub(monkeypatch: pytest.MonkeyPatch, store: Any, how: str) -> list[Any]:
    """When the engine first loads states, make the scrub's snapshot connection fail for real:
    `kill` has the server terminate it; `break` leaves it alive, its transaction failing (a
    search_path with no tables). Returns the snapshot connection."""
    from reachguard.scrub.snapshot_pg import PgView

    load_states = PgView.load_states
    failed: list[Any] = []

    def failing(self: Any, queries: Any) -> Any:
        if not failed:
            failed.append(self.conn)
            if how == "kill":
                with store.read() as conn:
                    assert conn.execute("SELECT pg_terminate_backend(%s, 5000)", (self.conn.info.backend_pid,)).fetchone()[0]
            else:
                self.conn.execute("SET LOCAL search_path TO rg_no_such_schema")
        return load_states(self, queries)

    monkeypatch.setattr(PgView, "load_states", failing)
    return failed


@pytest.mark.parametrize("how", ["kill", "break"])
def test_postgres_failing_mid_scrub_is_unavailable(pg: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """docs/scrub.md: a store failing mid-scrub is exit 3, UNAVAILABLE (not a traceback), nothing
    written; the failed connection is invalidated, not handed back to the pool (whose next
    user would get it: the pool is LIFO, without pre-ping), so the next scrub works."""
    from sqlalchemy import event

    invalidated: list[Any] = []
    listener = lambda dbapi, record, exc: invalidated.append(dbapi)  # noqa: E731
    event.listen(pg.engine.pool, "invalidate", listener)
    try:
        failed = fail_mid_scrub(monkeypatch, pg, how)
        source = write(tmp_path / "list.csv", LIST)
        result = scrub(pg, source)
        assert result.exit_code == 3, (result.output, result.exception)
        assert "UNAVAILABLE" in result.output and "PostgreSQL" in result.output
        assert not (tmp_path / "allowed.csv").exists() and not (tmp_path / "allowed.rejected.csv").exists()
        assert failed and any(conn is failed[0] for conn in invalidated)
        monkeypatch.undo()
        again = scrub(pg, source)
        assert again.exit_code == 0, again.output
        assert [r["name"] for r in rows(tmp_path / "allowed.csv")] == ["a", "e"]
    finally:
        event.remove(pg.engine.pool, "invalidate", listener)


def test_contacts_recorded_while_judging_reject_no_row(new_store: Any, tmp_path: Path) -> None:
    """PostgreSQL + Redis: a campaign sends to the list's first and last numbers (through decide)
    after the export read Redis, while the engine judges. The signature group's representatives
    are exactly those two rows; judged on live Redis they would get FREQUENCY_CAP, copied to the
    middle row, which no one ever contacted (review finding). Judged on the export's read, every
    row has the state of that read: all three allowed, as decide would have answered then."""
    from datetime import datetime

    from reachguard.engine import Gateway
    from reachguard.model import Attempt
    from reachguard.scrub import run_scrub

    store = new_store("postgres+redis")
    numbers = ["+8613800138000", "+8613800138001", "+8613800138002"]
    world = World(store=store)
    for number in numbers:
        world.consent(to=number)
    source = write(tmp_path / "list.csv", "name,phone\n" + "".join(f"r{i},{n}\n" for i, n in enumerate(numbers)))
    at = datetime.fromisoformat(AT)
    sent: list[str] = []

    def progress(stage: str, done: float) -> None:
        if stage == "state" and done >= 0.5 and not sent:  # the export (and its Redis read) has finished
            gateway = Gateway(store)
            for number in (numbers[0], numbers[-1]):
                assert gateway.decide(Attempt(org="acme", channel="sms", purpose="marketing", to=number, at=at)).verdict == "allow"
                sent.append(number)

    report = run_scrub(source, store=store, org="acme", purpose="marketing", channel="sms", at=at,
                       out=tmp_path / "allowed.csv", progress=progress)
    assert sent and report.signatures == 1 and report.judged_row_by_row == 0
    assert [r["name"] for r in rows(tmp_path / "allowed.csv")] == ["r0", "r1", "r2"]
    # the next scrub reads those contacts: the daily cap is full for the first and last only
    run_scrub(source, store=store, org="acme", purpose="marketing", channel="sms", at=at, out=tmp_path / "allowed.csv")
    assert [r["name"] for r in rows(tmp_path / "allowed.csv")] == ["r1"]
    assert [(r["name"], r["reasons"]) for r in rows(tmp_path / "allowed.rejected.csv")] == [
        ("r0", "FREQUENCY_CAP"), ("r2", "FREQUENCY_CAP")]


@pytest.mark.parametrize("purpose", ["collection", "marketing"])
def test_nul_in_a_subject_or_relation_is_invalid_field_on_every_store(new_store: Any, tmp_path: Path, purpose: str) -> None:
    """PostgreSQL's text cannot hold a NUL (its state statement failed with DataError; SQLite
    took it): a subject or relation cell with one is INVALID_FIELD, the same on every store."""
    from datetime import datetime

    from reachguard.scrub import run_scrub

    text = ("name,phone,subject,relation\na,13800138000,L\x001,borrower\nb,13800138001,L2,borrower\x00\n"
            "c,13800138002,L3,borrower\nd,13800138003,\x00,\n")
    source = write(tmp_path / "list.csv", text)
    answers = {}
    for kind in ("sqlite", "postgres", "postgres+redis"):
        store = new_store(kind)
        World(store=store).consent(to="+8613800138002")
        out = tmp_path / f"{kind}.csv"
        run_scrub(source, store=store, org="acme", purpose=purpose, channel="sms", at=datetime.fromisoformat(AT), out=out)
        answers[kind] = [(r["name"], r["reasons"]) for r in rows(out.with_name(f"{kind}.rejected.csv"))]
    assert answers["postgres"] == answers["sqlite"] == answers["postgres+redis"]
    assert answers["sqlite"][:2] == [("a", "INVALID_FIELD"), ("b", "INVALID_FIELD")]
    assert ("d", "INVALID_FIELD") in answers["sqlite"] and "c" not in dict(answers["sqlite"][:2])
