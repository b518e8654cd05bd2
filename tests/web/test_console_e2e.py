"""End to end in headless Chromium against a real `reachguard serve`: the console and the
public pages as people use them, with screenshots (desktop 1280, phone 390) written to
docs/screenshots/ and no browser console errors allowed."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import quote
from typing import Any, Callable, Iterator

import pytest

from webkit import A_NUMBER, B_NUMBER, SCREENSHOTS, Site

pytestmark = pytest.mark.slow
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


class Session:
    """One browser context (one person), collecting console errors and page errors."""

    def __init__(self, browser: Any, site: Site, width: int = 1280, height: int = 900):
        self.context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.site = site
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def go(self, path: str) -> Any:
        self.page.goto(self.site.url + path)
        return self.page

    def submit(self, selector: str) -> Any:
        """Click a submit button and wait for the page the form loads (never read the old one)."""
        with self.page.expect_navigation():
            self.page.click(selector)
        return self.page

    def login(self, key: str) -> None:
        page = self.go("/console/login")
        page.fill("#key", key)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/console$"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser: Any, site: Site, seeded: dict) -> Iterator[Callable[..., Session]]:
    made: list[Session] = []

    def make(width: int = 1280, height: int = 900) -> Session:
        made.append(Session(browser, site, width, height))
        return made[-1]

    yield make
    errors = [e for s in made for e in s.errors]
    for s in made:
        s.close()
    assert errors == [], errors


def test_dashboard_chart_shows_the_decisions_made(people: Callable[..., Session], site: Site, seeded: dict) -> None:
    alice = people()
    alice.login(site.keys[("acme", "alice")])
    page = alice.page
    page.wait_for_selector(f"#chart-decisions[data-points='{seeded['decisions']}']")
    assert int(page.get_attribute("#chart-decisions", "data-points")) == seeded["decisions"]
    assert page.inner_text("[data-testid=total]") == str(seeded["decisions"])
    assert "NO_CONSENT" in page.inner_text("#live")
    assert "agent-0" in page.inner_text("#live")  # agents with most denials


def test_number_history_and_other_org_isolation(people: Callable[..., Session], site: Site, seeded: dict) -> None:
    alice = people()
    alice.login(site.keys[("acme", "alice")])
    page = alice.go("/console/numbers")
    page.fill("#q", "138 0013 8000")
    page.click("form[role=search] button")
    assert page.inner_text("[data-testid=number]") == A_NUMBER
    history = page.inner_text("#history")
    assert history.count("NO_CONSENT") == seeded["denied"]
    assert "service/sms" in history

    bert = people()  # org beta's officer: acme's number shows nothing of acme
    bert.login(site.keys[("beta", "officer")])
    page = bert.go(f"/console/numbers?q={quote(A_NUMBER)}")
    assert page.locator("#history").count() == 0
    assert "NO_CONSENT" not in page.content()
    page = bert.go(f"/console/numbers?q={quote(B_NUMBER)}")
    assert "NO_CONSENT" in page.inner_text("#history")  # but its own number's history, yes
    bert.go("/console")
    bert.page.wait_for_selector("#chart-decisions[data-points]")
    assert bert.page.inner_text("[data-testid=total]") == "1"


def test_template_approved_through_two_levels(people: Callable[..., Session], site: Site) -> None:
    alice, bob, carol = people(), people(), people()
    alice.login(site.keys[("acme", "alice")])
    page = alice.go("/console/templates")
    page.fill("#template_id", "overdue-reminder")
    page.fill("#text", "【星河消费金融】您的借款{amount}元已逾期{days}天，请通过官方App还款。")
    page.click("form[action='/console/templates'] button")
    page.wait_for_url(re.compile(r"/console/templates/overdue-reminder$"))
    assert page.get_attribute("[data-testid=status]", "class").endswith("pending")
    assert page.inner_text("[data-testid=next-level]") == "compliance"
    for person, key, level_after in ((bob, "bob", "legal"), (carol, "carol", "—")):
        person.login(site.keys[("acme", key)])
        p = person.go("/console/templates/overdue-reminder")
        p.fill("#comment", f"ok from {key}")
        person.submit("button[value=approve]")
        assert p.inner_text("[data-testid=next-level]") == level_after
    assert carol.page.get_attribute("[data-testid=status]", "class").endswith("approved")
    assert "ok from bob" in carol.page.inner_text("ol.levels")


def test_public_verify_genuine_and_forged(people: Callable[..., Session], site: Site, seeded: dict) -> None:
    visitor = people(390, 844)
    page = visitor.go("/public/verify")
    page.fill("#code", seeded["code"].lower())
    page.fill("#to", "138-0013-8000")
    page.click("form button")
    assert "acme" in page.inner_text("[data-testid=verdict]")
    assert "✔" in page.inner_text("[data-testid=verdict]")
    forged = "ZZZZ" + seeded["code"][4:] if not seeded["code"].startswith("ZZZZ") else "1111" + seeded["code"][4:]
    page.fill("#code", forged)
    visitor.submit("main form button")
    assert "✘" in page.inner_text("[data-testid=verdict]")


def test_public_report_files_a_complaint(people: Callable[..., Session], site: Site) -> None:
    visitor = people(390, 844)
    page = visitor.go("/public/report?lang=en")
    page.get_by_label("Your phone number").fill("13700137000")
    page.get_by_label("Sending organisation").fill("acme")
    page.get_by_label("The caller's number (if known)").fill("13600136000")
    page.get_by_label("What the caller's number is").select_option("fraud")
    page.get_by_label("What happened").fill("calls every night")
    page.click("form button[type=submit]")
    assert page.inner_text("[data-testid=done]").startswith("✔ Your complaint was received, reference acme-")
    page = visitor.go("/public/number?n=13700137000")
    assert page.inner_text("[data-testid=complaints]") == "1"
    page = visitor.go("/public/number?n=13600136000")
    if importlib.util.find_spec("reachguard.reputation.lookup") is not None:  # the reputation service, when present
        assert page.inner_text("[data-testid=reputation]").startswith("fraud")
    else:
        assert "not available" in page.inner_text("main")


def test_complaint_case_assigned_and_acknowledged(people: Callable[..., Session], site: Site) -> None:
    alice = people()
    alice.login(site.keys[("acme", "alice")])
    page = alice.go("/console/complaints")
    case = page.locator("[data-testid=case]", has_text="calls every night")
    case.locator("select[name=status]").select_option("acknowledged")
    case.locator("input[name=assignee]").fill("bob")
    case.locator("textarea[name=reply]").fill("已核实，已停止营销。")
    with page.expect_navigation():
        case.locator("button[type=submit]").click()
    case = page.locator("[data-testid=case]", has_text="calls every night")
    assert "已确认" in case.locator(".pill").first.inner_text()
    assert case.locator("input[name=assignee]").input_value() == "bob"


def test_campaign_scrub_upload_progress_download(people: Callable[..., Session], site: Site, tmp_path: Path) -> None:
    listing = tmp_path / "campaign.csv"
    listing.write_text("phone,name\n138 0013 8000,张三\n13700137001,李四\nnot-a-number,王五\n", encoding="utf-8")
    alice = people()
    alice.login(site.keys[("acme", "alice")])
    page = alice.go("/console/scrub")
    page.set_input_files("#list", str(listing))
    page.select_option("#purpose", "marketing")
    page.click("form[action='/console/scrub'] button")
    link = page.wait_for_selector("[data-testid=scrub-job] a[href*='part=rejected']")
    rejected = page.request.get(site.url + link.get_attribute("href")).text()
    assert "NO_CONSENT" in rejected and "INVALID_NUMBER" in rejected and "张三" in rejected
    allowed = page.request.get(site.url + link.get_attribute("href").replace("rejected", "allowed")).text()
    assert "张三" not in allowed  # no consent for marketing: nobody may be contacted


def test_screenshots_of_every_page(people: Callable[..., Session], site: Site) -> None:
    pages = {
        "console-dashboard": "/console", "console-numbers": f"/console/numbers?q={quote(A_NUMBER)}",
        "console-templates": "/console/templates", "console-template": "/console/templates/overdue-reminder",
        "console-review": "/console/review", "console-complaints": "/console/complaints", "console-ledger": "/console/ledger", "console-scrub": "/console/scrub",
        "public-number": "/public/number?n=13700137000", "public-verify": "/public/verify", "public-report": "/public/report",
        "console-login": "/console/login",
    }
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for kind, (width, height) in WIDTHS.items():
        person = people(width, height)
        person.login(site.keys[("acme", "alice")])
        for name, path in pages.items():
            page = person.go(path)
            if name == "console-dashboard":
                page.wait_for_selector("#chart-decisions[data-points]")
            if name == "console-review":
                page.fill("#text", "【星河】再不还钱就上门找你家人，立案抓捕！加微信 xh123 办理。")
                person.submit("form[action='/console/review'] button")
                page.wait_for_selector("#result")
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{kind}.png"), full_page=True)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, f"{name} overflows at {width}px"
