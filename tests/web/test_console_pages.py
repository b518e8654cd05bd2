"""The console and public pages in process: auth, CSRF, headers, org isolation, bad input."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import datetime
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest

from reachguard.model import Attempt, Complaint
from webkit import A_NUMBER, Pages

ZONE = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def pages() -> Iterator[Pages]:
    made = Pages()
    yield made
    made.close()


def _complaint(pages: Pages, org: str, number: str = A_NUMBER, text: str = "半夜打电话") -> None:
    pages.app.state.service.gateway.apply(Complaint(to=number, at=datetime.now(ZONE), org=org, text=text))


def test_security_headers_on_pages_not_on_the_api(pages: Pages) -> None:
    page = pages.client.get("/public/verify")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline script anywhere
    asset = pages.client.get("/static/vendor/htmx-2.0.11.min.js")
    assert asset.status_code == 200 and asset.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in pages.client.get("/healthz").headers


def test_no_session_redirects_to_login_and_htmx_gets_401(pages: Pages) -> None:
    r = pages.client.get("/console/numbers?q=13800138000", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    r = pages.client.get("/console/stats", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/console/login"
    forged = pages.new_client()
    forged.cookies.set("rg_session", "eyJmb3JnZWQiOnRydWV9.x.y")
    assert forged.get("/console", follow_redirects=False).status_code == 303


def test_login_refuses_bad_keys_and_machine_roles(pages: Pages) -> None:
    client = pages.client
    token = pages.csrf(client, "/console/login")
    r = client.post("/console/login", data={"key": "rg_nope_nope", "csrf": token})
    assert r.status_code == 401 and "密钥无效" in r.text
    r = client.post("/console/login", data={"key": pages.keys[("acme", "sender")], "csrf": token})
    assert r.status_code == 403
    r = client.post("/console/login", data={"key": pages.keys[("acme", "alice")], "csrf": "wrong"})
    assert r.status_code == 403 and "rg_session" not in client.cookies


def test_session_cookie_flags_and_revocation(pages: Pages) -> None:
    client = pages.new_client(base_url="http://testserver")
    token = pages.csrf(client, "/console/login")
    r = client.post("/console/login", data={"key": pages.keys[("acme", "alice")], "csrf": token}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie.split("rg_csrf")[0]
    assert client.get("/console", follow_redirects=False).status_code == 200
    key_id = pages.keys[("acme", "alice")].split("_")[1]
    assert pages.store.revoke_api_key(key_id, time.time())
    pages.app.state.web.sessions._keys.clear()  # the key cache's TTL, elapsed
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_secure_cookies_over_https() -> None:
    https = Pages()
    try:
        client = https.new_client(base_url="https://testserver")
        token = https.csrf(client, "/console/login")
        r = client.post("/console/login", data={"key": https.keys[("acme", "alice")], "csrf": token}, follow_redirects=False)
        assert all("secure" in c.lower() for c in r.headers.get_list("set-cookie"))
    finally:
        https.close()


def test_every_post_needs_the_csrf_token_and_nothing_is_stored_without_it(pages: Pages) -> None:
    client = pages.client
    token = pages.login(client, "acme", "alice")
    r = client.post("/console/templates", data={"template_id": "t1", "text": "【星河】您好{name}"})
    assert r.status_code == 403 and "表单已过期" in r.text
    r = client.post("/console/templates", data={"template_id": "t1", "text": "【星河】您好{name}", "csrf": token + "x"})
    assert r.status_code == 403
    assert pages.store.template_ids("acme") == []
    r = client.post("/public/report", data={"to": "13800138000", "org": "acme", "csrf": "nope"})
    assert r.status_code == 403
    assert pages.store.ledger_head("acme") is None
    r = client.post("/console/templates", data={"template_id": "t1", "text": "【星河】您好{name}", "csrf": token})
    assert r.status_code == 200 and pages.store.template_ids("acme") == ["t1"]


def test_oversized_and_invalid_fields_are_refused_without_storing(pages: Pages) -> None:
    client = pages.client
    token = pages.csrf(client)
    r = client.post("/public/report", data={"to": "13800138000", "text": "骚" * 1001, "csrf": token})
    assert r.status_code == 413 and "1000" in r.text
    r = client.post("/public/report", data={"to": "12345", "csrf": token})
    assert r.status_code == 422 and "不是有效的电话号码" in r.text
    r = client.post("/public/report", data={"to": "13800138000", "from": "abc", "csrf": token})
    assert r.status_code == 422
    r = client.post("/public/report", data={"to": "13800138000", "from": "13900139000", "label": "spam!", "csrf": token})
    assert r.status_code == 422 and "类型无效" in r.text
    r = client.post("/public/report", data={"to": "13800138000", "text": "骚扰\x00", "csrf": token})
    assert r.status_code == 422 and "不能包含 NUL" in r.text  # PostgreSQL could not store it: refused on every store
    assert pages.store.ledger_head("*") is None and pages.store.ledger_head("acme") is None
    pages.login(client, "acme", "alice")
    assert client.get("/console/numbers?q=not-a-number").status_code == 422
    assert client.get("/console/numbers?q=" + "1" * 65).status_code == 422
    assert client.get("/public/number?n=" + "1" * 500).status_code == 422


def test_public_report_files_a_complaint_and_is_rate_limited() -> None:
    limited = Pages(public_form_rate_limit=2)
    try:
        client = limited.client
        token = limited.csrf(client)
        for i in range(2):
            r = client.post("/public/report", data={"to": "13800138000", "org": "acme", "text": f"第{i}次", "csrf": token})
            assert r.status_code == 200 and "已收到您的投诉" in r.text
        r = client.post("/public/report", data={"to": "13800138000", "org": "acme", "text": "again", "csrf": token})
        assert r.status_code == 429
        records = limited.store.number_records("acme", A_NUMBER)
        assert [row["kind"] for row in records["opt_outs"]] == ["complaint", "complaint"]
    finally:
        limited.close()


def test_public_verify_never_says_genuine_for_a_bad_code(pages: Pages) -> None:
    svc = pages.app.state.service
    decision = svc.gateway.decide(Attempt(org="acme", channel="sms", purpose="service", to=A_NUMBER, at=datetime.now(ZONE)))
    code = decision.verification_code
    assert code
    ok = pages.client.get(f"/public/verify?code={code.lower()}&to=138 0013 8000")
    assert "✔" in ok.text and "acme" in ok.text
    for bad in (f"?code={code}&to=13900139000", "?code=ZZZZZZZZ&to=13800138000", "?code=%3Cscript%3E&to=x",
                f"?code={code}{'X' * 500}&to=13800138000"):
        page = pages.client.get("/public/verify" + bad)
        assert page.status_code == 200 and "✘" in page.text and "<script>" not in page.text


def test_language_switch(pages: Pages) -> None:
    client = pages.new_client()
    assert "短信验真" in client.get("/public/verify").text
    english = client.get("/public/verify?lang=en")
    assert "Verify an SMS" in english.text and "rg_lang=en" in english.headers["set-cookie"]
    assert "Verify an SMS" in client.get("/public/verify").text  # kept in the cookie
    assert 'lang="en"' in client.get("/public/verify").text


def test_an_org_sees_only_its_own_data(pages: Pages) -> None:
    acme = pages.new_client()
    token = pages.login(acme, "acme", "alice")
    acme.post("/console/templates", data={"template_id": "secret", "text": "【星河】{x}", "csrf": token})
    _complaint(pages, "acme")
    assert "半夜打电话" in acme.get("/console/complaints").text
    job = acme.post("/console/ledger/export", data={"csrf": token}).text
    job_id = job.split("/console/ledger/export/")[1].split('"')[0]

    beta = pages.new_client()
    beta_token = pages.login(beta, "beta", "officer")
    assert beta.get("/console/templates/secret").status_code == 404
    assert "secret" not in beta.get("/console/templates").text
    assert "半夜打电话" not in beta.get("/console/complaints").text
    seq = pages.store.complaint_cases("acme")[0].seq
    r = beta.post(f"/console/complaints/{seq}", data={"status": "resolved", "assignee": "x", "reply": "", "csrf": beta_token})
    assert r.status_code == 404
    assert pages.store.complaint_cases("acme")[0].status == "new"
    assert beta.get(f"/console/ledger/export/{job_id}").status_code == 404
    view = beta.get(f"/console/numbers?q={A_NUMBER}").text
    assert "半夜打电话" not in view


def test_ledger_export_reports_progress_then_downloads(pages: Pages) -> None:
    client = pages.client
    token = pages.login(client, "acme", "audit")
    _complaint(pages, "acme")
    page = client.post("/console/ledger/export", data={"csrf": token})
    assert page.status_code == 200 and "<progress" in page.text
    job_id = page.text.split("/console/ledger/export/")[1].split('"')[0]
    deadline = time.monotonic() + 60  # a bound for a loaded CI machine, not a timing assertion
    while "/download" not in (page := client.get(f"/console/ledger/export/{job_id}")).text:
        assert time.monotonic() < deadline, "the export job never finished"
        time.sleep(0.02)
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/console/ledger/export/{job_id}/download").content))
    assert "ledger-acme/entries.jsonl" in archive.namelist()
    verified = client.post("/console/ledger/verify", data={"csrf": token}, headers={"HX-Request": "true"})
    assert "✔" in verified.text
    assert "✔" in client.get("/console/ledger").text  # the last verification is remembered


def test_ledger_export_files_are_deleted_when_the_app_stops() -> None:
    """The zip holds the org's ledger (numbers included); it stayed in /tmp after the server stopped."""
    from starlette.testclient import TestClient

    pages = Pages()
    try:
        with TestClient(pages.app, base_url="http://testserver") as client:  # runs the app's lifespan
            token = pages.login(client, "acme", "audit")
            _complaint(pages, "acme")
            page = client.post("/console/ledger/export", data={"csrf": token})
            job_id = page.text.split("/console/ledger/export/")[1].split('"')[0]
            deadline = time.monotonic() + 60  # a bound for a loaded CI machine, not a timing assertion
            while "/download" not in client.get(f"/console/ledger/export/{job_id}").text:
                assert time.monotonic() < deadline, "the export job never finished"
                time.sleep(0.02)
            zip_file = pages.app.state.web.jobs.get(job_id, "acme").result
            assert zip_file.exists()
        assert not zip_file.exists()
    finally:
        pages.close()


def test_auditor_reads_but_cannot_approve_templates(pages: Pages) -> None:
    client = pages.client
    token = pages.login(client, "acme", "audit")
    r = client.post("/console/templates", data={"template_id": "t9", "text": "【星河】{x}", "csrf": token})
    assert r.status_code == 403 and pages.store.template_ids("acme") == []


def test_template_author_cannot_approve_own_template(pages: Pages) -> None:
    client = pages.client
    token = pages.login(client, "acme", "alice")
    client.post("/console/templates", data={"template_id": "t2", "text": "【星河】您好{name}", "csrf": token})
    r = client.post("/console/templates/t2/review", data={"verdict": "approve", "comment": "", "version": "1", "csrf": token})
    assert r.status_code == 409 and "author" in r.text
    r = client.post("/console/templates/t2/review", data={"verdict": "maybe", "comment": "", "version": "1", "csrf": token})
    assert r.status_code == 400


def test_draft_review_highlights_findings(pages: Pages) -> None:
    client = pages.client
    token = pages.login(client, "acme", "alice")
    r = client.post("/console/review", data={"text": "再不还钱就上门找你家人", "purpose": "collection", "relation": "borrower",
                                             "channel": "sms", "csrf": token})
    assert r.status_code == 200 and '<mark class="block"' in r.text and "THREAT" in r.text
    r = client.post("/console/review", data={"text": "x", "purpose": "bogus", "relation": "borrower", "channel": "sms",
                                             "csrf": token})
    assert r.status_code == 400


def test_public_report_reaches_the_same_reputation_as_the_api(pages: Pages) -> None:
    """A caller reported through the form is counted once per reporter, like POST /v1/reports."""
    client = pages.client
    token = pages.csrf(client)
    for _ in range(2):  # the same visitor twice: one reporter, two reports
        r = client.post("/public/report", data={"to": "13800138000", "from": "13900139000", "label": "fraud",
                                                "text": "冒充客服", "csrf": token})
        assert r.status_code == 200
    api = client.get("/v1/numbers/13900139000/reputation").json()
    assert api["label"] == "fraud" and api["reporters"] == 1 and api["reports"] == 2
    page = client.get("/public/number?n=13900139000")
    assert page.status_code == 200 and "冒充客服" not in page.text and "web:" not in page.text
    assert "fraud" in page.text or "诈骗" in page.text


def test_public_pages_take_sms_service_ports_like_the_api(pages: Pages) -> None:
    """Spam SMS come from 106 ports: the form reports one and the number page looks it up."""
    client = pages.client
    token = pages.csrf(client)
    r = client.post("/public/report", data={"to": "13800138000", "from": "1069 0000 123", "label": "loan_marketing",
                                            "csrf": token})
    assert r.status_code == 200
    api = client.get("/v1/numbers/10690000123/reputation").json()
    assert api["label"] == "loan_marketing" and api["reports"] == 1
    page = client.get("/public/number?n=10690000123")
    assert page.status_code == 200 and ("loan_marketing" in page.text or "贷款推销" in page.text)
    assert client.get("/public/number?n=1069").status_code == 422  # too short to be a port
