"""Every command takes the same store setting: `--db postgresql://…` or REACHGUARD_DB_URL, plus
REACHGUARD_REDIS_URL for the counters. replay, audit, keys and templates on the production
backends give what they give on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reachguard.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "events.jsonl"
STREAM = [
    {"type": "consent", "org": "acme", "to": "+8613800138000", "purpose": "marketing", "at": "2026-11-20T10:00:00+08:00"},
    {"type": "attempt", "id": "a1", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000",
     "at": "2026-11-22T10:00:00+08:00"},
    {"type": "attempt", "id": "a2", "org": "acme", "channel": "sms", "purpose": "marketing", "to": "13800138000",
     "at": "2026-11-22T11:00:00+08:00"},
]


@pytest.fixture(params=["postgres", "postgres+redis"])
def db_url(request: pytest.FixtureRequest, new_store, pg_url: str, redis_url: str, monkeypatch) -> str:
    """This run's (emptied) PostgreSQL schema; for +redis, REACHGUARD_REDIS_URL set as a deployment would."""
    store = new_store(request.param)
    if request.param == "postgres+redis":
        monkeypatch.setenv("REACHGUARD_REDIS_URL", f"{redis_url}?prefix={store.counters.prefix}")
    else:
        monkeypatch.delenv("REACHGUARD_REDIS_URL", raising=False)
    return pg_url


def _decisions(output: str) -> list[tuple]:
    """What a replay answered, without the verification codes (a store's own secret)."""
    rows = []
    for line in output.splitlines():
        d = json.loads(line)
        rows.append((d.get("id"), d.get("verdict"), tuple(r["code"] for r in d.get("reasons", [])), d.get("retry_at"),
                     d.get("error", {}).get("code") if isinstance(d.get("error"), dict) else d.get("error")))
    return rows


def test_replay_into_postgres_answers_as_sqlite_and_keeps_the_state(db_url: str, tmp_path: Path) -> None:
    sqlite = runner.invoke(app, ["replay", str(EXAMPLES), "--no-progress", "--db", str(tmp_path / "rg.db")])
    production = runner.invoke(app, ["replay", str(EXAMPLES), "--no-progress", "--db", db_url])
    assert sqlite.exit_code == 0 and production.exit_code == 0, production.output
    assert _decisions(production.stdout) == _decisions(sqlite.stdout)
    assert len(_decisions(production.stdout)) > 5

    stream = tmp_path / "stream.jsonl"
    stream.write_text("\n".join(json.dumps(e) for e in STREAM) + "\n")
    first = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", db_url])
    again = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", db_url])
    assert [d[1] for d in _decisions(first.stdout)] == ["allow", "defer"]
    assert [d[1] for d in _decisions(again.stdout)] == ["defer", "defer"]  # the store remembers the first run


def test_audit_verify_on_postgres_finds_an_edit(db_url: str, tmp_path: Path) -> None:
    import psycopg

    from reachguard.store.postgres import parse_url

    assert runner.invoke(app, ["replay", str(EXAMPLES), "--no-progress", "--db", db_url]).exit_code == 0
    clean = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert clean.exit_code == 0, clean.output
    sa_url, ours = parse_url(db_url)
    with psycopg.connect(sa_url.set(drivername="postgresql").render_as_string(hide_password=False),
                         options=f"-c search_path={ours['schema']}", autocommit=True) as conn:
        edited = conn.execute(
            "UPDATE ledger SET body = replace(body, 'allow', 'deny') WHERE (org, seq) = "
            "(SELECT org, min(seq) FROM ledger WHERE kind = 'decision' AND body LIKE '%allow%' GROUP BY org LIMIT 1)"
        ).rowcount
    assert edited == 1
    broken = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert broken.exit_code == 1, broken.output


def test_keys_and_templates_commands_on_postgres_through_the_environment(db_url: str, monkeypatch) -> None:
    monkeypatch.setenv("REACHGUARD_DB_URL", db_url)
    created = runner.invoke(app, ["keys", "create", "--org", "acme", "--role", "auditor"])
    assert created.exit_code == 0, created.output
    listed = runner.invoke(app, ["keys", "list"])
    assert listed.exit_code == 0 and "acme" in listed.output and "auditor" in listed.output
    key_id = next(line.split()[0] for line in listed.output.splitlines() if "auditor" in line)
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 0
    assert runner.invoke(app, ["keys", "revoke", key_id]).exit_code == 1  # already revoked

    base = ["--org", "acme"]
    out = runner.invoke(app, ["templates", "submit", "promo", "【星河消费金融】{name}您好，回T退订", "--author", "lin", *base])
    assert out.exit_code == 0 and "pending compliance review" in out.stdout, out.output
    out = runner.invoke(app, ["templates", "review", "promo", "approve", "--reviewer", "wang", *base])
    assert "pending legal review" in out.stdout, out.output
    out = runner.invoke(app, ["templates", "review", "promo", "approve", "--reviewer", "zhao", *base])
    assert out.exit_code == 0 and "approved" in out.stdout, out.output
    assert runner.invoke(app, ["templates", "list", *base]).stdout.strip() == "promo\tv1\tapproved"


def test_a_bad_store_url_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    stream.write_text(json.dumps(STREAM[0]) + "\n")
    out = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert out.exit_code == 3 and "store is unavailable" in out.stderr
    out = runner.invoke(app, ["keys", "list", "--db", "redis://127.0.0.1:6379/0"])
    assert out.exit_code == 2 and "not a store URL" in out.stderr
    out = runner.invoke(app, ["templates", "list", "--org", "acme", "--db", "postgresql://nobody@127.0.0.1:1/none"])
    assert out.exit_code == 2 and "cannot reach PostgreSQL" in out.stderr


def test_text_with_nul_is_refused_alike_on_every_store_and_stores_nothing(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL cannot hold NUL in text; decode refuses it on every store (a per-line error),
    so nothing reaches the store — not PostgreSQL, not Redis — and the next line still works."""
    from test_events import NUL_LINES

    stream = tmp_path / "nul.jsonl"
    stream.write_text("\n".join(json.dumps(e) for e in NUL_LINES + STREAM[:2]) + "\n")
    sqlite = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", str(tmp_path / "rg.db")])
    production = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", db_url])
    assert _decisions(production.stdout) == _decisions(sqlite.stdout)
    errors = [d[4] for d in _decisions(production.stdout)[:len(NUL_LINES)]]
    assert errors == ["INVALID_FIELD"] * len(NUL_LINES)
    assert [d[1] for d in _decisions(production.stdout)[len(NUL_LINES):]] == ["allow"]  # the consent applied, the attempt allowed
    again = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", db_url])
    assert _decisions(again.stdout)[-1][1] == "defer"  # only the clean attempt was recorded as a contact


@pytest.mark.parametrize("query, message", [
    ("synchronous_commit=maybe", "synchronous_commit='maybe': expected one of on, off"),
    ("synchronous_commit=off&synchronous_commit=on", "synchronous_commit is given 2 times"),
    ("pool_size=abc", "pool_size='abc': expected a whole number from 1 to 1000"),
    ("pool_size=0", "pool_size='0'"),
    ("writers=x", "writers='x': expected a whole number from 1 to 16"),
    ("schema=a%20b", "schema='a b': expected a plain identifier"),
    ("schema=s1&schema=s2", "schema is given 2 times"),
])
def test_a_bad_parameter_in_the_database_url_is_named_not_a_traceback(pg_server_url: str, query: str,
                                                                     message: str) -> None:
    """Our URL parameters go into the server's start-up options (split on spaces) or int(): a
    bad one used to give a traceback (pool_size, writers) or the server's complaint about a
    mangled option (a tuple for a repeated parameter, a schema with a space)."""
    sep = "&" if "?" in pg_server_url else "?"
    out = runner.invoke(app, ["keys", "list", "--db", f"{pg_server_url}{sep}{query}"])
    assert out.exit_code == 2, out.stderr
    assert "bad database URL: " + message in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("url, message", [
    ("postgresql://h:abc/x", "cannot read its host and port"),
    ("postgresql://user:secret@[::1/x", "cannot read its host and port"),
    ("postgresql://user:secret@h:99999/x", "port 99999 is not a TCP port"),
    ("postgresql://user:secret@h:0/x", "port 0 is not a TCP port"),
    ("postgresql://127.0.0.1:1/x?bogus=1", "unknown parameter bogus (known: schema, synchronous_commit, pool_size, writers"),
    ("postgresql://127.0.0.1:1/x?sslmode=disable&Schema=s&ssl_mode=x", "unknown parameter Schema, ssl_mode"),
])
@pytest.mark.parametrize("command", [["keys", "list"], ["db", "upgrade"], ["db", "current"]])
def test_a_database_url_that_does_not_parse_is_refused_before_connecting(url: str, message: str,
                                                                        command: list[str]) -> None:
    """A port that is not a number raised int()'s ValueError; an unknown parameter reached
    psycopg, whose ProgrammingError was a traceback; `db upgrade|current` did not catch either."""
    out = runner.invoke(app, [*command, "--db", url])
    assert out.exit_code == 2, out.output
    assert "bad database URL: " + message in out.stderr
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert "secret" not in out.stderr  # the URL (and its password) is not repeated


def test_replay_refuses_a_bad_database_url_as_a_usage_error(tmp_path: Path) -> None:
    stream = tmp_path / "stream.jsonl"
    stream.write_text(json.dumps(STREAM[0]) + "\n")
    out = runner.invoke(app, ["replay", str(stream), "--no-progress", "--db", "postgresql://127.0.0.1:1/x?bogus=1"])
    assert out.exit_code == 2 and "bad database URL: unknown parameter bogus" in out.stderr, out.output


def test_libpq_parameters_in_the_url_reach_the_connection(pg_url: str) -> None:
    """libpq's own parameters pass; connect_timeout, application_name and options used to be
    overridden by the engine's defaults without a word."""
    from reachguard.store.pg_engine import engine_for

    url = f"{pg_url}&sslmode=disable&application_name=rg-test&connect_timeout=7&options=-c%20statement_timeout%3D4321"
    engine, _ = engine_for(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW application_name").scalar() == "rg-test"
            assert conn.exec_driver_sql("SHOW statement_timeout").scalar() == "4321ms"
            assert conn.exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_generic_plan"  # ours kept
            assert conn.connection.driver_connection.info.get_parameters()["connect_timeout"] == "7"
    finally:
        engine.dispose()
    assert runner.invoke(app, ["keys", "list", "--db", url]).exit_code == 0
