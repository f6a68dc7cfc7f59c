"""The daily pages: registering, entries (with a test), attachments, conflicts,
refusals, masking and hostile values (web/views/*)."""

from __future__ import annotations

import io
import json

from tests.web.conftest import csrf_of


def _person_form(world, **over):
    p = world.person(**over)
    data = {"name": p["name"], "id_number": p["id_number"], "phone": p.get("phone", ""),
            "hukou_address": p.get("hukou_address", ""), "residence_address": p.get("residence_address", "")}
    return p, {k: v for k, v in data.items() if v}


def test_register_a_person_from_the_form(web, world):
    b = web("li")
    page = b.get("/persons/new")
    assert page.status_code == 200 and 'name="id_number"' in page.text and 'name="drug_types"' in page.text
    p, data = _person_form(world)
    r = b.post("/persons/new", data={**data, "scope": world.scope_a}, follow_redirects=False)
    assert r.status_code == 303
    pid = r.headers["location"].rsplit("/", 1)[1]
    with world.open("li") as ar:
        view = ar.dossiers.show(pid)
    assert view.profile["name"] == p["name"] and view.profile["id_number"] == p["id_number"]
    page = b.get(f"/persons/{pid}")
    assert p["name"] in page.text and "已建档" in page.text


def test_a_bad_value_is_shown_beside_its_field_and_nothing_is_saved(web, world):
    b = web("li")
    p, data = _person_form(world)
    data["id_number"] = data["id_number"][:-1] + ("0" if data["id_number"][-1] != "0" else "1")
    data["phone"] = "12345"
    r = b.post("/persons/new", data={**data, "scope": world.scope_a})
    assert r.status_code == 400
    assert r.text.count('class="error-text"') >= 2 and "未保存" in r.text
    assert f'value="{p["name"]}"' in r.text                 # what was typed is kept
    with world.open("li") as ar:
        assert ar.persons.list() == []


def test_interview_with_a_urine_test_is_one_save_of_two_entries(web, world):
    ref, _ = world.add_person()
    b = web("li")
    form = b.get(f"/persons/{ref.id}/entries/new?type=interview").text
    for key in ('name="date"', 'name="method"', 'name="subject"', 'name="person_seen"', 'name="content"',
                'name="staff.0.name"', 'name="test.result"', 'name="with_test"'):
        assert key in form, key
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview", follow_redirects=False, data={
        "date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": "true",
        "content": "本人在家，状态良好", "staff.0.role": "禁毒专干", "staff.0.name": "李四",
        "with_test": "1", "test.sample": "尿液", "test.method": "现场快检", "test.result": "阴性"})
    assert r.status_code == 303
    with world.open("li") as ar:
        view = ar.dossiers.show(ref.id)
    kinds = [(e["type"], e["date"]) for e in view.entries]
    assert ("interview", "2025-05-20") in kinds and ("test", "2025-05-20") in kinds
    iv = next(e for e in view.entries if e["type"] == "interview")
    assert iv["person_seen"] is True and iv["staff"] == [{"role": "禁毒专干", "name": "李四"}]


def test_an_invalid_test_saves_neither_entry(web, world):
    ref, _ = world.add_person()
    b = web("li")
    with world.open("li") as ar:
        head = ar.dossiers.resolve(ref.id).head
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview", data={
        "date": "2025-05-20", "method": "敲门见人", "person_seen": "true", "with_test": "1", "test.sample": "尿液"})
    assert r.status_code == 400 and "检测记录有" in r.text
    r = b.post(f"/persons/{ref.id}/entries/new?type=interview", data={"date": "2099-01-01", "method": "敲门见人"})
    assert r.status_code == 400
    with world.open("li") as ar:
        assert ar.dossiers.resolve(ref.id).head == head


def test_photo_from_the_camera_is_stored_without_exif(web, world):
    from tests.forms.formkit import gps_jpeg

    ref, _ = world.add_person()
    b = web("li")
    photo = gps_jpeg()
    assert b"SpyCam" in photo
    r = b.post(f"/persons/{ref.id}/attach", data={"title": "见面照片", "category": "谈话记录"},
               files={"photo": ("IMG_0001.jpg", photo, "image/jpeg")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    with world.open("li") as ar:
        view = ar.dossiers.show(ref.id)
        item = view.state["attachments"][-1]
        stored = ar.blobs.get(item["blob"], scope=ar.dossiers.resolve(ref.id).scope, dossier_id=ref.id,
                              kind="attachment")
    assert item["title"] == "见面照片" and b"SpyCam" not in stored and b"GPS" not in stored
    got = b.get(f"/persons/{ref.id}/files/{item['id']}")
    assert got.status_code == 200 and got.content == stored and got.headers["cache-control"] == "no-store"


def test_an_upload_that_is_not_an_image_or_pdf_is_refused(web, world):
    ref, _ = world.add_person()
    b = web("li")
    r = b.post(f"/persons/{ref.id}/attach", data={"title": "x"},
               files={"file": ("evil.jpg", b"<script>alert(1)</script>", "image/jpeg")})
    assert r.status_code == 400 and "未保存" in r.text


def test_two_sessions_editing_one_profile_second_is_refused(web, world):
    ref, _ = world.add_person()
    a, b = web("li"), web("li", client="192.0.2.11")
    form_a = a.get(f"/persons/{ref.id}/edit").text
    form_b = b.get(f"/persons/{ref.id}/edit").text
    base = form_a.split('name="base_version" value="')[1].split('"')[0]
    r = a.post(f"/persons/{ref.id}/edit", data={"csrf": csrf_of(form_a), "base_version": base,
                                                "residence_address": "湖南省衡阳市珠晖区新住址一号"},
               follow_redirects=False)
    assert r.status_code == 303
    r = b.post(f"/persons/{ref.id}/edit", data={"csrf": csrf_of(form_b), "base_version": base,
                                                "residence_address": "湖南省衡阳市珠晖区另一个地址"})
    assert r.status_code == 409 and "已被他人修改" in r.text and "新住址一号" in r.text
    assert "另一个地址" in r.text                           # the second clerk's input is still there
    with world.open("li") as ar:
        assert ar.dossiers.show(ref.id).profile["residence_address"] == "湖南省衡阳市珠晖区新住址一号"


def test_a_clerk_opening_another_scopes_person_by_url_gets_no_data(web, world):
    ref, p = world.add_person(scope=world.scope_b)
    b = web("li")
    for url in (f"/persons/{ref.id}", f"/persons/{ref.id}/history", f"/persons/{ref.id}/edit",
                f"/persons/{ref.id}/entries/new"):
        r = b.get(url)
        assert r.status_code == 403, url
        assert p["name"] not in r.text and p["id_number"] not in r.text


def test_inspector_search_pages_show_masked_values_only(web, world):
    ref, p = world.add_person(entries=2)
    b = web("qian")
    assert b.get("/", follow_redirects=False).headers["location"] == "/search"
    assert b.get("/persons").status_code == 403
    for q in (p["name"], p["id_number"]):
        r = b.post("/search", data={"q": q})
        assert r.status_code == 200 and "已脱敏" in r.text
        assert "1 条结果" in r.text
        for value in (p["name"], p["id_number"], p.get("phone") or "\0"):
            assert value not in r.text                      # not even the query just typed
    assert b.get(f"/persons/{ref.id}").status_code == 403


def test_search_is_post_only_and_audited(web, world):
    ref, p = world.add_person()
    b = web("li")
    r = b.post("/search", data={"q": p["name"]})
    assert p["id_number"] in r.text
    assert b.get(f"/search?q={p['name']}").text.count(p["id_number"]) == 0
    with world.open("admin") as ar:
        assert "search" in [e.action for e in ar.audit_chain.events()]


def test_hostile_values_are_shown_literally(web, world):
    ref, _ = world.add_person(name="<script>alert(1)</script>", residence_address="{{ 7*7 }} javascript:alert(2)")
    b = web("li")
    page = b.get(f"/persons/{ref.id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{ 7*7 }}" in page and "49" not in page.split("现住址")[1][:200]


def test_pages_of_every_role_render(web, world):
    ref, _ = world.add_person(entries=3)
    for user in ("admin", "li", "zhao", "qian"):
        b = web(user, client=f"192.0.2.{hash(user) % 200 + 20}")
        for url in ("/", "/search", "/password"):
            r = b.get(url)
            assert r.status_code == 200, (user, url, r.status_code)
            assert "Traceback" not in r.text


def test_home_lists_the_approval_waiting_for_the_approver_once(web, world):
    ref, p = world.add_person(entries=2)
    with world.open("li") as ar:
        ar.approvals.submit(ref.id, level="中", reason="正在执行社区康复")
    b = web("zhao")
    page = b.get("/").text
    assert page.count(f'href="/approvals/{ref.id}"') == 1 and "待我签批" in page
    page = b.get(f"/approvals/{ref.id}").text
    assert 'name="opinion"' in page and "审批表（共" in page


def test_an_approver_with_nothing_to_sign_is_told_so(web, world):
    page = web("zhao").get("/").text
    assert "目前没有等您签批或被退回的审批表" in page and 'href="/approvals"' in page


def test_home_lists_a_due_visit_with_its_reason(web, world):
    from datetime import date, timedelta

    today = date.today()
    ref, p = world.add_person()
    with world.open("li") as ar:
        ar.entries.add(ref.id, "interview", {"date": (today - timedelta(days=200)).isoformat(),
                                             "method": "敲门见人", "person_seen": True}, today=today)
    page = web("li").get("/").text
    assert f'href="/persons/{ref.id}"' in page and "visit_due" in page and p["name"] in page
