"""The transfer pages (issue 13): export in one archive's browser, import in another's."""

from __future__ import annotations

import re
import sys

import pytest

import dossier
from tests.web.conftest import Browser

B_ADMIN, B_PASS, B_SCOPE = "boss", "boss-pass-0001", "蒸湘区/联合街道/华新社区"


@pytest.fixture
def receiver(tmp_path, world):
    from starlette.testclient import TestClient

    from dossier.web.app import create_app

    path = tmp_path / "B"
    dossier.init_archive(path, name="蒸湘区禁毒办", admin=B_ADMIN, password=B_PASS)
    with dossier.open_archive(path, user=B_ADMIN, password=B_PASS) as ar:
        ar.scopes.add(B_SCOPE)
    c = TestClient(create_app(path), base_url="http://127.0.0.1", client=("192.0.2.11", 50000))
    c.__enter__()
    b = Browser(c, world)
    assert b.login(B_ADMIN, B_PASS).status_code == 303
    b.path = path
    yield b
    c.__exit__(*sys.exc_info())


def test_export_and_import_pages(web, world, receiver, snap):
    snapshot = snap
    ref, profile = world.add_person(entries=3)
    a = web("admin")
    form = a.get(f"/transfers/export?pid={ref.id}")
    assert form.status_code == 200 and ref.archive_no in form.text
    # the receiver makes its key and hands over the file
    r = receiver.get("/transfers")
    assert r.status_code == 200 and "生成移交密钥" in r.text
    r = receiver.post("/transfers", {"action": "key"}, follow_redirects=True)
    assert r.status_code == 200
    fp_b = re.search(r'id="root-fingerprint">([A-Z2-7-]+)<', r.text).group(1)
    key = receiver.get("/transfers/key")
    assert key.status_code == 200 and "attachment" in key.headers["content-disposition"]
    assert fp_b in key.text and "no-store" in key.headers["cache-control"]

    # a POST without the CSRF token does nothing
    r = a.post("/transfers/export", {"refs": ref.archive_no, "reason": "执行地变更"},
               files={"key": ("k.txt", key.content, "text/plain")}, csrf=False)
    assert r.status_code == 403
    # export: 档号, the other office's key file, the reason → the bundle to download
    r = a.post("/transfers/export", {"refs": ref.archive_no, "reason": "执行地变更", "keep_copy": "1"},
               files={"key": ("k.txt", key.content, "text/plain")}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = a.get(r.headers["location"])
    assert page.status_code == 200 and "移交包已生成" in page.text and fp_b in page.text
    bundle = a.get(r.headers["location"] + "/bundle")
    assert bundle.status_code == 200 and bundle.content.startswith(b"DOSSIER-TRANSFER")
    assert "no-store" in bundle.headers["cache-control"] and "attachment" in bundle.headers["content-disposition"]
    assert profile["name"].encode() not in bundle.content
    shown = a.get(f"/persons/{ref.id}")
    assert "蒸湘区禁毒办" in shown.text and "只读副本" in shown.text and "＋ 见面核查" not in shown.text

    # import: upload → masked persons and the sender's fingerprint; nothing written until confirmed
    r = receiver.post("/transfers/import", {}, files={"bundle": ("x.dtb", bundle.content, "application/octet-stream")},
                      follow_redirects=False)
    assert r.status_code == 303, r.text
    look = receiver.get(r.headers["location"])
    fp_a = re.search(r'id="sender-fingerprint">([A-Z2-7-]+)', look.text).group(1)
    assert "未信任" in look.text and profile["name"] not in look.text and profile["id_number"] not in look.text
    before = snapshot(receiver.path)     # (the look is audited: transfer.show)
    r2 = receiver.post(r.headers["location"], {"scope": B_SCOPE})
    assert r2.status_code == 400 and fp_a in r2.text
    r2 = receiver.post(r.headers["location"], {"scope": B_SCOPE, "fingerprint": "AAAA-BBBB-CCCC-DDDD"})
    assert r2.status_code == 400
    assert snapshot(receiver.path) == before
    r2 = receiver.post(r.headers["location"], {"scope": B_SCOPE, "fingerprint": fp_a})
    assert r2.status_code == 200 and "已从“粤汉街道”接收 1 份档案" in r2.text
    person = re.search(r'href="(/persons/[0-9a-f-]+)"', r2.text).group(1)
    p = receiver.get(person)
    assert p.status_code == 200 and profile["name"] in p.text and "接收自“粤汉街道”" in p.text
    # the office is trusted now
    assert fp_a in receiver.get("/transfers").text


def test_transfer_pages_are_for_admins(web, world):
    li = web("li")
    assert li.get("/transfers").status_code == 403
    assert li.get("/transfers/export").status_code == 403
    assert li.post("/transfers/import", {}).status_code == 403
