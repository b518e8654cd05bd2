"""Do-not-contact lists (rules/lists.py)."""

from pathlib import Path

from worldkit import BORROWER, PROSPECT, World, codes
from reachguard.policy import load_policy_file


def test_national_list_denies_marketing(world: World) -> None:
    world.consent()
    world.send(type="dnc", list="national", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    decision = world.attempt("2026-11-23T10:00:00+08:00")
    assert codes(decision) == ["ON_DNC_LIST"]
    assert "national" in decision.reasons[0].message


def test_removal_from_list(world: World) -> None:
    world.consent()
    world.send(type="dnc", list="national", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    world.send(type="dnc", list="national", to=PROSPECT, at="2026-11-22T11:00:00+08:00", remove=True)
    assert world.attempt("2026-11-23T10:00:00+08:00").verdict == "allow"


def test_another_orgs_own_list_does_not_apply(world: World) -> None:
    world.consent()
    world.send(type="dnc", list="org:other", to=PROSPECT, at="2026-11-22T10:00:00+08:00")
    assert world.attempt("2026-11-23T10:00:00+08:00").verdict == "allow"


def test_national_list_does_not_stop_collection_by_default(world: World) -> None:
    world.account(dpd=10)
    world.send(type="dnc", list="national", to=BORROWER, at="2026-11-22T10:00:00+08:00")
    assert world.collect("2026-11-23T10:00:00+08:00").verdict == "allow"


def test_org_own_list_stops_collection(world: World) -> None:
    world.account(dpd=10)
    world.send(type="dnc", list="acme", to=BORROWER, at="2026-11-22T10:00:00+08:00")
    assert codes(world.collect("2026-11-23T10:00:00+08:00")) == ["ON_DNC_LIST"]


def test_policy_can_make_a_list_stop_collection(tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('profile = "cn"\n[collection]\nstop_lists = ["litigator"]\n', encoding="utf-8")
    world = World(load_policy_file(policy))
    world.account(dpd=10)
    world.send(type="dnc", list="litigator", to=BORROWER, at="2026-11-22T10:00:00+08:00")
    assert codes(world.collect("2026-11-23T10:00:00+08:00")) == ["ON_DNC_LIST"]
