"""Template registry (templates.py) and its use by attempts (engine.py) and the CLI."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from worldkit import PROSPECT, World, codes
from reachguard.cli import app
from reachguard.templates import TemplateError, TemplateRegistry

TEXT = "【星河消费金融】会员专享：借款年化利率(单利){apr}起，详询官方App。拒收请回复R"
RENDERED = "【星河消费金融】会员专享：借款年化利率(单利)7.2%起，详询官方App。拒收请回复R"


@pytest.fixture
def registry(world: World) -> TemplateRegistry:
    return TemplateRegistry(world.gateway.store, ["compliance", "legal"])


def test_two_level_chain(registry: TemplateRegistry) -> None:
    registry.submit("acme", "promo", TEXT, "lin", 1.0)
    assert registry.status("acme", "promo").next_level == "compliance"
    assert registry.review("acme", "promo", "wang", "approve", "ok", 2.0).next_level == "legal"
    with pytest.raises(TemplateError, match="different reviewer"):
        registry.review("acme", "promo", "wang", "approve", "again", 3.0)
    with pytest.raises(TemplateError, match="author"):
        registry.review("acme", "promo", "lin", "approve", "mine", 3.0)
    final = registry.review("acme", "promo", "zhao", "approve", "legal ok", 4.0)
    assert final.status == "approved"
    assert [(r.level_name, r.reviewer) for r in final.reviews] == [("compliance", "wang"), ("legal", "zhao")]
    with pytest.raises(TemplateError, match="already approved"):
        registry.review("acme", "promo", "qian", "approve", "", 5.0)


def test_rejection_ends_the_version_and_a_new_version_starts_over(registry: TemplateRegistry) -> None:
    registry.submit("acme", "promo", TEXT, "lin", 1.0)
    assert registry.review("acme", "promo", "wang", "reject", "missing APR", 2.0).status == "rejected"
    second = registry.submit("acme", "promo", TEXT + "。", "lin", 3.0)
    assert second.version == 2
    assert registry.status("acme", "promo").status == "pending"
    assert registry.status("acme", "promo", 1).status == "rejected"  # history kept


def test_templates_are_per_org(registry: TemplateRegistry) -> None:
    registry.submit("acme", "promo", TEXT, "lin", 1.0)
    with pytest.raises(TemplateError, match="no template"):
        registry.status("other", "promo")


def _approve(registry: TemplateRegistry) -> None:
    registry.submit("acme", "promo", TEXT, "lin", 1.0)
    registry.review("acme", "promo", "wang", "approve", "", 2.0)
    registry.review("acme", "promo", "zhao", "approve", "", 3.0)


def test_attempt_with_approved_template_and_faithful_rendering_is_allowed(world: World, registry: TemplateRegistry) -> None:
    _approve(registry)
    world.consent()
    assert world.attempt("2026-11-23T10:00:00+08:00", template="promo", content=RENDERED).verdict == "allow"


def test_attempt_with_unapproved_or_unknown_template_is_denied(world: World, registry: TemplateRegistry) -> None:
    world.consent()
    registry.submit("acme", "promo", TEXT, "lin", 1.0)
    pending = world.attempt("2026-11-23T10:00:00+08:00", template="promo", content=RENDERED)
    assert pending.verdict == "deny" and codes(pending) == ["TEMPLATE_NOT_APPROVED"]
    assert "pending" in pending.reasons[0].message
    unknown = world.attempt("2026-11-23T10:00:00+08:00", template="nope", content=RENDERED)
    assert codes(unknown) == ["TEMPLATE_NOT_APPROVED"]


def test_content_that_strays_from_the_template_is_denied(world: World, registry: TemplateRegistry) -> None:
    _approve(registry)
    world.consent()
    altered = RENDERED.replace("详询官方App", "加微信领取")
    decision = world.attempt("2026-11-23T10:00:00+08:00", template="promo", content=altered, to=PROSPECT)
    assert decision.verdict == "deny"
    assert "TEMPLATE_NOT_APPROVED" in codes(decision)


def test_cli_walks_a_template_through_the_chain(tmp_path: Path) -> None:
    runner = CliRunner()
    db = str(tmp_path / "rg.db")
    base = ["--org", "acme", "--db", db]
    out = runner.invoke(app, ["templates", "submit", "promo", TEXT, "--author", "lin", *base])
    assert out.exit_code == 0 and "pending compliance review" in out.stdout
    out = runner.invoke(app, ["templates", "review", "promo", "approve", "--reviewer", "wang", *base])
    assert "pending legal review" in out.stdout
    out = runner.invoke(app, ["templates", "review", "promo", "approve", "--reviewer", "wang", *base])
    assert out.exit_code == 1 and "different reviewer" in out.stderr
    out = runner.invoke(app, ["templates", "review", "promo", "approve", "--reviewer", "zhao", "--comment", "ok", *base])
    assert "approved" in out.stdout
    out = runner.invoke(app, ["templates", "list", *base])
    assert out.stdout.strip() == "promo\tv1\tapproved"
    assert runner.invoke(app, ["templates", "review", "promo", "maybe", "--reviewer", "x", *base]).exit_code == 2


def test_text_with_a_lone_surrogate_is_refused_with_a_clear_error(tmp_path: Path, registry: TemplateRegistry) -> None:
    """Bytes that are not UTF-8 on the command line reach Python as lone surrogates
    (surrogateescape); no store can keep them, so submit refuses them by name, not with
    UnicodeEncodeError from the store."""
    with pytest.raises(TemplateError, match="not valid UTF-8"):
        registry.submit("acme", "promo", "hi \udcff {x}", "lin", 1.0)
    runner = CliRunner()
    base = ["--org", "acme", "--db", str(tmp_path / "rg.db"), "--author", "lin"]
    out = runner.invoke(app, ["templates", "submit", "promo", "hi \udcff {x}", *base])
    assert out.exit_code == 1 and "not valid UTF-8" in out.stderr
    out = runner.invoke(app, ["templates", "submit", "promo", " ", *base])
    assert out.exit_code == 1 and "needs text" in out.stderr
