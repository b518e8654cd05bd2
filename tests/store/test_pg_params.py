"""Array literals (store/pg_params.py) round-trip through the real PostgreSQL server, and the
batch statements that use them store exactly what they were given."""

from __future__ import annotations

import math
import random

import pytest

from reachguard.ledger.verify import verify_chain
from reachguard.store.pg_params import float_array, int_array, text_array
from reachguard.state import ContactRecord

TRICKY = ["", "plain", "NULL", "null", " spaced ", "a,b", "{brace}", '"quoted"', "back\\slash", "\\", '"', "\\\"",
          "tab\tnew\nline\r", "\x1f\x1e\x01", "天朝 \u200b emoji 🙂", "'single'", "x" * 5000, "}", "{", ",", "a\\,b\"c{d}"]


@pytest.fixture
def conn(new_store):
    store = new_store("postgres")
    with store.read() as connection:
        yield connection


def _roundtrip(conn, literal: str, cast: str) -> list:
    return conn.execute(f"SELECT %s::{cast}", (literal,)).fetchone()[0]


def test_text_array_roundtrips_any_text(conn) -> None:
    for values in ([], [""], ["NULL"], TRICKY, [None], ["a", None, "b", None], [None, ""]):
        assert _roundtrip(conn, text_array(values), "text[]") == values
    rng = random.Random(5)
    alphabet = "ab,{}\"\\ \t\n'NUL天\x1f"
    for _ in range(200):
        values = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(8))) for _ in range(rng.randrange(1, 6))]
        assert _roundtrip(conn, text_array(values), "text[]") == values


def test_float_and_int_arrays_are_exact(conn) -> None:
    floats = [0.0, -0.0, 1795000000.123456, 1 / 3, 1e-300, 1.7976931348623157e308, 5e-324, math.pi, -2.5]
    back = _roundtrip(conn, float_array(floats), "float8[]")
    assert [repr(x) for x in back] == [repr(x) for x in floats]
    assert _roundtrip(conn, float_array([float("inf"), None]), "float8[]") == [float("inf"), None]
    ints = [0, -1, 2**63 - 1, -(2**63), 42]
    assert _roundtrip(conn, int_array(ints), "bigint[]") == ints


def test_batch_writes_store_tricky_values_verbatim(new_store) -> None:
    store = new_store("postgres")
    at = 1795000000.123456
    contacts = [
        (ContactRecord("acme", "+8613800000001", "sms", "marketing", "prospect", subject, at + i), attempt, agent, None)
        for i, (subject, attempt, agent) in enumerate([(None, TRICKY[5], None), ('L"1', "\\", "天"), ("", "", "{x}")])
    ]
    with store.transaction():
        store.record_contacts(contacts)
        store.ledger_append([("acme", "note", at + i, "+8613800000001", None, body.encode())  # not decisions: any body
                             for i, body in enumerate(['{"a":"\\"q\\\\"}', '{"t":"天,{}"}', "{}"])])
    with store.read() as conn:
        rows = conn.execute("SELECT subject, attempt_id, agent, at FROM contacts ORDER BY seq").fetchall()
    assert rows == [(None, TRICKY[5], None, at), ('L"1', "\\", "天", at + 1), ("", "", "{x}", at + 2)]
    entries = list(store.ledger_entries("acme"))
    assert [e.body for e in entries] == ['{"a":"\\"q\\\\"}', '{"t":"天,{}"}', "{}"]
    assert verify_chain(entries) == (3, None)
