"""Administration pages (web/views/admin.py): users (a user added in the browser
logs in; a revoked user's open session ends at once), scopes, ``check`` as a
background job (a tampered blob fails), the audit log and its verification."""

from __future__ import annotations

import re
import time
from pathlib import Path

from tests.web.conftest import csrf_of


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_only_admins_open_the_admin_pages(web, world):
    for user in ("li", "zhao", "qian"):
        b = web(user)
        for url in ("/admin", "/admin/users", "/admin/scopes", "/admin/check", "/admin/audit"):
            assert b.get(url).status_code == 403, (user, url)
        r = b.post("/admin/users", data={"name": "evil", "role": "admin", "password": "x" * 10,
                                         "password2": "x" * 10})
        assert r.status_code == 403
    with world.open("admin") as ar:
        assert "evil" not in [u["name"] for u in ar.users.list()]


def test_a_user_added_in_the_browser_can_log_in(web, world):
    admin = web("admin")
    page = admin.get("/admin/users")
    for key in ('name="name"', 'name="role"', 'name="step"', 'name="scopes"', 'name="password"', 'name="password2"'):
        assert key in page.text
    r = admin.post("/admin/users", data={"name": "sun", "role": "clerk", "scopes": world.scope_b,
                                         "password": "sun-pass-0001", "password2": "sun-pass-0001"},
                   follow_redirects=True)
    assert r.status_code == 200 and "已新增用户 sun" in r.text
    world.passwords["sun"] = "sun-pass-0001"
    sun = web("sun")
    home = sun.get("/persons")
    assert home.status_code == 200 and "sun" in home.text
    ref, p = world.add_person(scope=world.scope_b)
    assert p["name"] in sun.get(f"/persons/{ref.id}").text           # the scope's keys were granted
    with world.open("admin") as ar:
        u = next(u for u in ar.users.list() if u["name"] == "sun")
    assert u["role"] == "clerk" and u["scopes"] == [world.scope_b]


def test_user_form_errors_are_shown_and_nothing_is_added(web, world):
    admin = web("admin")
    cases = [({"name": "a1", "role": "clerk", "scopes": world.scope_a, "password": "short", "password2": "short"},
              "至少 8 个字符"),
             ({"name": "a2", "role": "clerk", "scopes": world.scope_a, "password": "long-enough-1",
               "password2": "long-enough-2"}, "不一致"),
             ({"name": "a3", "role": "approver", "scopes": world.scope_a, "password": "long-enough-1",
               "password2": "long-enough-1"}, "审批环节"),
             ({"name": "a4", "role": "clerk", "password": "long-enough-1", "password2": "long-enough-1"}, "辖区"),
             ({"name": "li", "role": "clerk", "scopes": world.scope_a, "password": "long-enough-1",
               "password2": "long-enough-1"}, "已存在")]
    for data, msg in cases:
        r = admin.post("/admin/users", data=data)
        assert r.status_code == 400 and msg in r.text and 'class="error-text"' in r.text, msg
        assert f'value="{data["name"]}"' in r.text                     # what was typed stays
    with world.open("admin") as ar:
        names = {u["name"] for u in ar.users.list()}
    assert not names & {"a1", "a2", "a3", "a4"}


def test_a_revoked_users_open_session_is_refused_at_once(web, world):
    ref, _ = world.add_person(scope=world.scope_b)
    wang = web("wang")
    assert wang.get(f"/persons/{ref.id}").status_code == 200
    admin = web("admin")
    r = admin.post("/admin/users/revoke", data={"name": "wang"}, follow_redirects=True)
    assert r.status_code == 200 and "已停用用户 wang" in r.text and "结束了其 1 个在线会话" in r.text
    assert not [ws for ws in web.app.state.sessions._by_id.values() if ws.user == "wang"]
    r = wang.get(f"/persons/{ref.id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert wang.post("/search", data={"q": "x"}).status_code == 401
    assert web().login("wang").status_code == 401                     # and cannot log in again
    assert "停用" in _text(admin.get("/admin/users").text)
    # revoking oneself or an unknown user is refused with a message, nothing changed
    r = admin.post("/admin/users/revoke", data={"name": "admin"}, follow_redirects=True)
    assert "不能停用自己" in r.text
    r = admin.post("/admin/users/revoke", data={"name": "nobody"}, follow_redirects=True)
    assert "不存在" in r.text


def test_scopes_list_and_add(web, world):
    admin = web("admin")
    r = admin.post("/admin/scopes", data={"path": "珠晖区/衡州路街道/新民社区", "code": "005"}, follow_redirects=True)
    assert r.status_code == 200 and "已新增辖区" in r.text and "珠晖区/衡州路街道/新民社区" in r.text
    with world.open("admin") as ar:
        assert "珠晖区/衡州路街道/新民社区" in [s["path"] for s in ar.scopes.list()]
    r = admin.post("/admin/scopes", data={"path": "珠晖区/衡州路街道/x社区", "code": "12ab"})
    assert r.status_code == 400 and "3–12 位数字" in r.text


def _run_check(b) -> str:
    r = b.post("/admin/check", follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    page = b.get(url).text
    deadline = time.monotonic() + 60
    while "校验中" in page and time.monotonic() < deadline:
        assert 'hx-get="' + url + '/status"' in page and 'hx-trigger="every 1s"' in page
        time.sleep(0.3)
        page = b.get(url + "/status").text
    return page


def test_check_passes_then_reports_a_tampered_blob_as_failed(web, world):
    ref, _ = world.add_person(entries=2)
    from dossier.reports.campaigns import Campaigns

    with world.open("li") as ar:     # a sealed blob under objects/
        Campaigns(ar).add({"name": "排查", "scope": world.scope_a,
                           "steps": [{"name": "排查", "start": "2025-01-01", "end": "2025-01-31"}],
                           "actions": [{"action": "interview", "count": 1}]})
    admin = web("admin")
    page = _run_check(admin)
    assert "校验通过" in page and "档案 1 份" in page
    blobs = world.blob_ids()          # files under objects/, or rows on PostgreSQL
    assert blobs
    victim = blobs[0]
    data = bytearray(world.read_blob(victim))
    data[len(data) // 2] ^= 0x01
    world.write_blob(victim, bytes(data))
    page = _run_check(admin)
    assert "校验失败" in page and "内容与校验值不符" in page and "校验通过" not in page
    # a job belongs to the session that started it
    job = re.search(r"/admin/check/([\w-]+)", page)
    if job:
        assert web("admin").get(f"/admin/check/{job.group(1)}").status_code == 404


def test_check_progress_is_polled_while_the_job_runs(web, world, monkeypatch):
    import threading

    from dossier.api import Session

    gate = threading.Event()
    real = Session.check

    def slow(self, progress=None):
        gate.wait(10)
        return real(self, progress)

    monkeypatch.setattr(Session, "check", slow)
    admin = web("admin")
    r = admin.post("/admin/check", follow_redirects=False)
    url = r.headers["location"]
    page = admin.get(url).text
    assert "校验中" in page and f'hx-get="{url}/status"' in page
    status = admin.get(url + "/status").text
    assert status.lstrip().startswith('<section id="check-status"') and "<html" not in status
    gate.set()
    deadline = time.monotonic() + 30
    while "校验中" in status and time.monotonic() < deadline:
        time.sleep(0.2)
        status = admin.get(url + "/status").text
    assert "校验通过" in status and "hx-trigger" not in status


def test_audit_log_filters_and_shows_private_details_as_the_cli_does(web, world):
    from dossier.approve.hooks import audit_events

    ref, p = world.add_person()
    li = web("li")
    li.post("/search", data={"q": p["name"]})
    admin = web("admin")
    r = admin.get("/admin/audit?action=search")
    assert r.status_code == 200
    rows = re.findall(r'<td data-label="动作" class="mono">([^<]+)</td>', r.text)
    assert rows and set(rows) == {"search"}
    with world.open("admin") as ar:
        cli = audit_events(ar, action="search")
    assert cli[-1].get("private") and p["name"] in r.text            # the admin's key opens the query, as in the CLI
    r = admin.get("/admin/audit?actor=li&action=login")
    assert set(re.findall(r'<td data-label="操作人">([^<]+)</td>', r.text)) == {"li"}
    assert admin.get("/admin/audit?since=2025-02-30").status_code == 400


def test_audit_verify_passes_and_reports_a_changed_event(web, world):
    admin = web("admin")
    page = admin.get("/admin/audit")
    r = admin.post("/admin/audit/verify", data={})
    assert r.status_code == 200 and "审计链完好" in r.text
    con = world.store()
    con.execute("UPDATE audit_events SET public=? WHERE seq=(SELECT MIN(seq) FROM audit_events)",
                ('{"forged": true}',))
    con.close()
    r = admin.post("/admin/audit/verify", data={})
    assert "审计链被改动" in r.text and "审计链完好" not in r.text
    r = admin.post("/admin/audit/verify", data={}, files={"head": ("head.json", b"not json", "application/json")})
    assert r.status_code == 400 and "链头文件格式不正确" in r.text
    assert csrf_of(page.text)


def test_full_name_unit_and_post_in_the_browser(web, world):
    """Issue 14: the admin records the person behind an account when adding it, and edits it later;
    accounts without a full name are marked incomplete."""
    admin = web("admin")
    page = admin.get("/admin/users")
    for key in ('name="full_name"', 'name="unit"', 'name="title"'):
        assert key in page.text
    assert "信息不全" in page.text                   # the fixture's users have no full name
    r = admin.post("/admin/users", data={"name": "wu", "role": "approver", "step": "街道审批",
                                         "scopes": world.scope_a, "password": "wu-pass-00001",
                                         "password2": "wu-pass-00001", "full_name": "吴启航",
                                         "unit": "粤汉街道办事处", "title": "副主任"}, follow_redirects=True)
    assert r.status_code == 200 and "已新增用户 wu" in r.text and "吴启航" in r.text
    with world.open("admin") as ar:
        u = next(u for u in ar.users.list() if u["name"] == "wu")
    assert (u["full_name"], u["unit"], u["title"], u["complete"]) == ("吴启航", "粤汉街道办事处", "副主任", True)
    r = admin.post("/admin/users/edit", data={"name": "li", "full_name": "李秋菊", "unit": "苗圃社区居委会",
                                              "title": ""}, follow_redirects=True)
    assert r.status_code == 200 and "已更新用户 li" in r.text
    with world.open("admin") as ar:
        li = next(u for u in ar.users.list() if u["name"] == "li")
        events = [e for e in ar.audit_chain.events(action="user.edit")]
    assert li["complete"] and li["full_name"] == "李秋菊" and len(events) == 1
    r = admin.post("/admin/users", data={"name": "x9", "role": "clerk", "scopes": world.scope_a,
                                         "password": "long-enough-1", "password2": "long-enough-1",
                                         "unit": "a" * 61})
    assert r.status_code == 400 and "最多 60 个字符" in r.text
    assert web("li").post("/admin/users/edit", data={"name": "li", "full_name": "x"}).status_code == 403
