"""Console sessions end server-side on logout, CSRF tokens are bound to the session, and bad
session cookies are a clean refusal (docs/console.md, "Authentication and sessions")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from webkit import Pages

TEMPLATE = {"template_id": "t1", "text": "【星河】您好{name}"}


@pytest.fixture
def pages() -> Iterator[Pages]:
    made = Pages()
    yield made
    made.close()


def _copy(pages: Pages, client: Any) -> Any:
    """Another browser holding a copy of `client`'s session cookie (and nothing else)."""
    thief = pages.new_client(base_url="http://testserver")
    thief.cookies.set("rg_session", client.cookies["rg_session"])
    return thief


def _refused(client: Any) -> None:
    """No session: pages redirect to the login page, htmx requests get 401."""
    r = client.get("/console", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    r = client.get("/console/stats", headers={"HX-Request": "true"}, follow_redirects=False)
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/console/login"


def test_logout_ends_the_session_for_a_copied_cookie(pages: Pages) -> None:
    client = pages.new_client(base_url="http://testserver")
    token = pages.login(client, "acme", "alice")
    thief = _copy(pages, client)
    assert thief.get("/console", follow_redirects=False).status_code == 200  # the copy works while logged in
    r = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/login"
    assert "rg_session" not in client.cookies
    _refused(thief)
    r = thief.post("/console/templates", data={**TEMPLATE, "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and pages.store.template_ids("acme") == []
    # the dead cookie does not get in the way of logging in again (the login form's CSRF still works)
    pages.login(thief, "acme", "alice")
    assert thief.get("/console", follow_redirects=False).status_code == 200


def test_logging_in_again_ends_the_session_it_replaces(pages: Pages) -> None:
    """The browser's cookie is overwritten by a new login; a copy of the old one must not live on."""
    client = pages.new_client(base_url="http://testserver")
    pages.login(client, "acme", "alice")
    thief = _copy(pages, client)
    assert thief.get("/console", follow_redirects=False).status_code == 200
    pages.login(client, "acme", "alice")
    _refused(thief)
    assert client.get("/console", follow_redirects=False).status_code == 200


def test_logging_out_ends_only_that_session(pages: Pages) -> None:
    first, second = pages.new_client(base_url="http://testserver"), pages.new_client(base_url="http://testserver")
    token = pages.login(first, "acme", "alice")
    pages.login(second, "acme", "alice")  # the same key, another login: another session
    assert first.post("/console/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert second.get("/console", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_logout_on_one_worker_is_seen_by_another(backend: str, new_store: Callable[[str], Any], tmp_path: Path,
                                                 request: pytest.FixtureRequest, signing_key_file: Path) -> None:
    """Two apps on one store are two worker processes: nothing about the logout is in memory."""
    if backend == "postgres":
        new_store("postgres")  # empties this run's schema
        url = request.getfixturevalue("pg_url")
    else:
        url = str(tmp_path / "console.db")
    one = Pages(db_url=url, signing_key_file=signing_key_file)  # replicas on PostgreSQL share one key
    two = Pages(db_url=url, keys=one.keys, signing_key_file=signing_key_file)
    try:
        client = one.new_client(base_url="http://testserver")
        token_one = one.login(client, "acme", "alice")
        thief = _copy(one, client)
        assert thief.get("/console", follow_redirects=False).status_code == 200
        at_two = _copy(two, client)  # the officer's next request lands on worker two
        token_two = two.csrf(at_two, "/console/review")
        assert at_two.post("/console/logout", data={"csrf": token_two}, follow_redirects=False).status_code == 303
        _refused(thief)  # worker one, which issued the cookie, refuses the copy
        _refused(client)
        assert token_two == token_one  # a session's CSRF token is the same on every worker
    finally:
        two.close()
        one.close()


def test_a_logout_drops_the_records_of_cookies_past_their_age(pages: Pages) -> None:
    """What the console passes the store: the cookie's signed time, and now - lifetime - margin."""
    from reachguard.web.session import CLOCK_MARGIN_SECONDS

    lifetime = pages.app.state.web.sessions.max_age
    old = time.time() - lifetime - CLOCK_MARGIN_SECONDS - 60
    pages.store.end_console_session("o" * 32, old, 0.0)  # a logout of long ago
    recent = time.time() - lifetime  # its cookie may still be accepted by a worker whose clock is behind
    pages.store.end_console_session("r" * 32, recent, 0.0)
    client = pages.new_client(base_url="http://testserver")
    token = pages.login(client, "acme", "alice")
    assert client.post("/console/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    assert not pages.store.console_session_ended("o" * 32)
    assert pages.store.console_session_ended("r" * 32)
    with pages.store.read() as db:
        (count,) = db.execute("SELECT count(*) FROM console_sessions_ended").fetchone()
    assert count == 2  # r and the session just ended


def test_a_csrf_token_of_another_session_is_refused(pages: Pages) -> None:
    alice, bob = pages.new_client(base_url="http://testserver"), pages.new_client(base_url="http://testserver")
    alice_token = pages.login(alice, "acme", "alice")
    bob_token = pages.login(bob, "acme", "bob")
    assert alice_token != bob_token
    r = bob.post("/console/templates", data={**TEMPLATE, "csrf": alice_token})
    assert r.status_code == 403 and "表单已过期" in r.text
    r = bob.post("/console/templates", data=TEMPLATE, headers={"X-CSRF-Token": alice_token})
    assert r.status_code == 403
    assert pages.store.template_ids("acme") == []
    r = bob.post("/console/templates", data={**TEMPLATE, "csrf": bob_token})
    assert r.status_code == 200 and pages.store.template_ids("acme") == ["t1"]


def test_a_planted_csrf_cookie_and_its_token_are_refused_in_a_session(pages: Pages) -> None:
    """A sibling host can set cookies for this one: it plants a validly signed `rg_csrf` it got
    as a visitor, and submits a form with that cookie's token in the officer's name."""
    attacker = pages.new_client(base_url="http://testserver")
    planted_token = pages.csrf(attacker, "/public/report")
    victim = pages.new_client(base_url="http://testserver")
    own_token = pages.login(victim, "acme", "alice")
    victim.cookies.set("rg_csrf", attacker.cookies["rg_csrf"])
    r = victim.post("/console/templates", data={**TEMPLATE, "csrf": planted_token})
    assert r.status_code == 403 and pages.store.template_ids("acme") == []
    r = victim.post("/console/templates", data={**TEMPLATE, "csrf": own_token})  # the session's token still works
    assert r.status_code == 200 and pages.store.template_ids("acme") == ["t1"]


def test_a_new_login_means_a_new_token(pages: Pages) -> None:
    client = pages.new_client(base_url="http://testserver")
    old = pages.login(client, "acme", "alice")
    assert client.post("/console/logout", data={"csrf": old}, follow_redirects=False).status_code == 303
    new = pages.login(client, "acme", "alice")
    assert new != old
    assert client.post("/console/templates", data={**TEMPLATE, "csrf": old}).status_code == 403
    assert client.post("/console/templates", data={**TEMPLATE, "csrf": new}).status_code == 200


def _bad_cookies(pages: Pages, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    sessions = pages.app.state.web.sessions
    key_id = pages.keys[("acme", "alice")].split("_")[1]
    good = sessions._session.dumps([key_id, "acme", "compliance", "s" * 32])
    with monkeypatch.context() as m:  # signed 9 hours ago: past console_session_hours (8)
        now = time.time()
        m.setattr(time, "time", lambda: now - 9 * 3600)
        expired = sessions._session.dumps([key_id, "acme", "compliance", "s" * 32])
    payload, stamp, signature = good.rsplit(".", 2)
    return {
        "garbage": "not-a-cookie",
        "dots": "..",
        "three parts": "a.b.c",
        "bad signature": f"{payload}.{stamp}.{signature[:-2]}xx",
        "other payload": f"{sessions._session.dumps(['x', 'acme', 'compliance', 's' * 32]).rsplit('.', 2)[0]}.{stamp}.{signature}",
        "too long": good + "A" * 2000,
        "expired": expired,
        "before session ids": sessions._session.dumps([key_id, "acme", "compliance"]),
        "not a list": sessions._session.dumps({"key_id": key_id, "org": "acme"}),
        "bad session id": sessions._session.dumps([key_id, "acme", "compliance", "../../etc/passwd"]),
        "not strings": sessions._session.dumps([key_id, "acme", "compliance", 12345]),
        "unknown key": sessions._session.dumps(["000000000000", "acme", "compliance", "s" * 32]),
        "wrong org": sessions._session.dumps([key_id, "beta", "compliance", "s" * 32]),
    }


def test_bad_session_cookies_are_refused_cleanly(monkeypatch: pytest.MonkeyPatch) -> None:
    pages = Pages(login_rate_limit=1000)  # a login per cookie
    try:
        _refuse_bad_cookies(pages, monkeypatch)
    finally:
        pages.close()


def _refuse_bad_cookies(pages: Pages, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _bad_cookies(pages, monkeypatch).items():
        client = pages.new_client(base_url="http://testserver", raise_server_exceptions=False)
        client.cookies.set("rg_session", value)
        try:
            _refused(client)
            token = pages.csrf(client, "/console/login")
            r = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/console/login", name
            r = client.post("/console/templates", data={**TEMPLATE, "csrf": token}, follow_redirects=False)
            assert r.status_code == 303, name
            r = client.post("/console/login", data={"key": pages.keys[("acme", "alice")], "csrf": token},
                            follow_redirects=False)
            assert r.status_code == 303, name  # logging in still works over any old cookie
        except AssertionError as exc:
            raise AssertionError(f"cookie {name!r}: {exc}") from exc
    assert pages.store.template_ids("acme") == []


def test_a_failing_store_fails_closed(pages: Pages, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ended-session check and the logout's write are store calls: failing, they are the 503
    page, never a session let through nor a logout that only looked done."""
    from reachguard.store import StoreUnavailable

    client = pages.new_client(base_url="http://testserver")
    token = pages.login(client, "acme", "alice")

    def down(*args: object) -> None:
        raise StoreUnavailable("down")

    monkeypatch.setattr(pages.store, "end_console_session", down)
    r = client.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 503 and "rg_session" in client.cookies
    monkeypatch.setattr(pages.store, "console_session_ended", down)
    assert client.get("/console", follow_redirects=False).status_code == 503
    monkeypatch.undo()
    assert client.get("/console", follow_redirects=False).status_code == 200  # the session was not ended
