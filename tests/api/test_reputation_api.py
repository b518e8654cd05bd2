"""The reputation endpoints (public lookup, reports) and POST /v1/classify, over the real app."""

from __future__ import annotations

import json

import pytest

from apikit import assert_error, early_in_window, make_api

NUMBER = "+8613800138000"
AT = "2026-11-23T10:00:00+08:00"
SECRET_REPORTER = "reporter-secret-id-7731"
SECRET_TEXT = "王先生您好这是一条独特的举报文本XYZ"


@pytest.fixture
def api():
    yield from make_api(reputation_rate_limit=1000, report_rate_limit=3)


def report(api, reporter: str = "r1", label: str = "collection", **fields):
    body = {"type": "report", "to": "138 0013 8000", "label": label, "reporter": reporter, "at": AT, **fields}
    return api.client.post("/v1/reports", content=json.dumps(body, ensure_ascii=False))


def test_report_then_public_lookup_without_key(api) -> None:
    answer = report(api, SECRET_REPORTER, text=SECRET_TEXT)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"number": NUMBER, "label": "collection", "at": AT}
    assert report(api, "r2", label="harassment").status_code == 202
    assert report(api, "r3").status_code == 202
    response = api.client.get(f"/v1/numbers/{NUMBER}/reputation", params={"at": "2026-11-24T10:00:00+08:00"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["number"] == NUMBER and body["label"] == "collection" and body["name"] == "催收"
    assert body["reporters"] == 3 and body["reports"] == 3 and 0 < body["confidence"] < 1
    assert {p["name"] for p in body["model"]} >= {"half_life_days", "new_reporter_weight", "burst_allowance"}
    # privacy: nothing of the reporter or the text, in any form
    raw = response.text
    assert SECRET_REPORTER not in raw and SECRET_TEXT not in raw and "reporter-secret" not in raw
    store = api.service.store
    key_hash = __import__("reachguard.reputation", fromlist=["x"]).reporter_hash(
        __import__("reachguard.api.routes.reputation", fromlist=["x"]).parts(api.service).key, SECRET_REPORTER)
    assert key_hash.hex() not in raw
    # the store keeps the reporter only as the keyed hash
    with store.read() as db:
        rows = db.execute("SELECT reporter FROM reports").fetchall()
        everything = " ".join(str(r) for r in db.execute("SELECT * FROM reports").fetchall())
    assert key_hash in {bytes(r[0]) for r in rows} and SECRET_REPORTER not in everything


def test_lookup_bad_inputs(api) -> None:
    assert_error(api.client.get("/v1/numbers/not-a-number/reputation"), 422, "INVALID_NUMBER")
    assert_error(api.client.get(f"/v1/numbers/{NUMBER}/reputation", params={"at": "2026-11-23T10:00:00"}),
                 422, "TIME_WITHOUT_OFFSET")
    empty = api.client.get(f"/v1/numbers/{NUMBER}/reputation").json()
    assert empty["label"] is None and empty["reporters"] == 0 and empty["owner"] is None


def test_report_bad_inputs_store_nothing(api) -> None:
    post = api.client.post
    assert_error(post("/v1/reports", content=b"{not json"), 400, "MALFORMED_JSON")
    assert_error(post("/v1/reports", content=b"[1]"), 400, "NOT_AN_OBJECT")
    assert_error(post("/v1/reports", content=b'{"to": "\xff\xfe"}'), 400, "INVALID_UTF8")
    assert_error(report(api, label="spam"), 422, "INVALID_FIELD")
    assert_error(report(api, colour="red"), 422, "UNKNOWN_FIELD")
    assert_error(report(api, text="x" * 10_001), 422, "INVALID_FIELD")
    assert_error(report(api, at="2026-11-23T10:00:00"), 422, "TIME_WITHOUT_OFFSET")
    assert_error(report(api, to="12"), 422, "INVALID_NUMBER")
    assert_error(report(api, reporter=""), 422, "INVALID_FIELD")
    assert_error(api.client.post("/v1/reports", content=json.dumps({"type": "complaint", "to": NUMBER, "at": AT})), 422)
    assert api.client.get(f"/v1/numbers/{NUMBER}/reputation").json()["reports"] == 0


def test_reports_rate_limited_per_reporter(api) -> None:
    headers = api.headers("acme", "sender")  # an app relaying reports: no per-client limit, per-reporter still
    statuses = [api.client.post("/v1/reports", headers=headers, content=json.dumps(
        {"to": NUMBER, "label": "fraud", "reporter": "busy", "at": AT})).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    other = api.client.post("/v1/reports", headers=headers, content=json.dumps(
        {"to": NUMBER, "label": "fraud", "reporter": "calm", "at": AT}))
    assert other.status_code == 202
    bad_key = api.client.post("/v1/reports", headers={"Authorization": "Bearer rg_nope_x"}, content=json.dumps(
        {"to": NUMBER, "label": "fraud", "reporter": "calm2", "at": AT}))
    assert_error(bad_key, 401, "UNAUTHENTICATED")


def test_public_lookup_rate_limited() -> None:
    early_in_window(60, 10)
    for api in make_api(reputation_rate_limit=2):
        statuses = [api.client.get(f"/v1/numbers/{NUMBER}/reputation").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]


def test_classify_endpoint_labels_clear_cases_and_item_errors(api) -> None:
    items = [
        "无视征信，黑户可贷，加微信dk888秒下款，先交500元保证金",
        {"id": "c1", "text": "【星河金融】您的借款已逾期3天，应还1200.00元，请于今日通过星河金融App还款。"},
        {"id": "bad", "text": "x", "colour": "red"},
        {"id": "long", "text": "好" * 10_001},
    ]
    response = api.post("/v1/classify", items, "acme", "auditor")
    assert response.status_code == 200, response.text
    out = response.json()
    assert [o["id"] for o in out] == [0, "c1", "bad", "long"]
    assert out[0]["label"] == "fraud" and out[0]["signals"]
    assert out[1]["label"] == "collection"
    assert out[2]["error"]["code"] == "UNKNOWN_FIELD" and out[3]["error"]["code"] == "TEXT_TOO_LONG"
    assert_error(api.post("/v1/classify", b"{", "acme", "auditor"), 400, "MALFORMED_JSON")
    assert_error(api.post("/v1/classify", {"text": "x"}, "acme", "auditor"), 400, "NOT_AN_OBJECT")
    assert_error(api.post("/v1/classify", [], "acme", "auditor"), 422, "INVALID_FIELD")
    assert_error(api.post("/v1/classify", ["x"] * 1001, "acme", "auditor"), 422, "TOO_MANY")
    assert_error(api.post("/v1/classify", b'["\xff"]', "acme", "auditor"), 400, "INVALID_UTF8")
    numeric = api.post("/v1/classify", [3, {"text": 4}], "acme", "auditor").json()
    assert [o["error"]["code"] for o in numeric] == ["INVALID_FIELD", "INVALID_FIELD"]
    assert_error(api.client.post("/v1/classify", content=b'["x"]'), 401, "UNAUTHENTICATED")


def test_reports_through_events_share_the_per_reporter_limit(api) -> None:
    """A report sent as a state event counts against the same per-reporter limit as /v1/reports."""
    headers = api.headers("acme", "sender")
    body = {"type": "report", "to": NUMBER, "label": "fraud", "reporter": "both-paths", "at": AT}
    first = [api.client.post("/v1/reports", headers=headers, content=json.dumps(body)).status_code for _ in range(2)]
    via_events = [api.client.post("/v1/events", headers=headers, content=json.dumps(body)).status_code for _ in range(2)]
    assert first == [202, 202] and via_events == [202, 429]
    again = api.client.post("/v1/reports", headers=headers, content=json.dumps(body))
    assert_error(again, 429, "RATE_LIMITED")
    other = {**body, "reporter": "someone-else"}
    assert [api.client.post("/v1/events", headers=headers, content=json.dumps(other)).status_code
            for _ in range(4)] == [202, 202, 202, 429]
    # the events path hashes with the service's reporter key, like /v1/reports: 3 + 3 reports, 2 reporters
    rep = api.client.get(f"/v1/numbers/{NUMBER}/reputation").json()
    assert rep["reports"] == 6 and rep["reporters"] == 2


def test_sms_port_reported_and_looked_up() -> None:
    """A 106 SMS service port is reportable (reputation/ports.py), kept as its digits."""
    for api in make_api(reputation_rate_limit=100, report_rate_limit=100):
        body = {"to": "106980095588", "label": "fraud", "reporter": "u1", "at": AT}
        answer = api.client.post("/v1/reports", content=json.dumps(body))
        assert answer.status_code == 202, answer.text
        assert answer.json()["number"] == "106980095588"
        rep = api.client.get("/v1/numbers/106980095588/reputation").json()
        assert rep["number"] == "106980095588" and rep["reports"] == 1
        assert_error(api.client.post("/v1/reports", content=json.dumps({**body, "to": "106123"})), 422, "INVALID_NUMBER")
        assert_error(api.client.get("/v1/numbers/106123/reputation"), 422, "INVALID_NUMBER")
