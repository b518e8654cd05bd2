"""Every class of bad input is a 4xx in the one error shape — never a 500."""

from __future__ import annotations

import json

import pytest

from apikit import AT, NUMBER, Api, assert_error, attempt, make_api

CONSENT = {"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT}


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/events", "/v1/decisions:batch", "/v1/inbound/sms"])
@pytest.mark.parametrize(
    "body, status, code",
    [
        (b'{"type": "attempt", ', 400, "MALFORMED_JSON"),
        (b"", 400, "MALFORMED_JSON"),
        (b"\xff\xfe{}", 400, None),  # INVALID_UTF8 or MALFORMED_JSON, depending on where the decoder stops
        (b'"just a string"', 400, "NOT_AN_OBJECT"),
    ],
)
def test_malformed_bodies(api: Api, path: str, body: bytes, status: int, code: str | None) -> None:
    role = "compliance" if path == "/v1/events" else "sender"
    response = api.post(path, body, role=role)
    if body.startswith(b'{"type"') and path in ("/v1/decisions:batch", "/v1/inbound/sms"):
        # decoded against one type, the first wrong token is the object itself, or its type tag
        error = assert_error(response, response.status_code)
        assert response.status_code in (400, 422) and error["code"] in ("NOT_AN_OBJECT", "UNKNOWN_EVENT_TYPE", "INVALID_FIELD")
        return
    if path == "/v1/decisions:batch" and body == b'"just a string"':
        code = "NOT_AN_OBJECT"
    error = assert_error(response, status, code)
    if body.startswith(b"\xff"):
        assert error["code"] in ("INVALID_UTF8", "MALFORMED_JSON")


def test_invalid_utf8_inside_a_string(api: Api) -> None:
    body = b'{"type":"attempt","org":"acme","channel":"sms","purpose":"marketing","to":"1\xff","at":"2026-11-23T10:00:00+08:00"}'
    assert_error(api.post("/v1/decisions", body), 400, "INVALID_UTF8")


@pytest.mark.parametrize(
    "change, code",
    [
        ({"chanel": "sms"}, "UNKNOWN_FIELD"),
        ({"at": "2026-11-23T10:00:00"}, "TIME_WITHOUT_OFFSET"),
        ({"at": "23/11/2026 10:00"}, "INVALID_TIME"),
        ({"at": "9999-12-31T23:00:00+08:00"}, "INVALID_TIME"),  # a 500 (date overflow in the rules) before
        ({"at": "0001-01-01T00:00:00+14:00"}, "INVALID_TIME"),
        ({"channel": "fax"}, "INVALID_FIELD"),
        ({"content": "x" * 10_001}, "INVALID_FIELD"),
        ({"type": "nonsense"}, "UNKNOWN_EVENT_TYPE"),
        ({"org": 7}, "INVALID_FIELD"),
    ],
)
def test_invalid_attempts(api: Api, change: dict, code: str) -> None:
    assert_error(api.post("/v1/decisions", attempt(**change)), 422, code)
    if change.get("type") != "nonsense":
        assert_error(api.post("/v1/decisions:batch", [attempt(), attempt(**change)]), 422, code)


def test_missing_field(api: Api) -> None:
    body = attempt()
    del body["channel"]
    assert_error(api.post("/v1/decisions", body), 422, "MISSING_FIELD")
    consent = dict(CONSENT)
    del consent["purpose"]
    assert_error(api.post("/v1/events", consent, role="compliance"), 422, "MISSING_FIELD")


def test_invalid_number_in_a_state_event(api: Api) -> None:
    error = assert_error(api.post("/v1/events", {**CONSENT, "to": "12345"}, role="compliance"), 422, "INVALID_NUMBER")
    assert "12345" in error["message"]
    assert_error(api.get("/v1/numbers/notanumber"), 422, "INVALID_NUMBER")


def test_oversize_bodies_are_refused_above_the_limit(api: Api) -> None:
    big = json.dumps(attempt(id="x" * 100, content="好" * 9_000)).encode() + b" " * (1 << 20)
    assert_error(api.post("/v1/decisions", big), 413, "TOO_LARGE")
    assert_error(api.post("/v1/events", big, role="compliance"), 413, "TOO_LARGE")

    async def chunks():  # no Content-Length: counted as it streams
        for _ in range(40):
            yield b" " * 65536

    assert_error(api.client.post("/v1/decisions", content=chunks(), headers=api.headers()), 413, "TOO_LARGE")


def test_limit_is_configurable(api: Api) -> None:
    api.app.user_middleware  # the middleware reads its limits at build time: use a fresh app
    gen = make_api(max_body_bytes=2048)
    small = next(gen)
    try:
        assert_error(small.post("/v1/decisions", attempt(content="x" * 3000)), 413, "TOO_LARGE")
        assert small.post("/v1/decisions", attempt(content="x" * 100)).status_code == 200
    finally:
        gen.close()


def test_unknown_route_method_and_query(api: Api) -> None:
    assert_error(api.client.get("/v2/nothing"), 404, "NOT_FOUND")
    assert_error(api.client.request("PUT", "/v1/events", headers=api.headers()), 405, "METHOD_NOT_ALLOWED")
    assert_error(api.get("/v1/decisions", params={"limit": "many"}), 400, "BAD_REQUEST")
    assert_error(api.get("/v1/decisions", params={"limit": 0}), 400, "BAD_REQUEST")
    assert_error(api.client.get("/v1/verify"), 400, "BAD_REQUEST")


def test_bad_content_length(api: Api) -> None:
    response = api.client.post("/v1/decisions", content=b"{}", headers={**api.headers(), "content-length": "abc"})
    assert response.status_code == 400


def test_import_errors(api: Api) -> None:
    assert_error(api.post("/v1/import/consents", b"to,at\n", role="compliance", headers={"content-type": "text/plain"}), 415,
                 "UNSUPPORTED_MEDIA_TYPE")
    assert_error(api.post("/v1/import/consents", b"to,when\n", role="compliance", headers={"content-type": "text/csv"}), 422,
                 "UNKNOWN_FIELD")


def test_a_nul_in_one_attempt_of_a_batch_names_it_and_decides_nothing(api) -> None:
    from apikit import attempt

    batch = [attempt(id=f"b{i}") for i in range(4)]
    batch[2]["subject"] = "L\u00001"
    before = api.get("/v1/decisions").json()
    response = api.post("/v1/decisions:batch", batch)
    assert response.status_code == 422
    assert response.json()["error"] == {"code": "INVALID_FIELD", "details": None,
                                         "message": "Expected text without NUL characters (\\u0000) - at `$[2].subject`"}
    assert api.get("/v1/decisions").json() == before  # nothing decided, nothing stored


@pytest.mark.parametrize("path", ["/v1/decisions", "/v1/decisions:batch", "/v1/classify"])
def test_a_lone_surrogate_escape_is_named(api: Api, path: str) -> None:
    body = b'{"type":"attempt","org":"acme","channel":"sms","purpose":"marketing","to":"13800138000",' \
           b'"at":"2026-11-23T10:00:00+08:00","content":"\\ud800"}'
    if path != "/v1/decisions":
        body = b"[" + body + b"]"
    response = api.post(path, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "MALFORMED_JSON" and "lone surrogate" in error["message"], error


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-14:00", "9999-12-31T22:00:00Z"])
def test_a_time_past_the_range_is_refused_and_reads_keep_working(api: Api, at: str) -> None:
    """Such a time was allowed and recorded; every later read of the number (and of the org's
    decisions) then failed with a 500 converting it back to a date."""
    assert_error(api.post("/v1/decisions", attempt(purpose="service", at=at)), 422, "INVALID_TIME")
    assert_error(api.post("/v1/events", {**CONSENT, "at": at}, role="compliance"), 422, "INVALID_TIME")
    assert_error(api.post("/v1/events", {**CONSENT, "expires_at": at}, role="compliance"), 422, "INVALID_TIME")
    assert api.post("/v1/decisions", attempt(purpose="service")).status_code == 200
    assert api.get(f"/v1/numbers/{NUMBER}", role="compliance").status_code == 200
    assert api.get("/v1/decisions", role="compliance").status_code == 200
    error = assert_error(api.get(f"/v1/numbers/{NUMBER}/reputation?at={at.replace('+', '%2B')}"), 422, "INVALID_TIME")
    assert error["details"] == {"parameter": "at"}


@pytest.mark.parametrize("to", ["13800138000\u0000", "\u000013800138000"])
def test_a_nul_at_either_end_of_a_number_makes_it_invalid(api: Api, to: str) -> None:
    body = json.dumps(attempt(to=to)).encode()  # json.dumps writes the NUL as the escape \u0000
    decision = api.post("/v1/decisions", body).json()
    assert decision["verdict"] == "deny" and [r["code"] for r in decision["reasons"]] == ["INVALID_NUMBER"]
    report = api.post("/v1/import/consents", f"to,at\n{to.replace(chr(0), '')}\x00,{CONSENT['at']}\n".encode(),
                      role="compliance", headers={"content-type": "text/csv"}).json()
    assert report["accepted"] == 0 and report["errors"][0]["code"] == "INVALID_NUMBER", report


@pytest.mark.parametrize("method, path, role", [
    ("DELETE", "/v1/keys/%00", "admin"),
    ("GET", "/v1/decisions?reason=%00", "compliance"),
    ("GET", "/v1/numbers/13800138000%00", "compliance"),
    ("GET", "/console/templates/a%00b", "compliance"),
])
def test_a_nul_in_the_url_is_400_on_every_store(api: Api, method: str, path: str, role: str) -> None:
    """PostgreSQL cannot compare text with NUL: these were 503 (store unavailable) there, 404 on SQLite."""
    response = api.client.request(method, path, headers=api.headers("acme", role))
    assert_error(response, 400, "INVALID_FIELD")
