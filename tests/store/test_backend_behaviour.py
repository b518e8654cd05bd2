"""What only the production backends have: migrations, per-debt locks, the ledger chainer,
Redis leases, Redis losing its data, Redis going down and coming back."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from reachguard.engine import Gateway
from reachguard.events import decode_event
from reachguard.ledger.verify import verify_chain
from reachguard.state import ContactRecord
from reachguard.store import StateQuery, StoreUnavailable, open_store

BORROWER = "+8613900139000"
AT = "2026-11-23T10:00:00+08:00"


def _event(**fields) -> object:
    return decode_event(json.dumps(fields))


def _account(gateway: Gateway, subject: str = "L1", borrower: str = BORROWER) -> None:
    gateway.handle(_event(type="account", org="acme", subject=subject, borrower=borrower, days_past_due=10,
                          at="2026-11-01T10:00:00+08:00"))


def _call(gateway: Gateway, i: int, at: str = AT):
    return gateway.decide(_event(type="attempt", id=f"c{i}", org="acme", channel="call", purpose="collection",
                                 to=BORROWER, subject="L1", at=at))


@pytest.fixture(params=["postgres", "postgres+redis"])
def pg_store(request: pytest.FixtureRequest, new_store):
    return new_store(request.param)


# --- schema ------------------------------------------------------------------------------------


@pytest.fixture
def empty_schema(pg_url: str, pg_server_url: str):
    name = f"rg_mig_{int(time.time() * 1000) % 10**9}"
    url = pg_server_url + ("&" if "?" in pg_server_url else "?") + f"schema={name}"
    yield url, name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_db_upgrade_command_creates_then_leaves_the_schema(empty_schema, monkeypatch) -> None:
    from reachguard.cli import app
    from reachguard.store.postgres import PostgresStore

    url, name = empty_schema
    with pytest.raises(StoreUnavailable, match="reachguard db upgrade"):
        PostgresStore(url, upgrade=False)
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert first.exit_code == 0, first.output
    assert "upgraded empty ->" in first.output
    secret = PostgresStore(url).get_meta("verification_secret")
    assert secret  # made once, before any replica starts
    again = runner.invoke(app, ["db", "upgrade", "--db", url])
    assert again.exit_code == 0 and "already at" in again.output
    assert PostgresStore(url).get_meta("verification_secret") == secret
    assert runner.invoke(app, ["db", "current", "--db", url]).exit_code == 0
    monkeypatch.setenv("REACHGUARD_DB_URL", url)
    store = open_store()
    assert type(store).__name__ == "PostgresStore"
    store.set_meta("k", "v")
    assert store.get_meta("k") == "v"
    store.close()


def test_a_newer_schema_is_refused_and_downgrade_works(empty_schema) -> None:
    from alembic import command

    from reachguard.store.postgres import PostgresStore, _alembic_config, _CURRENT, engine_for, head_revision

    url, name = empty_schema
    PostgresStore(url, chain_interval=0).close()
    engine, _ = engine_for(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    _CURRENT.clear()
    with pytest.raises(StoreUnavailable, match="newer"):
        PostgresStore(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head_revision()}'")
        command.downgrade(_alembic_config(conn), "base")
        assert conn.exec_driver_sql("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").scalar() == 1


def test_db_upgrade_from_0004_drops_the_code_index_and_codes_still_verify(empty_schema) -> None:
    from reachguard.cli import app
    from reachguard.store.postgres import PostgresStore, engine_for, upgrade

    url, name = empty_schema
    engine, schema = engine_for(url)
    assert upgrade(engine, schema, "0004") == (None, "0004")
    index = "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'contacts_by_code'"
    with engine.begin() as conn:
        assert conn.exec_driver_sql(index).scalar() == 1
        conn.exec_driver_sql("INSERT INTO contacts(org, number, channel, purpose, relation, at, code) "
                             "VALUES ('acme', '+8613900000009', 'sms', 'marketing', 'prospect', 1795000000.0, 'ABCD2345')")
    with pytest.raises(StoreUnavailable, match="reachguard db upgrade"):
        PostgresStore(url, upgrade=False)
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url])
    assert result.exit_code == 0 and "0004" in result.output, result.output
    with engine.begin() as conn:
        assert conn.exec_driver_sql(index).scalar() == 0
    store = PostgresStore(url, upgrade=False, chain_interval=0)
    try:
        assert store.contact_by_code("ABCD2345", "+8613900000009") == ("acme", 1795000000.0)
        assert store.contact_by_code("ABCD2345", "+8613900000010") is None
    finally:
        store.close()


def test_unreachable_postgres_is_store_unavailable() -> None:
    from reachguard.store.postgres import PostgresStore

    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        PostgresStore("postgresql://postgres@127.0.0.1:1/test")
    assert time.monotonic() - started < 10


# --- locks -------------------------------------------------------------------------------------


@pytest.mark.parametrize("per_debt", [True, False])
def test_per_debt_caps_lock_the_debt_across_numbers(pg_store, per_debt: bool) -> None:
    """Two numbers of one debt: a decision reading the debt's contacts waits for the other."""
    since = 0.0
    holding, entered = threading.Event(), []

    def first() -> None:
        with pg_store.transaction("acme", "+8613900000001"):
            pg_store.load_state(StateQuery("acme", "+8613900000001", "collection", "L1", since, per_debt))
            holding.set()
            time.sleep(0.6)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    started = time.monotonic()
    with pg_store.transaction("acme", "+8613900000002"):
        pg_store.load_state(StateQuery("acme", "+8613900000002", "collection", "L1", since, per_debt))
        entered.append(time.monotonic() - started)
    thread.join()
    if per_debt:
        assert entered[0] > 0.3
    else:
        assert entered[0] < 0.3


def test_same_number_waits_other_numbers_do_not(pg_store) -> None:
    holding = threading.Event()

    def first() -> None:
        with pg_store.transaction("acme", BORROWER):
            pg_store.load_state(StateQuery("acme", BORROWER, "marketing", None, 0.0))
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    timings = {}
    for number in ("+8613900000009", BORROWER):
        started = time.monotonic()
        with pg_store.transaction("acme", number):
            pg_store.load_state(StateQuery("acme", number, "marketing", None, 0.0))
        timings[number] = time.monotonic() - started
    thread.join()
    assert timings["+8613900000009"] < 0.25
    assert timings[BORROWER] > 0.2


# --- ledger ------------------------------------------------------------------------------------


def test_background_chainer_chains_without_readers(pg_url: str, new_store) -> None:
    store = new_store("postgres")
    store._chain_interval = 0.1
    gateway = Gateway(store, secret=b"test")
    _account(gateway)
    for i in range(5):
        _call(gateway, i)
    deadline = time.monotonic() + 30  # a bound for a loaded machine
    with psycopg.connect(pg_url.split("?")[0], autocommit=True, options=f"-c search_path={store.schema}") as conn:
        while conn.execute("SELECT count(*) FROM ledger_pending").fetchone()[0] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert conn.execute("SELECT count(*) FROM ledger_pending").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM ledger WHERE org = 'acme'").fetchone()[0] == 6
    assert verify_chain(store.ledger_entries("acme")) == (6, None)


def test_a_chainer_that_finds_the_org_busy_leaves_no_transaction_open(pg_url: str, new_store) -> None:
    """Replicas chain with try-locks: one that skips a busy org must end its transaction, or
    it would chain later rows in a transaction that never commits, holding the org's lock."""
    from reachguard.store.postgres import lock_key

    store = new_store("postgres")
    gateway = Gateway(store, secret=b"test")
    _account(gateway)
    with psycopg.connect(pg_url.split("?")[0], autocommit=True, options=f"-c search_path={store.schema}") as other:
        with other.transaction():
            other.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key("l", "acme"),))  # another replica chaining
            assert store.chain_ledger("acme", wait=False) == 0
        assert store._local.session.depth == 0 and store._local.session.fairy is None  # back in the pool
        _call(gateway, 1)
        assert store.chain_ledger("acme", wait=False) == 2
        assert other.execute("SELECT count(*) FROM ledger WHERE org = 'acme'").fetchone()[0] == 2  # committed
        with other.transaction():  # and the org's lock is free again
            assert other.execute("SELECT pg_try_advisory_xact_lock(%s)", (lock_key("l", "acme"),)).fetchone()[0]


def test_ledger_matches_sqlite_hash_for_hash(pg_store, new_store) -> None:
    """One writer: the PostgreSQL chain is the SQLite chain, entry for entry."""
    sqlite = new_store("sqlite")
    heads = []
    for store in (sqlite, pg_store):
        gateway = Gateway(store, secret=b"test")
        _account(gateway)
        for i in range(8):
            _call(gateway, i, at=f"2026-11-23T{10 + i}:00:00+08:00")
        gateway.decide_many([_event(type="attempt", id=f"b{i}", org="acme", channel="sms", purpose="collection",
                                    to=BORROWER, subject="L1", at=AT) for i in range(3)])
        heads.append(store.ledger_head("acme"))
    assert heads[0] == heads[1]


def test_number_records_match_sqlite(pg_store, new_store) -> None:
    """The console's and API's per-number view reads the same on every backend."""
    sqlite = new_store("sqlite")
    records = []
    for store in (sqlite, pg_store):
        gateway = Gateway(store, secret=b"test")
        _account(gateway)
        for kind in ({"type": "consent", "org": "acme", "purpose": "marketing", "at": "2026-11-02T10:00:00+08:00"},
                     {"type": "opt_out", "org": "acme", "at": "2026-11-03T10:00:00+08:00"},
                     {"type": "dnc", "list": "national", "at": "2026-11-04T10:00:00+08:00"},
                     {"type": "outcome", "org": "acme", "subject": "L1", "result": "no_answer", "at": "2026-11-05T10:00:00+08:00"},
                     {"type": "inbound_sms", "from": BORROWER, "to": "10690000", "text": "你好", "at": "2026-11-06T10:00:00+08:00"}):
            gateway.handle(_event(to=BORROWER, **kind) if kind["type"] != "inbound_sms" else _event(**kind))
        for i in range(3):
            _call(gateway, i, at=f"2026-11-23T{10 + i}:00:00+08:00")
        records.append(store.number_records("acme", BORROWER))
    assert records[0] == records[1]
    assert [c["id"] for c in records[0]["contacts"]] == ["c0", "c1", "c2"]  # oldest first
    assert records[0]["consents"][0]["withdrawn"] == 0 and records[0]["accounts"][0]["role"] == "borrower"


# --- Redis -------------------------------------------------------------------------------------


def test_lease_expired_before_commit_records_nothing(pg_url: str, redis_prefix: str, redis_url: str) -> None:
    from reachguard.store.postgres import truncate_all
    from reachguard.store.redis_counters import PostgresRedisStore

    store = PostgresRedisStore(pg_url, redis_url, prefix=redis_prefix + "lease:", lock_ttl=0.2, chain_interval=0)
    truncate_all(store)
    try:
        contact = ContactRecord("acme", BORROWER, "call", "collection", "borrower", "L1", 1795399200.0)
        with pytest.raises(StoreUnavailable, match="expired"):
            with store.transaction("acme", BORROWER):
                store.load_state(StateQuery("acme", BORROWER, "collection", "L1", 0.0))
                time.sleep(0.4)
                store.record_contacts([(contact, "x", None, None)])
        with store.read() as conn:
            assert conn.execute("SELECT count(*) FROM contacts").fetchone()[0] == 0
        assert store.counters.client.zcard(store.counters.number_key("acme", BORROWER)) <= 1  # the horizon only
    finally:
        store.counters.clear()
        store.close()


def test_redis_losing_its_data_loses_no_contact(new_store) -> None:
    store = new_store("postgres+redis")
    gateway = Gateway(store, secret=b"test")
    _account(gateway)
    assert [_call(gateway, i).verdict for i in range(6)] == ["allow"] * 6
    assert store.counters.clear() > 0  # as after a restart without persistence
    decision = _call(gateway, 7)
    assert decision.verdict == "defer" and decision.reasons[0].code == "FREQUENCY_CAP"
    key = store.counters.number_key("acme", BORROWER)
    assert store.counters.client.zcard(key) == 0  # a deferred attempt writes nothing
    assert _call(gateway, 8, at="2026-11-24T10:00:00+08:00").verdict == "allow"
    assert store.counters.client.zcard(key) == 8  # rebuilt from PostgreSQL: 6 + the new contact + the horizon


def _free_port(start: int = 6390) -> int:
    for port in range(start, start + 200):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError("no free port")


class _OwnRedis:
    """A redis-server of our own on another port, to stop and start."""

    def __init__(self, port: int):
        self.port = port
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_redis_down_fails_closed_and_recovers_by_itself(pg_url: str) -> None:
    from reachguard.store.postgres import truncate_all
    from reachguard.store.redis_counters import PostgresRedisStore

    redis = _OwnRedis(_free_port())
    redis.start()
    store = PostgresRedisStore(pg_url, f"redis://127.0.0.1:{redis.port}/0", prefix="down:", chain_interval=0)
    truncate_all(store)
    try:
        gateway = Gateway(store, secret=b"test")
        _account(gateway)
        assert [_call(gateway, i).verdict for i in range(3)] == ["allow"] * 3
        redis.stop()
        for i in range(3, 6):
            with pytest.raises(StoreUnavailable):
                _call(gateway, i)
        # state events do not need Redis: an opt-out still lands
        gateway.handle(_event(type="outcome", org="acme", to=BORROWER, subject="L1", result="no_answer", at=AT))
        redis.start()  # empty: no persistence
        verdicts = [_call(gateway, i).verdict for i in range(6, 10)]
        assert verdicts == ["allow"] * 3 + ["defer"]  # the 3 contacts before the outage still count
        decisions = [e for e in store.ledger_entries("acme") if e.kind == "decision"]
        assert len(decisions) == 7  # the failed decisions left nothing behind
        assert verify_chain(store.ledger_entries("acme"))[1] is None
    finally:
        store.close()
        redis.stop()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")
def test_api_answers_503_while_redis_is_down_then_recovers(pg_url: str, new_store, signing_key_file: Path) -> None:
    """The service's choice: no decision without the counters (503 UNAVAILABLE, nothing recorded);
    events that do not need Redis still land; decisions resume by themselves."""
    from fastapi.testclient import TestClient

    from reachguard.api.main import create_app
    from reachguard.core.config import load_settings
    from reachguard.core.keys import create_key

    new_store("postgres")  # empties this run's schema
    redis = _OwnRedis(_free_port(6600))
    redis.start()
    settings = load_settings(db_url=pg_url, redis_url=f"redis://127.0.0.1:{redis.port}/0", access_log=False,
                             checkpoint_interval_seconds=0, log_level="warning",
                             signing_key_file=signing_key_file)
    app = create_app(settings)
    assert type(app.state.service.store).__name__ == "PostgresRedisStore"
    keys = {role: create_key(app.state.service.store, "acme", role)[1] for role in ("sender", "compliance")}
    call = {"type": "attempt", "org": "acme", "channel": "call", "purpose": "collection", "to": BORROWER, "subject": "L1", "at": AT}
    try:
        with TestClient(app) as client:
            def post(path: str, body: dict, role: str = "sender"):
                return client.post(path, json=body, headers={"Authorization": f"Bearer {keys[role]}"})

            assert post("/v1/events", {"type": "account", "org": "acme", "subject": "L1", "borrower": BORROWER,
                                       "days_past_due": 10, "at": "2026-11-01T10:00:00+08:00"}, "compliance").status_code == 202
            assert [post("/v1/decisions", {**call, "id": f"c{i}"}).json()["verdict"] for i in range(4)] == ["allow"] * 4
            redis.stop()
            down = post("/v1/decisions", {**call, "id": "down"})
            assert down.status_code == 503 and down.json()["error"]["code"] == "UNAVAILABLE"
            assert post("/v1/decisions:batch", [{**call, "id": "down2"}]).status_code == 503
            assert post("/v1/events", {"type": "outcome", "org": "acme", "to": BORROWER, "subject": "L1",
                                       "result": "no_answer", "at": AT}, "compliance").status_code == 202
            redis.start()  # empty: the counters come back from PostgreSQL
            after = [post("/v1/decisions", {**call, "id": f"u{i}"}).json()["verdict"] for i in range(3)]
            assert after == ["allow", "allow", "defer"]  # 6 a day: the 4 before the outage still count
    finally:
        redis.stop()
        store = app.state.service.store
    try:
        decided = [json.loads(e.body)["decision"]["id"] for e in store.ledger_entries("acme") if e.kind == "decision"]
        assert decided == [f"c{i}" for i in range(4)] + [f"u{i}" for i in range(3)]  # the refused left nothing
    finally:
        store.close()


def test_a_schema_written_in_capitals_is_the_lower_case_schema_everywhere(empty_schema) -> None:
    """PostgreSQL folds the unquoted search_path to lower case; the schema was created quoted (an
    empty "Rg_…" beside the tables) and `db upgrade` of a new one failed with a traceback."""
    from reachguard.cli import app
    from reachguard.store.postgres import PostgresStore

    url, name = empty_schema
    shouted = url.replace(f"schema={name}", f"schema={name.upper()}")
    upgraded = CliRunner().invoke(app, ["db", "upgrade", "--db", shouted])
    assert upgraded.exit_code == 0, upgraded.output
    store = PostgresStore(shouted)
    store.set_meta("k", "v")
    assert PostgresStore(url).get_meta("k") == "v"  # one schema, whichever way it is written
    with store.read() as conn:
        schemas = [row[0] for row in conn.execute("SELECT nspname FROM pg_namespace WHERE lower(nspname) = %s", (name,))]
    assert schemas == [name]
