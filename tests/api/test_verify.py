"""GET /v1/verify: genuine codes vs forged ones; exactly three fields; rate limited per client."""

from __future__ import annotations

from apikit import NUMBER, Api, assert_error, early_in_window, make_api


def test_genuine_code(api: Api) -> None:
    api.consent()
    code = api.decide(content="【某某金融】测试 回T退订")["verification_code"]
    answer = api.client.get("/v1/verify", params={"code": code, "to": "138 0013 8000"})
    assert answer.status_code == 200
    assert answer.json() == {"genuine": True, "org": "acme", "sent_at": "2026-11-23T10:00:00+08:00"}
    sloppy = code.lower()[:4] + "-" + code.lower()[4:]
    assert api.client.get("/v1/verify", params={"code": sloppy, "to": NUMBER}).json()["genuine"] is True


def test_forged_codes(api: Api) -> None:
    api.consent()
    code = api.decide()["verification_code"]
    forged = ("Z" if code[0] != "Z" else "Y") + code[1:]
    nothing = {"genuine": False, "org": None, "sent_at": None}
    for params in ({"code": forged, "to": NUMBER}, {"code": code, "to": "+8613900139000"}, {"code": "short", "to": NUMBER},
                   {"code": code, "to": "not a number"}, {"code": "UUUUUUUU", "to": NUMBER}):
        response = api.client.get("/v1/verify", params=params)
        assert response.status_code == 200 and response.json() == nothing, params
    denied = api.decide(at="2026-11-23T23:00:00+08:00")
    assert denied["verification_code"] is None


def test_rate_limited_per_client() -> None:
    gen = make_api(verify_rate_limit=3)
    api = next(gen)
    try:
        early_in_window(60, 10)
        codes = [api.client.get("/v1/verify", params={"code": "ABCDEFGH", "to": NUMBER}).status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        limited = api.client.get("/v1/verify", params={"code": "ABCDEFGH", "to": NUMBER})
        assert_error(limited, 429, "RATE_LIMITED")
        assert int(limited.headers["retry-after"]) >= 1
    finally:
        gen.close()


def test_behind_a_proxy_the_client_cannot_pick_its_address_for_the_limit() -> None:
    """With trust_forwarded_for, the limit counted the first X-Forwarded-For entry, which the
    client writes: a new one per request passed every per-client limit (found by a security review)."""
    gen = make_api(verify_rate_limit=3, trust_forwarded_for=True)
    api = next(gen)
    try:
        early_in_window(60, 10)
        codes = [api.client.get("/v1/verify", params={"code": "ABCDEFGH", "to": NUMBER},
                                headers={"x-forwarded-for": f"10.0.0.{i}, 192.0.2.7"}).status_code for i in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        other = api.client.get("/v1/verify", params={"code": "ABCDEFGH", "to": NUMBER},
                               headers={"x-forwarded-for": "10.0.0.1, 192.0.2.8"})
        assert other.status_code == 200  # another client behind the same proxy: its own count
    finally:
        gen.close()
