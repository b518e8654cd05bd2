"""``Signal`` keeps the frozen-dataclass contract with its faster ``__init__``, and the shared
NO_OFFER instance is indistinguishable from a freshly built one."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from reachguard.protect.signals import SPECS, Signal, own_signals


@dataclasses.dataclass(frozen=True, slots=True)
class _Plain:
    """Signal as dataclass generates it (the reference)."""

    name: str
    label: str
    weight: float
    evidence: str
    source: str


def test_signal_behaves_like_a_generated_frozen_dataclass() -> None:
    args = ("FEE_BEFORE_LOAN", "fraud", 5.0, "先交保证金", "content")
    s, ref = Signal(*args), _Plain(*args)
    assert Signal(**dataclasses.asdict(ref)) == s
    assert dataclasses.astuple(s) == dataclasses.astuple(ref) == args
    assert repr(s) == repr(ref).replace("_Plain", "Signal")
    assert hash(s) == hash(ref)
    assert s != Signal(*args[:2], 5.5, *args[3:])
    assert pickle.loads(pickle.dumps(s)) == s and copy.deepcopy(s) == s
    assert Signal.__match_args__ == _Plain.__match_args__ and Signal.__slots__ == _Plain.__slots__
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.weight = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        Signal("A", "fraud", 1.0, "")  # type: ignore[call-arg]
    assert s.to_dict() == dict(zip(("name", "label", "weight", "evidence", "source"), args))


def test_no_offer_is_the_same_value_every_time() -> None:
    spec = SPECS["NO_OFFER"]
    fresh = Signal("NO_OFFER", spec.label, spec.weight, "", "classifier")
    for text in ("你好，明天见", "晚上一起吃饭吗"):
        got = own_signals(text)
        assert got == own_signals(text, gated=False) == [fresh]
        assert got is not own_signals(text)  # a fresh list each time: callers insert into it
