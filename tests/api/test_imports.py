"""Bulk imports: CSV or JSON Lines, streamed, with a per-line error report."""

from __future__ import annotations

import json

from apikit import AT, NUMBER, Api

CSV = "text/csv"
JSONL = "application/x-ndjson"


def _import(api: Api, path: str, body: str | bytes, ctype: str) -> dict:
    response = api.post(path, body, role="compliance", headers={"content-type": ctype})
    assert response.status_code == 200, response.text
    return response.json()


def test_csv_consents_with_line_errors(api: Api) -> None:
    body = (
        "to,at,channels,expires_at,evidence\n"
        f"{NUMBER},{AT},sms|call,,web form 17\n"
        f"13900139000,{AT},,,\n"
        f"12345,{AT},,,\n"
        f"13700137000,2026-11-23 10:00,,,\n"
        f"13700137000,{AT},fax,,\n"
        f"13700137000,{AT}\n"
        "\n"
        f"\"13600136000\",{AT},sms,2027-01-01T00:00:00+08:00,\"a, quoted\"\n"
    )
    report = _import(api, "/v1/import/consents", body, CSV)
    assert report["lines"] == 7 and report["accepted"] == 3 and report["rejected"] == 4
    assert [(e["line"], e["code"]) for e in report["errors"]] == [
        (4, "INVALID_NUMBER"), (5, "INVALID_TIME"), (6, "INVALID_FIELD"), (7, "INVALID_FIELD")]
    view = api.get(f"/v1/numbers/{NUMBER}").json()
    assert view["state"]["consents"][0]["channels"] == ["sms", "call"] and view["state"]["consents"][0]["evidence"] == "web form 17"


def test_jsonl_consents_and_withdrawals(api: Api) -> None:
    lines = [
        {"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT},
        {"type": "consent_withdrawn", "org": "acme", "to": NUMBER, "at": "2026-11-23T12:00:00+08:00"},
        {"type": "opt_out", "to": NUMBER, "at": AT},
        {"type": "consent", "org": "acme", "to": NUMBER, "purpose": "marketing", "at": AT, "typo": 1},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n{broken\n"
    report = _import(api, "/v1/import/consents", body, JSONL)
    assert report["accepted"] == 2
    assert [(e["line"], e["code"]) for e in report["errors"]] == [(3, "WRONG_EVENT_TYPE"), (4, "UNKNOWN_FIELD"), (5, "MALFORMED_JSON")]


def test_list_import_csv_and_jsonl(api: Api) -> None:
    report = _import(api, "/v1/import/lists/acme", f"to,remove\n{NUMBER},false\n13900139000,true\n13700137000,maybe\n", CSV)
    assert report["accepted"] == 2 and report["errors"][0]["line"] == 4
    assert api.get(f"/v1/numbers/{NUMBER}").json()["summary"]["lists"] == ["acme"]
    body = json.dumps({"type": "dnc", "list": "org:acme", "to": NUMBER, "at": AT}) + "\n"
    assert _import(api, "/v1/import/lists/org:acme", body, JSONL)["accepted"] == 1
    wrong = json.dumps({"type": "dnc", "list": "acme", "to": NUMBER, "at": AT})
    assert _import(api, "/v1/import/lists/org:acme", wrong, JSONL)["errors"][0]["code"] == "LIST_FORBIDDEN"
    api.consent()
    assert api.decide()["reasons"][0]["code"] == "ON_DNC_LIST"


def test_streamed_import_in_chunks(api: Api) -> None:
    rows = "".join(f"+86137{i:08d},{AT}\n" for i in range(4_500))

    async def stream():
        data = ("to,at\n" + rows).encode()
        for start in range(0, len(data), 7_000):  # lines split across chunks
            yield data[start:start + 7_000]

    response = api.client.post("/v1/import/consents", content=stream(), headers={**api.headers(role="compliance"), "content-type": CSV})
    report = response.json()
    assert report["lines"] == 4_500 and report["accepted"] == 4_500 and report["errors"] == []


def test_overlong_line_is_one_error(api: Api) -> None:
    body = f"to,at,evidence\n{NUMBER},{AT},{'x' * ((1 << 20) + 1)}\n{NUMBER},{AT},ok\n"
    report = _import(api, "/v1/import/consents", body, CSV)
    assert report["accepted"] == 1 and report["errors"][0] == {"line": 2, "code": "TOO_LARGE", "message": report["errors"][0]["message"]}


def test_csv_header_naming_a_column_twice_is_refused(api: Api) -> None:
    """The last `to` used to win silently; a scrub refuses the same header with BAD_HEADER."""
    for path, header in (("/v1/import/consents", "to,at,TO"), ("/v1/import/lists/acme", "to,to,at")):
        body = f"{header}\n{NUMBER},{AT},13900139000\n"
        response = api.post(path, body, role="compliance", headers={"content-type": CSV})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "BAD_HEADER" and "to" in response.json()["error"]["message"]
    assert api.get(f"/v1/numbers/{NUMBER}").json()["summary"]["lists"] == []
