"""POST /v1/inbound/sms: opt-out keywords and complaints, in the number's history at once."""

from __future__ import annotations

from apikit import AT, NUMBER, Api


def test_opt_out_reply_is_visible_at_once_and_stops_marketing(api: Api) -> None:
    api.consent()
    reply = api.post("/v1/inbound/sms", {"type": "inbound_sms", "from": "138 0013 8000", "to": "106900001", "text": " 退订。", "at": AT})
    assert reply.status_code == 202, reply.text
    assert reply.json()["action"] == "opt_out" and reply.json()["event"]["org"] == "acme"
    view = api.get(f"/v1/numbers/{NUMBER}").json()
    assert view["summary"]["opted_out"] is True
    assert view["state"]["opt_outs"][0]["note"] == "inbound_sms"
    assert [h["kind"] for h in view["history"]][-1] == "inbound_sms"
    decision = api.decide(at="2026-11-23T11:00:00+08:00")
    assert decision["verdict"] == "deny" and "OPTED_OUT" in [r["code"] for r in decision["reasons"]]


def test_complaint_and_ordinary_reply(api: Api) -> None:
    complaint = api.post("/v1/inbound/sms", {"from": NUMBER, "to": "1069", "text": "再发我就投诉你们", "at": AT})
    assert complaint.json()["action"] == "complaint"
    ordinary = api.post("/v1/inbound/sms", {"from": NUMBER, "to": "1069", "text": "T恤到货了吗", "at": AT})
    assert ordinary.json()["action"] is None
    view = api.get(f"/v1/numbers/{NUMBER}").json()
    assert view["summary"]["complaints"] == 1 and not view["summary"]["opted_out"]
    assert [r["text"] for r in view["state"]["inbound"]] == ["再发我就投诉你们", "T恤到货了吗"]
    metrics = api.client.get("/metrics").text
    assert 'reachguard_complaints_total{source="inbound_sms"} 1.0' in metrics


def test_invalid_sender_number(api: Api) -> None:
    response = api.post("/v1/inbound/sms", {"from": "abc", "to": "1069", "text": "T", "at": AT})
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_NUMBER"
