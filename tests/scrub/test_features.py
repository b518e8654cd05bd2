"""Each fact of a kept row's signature, from hand-made store sets (features.build).

The agreement tests (test_scrub_agrees*.py) compare whole scrubs with `decide`; since two
representatives of each signature must agree, a signature that lumps unlike rows together can
still come out right there (its rows are then judged one by one). Here each fact is checked
directly: listed, opted out (and lifted by a newer consent), newest consent, full caps, future
contacts, relation, zone set, and the rows left to the engine.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from reachguard.policy import PolicyBook
from reachguard.scrub import features
from reachguard.scrub.export import FUTURE_BIT, plan_for
from reachguard.scrub.keysets import first_rows

AT = datetime.fromisoformat("2026-11-23T10:00:00+08:00")
POLICY = PolicyBook.profile("cn").for_org("acme")  # marketing caps: 1 a day, 4 in 30 days


def _plan():
    return plan_for(POLICY, "acme", "marketing", "sms", AT)


def _tables() -> dict[str, pa.Table]:
    whole = pa.int64()

    def table(**columns: list) -> pa.Table:
        return pa.table({name: pa.array(values, pa.string() if name == "status" else whole) for name, values in columns.items()})

    return {
        "rg_dnc": table(key=[2, 2, 999]),  # on two lists; 999 is not on the list at all
        "rg_optout": table(key=[3, 5, 6, 7, 13, 14], micros=[100, 200, 100, 100, 100, 100]),
        "rg_optout_org": table(key=[4, 5, 12, 13], micros=[100, 100, 100, 200]),
        "rg_consent": table(key=[4, 5, 6, 7, 8, 8, 13, 14], status=["A", "A", "E", "W", "A", "W", "A", "A"],
                            micros=[200, 150, 200, 200, 100, 100, 150, 100], seq=[1, 2, 3, 4, 5, 6, 7, 8]),
        "rg_contact": table(key=[9, 9, 9, 10], flags=[0b11, 0b10, 0b10, 1 << FUTURE_BIT]),
    }


KEYS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, -1]
RELATIONS = {11: "contact", 3: "prospect"}
SUBJECTS = {4: "L1"}


def _con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    rids = list(range(100, 100 + len(KEYS)))
    con.register("rows_arrow", pa.table({
        "rid": pa.array(rids, pa.int64()), "key": pa.array(KEYS, pa.int64()),
        "relation": pa.array([RELATIONS.get(k) for k in KEYS], pa.string()),
        "subject": pa.array([SUBJECTS.get(k) for k in KEYS], pa.string())}))
    con.execute("CREATE TEMP TABLE rg_rows AS SELECT * FROM rows_arrow")
    con.execute("CREATE TEMP TABLE rg_odd AS SELECT -1::BIGINT AS key, '+99912345678901234567' AS num")
    return con


def _build(con: duckdb.DuckDBPyConnection, plan=None, **options) -> dict[int, dict[str, int]]:
    kept = first_rows(np.array(KEYS), np.arange(100, 100 + len(KEYS)))
    con.register("rg_kept", pa.table({"key": kept.key, "rid": kept.rid}))
    plan = plan or _plan()
    found = features.build(con, plan, _tables(), POLICY, kept, **options)
    caps = len(plan.caps)
    return {int(k): {"relation": int(s) & 7, "listed": int(s) >> 3 & 1, "opted": int(s) >> 4 & 1,
                     "consent": int(s) >> 5 & 3, "capbits": int(s) >> 7 & ((1 << caps) - 1),
                     "zkey": int(s) >> (7 + caps), "exact": bool(e), "rid": int(r)}
            for k, s, e, r in zip(kept.key, found.sig, found.exact, found.rid)}


def test_each_fact_of_the_signature() -> None:
    facts = _build(_con(), relations=True, subjects=True)
    assert facts[1] == {"relation": 0, "listed": 0, "opted": 0, "consent": 0, "capbits": 0, "zkey": 0, "exact": False,
                        "rid": 100}
    assert facts[2]["listed"] == 1 and sum(f["listed"] for f in facts.values()) == 1
    assert facts[3]["opted"] == 1 and facts[3]["relation"] == features.RELATION_IDS["prospect"]
    assert (facts[4]["opted"], facts[4]["consent"]) == (0, 3)   # this org's opt-out, consented after
    assert (facts[5]["opted"], facts[5]["consent"]) == (1, 3)   # the every-org opt-out is newer than the consent
    assert (facts[6]["opted"], facts[6]["consent"]) == (0, 2)   # an expired consent after still lifts it (as the rule)
    assert (facts[7]["opted"], facts[7]["consent"]) == (1, 1)   # a withdrawal does not
    assert facts[8]["consent"] == 1                             # same time: the higher seq is the newest
    assert facts[9]["capbits"] == 0b01                          # 1 today (max 1) full; 3 this month (max 4) not
    assert facts[10]["exact"] and not facts[9]["exact"]         # a contact after --at
    assert facts[11]["relation"] == features.RELATION_IDS["contact"]
    assert facts[12]["opted"] == 1                              # this org's opt-out alone
    assert facts[13]["opted"] == 1                              # this org's opt-out (200) is newer than the consent (150)
    assert facts[14]["opted"] == 1                              # a consent at the opt-out's own time does not lift it
    assert facts[-1]["exact"]                                   # no integer key in the store
    assert not any(f["exact"] for k, f in facts.items() if k not in (10, -1))  # no per-subject cap in cn


def test_relations_only_when_the_list_has_them() -> None:
    facts = _build(_con())
    assert facts[11]["relation"] == 0 and facts[3]["relation"] == 0


def test_subjects_go_row_by_row_under_a_per_subject_cap() -> None:
    plan = _plan()
    plan.subject_caps = True
    facts = _build(_con(), plan, subjects=True)
    assert [k for k, f in facts.items() if f["exact"]] == [-1, 4, 10]


def test_zone_sets_and_contacts_under_recipient_zones() -> None:
    plan = _plan()
    plan.contacts_exact = True
    zones = lambda number: "odd" if int(number[-1]) % 2 else "even"  # noqa: E731
    facts = _build(_con(), plan, zones=zones)
    assert {f["zkey"] for k, f in facts.items() if k > 0 and k % 2} == {facts[1]["zkey"]}
    assert {f["zkey"] for k, f in facts.items() if k > 0 and not k % 2} == {1 - facts[1]["zkey"]}
    assert facts[9]["exact"] and facts[10]["exact"]  # every number with contacts


@pytest.mark.parametrize("missing", ["rg_dnc", "rg_optout", "rg_consent", "rg_contact"])
def test_a_rule_without_its_set_leaves_its_fact_empty(missing: str) -> None:
    """A purpose without that rule exports no such table (export.queries)."""
    con = _con()
    kept = first_rows(np.array(KEYS), np.arange(len(KEYS)))
    tables = {name: t for name, t in _tables().items() if not name.startswith(missing)}
    found = features.build(con, _plan(), tables, POLICY, kept)
    bits = {"rg_dnc": 1 << 3, "rg_optout": 1 << 4, "rg_consent": 3 << 5, "rg_contact": 3 << 7}[missing]
    assert not np.any(found.sig & bits)


def test_zone_sets_with_numbers_without_an_integer_key() -> None:
    """Two kept numbers with negative keys (rg_odd): each gets its own number's zone set."""
    con = duckdb.connect()
    con.execute("CREATE TEMP TABLE rg_odd AS SELECT * FROM (VALUES (-2::BIGINT, '+1999'), (-1::BIGINT, '+2888')) t(key, num)")
    kept = first_rows(np.array([-2, -1, 5]), np.array([0, 1, 2]))
    con.register("rg_kept", pa.table({"key": kept.key, "rid": kept.rid}))
    plan = _plan()
    seen: list[str] = []
    found = features.build(con, plan, {}, POLICY, kept, zones=lambda number: seen.append(number) or number[-1])
    assert sorted(seen) == ["+1999", "+2888", "+5"]
    zkeys = (found.sig >> (7 + len(plan.caps))).tolist()
    assert len(set(zkeys)) == 3 and found.exact.tolist() == [True, True, False]


def test_a_failing_lookup_reaches_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in a pool thread (here the consents' DuckDB query) is raised by build."""
    def broken(*args: object) -> None:
        raise RuntimeError("consents unreadable")

    monkeypatch.setattr(features, "_consents", broken)
    kept = first_rows(np.array(KEYS), np.arange(len(KEYS)))
    with pytest.raises(RuntimeError, match="consents unreadable"):
        features.build(_con(), _plan(), _tables(), POLICY, kept)

