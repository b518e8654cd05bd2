"""API keys: required, hashed at rest, revocable; each role reaches only its endpoints."""

from __future__ import annotations

import hashlib

import pytest

from apikit import AT, NUMBER, Api, assert_error, attempt, early_in_window, make_api

CONSENT = {"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT}

# (method, path, body, content-type) → roles allowed
ENDPOINTS = [
    ("POST", "/v1/decisions", attempt(), None, {"sender"}),
    ("POST", "/v1/decisions:batch", [attempt()], None, {"sender"}),
    ("POST", "/v1/events", CONSENT, None, {"sender", "compliance"}),
    ("POST", "/v1/inbound/sms", {"from": NUMBER, "to": "1069", "text": "hi", "at": AT}, None, {"sender", "compliance"}),
    ("POST", "/v1/import/consents", f"to,at\n{NUMBER},{AT}\n", "text/csv", {"compliance"}),
    ("POST", "/v1/import/lists/acme", f"to\n{NUMBER}\n", "text/csv", {"compliance"}),
    ("GET", f"/v1/numbers/{NUMBER}", None, None, {"compliance", "auditor"}),
    ("GET", "/v1/decisions", None, None, {"compliance", "auditor"}),
    ("GET", "/v1/policy", None, None, {"compliance", "auditor"}),
    ("GET", "/v1/ledger/entries", None, None, {"auditor"}),
    ("GET", "/v1/ledger/checkpoints", None, None, {"auditor"}),
    ("GET", "/v1/ledger/verify", None, None, {"auditor"}),
    ("GET", "/v1/ledger/export", None, None, {"auditor"}),
    ("GET", "/v1/keys", None, None, {"admin"}),
    ("POST", "/v1/keys", {"role": "sender"}, None, {"admin"}),
]


def _call(api: Api, method: str, path: str, body, ctype, headers: dict):
    import json

    kw: dict = {"headers": dict(headers)}
    if body is not None:
        kw["content"] = body if isinstance(body, str) else json.dumps(body)
        if ctype:
            kw["headers"]["content-type"] = ctype
    return api.client.request(method, path, **kw)


@pytest.mark.parametrize("method, path, body, ctype, allowed", ENDPOINTS, ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS])
def test_roles(api: Api, method, path, body, ctype, allowed) -> None:
    api.decide()  # something in the ledger to export
    for role in ("sender", "compliance", "auditor", "admin"):
        response = _call(api, method, path, body, ctype, api.headers("acme", role))
        if role in allowed:
            assert response.status_code < 300, (role, response.text)
        else:
            assert_error(response, 403, "FORBIDDEN")
    assert_error(_call(api, method, path, body, ctype, {}), 401, "UNAUTHENTICATED")
    assert_error(_call(api, method, path, body, ctype, {"Authorization": "Bearer rg_nope_nope"}), 401, "UNAUTHENTICATED")
    assert_error(_call(api, method, path, body, ctype, {"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")


def test_keys_are_hashed_at_rest(api: Api) -> None:
    key = api.keys[("acme", "sender")]
    with api.service.store.read() as db:
        rows = db.execute("SELECT * FROM api_keys").fetchall()
    flat = repr(rows)
    assert key not in flat and key.split("_", 2)[2] not in flat
    assert hashlib.sha256(key.encode()).hexdigest() in flat


def test_admin_creates_lists_and_revokes_keys(api: Api) -> None:
    api.service.keys.ttl = 0
    created = api.post("/v1/keys", {"role": "sender", "label": "dialer"}, role="admin")
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["org"] == "acme" and new["key"].startswith("rg_")
    headers = {"Authorization": f"Bearer {new['key']}"}
    assert api.client.post("/v1/decisions", json=attempt(), headers=headers).status_code == 200
    listed = api.get("/v1/keys", role="admin").json()["keys"]
    assert new["key_id"] in [k["key_id"] for k in listed] and all("key" not in k for k in listed)
    revoked = api.client.delete(f"/v1/keys/{new['key_id']}", headers=api.headers(role="admin"))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert_error(api.client.post("/v1/decisions", json=attempt(), headers=headers), 401, "UNAUTHENTICATED")
    assert_error(api.client.delete(f"/v1/keys/{new['key_id']}", headers=api.headers(role="admin")), 404, "NOT_FOUND")
    assert_error(api.post("/v1/keys", {"role": "root"}, role="admin"), 422, "INVALID_FIELD")
    assert_error(api.post("/v1/keys", {"role": "sender", "org": "xinghe"}, role="admin"), 403, "ORG_MISMATCH")


def test_revocation_from_the_cli_store_reaches_a_running_app(api: Api) -> None:
    import time

    api.service.keys.ttl = 0.2
    assert api.post("/v1/decisions", attempt()).status_code == 200
    key_id = api.keys[("acme", "sender")].split("_")[1]
    assert api.service.store.revoke_api_key(key_id, time.time())
    time.sleep(0.25)
    assert_error(api.post("/v1/decisions", attempt()), 401, "UNAUTHENTICATED")


def test_api_rate_limit_per_key() -> None:
    gen = make_api(api_rate_limit=3)
    api = next(gen)
    try:
        early_in_window(1, 0.8)  # a one-second window
        codes = [api.post("/v1/decisions", attempt()).status_code for _ in range(6)]
        assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
        limited = api.post("/v1/decisions", attempt())
        if limited.status_code == 429:
            assert limited.headers["retry-after"] and limited.json()["error"]["code"] == "RATE_LIMITED"
    finally:
        gen.close()


@pytest.mark.parametrize("body, status, code", [
    (b'{"role":"sender","label":"\\ud800"}', 400, "MALFORMED_JSON"),  # a lone surrogate escape, named
    (b'{"role":"sender","label":"\xff"}', 400, "INVALID_UTF8"),
    (b'[{"role":"sender"}]', 400, "NOT_AN_OBJECT"),
    (b'{"role":"sender","scope":"all"}', 422, "UNKNOWN_FIELD"),
    (b'{"label":"x"}', 422, "MISSING_FIELD"),
    (b'{"role":"sender","label":"a\\u0000b"}', 422, "INVALID_FIELD"),
])
def test_a_bad_key_request_gets_the_common_error_codes_and_creates_nothing(api: Api, body: bytes, status: int,
                                                                          code: str) -> None:
    before = api.get("/v1/keys", role="admin").json()
    response = api.post("/v1/keys", body, role="admin")
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    if code == "MALFORMED_JSON":
        assert "lone surrogate" in error["message"]
    assert api.get("/v1/keys", role="admin").json() == before
