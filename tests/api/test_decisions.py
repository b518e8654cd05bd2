"""Decisions over HTTP: the contract Decision, batches in order, group commit, the filtered read."""

from __future__ import annotations

import concurrent.futures
import json

from apikit import AT, NUMBER, Api, assert_error, attempt


def test_single_decision_is_the_contract_decision(api: Api) -> None:
    api.consent()
    decision = api.decide(id="a1", to="+86 138 0013 8000")
    assert list(decision) == ["id", "verdict", "to", "reasons", "retry_at", "findings", "verification_code"]
    assert decision["id"] == "a1" and decision["verdict"] == "allow" and decision["to"] == NUMBER
    assert len(decision["verification_code"]) == 8


def test_denied_and_deferred_explain_themselves(api: Api) -> None:
    denied = api.decide(id="nc")  # no consent
    assert denied["verdict"] == "deny" and denied["reasons"][0]["code"] == "NO_CONSENT" and denied["reasons"][0]["citation"]
    api.consent()
    night = api.decide(at="2026-11-23T22:30:00+08:00")
    assert night["verdict"] == "defer" and night["retry_at"] == "2026-11-24T09:00:00+08:00"


def test_invalid_number_is_a_deny_not_an_error(api: Api) -> None:
    decision = api.decide(to="12345")
    assert decision["verdict"] == "deny" and decision["reasons"][0]["code"] == "INVALID_NUMBER"


def test_batch_is_in_order_and_each_sees_the_ones_before(api: Api) -> None:
    api.consent()
    batch = [attempt(id=f"b{i}", at=f"2026-11-23T1{i}:00:00+08:00") for i in range(3)] + [attempt(id="bad", to="1")]
    response = api.post("/v1/decisions:batch", batch)
    assert response.status_code == 200, response.text
    decisions = response.json()
    assert [d["id"] for d in decisions] == ["b0", "b1", "b2", "bad"]
    assert [d["verdict"] for d in decisions] == ["allow", "defer", "defer", "deny"]  # cn: 1 marketing SMS a day
    assert api.post("/v1/decisions:batch", []).json() == []


def test_batch_limit(api: Api) -> None:
    api.service.settings.max_batch = 3
    assert_error(api.post("/v1/decisions:batch", [attempt()] * 4), 422, "TOO_MANY")


def test_concurrent_singles_share_commits_and_never_exceed_a_cap(api: Api) -> None:
    api.consent()
    body = json.dumps(attempt()).encode()
    headers = api.headers()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: api.client.post("/v1/decisions", content=body, headers=headers), range(24)))
    verdicts = [r.json()["verdict"] for r in responses]
    assert verdicts.count("allow") == 1 and verdicts.count("defer") == 23


def test_attempts_are_refused_at_events_and_events_at_decisions(api: Api) -> None:
    assert_error(api.post("/v1/events", attempt()), 422, "WRONG_EVENT_TYPE")
    consent = {"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT}
    assert_error(api.post("/v1/decisions", consent), 422, "WRONG_EVENT_TYPE")


def test_decisions_read_filters_by_time_verdict_and_reason(api: Api) -> None:
    api.decide(id="n1")  # NO_CONSENT
    api.consent()
    api.decide(id="ok", at="2026-11-24T10:00:00+08:00")
    api.decide(id="late", at="2026-11-24T22:00:00+08:00")  # QUIET_HOURS and cap → defer
    page = api.get("/v1/decisions").json()
    assert [d["attempt"]["id"] for d in page["decisions"]] == ["n1", "ok", "late"] and page["next_after"] is None
    ids = lambda **q: [d["attempt"]["id"] for d in api.get("/v1/decisions", params=q).json()["decisions"]]  # noqa: E731
    assert ids(verdict="deny") == ["n1"]
    assert ids(reason="QUIET_HOURS") == ["late"]
    assert ids(**{"from": "2026-11-24T00:00:00+08:00", "to": "2026-11-24T12:00:00+08:00"}) == ["ok"]
    first = api.get("/v1/decisions", params={"limit": 2}).json()
    assert first["next_after"] is not None
    assert [d["attempt"]["id"] for d in api.get("/v1/decisions", params={"after": first["next_after"]}).json()["decisions"]] == ["late"]
    assert_error(api.get("/v1/decisions", params={"from": "2026-11-24T00:00:00"}), 422, "TIME_WITHOUT_OFFSET")
    assert_error(api.get("/v1/decisions", params={"to": "yesterday"}), 422, "INVALID_TIME")
    assert_error(api.get("/v1/decisions", params={"verdict": "maybe"}), 400, "BAD_REQUEST")
