"""Admin pages in a real browser (headless Chromium against ``dossier serve``): a transfer
between two archives (issue 13) and a user's full name / unit (issue 14)."""

from __future__ import annotations

import json
import re

import pytest

import dossier
from tests.web.browserkit import Server, login
from tests.web.test_browser import chromium, server  # noqa: F401  (the module's fixtures)

pytestmark = pytest.mark.browser

B_ADMIN, B_PASS, B_SCOPE = "boss", "boss-pass-0001", "蒸湘区/联合街道/华新社区"
DESK = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN", "accept_downloads": True}


@pytest.fixture
def server_b(tmp_path):
    """A second archive (another office) with its own admin and scope, served on its own port."""
    path = tmp_path / "B"
    dossier.init_archive(path, name="蒸湘区禁毒办", admin=B_ADMIN, password=B_PASS)
    with dossier.open_archive(path, user=B_ADMIN, password=B_PASS) as ar:
        ar.scopes.add(B_SCOPE)
    s = Server(path, tmp_path / "srv-b")
    s.path = path
    yield s
    s.stop()


def _fingerprint(page) -> str:
    fp = page.inner_text("#root-fingerprint").strip()
    assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4})+", fp), fp
    return fp


def test_a_file_moves_from_one_archive_to_another_through_the_transfer_pages(world, server, server_b, chromium,
                                                                               run_dossier, tmp_path):
    ref, profile = world.add_person(entries=3)

    # B's admin makes the transfer key and downloads the key file to hand over
    b = chromium.new_context(**DESK).new_page()
    login(b, server_b.base, B_ADMIN, B_PASS)
    b.goto(server_b.base + "/transfers")
    b.click("button[name=action][value=key]")
    b.wait_for_load_state("load")
    assert "已生成本库移交密钥" in b.inner_text(".flash.ok")
    fp_b = _fingerprint(b)
    with b.expect_download() as dl:
        b.click("a[href='/transfers/key']")
    key_file = tmp_path / "B_key.txt"
    dl.value.save_as(key_file)
    assert fp_b in key_file.read_text(encoding="utf-8")

    # A's admin exports the person's file to B and downloads the bundle
    a = chromium.new_context(**DESK).new_page()
    login(a, server.base, "admin", world.passwords["admin"])
    a.goto(server.base + "/transfers")
    if a.locator("button[name=action][value=key]").count():
        a.click("button[name=action][value=key]")
        a.wait_for_load_state("load")
    fp_a = _fingerprint(a)
    a.click("a[href='/transfers/export']")
    a.fill("#refs", ref.archive_no)
    a.set_input_files("#key", str(key_file))
    a.fill("#reason", "执行地变更")
    a.click("form[action='/transfers/export'] button[type=submit]")
    a.wait_for_load_state("load")
    result = a.inner_text("#export-result")
    assert "蒸湘区禁毒办" in result and fp_b in result and ref.archive_no in result
    with a.expect_download() as dl:
        a.click("#download-bundle")
    bundle = tmp_path / "bundle.dtb"
    dl.value.save_as(bundle)
    assert dl.value.suggested_filename.endswith(".dtb")
    data = bundle.read_bytes()
    assert data.startswith(b"DOSSIER-TRANSFER") and profile["name"].encode() not in data

    # B's admin uploads it: a look first (masked, the sender's fingerprint), then the confirm
    b.goto(server_b.base + "/transfers/import")
    b.set_input_files("input[name=bundle]", str(bundle))
    b.click("form[action='/transfers/import'] button[type=submit]")
    b.wait_for_load_state("load")
    look = b.inner_text("#bundle-info")
    assert fp_a in b.inner_text("#sender-fingerprint") and "未信任" in look
    assert profile["name"] not in look and profile["id_number"] not in look
    b.select_option("#scope", B_SCOPE)
    b.fill("#fingerprint", fp_a)
    b.click("button:has-text('确认导入')")
    b.wait_for_load_state("load")
    done = b.inner_text("#import-result")
    assert "已从“粤汉街道”接收 1 份档案" in done and ref.archive_no in done

    # B's person page shows the file, and where it came from
    b.click("#import-result a[href^='/persons/']")
    b.wait_for_load_state("load")
    assert b.inner_text("h1") == profile["name"]
    origin = b.inner_text(".flash.info")
    assert "接收自“粤汉街道”" in origin and fp_a in origin and ref.archive_no in origin
    # A keeps only a masked stub that says where the file went
    a.goto(server.base + f"/persons/{ref.id}")
    assert "蒸湘区禁毒办" in a.inner_text("main")
    b.context.close()
    a.context.close()


def test_admin_edits_a_users_full_name_and_unit_in_the_browser(world, server, chromium, run_dossier):
    page = chromium.new_context(**DESK).new_page()
    login(page, server.base, "admin", world.passwords["admin"])
    page.goto(server.base + "/admin/users")
    row = page.locator("table.list tbody tr").filter(has=page.locator("td strong", has_text="zhao"))
    assert row.count() == 1
    row.locator("details.inline-edit summary").click()
    row.locator("input[name=full_name]").fill("赵明远")
    row.locator("input[name=unit]").fill("粤汉派出所")
    row.locator("input[name=title]").fill("副所长")
    row.locator("details.inline-edit button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "已更新用户 zhao" in page.inner_text(".flash.ok")
    row = page.locator("table.list tbody tr").filter(has=page.locator("td strong", has_text="zhao"))
    cell = row.locator("td[data-label='姓名/单位']").inner_text()
    assert "赵明远（副所长）" in cell and "粤汉派出所" in cell and "信息不全" not in cell
    # the CLI sees the same
    r = run_dossier(["user", "list", "--json"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    users = json.loads(r.stdout)
    users = users.get("users", users) if isinstance(users, dict) else users
    zhao = next(u for u in users if u["name"] == "zhao")
    assert (zhao["full_name"], zhao["unit"], zhao["title"]) == ("赵明远", "粤汉派出所", "副所长")
    page.context.close()
