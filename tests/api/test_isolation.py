"""An org never reads or changes another org's data: every endpoint, both directions."""

from __future__ import annotations

import io
import json
import zipfile

from apikit import AT, NUMBER, Api, assert_error, attempt

CONSENT = {"type": "consent", "org": "xinghe", "to": NUMBER, "purpose": "marketing", "at": AT}


def _seed_xinghe(api: Api) -> str:
    """xinghe's data about NUMBER: consent, account, outcome, inbound reply, complaint, own list, a decision."""
    api.event(CONSENT, "xinghe")
    api.event({"type": "account", "org": "xinghe", "subject": "X1", "borrower": NUMBER, "at": AT, "days_past_due": 5}, "xinghe")
    api.event({"type": "outcome", "org": "xinghe", "to": NUMBER, "at": AT, "result": "no_answer"}, "xinghe")
    api.event({"type": "dnc", "list": "xinghe", "to": NUMBER, "at": AT}, "xinghe")
    api.event({"type": "complaint", "to": NUMBER, "at": AT, "text": "xinghe secret complaint"}, "xinghe")
    reply = api.post("/v1/inbound/sms", {"from": NUMBER, "to": "1069", "text": "退订", "at": AT}, "xinghe")
    assert reply.status_code == 202 and reply.json()["event"]["org"] == "xinghe"
    decision = api.decide("xinghe", purpose="service", content="【星河】xinghe-secret 验证码 1234")
    return decision["verification_code"]


def test_bodies_naming_another_org_are_refused(api: Api) -> None:
    assert_error(api.post("/v1/decisions", attempt("xinghe")), 403, "ORG_MISMATCH")
    error = assert_error(api.post("/v1/decisions:batch", [attempt(), attempt("xinghe")]), 403, "ORG_MISMATCH")
    assert error["details"] == {"index": 1}
    for event in (
        CONSENT,
        {"type": "consent_withdrawn", "org": "xinghe", "to": NUMBER, "at": AT},
        {"type": "opt_out", "org": "xinghe", "to": NUMBER, "at": AT},
        {"type": "account", "org": "xinghe", "subject": "S", "borrower": NUMBER, "at": AT},
        {"type": "outcome", "org": "xinghe", "to": NUMBER, "at": AT, "result": "refused"},
        {"type": "complaint", "org": "xinghe", "to": NUMBER, "at": AT},
        {"type": "inbound_sms", "org": "xinghe", "from": NUMBER, "to": "1069", "text": "T", "at": AT},
    ):
        assert_error(api.post("/v1/events", event, role="compliance"), 403, "ORG_MISMATCH")
    assert_error(api.post("/v1/inbound/sms", {"org": "xinghe", "from": NUMBER, "to": "1", "text": "T", "at": AT}), 403, "ORG_MISMATCH")
    for name in ("xinghe", "org:xinghe", "national"):
        assert_error(api.post("/v1/events", {"type": "dnc", "list": name, "to": NUMBER, "at": AT}, role="compliance"), 403, "LIST_FORBIDDEN")
        response = api.post(f"/v1/import/lists/{name}", f"to\n{NUMBER}\n", role="compliance", headers={"content-type": "text/csv"})
        assert_error(response, 403, "LIST_FORBIDDEN")
    # nothing of the above changed xinghe's state
    assert api.get(f"/v1/numbers/{NUMBER}", "xinghe").json()["state"]["consents"] == []


def test_an_absent_org_becomes_the_keys_org(api: Api) -> None:
    stored = api.event({"type": "opt_out", "to": NUMBER, "at": AT})
    assert stored["org"] == "acme"
    api.consent("xinghe")
    assert api.decide("xinghe")["verdict"] == "allow"  # acme's opt-out does not stop xinghe


def test_imports_cannot_write_another_org(api: Api) -> None:
    jsonl = json.dumps(CONSENT) + "\n" + json.dumps({**CONSENT, "org": "acme"}) + "\n"
    report = api.post("/v1/import/consents", jsonl, role="compliance", headers={"content-type": "application/x-ndjson"}).json()
    assert report["accepted"] == 1 and report["errors"][0]["code"] == "ORG_MISMATCH" and report["errors"][0]["line"] == 1
    csv = f"org,to,at\nxinghe,{NUMBER},{AT}\n"
    report = api.post("/v1/import/consents", csv, role="compliance", headers={"content-type": "text/csv"}).json()
    assert report["rejected"] == 1 and report["errors"][0]["code"] == "ORG_MISMATCH"
    assert api.get(f"/v1/numbers/{NUMBER}", "xinghe").json()["state"]["consents"] == []


def test_reads_show_only_the_callers_org(api: Api) -> None:
    _seed_xinghe(api)
    api.consent("acme")
    api.decide("acme", id="acme-1")
    for role in ("compliance", "auditor"):
        view = api.get(f"/v1/numbers/{NUMBER}", "acme", role).json()
        text = json.dumps(view, ensure_ascii=False)
        assert "xinghe" not in text, text
        assert view["org"] == "acme" and len(view["state"]["consents"]) == 1
        assert {item["chain"] for item in view["history"]} == {"acme"}
        decisions = api.get("/v1/decisions", "acme", role).json()["decisions"]
        assert [d["attempt"]["id"] for d in decisions] == ["acme-1"]
    theirs = api.get(f"/v1/numbers/{NUMBER}", "xinghe").json()
    assert theirs["summary"]["opted_out"] and theirs["summary"]["complaints"] == 1 and theirs["summary"]["lists"] == ["xinghe"]
    assert "acme" not in json.dumps(theirs["history"])


def test_ledger_endpoints_are_per_org(api: Api) -> None:
    _seed_xinghe(api)
    api.consent("acme")
    entries = api.get("/v1/ledger/entries", "acme", "auditor").json()
    assert entries["org"] == "acme" and all(e["org"] == "acme" for e in entries["entries"]) and len(entries["entries"]) == 1
    api.service.signer.checkpoint_all()
    checkpoints = api.get("/v1/ledger/checkpoints", "acme", "auditor").json()
    assert [c["org"] for c in checkpoints["checkpoints"]] == ["acme"]
    report = api.get("/v1/ledger/verify", "acme", "auditor").json()
    assert report == {"org": "acme", "ok": True, "checked": 1, "checkpoints": 1, "broken_seq": None, "problem": None}
    archive = zipfile.ZipFile(io.BytesIO(api.get("/v1/ledger/export", "acme", "auditor").content))
    lines = archive.read("ledger-acme/entries.jsonl").decode().splitlines()
    assert len(lines) == 1 and "xinghe" not in "".join(lines)


def test_keys_are_per_org(api: Api) -> None:
    theirs = api.get("/v1/keys", "xinghe", "admin").json()["keys"]
    assert {k["org"] for k in theirs} == {"xinghe"}
    assert {k["org"] for k in api.get("/v1/keys", "acme", "admin").json()["keys"]} == {"acme"}
    assert_error(api.client.delete(f"/v1/keys/{theirs[0]['key_id']}", headers=api.headers("acme", "admin")), 404, "NOT_FOUND")
    assert api.post("/v1/decisions", attempt("xinghe"), "xinghe").status_code == 200  # still valid


def test_policy_is_the_callers(api: Api) -> None:
    assert api.get("/v1/policy").json()["timezone"] == "Asia/Shanghai"


def test_verify_names_only_the_issuer_and_only_for_that_number(api: Api) -> None:
    code = _seed_xinghe(api)
    answer = api.client.get("/v1/verify", params={"code": code, "to": NUMBER}).json()
    assert answer == {"genuine": True, "org": "xinghe", "sent_at": "2026-11-23T10:00:00+08:00"}
    assert api.client.get("/v1/verify", params={"code": code, "to": "+8613900139000"}).json() == {
        "genuine": False, "org": None, "sent_at": None}
