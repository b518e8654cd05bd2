"""SQLite store settings as the commands take them (`--db`, REACHGUARD_DB_URL): the URL forms
SQLAlchemy reads, and a refusal (exit 2, or replay's 3 for a store it cannot open) naming the
problem for anything else, instead of a throw-away in-memory store or a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reachguard.cli import app
from reachguard.store import BadDatabaseUrl, SQLiteStore, StoreUnavailable, open_store
from reachguard.store.sqlite import sqlite_path

runner = CliRunner()
CONSENT = {"type": "consent", "org": "acme", "to": "+8613800138000", "purpose": "marketing",
           "at": "2026-11-20T10:00:00+08:00"}


@pytest.mark.parametrize("given, path", [
    ("rg.db", "rg.db"),
    ("./data/rg.db", "./data/rg.db"),
    (":memory:", ":memory:"),
    ("sqlite:///rg.db", "rg.db"),
    ("sqlite:////var/lib/rg.db", "/var/lib/rg.db"),
    ("sqlite:///:memory:", ":memory:"),
    ("sqlite://", ":memory:"),  # SQLAlchemy's in-memory form
])
def test_sqlite_url_forms_are_read_as_sqlalchemy_reads_them(given: str, path: str) -> None:
    assert sqlite_path(given) == path


@pytest.mark.parametrize("url", ["sqlite://rel.db", "sqlite://host/rel.db", "sqlite:///", "sqlite:rel.db",
                                 "sqlite:///rel.db?mode=ro"])
def test_a_malformed_sqlite_url_is_refused_not_an_in_memory_store(url: str) -> None:
    """These used to open a throw-away in-memory store (`sqlite://…`, `sqlite:///`) or a file
    named after the whole URL (`sqlite:…`, a `?` query): whatever was written there was lost."""
    with pytest.raises(BadDatabaseUrl, match=r"^bad database URL: "):
        sqlite_path(url)
    with pytest.raises(BadDatabaseUrl):
        open_store(url)


def test_keys_create_on_sqlite_two_slashes_exits_2_and_prints_no_key(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "sender", "--db", "sqlite://rel.db"])
    assert out.exit_code == 2, out.output
    assert "bad database URL: 'sqlite://rel.db'" in out.stderr and "sqlite:///relative/path.db" in out.stderr
    assert "rg_" not in out.stdout and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("form", ["sqlite:///{rel}", "sqlite:///{abs}"])
def test_keys_created_through_a_sqlite_url_are_in_that_file(form: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = form.format(rel="rel.db", abs=tmp_path / "abs.db")
    created = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "sender", "--db", url])
    assert created.exit_code == 0, created.output
    key_id = created.stdout.split()[2]
    listed = runner.invoke(app, ["keys", "list", "--db", str(tmp_path / ("rel.db" if "rel" in form else "abs.db"))])
    assert key_id in listed.stdout


def test_replay_with_an_explicit_empty_db_is_refused(tmp_path: Path) -> None:
    """`--db "$UNSET"` used to replay into the throw-away store and exit 0: nothing kept."""
    stream = tmp_path / "s.jsonl"
    stream.write_text(json.dumps(CONSENT) + "\n")
    out = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", ""])
    assert out.exit_code == 2, out.output
    assert "bad database URL: it is empty" in out.stderr and out.stdout == ""
    with pytest.raises(BadDatabaseUrl):
        open_store("")


def test_a_file_that_is_not_a_database_is_store_unavailable(tmp_path: Path) -> None:
    """connect() reads nothing; the first statement used to raise sqlite3.DatabaseError."""
    notdb = tmp_path / "notdb.db"
    notdb.write_text("hello\n")
    with pytest.raises(StoreUnavailable, match=f"cannot open SQLite store {notdb}: file is not a database"):
        SQLiteStore(str(notdb))
    assert notdb.read_text() == "hello\n"


@pytest.mark.parametrize("command, code", [
    (["keys", "list"], 2),
    (["audit", "verify"], 2),
    (["lookup", "13800138000"], 2),
    (["db", "upgrade"], 2),
    (["replay", "{stream}", "--no-progress"], 3),  # replay's exit for a store it cannot use
])
def test_every_command_reports_a_file_that_is_not_a_database(command: list[str], code: int, tmp_path: Path) -> None:
    notdb = tmp_path / "notdb.db"
    notdb.write_text("hello\n")
    stream = tmp_path / "s.jsonl"
    stream.write_text(json.dumps(CONSENT) + "\n")
    args = [arg.format(stream=stream) for arg in command]
    out = runner.invoke(app, [*args, "--db", str(notdb)])
    assert out.exit_code == code, out.output
    assert f"cannot open SQLite store {notdb}: file is not a database" in out.stderr
    assert out.exception is None or isinstance(out.exception, SystemExit)


@pytest.mark.parametrize("args", [["keys", "create", "--org", "acme", "--role", "sender"], ["keys", "list"],
                                  ["db", "upgrade"], ["db", "current"]])
def test_keys_and_db_refuse_an_explicit_empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    """They took `--db ''` for "not given" and made ./reachguard.db (a key in it, for keys create)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REACHGUARD_DB_URL", raising=False)
    out = runner.invoke(app, [*args, "--db", ""])
    assert out.exit_code == 2 and "bad database URL" in out.output, out.output
    assert list(tmp_path.iterdir()) == []
