"""Number normalisation (numbers.py)."""

import pytest

from reachguard.numbers import InvalidNumber, normalize, region_of, time_zones, try_normalize


@pytest.mark.parametrize(
    "raw",
    ["+86 138 0013 8000", "0086-138-0013-8000", "13800138000", "138 0013 8000", "8613800138000",
     "+86-138.0013.8000", "１３８００１３８０００", "＋８６ １３８ ００１３ ８０００", "(+86) 138-0013-8000", "+86 138\u30000013 8000"],
)
def test_chinese_mobile_forms(raw: str) -> None:
    assert normalize(raw) == "+8613800138000"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("010 6552 9988", "+861065529988"), ("+1 212 555 0134", "+12125550134"), ("+44 20 7946 0958", "+442079460958"),
     ("00442079460958", "+442079460958")],
)
def test_other_numbers_go_through_phonenumbers(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "12345", "1380013800", "138001380001", "+86 123 4567 8901", "not a number", "☎☎☎", "1" * 200])
def test_invalid_numbers(raw: str) -> None:
    assert try_normalize(raw) is None
    with pytest.raises(InvalidNumber):
        normalize(raw)


def test_fast_path_agrees_with_phonenumbers() -> None:
    import phonenumbers

    for prefix in ("130", "139", "150", "166", "177", "188", "199"):
        number = f"{prefix}12345678"
        parsed = phonenumbers.parse(number, "CN")
        if phonenumbers.is_valid_number(parsed):
            assert normalize(number) == phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def test_zones_and_region() -> None:
    assert time_zones("+12125550134") == ("America/New_York",)
    assert len(time_zones("+18005550199")) > 3
    assert region_of("+8613800138000") == "CN"
    assert region_of("+12125550134") == "US"
