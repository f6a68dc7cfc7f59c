"""What must hold in a real browser (headless Chromium against ``dossier serve``)."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import pytest

from tests.web.browserkit import CHROMIUM, CHROMIUM_ARGS, PHONE, Server, login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(world, tmp_path):
    s = Server(world.path, tmp_path / "srv")
    yield s
    s.stop()


def _due_person(world):
    """A person whose last 见面 (person seen) was 100 days ago and who is 高 risk by the plan."""
    today = date.today()
    ref, p = world.add_person()
    with world.open("li") as ar:
        ar.entries.add(ref.id, "interview", {"date": (today - timedelta(days=100)).isoformat(), "method": "敲门见人",
                                             "subject": "本人", "person_seen": True}, today=today)
        ar.entries.add(ref.id, "measure", {"date": (today - timedelta(days=100)).isoformat(), "level": "高",
                                           "visit_freq_days": 30, "filed_with": "区禁毒办"}, today=today)
    return ref, p


def test_clerk_records_a_visit_with_a_urine_test_and_a_photo_from_a_phone(world, server, chromium, run_dossier,
                                                                            tmp_path):
    from tests.forms.formkit import gps_jpeg

    ref, p = _due_person(world)
    ctx = chromium.new_context(**PHONE)
    page = ctx.new_page()
    login(page, server.base, "li", world.passwords["li"])
    item = page.locator(f".agenda li[data-kind] a[href='/persons/{ref.id}']")
    assert item.count() >= 1, page.content()
    item.first.click()
    page.click("text=＋ 见面核查")
    page.select_option("#f-method", "敲门见人")
    page.select_option("#f-subject", "本人")
    page.check("input[name=person_seen][value=true]")
    page.fill("#f-content", "本人在家，状态稳定")
    page.fill("#f-staff\\.0\\.name", "李专干")
    page.check("input[name=with_test]")
    page.select_option("#f-test\\.result", "阴性")
    page.click("form button.primary[type=submit]")
    page.wait_for_load_state("load")
    assert "已添加" in page.inner_text(".flash.ok")
    page.click("text=＋ 附件/拍照")
    photo = tmp_path / "IMG_0001.jpg"
    photo.write_bytes(gps_jpeg())
    page.set_input_files("input[name=photo]", str(photo))
    page.fill("#title", "见面照片")
    page.click("form button.primary[type=submit]")
    page.wait_for_load_state("load")
    assert "已加入附件" in page.inner_text(".flash.ok")
    # the CLI sees both entries and the photo, without its EXIF
    r = run_dossier(["show", ref.id, "--json"], env=world.env("li"))
    assert r.code == 0, r.stderr
    shown = json.loads(r.stdout)
    today = date.today().isoformat()
    kinds = {(e["type"], e["date"]) for e in shown["entries"]}
    assert ("interview", today) in kinds and ("test", today) in kinds
    att = shown["attachments"][-1]
    assert att["title"] == "见面照片" and att["kind"] == "jpeg"
    with world.open("li") as ar:
        data = ar.blobs.get(att["blob"], scope=ar.dossiers.resolve(ref.id).scope, dossier_id=ref.id,
                            kind="attachment")
    assert b"SpyCam" not in data and b"Exif" not in data[:200]
    # the visit is no longer due
    page.goto(server.base + "/")
    assert page.locator(f".agenda li[data-kind=visit_due] a[href='/persons/{ref.id}']").count() == 0
    ctx.close()


def test_approver_signs_in_the_browser_and_the_pdf_verifies(world, server, chromium, run_dossier, tmp_path):
    if shutil.which("soffice") is None or shutil.which("pdfsig") is None:
        pytest.fail("LibreOffice and poppler-utils are installed by ./dev setup")
    ref, p = world.add_person(entries=2)
    # through the CLI: pyHanko signs with asyncio.run, which cannot run beside Playwright's loop
    r = run_dossier(["approve", "submit", ref.id, "--level", "中", "--reason", "正在执行社区康复"], env=world.env("li"))
    assert r.code == 0, r.stderr
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = ctx.new_page()
    login(page, server.base, "zhao", world.passwords["zhao"])
    page.click(f"a[href='/approvals/{ref.id}']")
    assert page.locator(".pdf-pages img").count() >= 1
    page.fill("#opinion", "经核查属实，同意")
    page.click("button[name=action][value=sign]")
    page.wait_for_load_state("load")
    assert "已签批" in page.inner_text(".flash.ok")
    r = run_dossier(["approve", "verify", ref.id, "--json"], env=world.env("zhao"))
    assert r.code == 0, r.stdout + r.stderr
    out = tmp_path / "signed.pdf"
    r = run_dossier(["approve", "export", ref.id, "-o", out], env=world.env("zhao"))
    assert r.code == 0, r.stderr
    from dossier.approve import pdfsign

    sigs = pdfsign.pdfsig_report(str(out))
    assert len(sigs) == 2 and all(s["valid"] for s in sigs), sigs
    ctx.close()


def test_a_script_in_a_name_renders_as_text(world, server, chromium):
    ref, _ = world.add_person(name="<script>alert(1)</script>")
    ctx = chromium.new_context()
    page = ctx.new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    login(page, server.base, "li", world.passwords["li"])
    page.goto(server.base + f"/persons/{ref.id}")
    assert page.inner_text("h1") == "<script>alert(1)</script>"
    page.goto(server.base + "/persons")
    page.wait_for_timeout(300)
    assert dialogs == []
    ctx.close()


def test_after_logout_no_page_with_data_is_served_and_back_shows_none(world, server, chromium):
    ref, p = world.add_person()
    ctx = chromium.new_context()
    page = ctx.new_page()
    login(page, server.base, "li", world.passwords["li"])
    page.goto(server.base + f"/persons/{ref.id}")
    assert p["id_number"] in page.content()
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    page.go_back()
    page.wait_for_load_state("load")
    assert p["id_number"] not in page.content() and p["name"] not in page.content()
    page.goto(server.base + f"/persons/{ref.id}")
    assert "/login" in page.url and p["id_number"] not in page.content()
    ctx.close()


def test_inspector_pages_in_the_browser_show_no_unmasked_value(world, server, chromium):
    ref, p = world.add_person(entries=2)
    ctx = chromium.new_context(**PHONE)
    page = ctx.new_page()
    login(page, server.base, "qian", world.passwords["qian"])
    for q in (p["name"], p["id_number"]):
        page.fill("#q", q)
        page.click(".search-box button")
        page.wait_for_load_state("load")
        html = page.content()
        assert "已脱敏" in html
        for v in (p["name"], p["id_number"], p.get("phone") or "\0"):
            assert v not in html
    page.goto(server.base + f"/persons/{ref.id}")
    assert p["name"] not in page.content()
    ctx.close()


def test_after_a_browser_workflow_no_known_value_is_anywhere_on_disk(world, server, chromium, tmp_path):
    """Register, record, search, view, attach and log out in the browser with known
    values; none of them (UTF-8, UTF-16, GB18030) under the archive, the server's
    TMPDIR or its log."""
    from tests.forms.formkit import gps_jpeg
    from tests.test_api import _find_plaintext

    from dossier.model.idnumber import make_id_number

    known = {"name": "欧阳慕青", "id_number": make_id_number("430405", date(1987, 3, 9), 263),
             "phone": "13907340291", "residence_address": "湖南省衡阳市珠晖区苗圃路柒拾叁号",
             "content": "本人在家中谈及务工打算"}
    ctx = chromium.new_context(**PHONE)
    page = ctx.new_page()
    login(page, server.base, "li", world.passwords["li"])
    page.goto(server.base + "/persons/new")
    page.select_option("#f-scope", world.scope_a)
    for k in ("name", "id_number", "phone", "residence_address"):
        page.fill(f"#f-{k}", known[k])
    page.click("form button.primary[type=submit]")
    page.wait_for_load_state("load")
    assert "已建档" in page.inner_text(".flash.ok")
    page.click("text=＋ 见面核查")
    page.fill("#f-content", known["content"])
    page.click("form button.primary[type=submit]")
    page.wait_for_load_state("load")
    page.click("text=＋ 附件/拍照")
    photo = tmp_path / "IMG_0002.jpg"
    photo.write_bytes(gps_jpeg())
    page.set_input_files("input[name=photo]", str(photo))
    page.fill("#title", "见面照片")
    page.click("form button.primary[type=submit]")
    page.wait_for_load_state("load")
    page.goto(server.base + "/search")
    page.fill("#q", known["name"])
    page.click(".search-box button")
    page.wait_for_load_state("load")
    assert known["id_number"] in page.content()
    page.goto(server.base + "/persons?status=&risk=&label=")
    page.click("form[action='/logout'] button")
    page.wait_for_url("**/login")
    ctx.close()
    photo.unlink()
    server.stop()
    found = _find_plaintext([world.path, server.tmp, server.log.parent], list(known.values()))
    assert found == [], found
