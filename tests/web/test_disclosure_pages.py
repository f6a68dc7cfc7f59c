"""Disclosure pages (web/views/disclosures.py): an inspector requests by 档号, an
admin grants, the inspector exports the watermarked, leak-checked PDF as an
attachment (audited); refusals by the library are clear messages, never a file."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta


def _did(world) -> str:
    from dossier.approve.hooks import ensure_attached

    with world.open("admin") as ar:
        return ensure_attached(ar).disclosures.list()[-1]["id"]


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(data)).pages)


def test_request_grant_export_gives_a_pdf(web, world):
    ref, p = world.add_person()
    other, p2 = world.add_person(scope=world.scope_b)
    q = web("qian")
    page = q.get("/disclosures")
    for key in ('name="refs"', 'name="purpose"', 'name="fields"', 'name="until"'):
        assert key in page.text
    until = (date.today() + timedelta(days=30)).isoformat()
    r = q.post("/disclosures", data={"refs": f"{ref.archive_no}\n{other.archive_no}", "purpose": "2025年度交叉评查",
                                     "fields": ["name"], "until": until}, follow_redirects=True)
    assert r.status_code == 200 and "已提交披露申请" in r.text and "待授权" in r.text
    did = _did(world)
    assert did in r.text and "导出 PDF" not in r.text
    for html in (r.text,):
        assert p["name"] not in html and p["id_number"] not in html

    admin = web("admin")
    r = admin.post(f"/disclosures/{did}/grant", follow_redirects=True)
    assert r.status_code == 200 and f"已授权 {did}" in r.text

    page = q.get("/disclosures")
    assert f'action="/disclosures/{did}/export"' in page.text
    f = q.post(f"/disclosures/{did}/export", data={})
    assert f.status_code == 200 and f.headers["content-type"] == "application/pdf"
    assert f.headers["content-disposition"].startswith("attachment;") and "no-store" in f.headers["cache-control"]
    assert f.content[:5] == b"%PDF-"
    text = _pdf_text(f.content)
    assert p["name"] in text and p2["name"] in text                  # the granted field, in clear
    assert p["id_number"] not in text                                 # not granted: masked
    assert did not in str(f.url) or "/export" in str(f.url)
    from dossier.approve.hooks import audit_events

    with world.open("admin") as ar:
        ev = audit_events(ar, action="disclose.export")
    assert len(ev) == 1 and ev[0]["actor"] == "qian" and ev[0]["details"]["request"] == did

    # with a PDF password the package is encrypted
    f = q.post(f"/disclosures/{did}/export", data={"pdf_password": "pkg-pass-1"})
    from pypdf import PdfReader

    assert PdfReader(io.BytesIO(f.content)).is_encrypted


def test_only_the_requester_exports_and_a_revoked_grant_exports_nothing(web, world):
    ref, _ = world.add_person()
    q = web("qian")
    q.post("/disclosures", data={"refs": ref.archive_no, "purpose": "抽查", "fields": ["name", "id_number"]})
    did = _did(world)
    # not granted yet: no file, a message
    r = q.post(f"/disclosures/{did}/export", data={}, follow_redirects=True)
    assert r.headers["content-type"].startswith("text/html") and "未导出" in r.text and "待授权" in r.text
    # the inspector cannot grant its own request (the library refuses)
    r = q.post(f"/disclosures/{did}/grant")
    assert r.status_code == 403
    admin = web("admin")
    admin.post(f"/disclosures/{did}/grant")
    r = admin.post(f"/disclosures/{did}/export", data={}, follow_redirects=True)
    assert r.headers["content-type"].startswith("text/html") and "不能由他人导出" in r.text
    # a clerk of another scope cannot revoke it
    r = web("wang").post(f"/disclosures/{did}/revoke")
    assert r.status_code == 403
    r = admin.post(f"/disclosures/{did}/revoke", follow_redirects=True)
    assert "已撤销" in r.text
    r = q.post(f"/disclosures/{did}/export", data={}, follow_redirects=True)
    assert r.headers["content-type"].startswith("text/html") and "未导出" in r.text
    r = admin.post(f"/disclosures/{did}/revoke", follow_redirects=True)
    assert "未撤销" in r.text


def test_request_errors_are_shown_beside_their_fields(web, world):
    ref, _ = world.add_person()
    q = web("qian")
    cases = [({"refs": "", "purpose": "x", "fields": ["name"]}, "refs", "档号"),
             ({"refs": ref.archive_no, "purpose": " ", "fields": ["name"]}, "purpose", "用途"),
             ({"refs": ref.archive_no, "purpose": "x"}, "fields", "字段"),
             ({"refs": ref.archive_no, "purpose": "x", "fields": ["name"], "until": "2000-01-01"}, "until", "已过"),
             ({"refs": "430000-NOPE", "purpose": "x", "fields": ["name"]}, "refs", "430000-NOPE")]
    for data, field, msg in cases:
        r = q.post("/disclosures", data=data)
        assert r.status_code == 400, (field, r.status_code)
        block = re.search(rf'<(?:div|fieldset) class="[^"]*has-error[^"]*">.{{0,400}}?name="{field}"', r.text, re.S)
        assert block and msg in r.text, field
    from dossier.approve.hooks import ensure_attached

    with world.open("admin") as ar:
        assert ensure_attached(ar).disclosures.list() == []
    assert q.post("/disclosures", data={"refs": ref.archive_no, "purpose": "x", "fields": ["name"]},
                  csrf=False).status_code == 403
