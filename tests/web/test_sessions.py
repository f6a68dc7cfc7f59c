"""Login, sessions, CSRF and the headers every page carries (web/sessions.py,
web/security.py, web/views/auth.py)."""

from __future__ import annotations

from tests.web.conftest import csrf_of


def test_login_sets_an_opaque_cookie_and_home_shows_the_user(web):
    b = web()
    r = b.login("li")
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "dossier_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    sid = b.c.cookies.get("dossier_session")
    assert len(sid) >= 40 and "li" not in sid
    home = b.get("/")
    assert home.status_code == 200 and "工作台" in home.text and "li" in home.text


def test_unknown_user_and_wrong_password_get_the_same_answer(web):
    b = web()
    r1 = b.login("nobody", "whatever-123")
    r2 = b.login("li", "wrong-password")
    assert r1.status_code == r2.status_code == 401
    assert "用户名或口令错误" in r1.text and "用户名或口令错误" in r2.text
    assert b.get("/", follow_redirects=False).status_code == 303     # still logged out


def test_five_failures_lock_the_user_out_for_a_while_and_are_audited(web, world):
    b = web()
    for _ in range(5):
        assert b.login("li", "wrong-password").status_code == 401
    r = b.login("li")                     # the right password, but too late
    assert r.status_code == 429 and "次数过多" in r.text
    assert b.login("wang").status_code == 429              # the same address, another user: still refused
    other = web(client="192.0.2.99")
    assert other.login("li").status_code == 429            # the same user from another address: refused
    assert other.login("wang").status_code == 303          # another user from another address: fine
    # the failures are written to the audit chain by the next successful login
    with world.open("admin") as ar:
        actions = [e.action for e in ar.audit_chain.events()]
    assert actions.count("login.failed") >= 6 and "login" in actions


def test_address_is_throttled_across_user_names(web):
    b = web()
    for i in range(5):
        b.login(f"guess{i}", "x-password")
    assert b.login("li").status_code == 429


def test_login_post_without_token_is_refused(web):
    b = web()
    b.get("/login")
    r = b.c.post("/login", data={"user": "li", "password": b.world.passwords["li"]}, follow_redirects=False)
    assert r.status_code == 403
    assert b.get("/", follow_redirects=False).status_code == 303


def test_post_without_csrf_changes_nothing(web, world):
    ref, _ = world.add_person()
    b = web("li")
    with world.open("li") as ar:
        before = ar.dossiers.resolve(ref.id).head
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview",
               data={"date": "2025-05-01", "method": "敲门见人", "person_seen": "true"}, csrf=False)
    assert r.status_code == 403
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview",
               data={"csrf": "forged", "date": "2025-05-01", "method": "敲门见人"}, csrf=False)
    assert r.status_code == 403
    with world.open("li") as ar:
        assert ar.dossiers.resolve(ref.id).head == before


def test_every_page_carries_the_security_headers(web, world):
    ref, _ = world.add_person()
    b = web("li")
    for url in ("/", "/persons", f"/persons/{ref.id}", "/search", "/login", "/nonexistent"):
        r = b.get(url, follow_redirects=False)
        h = r.headers
        assert "frame-ancestors 'none'" in h["content-security-policy"], url
        assert "unsafe-inline" not in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff"
        assert h["referrer-policy"] == "no-referrer"
        assert h["cache-control"] == "no-store", url
    assert "max-age" in b.get("/static/app.css").headers["cache-control"]


def test_logout_ends_the_session_and_wipes_the_keys(web):
    b = web("li")
    store = b.app.state.sessions
    ws = store.get(b.c.cookies.get("dossier_session"))
    assert ws is not None and ws.unlocked is not None
    r = b.post("/logout", follow_redirects=False)
    assert r.status_code == 303
    assert ws.unlocked is None and ws._ar is None and len(store) == 0
    assert b.get("/persons", follow_redirects=False).status_code == 303


def test_idle_and_absolute_timeouts_end_sessions(web):
    b = web("li")
    store = b.app.state.sessions
    now = [store.clock()]
    store.clock = lambda: now[0]
    ws = store.get(b.c.cookies.get("dossier_session"))
    now[0] += 14 * 60
    assert b.get("/", follow_redirects=False).status_code == 200
    now[0] += 16 * 60
    r = b.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert ws.unlocked is None and ws.ended == "idle"
    b2 = web("li")
    ws2 = store.get(b2.c.cookies.get("dossier_session"))
    for _ in range(45):                   # active every 14 minutes, for more than 10 hours
        now[0] += 14 * 60
        b2.get("/", follow_redirects=False)
    assert ws2.ended == "absolute"


def test_a_revoked_user_is_logged_out_at_the_next_request(web, world):
    b = web("li")
    assert b.get("/persons").status_code == 200
    with world.open("admin") as ar:
        ar.users.revoke("li")
    r = b.get("/persons", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert b.login("li").status_code == 401


def test_restart_ends_every_session(web, world):
    b = web("li")
    sid = b.c.cookies.get("dossier_session")
    from starlette.testclient import TestClient

    from dossier.web.app import create_app

    with TestClient(create_app(world.path), base_url="http://127.0.0.1") as fresh:
        fresh.cookies.set("dossier_session", sid)
        assert fresh.get("/", follow_redirects=False).status_code == 303


def test_password_change_in_the_browser(web, world):
    b = web("li")
    page = b.get("/password")
    r = b.post("/password", data={"csrf": csrf_of(page.text), "old": "bad-old-pass", "new": "new-pass-0001",
                                  "again": "new-pass-0001"})
    assert r.status_code == 400 and "原口令不正确" in r.text
    r = b.post("/password", data={"old": world.passwords["li"], "new": "new-pass-0001", "again": "new-pass-0001"},
               follow_redirects=False)
    assert r.status_code == 303
    import dossier

    dossier.open_archive(world.path, user="li", password="new-pass-0001").close()


def test_a_login_reports_how_long_its_kdf_took(web):
    """``Server-Timing: kdf;dur=…`` on the login's answer (the benchmark's "login = the KDF + …")."""
    import re

    from tests.conftest import CLERK_A

    r = web().login(CLERK_A)
    assert r.status_code == 303
    m = re.fullmatch(r"kdf;dur=(\d+\.\d)", r.headers["server-timing"])
    assert m and float(m.group(1)) > 0


def test_a_user_revoked_from_the_cli_loses_the_keys_at_the_next_sweep(web, world):
    """Not only at the next request: the periodic sweep ends the sessions of a user another
    process stopped, so the keys do not stay in memory until the idle timeout."""
    from tests.conftest import CLERK_A, CLERK_B

    a, b = web(CLERK_A), web(CLERK_B)
    store = a.app.state.sessions
    assert len(store) == 2
    with world.open("admin") as ar:
        ar.users.revoke(CLERK_A)            # as `dossier user revoke li` in another process
    assert store.sweep() == 1
    assert len(store) == 1
    assert a.get("/", follow_redirects=False).status_code in (302, 303)
    assert b.get("/").status_code == 200
