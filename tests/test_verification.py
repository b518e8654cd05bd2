"""Verification codes (verification.py)."""

from reachguard.verification import ALPHABET, CODE_LENGTH, canonical_code, issue_code


def test_codes_are_short_unambiguous_and_keyed() -> None:
    code = issue_code(b"k1", "acme", "+8613800138000", 1.0, "hello")
    assert len(code) == CODE_LENGTH
    assert set(code) <= set(ALPHABET)
    assert not set(code) & set("ILOU")
    assert code == issue_code(b"k1", "acme", "+8613800138000", 1.0, "hello")
    assert code != issue_code(b"k2", "acme", "+8613800138000", 1.0, "hello")
    assert code != issue_code(b"k1", "acme", "+8613800138000", 1.0, "hello!")
    assert code != issue_code(b"k1", "acme", "+8613800138001", 1.0, "hello")


def test_canonical_code_forgives_typing() -> None:
    assert canonical_code(" ab-cd o1il ") == "ABCD0111"
