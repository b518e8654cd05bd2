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


def test_e164_shortcut_agrees_with_the_full_path() -> None:
    """try_normalize returns an already-E.164 Chinese mobile as is: exactly what the regex path gives,
    for near misses too (other second digits, non-ASCII digits, wrong lengths)."""
    import random

    from reachguard.numbers import _normalize_cached

    rng = random.Random(3)
    digits = "0123456789٣３"  # an Arabic-Indic and a full-width digit: \d matches them, the shortcut must not
    samples = ["+8613800138000", "+8612800138000", "+8613800138٣00", "+86138001380001", "+861380013800", "+86138 0013800"]
    for _ in range(3000):
        samples.append("+861" + rng.choice("0123456789") + "".join(rng.choice(digits if rng.random() < 0.05 else "0123456789")
                                                                 for _ in range(rng.choice((8, 9, 10)))))
    for raw in samples:
        assert try_normalize(raw) == _normalize_cached.__wrapped__(raw, "CN"), raw


@pytest.mark.parametrize("raw", ["13٨00138000", "138\u096600138000", "+86 138 ٠٠١٣ ٨٠٠٠", "1٣800138000"])
def test_non_ascii_digits_never_reach_the_stored_form(raw: str) -> None:
    """An E.164 key is ASCII: other scripts' digits are read as digits or the number is refused."""
    result = try_normalize(raw)
    assert result is None or (result.isascii() and result[1:].isdigit())
    assert result in (None, "+8613800138000")


def test_sms_port_keys_are_ascii() -> None:
    from reachguard.reputation.ports import try_reportable

    assert try_reportable("10690000123") == "10690000123"
    assert try_reportable("106٩0000123") in (None, "10690000123")


@pytest.mark.parametrize("raw", ["13800138000\x00", "\x0013800138000", "1380013\x008000", "+1 212 555 0100\x00"])
def test_a_nul_anywhere_makes_the_number_invalid(raw: str) -> None:
    """The contract: a NUL in a number is that number being unusable. phonenumbers strips a NUL
    at either end, so these were accepted as the number without it."""
    assert try_normalize(raw) is None
    with pytest.raises(InvalidNumber):
        normalize(raw)
