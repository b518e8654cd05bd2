"""Policy profiles and override files (policy/)."""

from pathlib import Path

import pytest

from worldkit import World, codes
from reachguard.policy import PolicyBook, PolicyError, load_policy_file, load_profile


def test_builtin_profiles_load_and_cite_every_rule() -> None:
    for name in ("cn", "us"):
        policy = load_profile(name)
        for key in ("consent", "opt_out", "quiet_hours_collection", "cap_collection", "stage", "third_party", "content"):
            assert policy.cite(key), f"{name} has no citation for {key}"


def test_unknown_profile() -> None:
    with pytest.raises(PolicyError, match="unknown policy profile"):
        PolicyBook.profile("mars")


def test_org_override_in_toml(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(
        'profile = "cn"\n[orgs.acme.collection]\ncaps = [{ name = "calls per day", channels = ["call"], days = 1, max = 2 }]\n',
        encoding="utf-8",
    )
    book = load_policy_file(path)
    assert book.for_org("acme").collection.caps[0].max == 2
    assert book.for_org("other").collection.caps[0].max == 6
    world = World(book)
    world.account(dpd=10)
    assert world.collect("2026-11-23T10:00:00+08:00").verdict == "allow"
    assert world.collect("2026-11-23T10:01:00+08:00").verdict == "allow"
    assert codes(world.collect("2026-11-23T10:02:00+08:00")) == ["FREQUENCY_CAP"]


def test_yaml_override_of_quiet_hours(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('profile: cn\nmarketing:\n  quiet_hours: {start: "20:00", end: "10:00"}\n', encoding="utf-8")
    world = World(load_policy_file(path))
    world.consent()
    decision = world.attempt("2026-11-23T09:30:00+08:00")
    assert decision.retry_at.isoformat() == "2026-11-23T10:00:00+08:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[marketing]\ncaps = [{ name = 'x', days = 1, max = -1 }]\n", "marketing.caps.0.max"),
        ("[marketing]\nquiet_hourz = 3\n", "quiet_hourz"),
        ("timezone = 'Mars/Base'\n", "unknown time zone"),
        ("[collection]\nquiet_hours = { start = '25:00', end = '08:00' }\n", "collection.quiet_hours.start"),
        ("profile = 'xx'\n", "unknown policy profile"),
        ("[marketing\n", "not valid"),
        ("[orgs]\nacme = 3\n", "orgs"),
    ],
)
def test_bad_policy_files_fail_with_the_path(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match=message.replace(".", r"\.")):
        load_policy_file(path)


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy_file(tmp_path / "nope.toml")
