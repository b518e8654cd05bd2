"""Reply keywords become opt-outs or complaints (inbound.py + engine)."""

import pytest

from worldkit import PROSPECT, World, codes
from reachguard.inbound import classify_reply


@pytest.mark.parametrize("text", ["回T", "TD", "T", "t", "退订", "N", "R", "拒收", "STOP", "stop", "UNSUBSCRIBE",
                                  "ＴＤ", "回Ｔ", "Ｔ", " 退订。", "回T退订", "Stop!"])
def test_opt_out_keywords(text: str) -> None:
    assert classify_reply(text) == "opt_out"


@pytest.mark.parametrize("text", ["T恤到货了吗", "好的", "明天还款", "不要退订", "STOPPED", "Thanks"])
def test_ordinary_replies_are_not_opt_outs(text: str) -> None:
    assert classify_reply(text) != "opt_out"


def test_complaint_keyword() -> None:
    assert classify_reply("再发我就投诉到工信部") == "complaint"


def test_reply_opt_out_stops_marketing(world: World) -> None:
    world.consent()
    assert world.attempt("2026-11-22T10:00:00+08:00").verdict == "allow"
    world.send(type="inbound_sms", **{"from": "138 0013 8000"}, to="1069000012345", text="回T", org="acme", at="2026-11-22T10:05:00+08:00")
    assert codes(world.attempt("2026-11-25T10:00:00+08:00")) == ["OPTED_OUT"]


def test_reply_without_org_opts_out_of_everyone(world: World) -> None:
    world.consent(org="other")
    world.send(type="inbound_sms", **{"from": PROSPECT}, to="1069000012345", text="退订", at="2026-11-22T10:05:00+08:00")
    assert codes(world.attempt("2026-11-25T10:00:00+08:00", org="other")) == ["OPTED_OUT"]


def test_reply_complaint_is_recorded_and_stops_marketing(world: World) -> None:
    world.consent()
    world.send(type="inbound_sms", **{"from": PROSPECT}, to="10690000", text="骚扰短信，我要投诉", org="acme", at="2026-11-22T10:05:00+08:00")
    assert codes(world.attempt("2026-11-25T10:00:00+08:00")) == ["OPTED_OUT"]
