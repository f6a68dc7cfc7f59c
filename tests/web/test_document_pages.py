"""Forms, binding and 会商 meetings in the browser (web/views/documents.py): the
same library calls as ``form fill``, ``bind`` and ``meeting add``."""

from __future__ import annotations

import io
import re
import time

import pytest

from tests.web.conftest import csrf_of



def _docx_text(data: bytes) -> str:
    import docx

    d = docx.Document(io.BytesIO(data))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts += [c.text for c in row.cells]
    return "\n".join(parts)


def _download_ok(r, ext: str):
    assert r.status_code == 200, r.text[:500]
    assert r.headers["cache-control"] == "no-store"
    cd = r.headers["content-disposition"]
    assert cd.startswith("attachment;") and "filename*=UTF-8''" in cd and cd.split("''")[1].endswith("." + ext)


def test_the_forms_page_lists_the_forms(web, world):
    ref, p = world.add_person()
    b = web("li")
    page = b.get("/forms")
    assert page.status_code == 200
    with world.open("li") as ar:
        titles = [s.title for s in ar.forms.list()]
    for t in titles:
        assert t.replace("“", "&#34;").replace("”", "&#34;")[:8] in page.text.replace("“", "&#34;").replace("”", "&#34;"), t
    assert f'value="{ref.id}"' in page.text and p["name"] in page.text
    r = b.get(f"/forms/person?pid={ref.id}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/forms/person/{ref.id}"
    assert "吸毒人员基本信息登记表" in b.get(f"/forms/person/{ref.id}").text


def test_fill_a_person_form_downloads_a_docx_with_the_name_and_keeps_it(web, world):
    ref, p = world.add_person(entries=2)
    b = web("li")
    r = b.post(f"/forms/person/{ref.id}/fill", data={"code": "basic-info", "fmt": "docx", "keep": "1"})
    _download_ok(r, "docx")
    assert p["name"] in _docx_text(r.content)
    assert p["name"] not in r.headers["content-disposition"]          # the archive number names the file
    with world.open("li") as ar:
        docs = ar.dossiers.show(ref.id).state.get("documents") or []
    assert [d["code"] for d in docs] == ["basic-info"]
    # another 社区's clerk: refused, no data
    w = web("wang")
    r = w.post(f"/forms/person/{ref.id}/fill", data={"code": "basic-info", "fmt": "docx"})
    assert r.status_code == 403 and p["name"] not in r.text


def test_a_list_form_for_a_scope_downloads_as_xlsx(web, world):
    import openpyxl

    _, p = world.add_person()
    b = web("li")
    r = b.post("/forms/list", data={"code": "fb02", "scope": world.scope_a, "fmt": "xlsx"})
    _download_ok(r, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert p["name"] in [c.value for row in wb.active.iter_rows() for c in row]
    assert b.post("/forms/list", data={"code": "fb02", "scope": world.scope_b, "fmt": "xlsx"}).status_code == 400


def test_a_post_without_csrf_fills_nothing(web, world):
    ref, _ = world.add_person()
    b = web("li")
    r = b.post(f"/forms/person/{ref.id}/fill", data={"code": "basic-info", "fmt": "docx", "keep": "1"}, csrf=False)
    assert r.status_code == 403
    with world.open("li") as ar:
        assert not ar.dossiers.show(ref.id).state.get("documents")


def _wait(b, url: str, timeout: float = 180) -> str:
    deadline = time.monotonic() + timeout
    while True:
        html = b.get(url).text
        if 'hx-trigger="every 1s"' not in html:
            return html
        assert time.monotonic() < deadline
        time.sleep(0.3)


def test_bind_runs_as_a_job_and_the_pdf_opens(soffice, web, world):
    import pypdf

    ref, p = world.add_person(entries=2)
    b = web("li")
    r = b.post(f"/forms/person/{ref.id}/bind", data={"watermark": "仅供内部使用"}, follow_redirects=False)
    assert r.status_code == 303
    url = r.headers["location"]
    assert re.fullmatch(r"/forms/jobs/[A-Za-z0-9_-]+", url)
    status = b.get(url + "/status", headers={"HX-Request": "true"})
    assert status.status_code == 200
    html = _wait(b, url)
    assert "装订完成" in html, html
    pdf = b.get(url + "/file")
    _download_ok(pdf, "pdf")
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    assert len(reader.pages) >= 3
    assert web("wang").get(url + "/file").status_code == 404


def test_a_meeting_added_in_the_browser_is_recorded(web, world):
    a, pa = world.add_person()
    c, pc = world.add_person()
    b = web("li")
    form = b.get("/meetings/new").text
    for key in ('name="date"', 'name="place"', 'name="host"', 'name="p0.ref"', 'name="p0.level"', 'name="attendees"'):
        assert key in form, key
    # a missing conclusion: nothing saved, what was typed kept
    r = b.post("/meetings/new", data={"date": "2025-05-10", "place": "街道综治中心会议室", "host": "陈志刚",
                                      "p0.ref": a.id, "p0.level": "", "action": "save"})
    assert r.status_code == 400 and "会商结论" in r.text and 'value="街道综治中心会议室"' in r.text
    with world.open("li") as ar:
        assert ar.meetings.list() == []
    # one more row keeps the rows typed so far
    r = b.post("/meetings/new", data={"place": "会议室", "p0.ref": a.id, "p0.level": "中", "action": "more"})
    assert r.status_code == 200 and 'name="p1.ref"' in r.text and f'value="{a.id}" selected' in r.text
    r = b.post("/meetings/new", follow_redirects=False, data={
        "no": "〔2025〕第3期", "date": "2025-05-10", "place": "街道综治中心会议室", "host": "陈志刚", "recorder": "李娜",
        "p0.ref": a.id, "p0.level": "中", "p0.community_level": "中", "p0.reasons": "正在执行社区康复",
        "p0.measures": "每月见面两次", "p0.next_review": "2025-08-10",
        "p1.ref": c.id, "p1.level": "低",
        "attendees": "粤汉派出所 王五 社区民警\n苗圃社区 李四 禁毒专干", "decisions": "阳性人员依法处置。",
        "action": "save"})
    assert r.status_code == 303 and r.headers["location"] == "/meetings"
    with world.open("li") as ar:
        ms = ar.meetings.list()
        view = ar.dossiers.show(a.id)
    assert len(ms) == 1
    m = ms[0]
    assert m["no"] == "〔2025〕第3期" and m["place"] == "街道综治中心会议室"
    assert [x["level"] for x in m["persons"]] == ["中", "低"]
    assert m["attendees"][0] == {"unit": "粤汉派出所", "name": "王五", "role": "社区民警"}
    assert m["decisions"] == ["阳性人员依法处置。"]
    assert any(e["type"] == "assessment" and e.get("final_level") == "中" for e in view.entries)
    page = b.get("/meetings").text
    assert "〔2025〕第3期" in page and f'/meetings/{m["id"]}/fill' in page
    r = b.post(f"/meetings/{m['id']}/fill", data={"code": "minutes", "fmt": "docx"})
    _download_ok(r, "docx")
    text = _docx_text(r.content)
    n = pa["name"]
    masked = n[0] + "*" * (len(n) - 2) + n[-1] if len(n) > 2 else n[0] + "*"
    assert "街道综治中心会议室" in text and masked in text and n not in text      # the minutes mask names
    r = b.post(f"/meetings/{m['id']}/fill", data={"code": "signin", "fmt": "docx"})
    _download_ok(r, "docx")
    assert "王五" in _docx_text(r.content)
