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


def _reference_code(secret: bytes, org: str, number: str, at: float, content: str | None) -> str:
    """The definition, spelled out: HMAC-SHA256, first 40 bits, 8 Crockford digits, most significant first."""
    import hashlib
    import hmac

    digest = hashlib.sha256((content or "").encode("utf-8")).hexdigest()
    message = f"{org}\x1f{number}\x1f{at:.6f}\x1f{digest}".encode("utf-8")
    value = int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:5], "big")
    return "".join(ALPHABET[(value >> shift) & 31] for shift in range(35, -1, -5))


def test_codes_match_the_definition() -> None:
    """Codes already handed out must keep verifying: the fast path computes the same digits."""
    import random

    rng = random.Random(4)
    for i in range(2000):
        secret = rng.randbytes(rng.choice((16, 32, 64, 65, 100)))  # a key over 64 bytes is hashed first
        content = rng.choice((None, "", "【星河】回T退订", f"text {i}", "x" * rng.randrange(300)))
        args = (secret, rng.choice(("acme", "星河", "o")), f"+86138{rng.randrange(10**8):08d}", rng.uniform(0, 2e9), content)
        assert issue_code(*args) == _reference_code(*args)
    assert issue_code(b"k1", "acme", "+8613800138000", 1.0, None) == issue_code(b"k1", "acme", "+8613800138000", 1.0, "")
