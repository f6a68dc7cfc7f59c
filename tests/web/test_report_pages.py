"""Report pages (web/views/reports.py): campaign progress, 附表1 statistics with
their charts and downloads, inspection results (masked for inspectors) and paper
verification by typed code or QR photo — the same library as the CLI."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, timedelta

import pytest

from dossier import paper

STREET = "珠晖区/粤汉街道"


def _campaign(world, name="夏季大排查"):
    from dossier.reports.campaigns import Campaigns

    t = date.today()
    d = lambda n: (t + timedelta(days=n)).isoformat()   # noqa: E731
    with world.open("admin") as ar:
        Campaigns(ar).add({"name": name, "doc_no": "粤汉办〔2025〕9号", "scope": STREET,
                           "steps": [{"name": "全面排查", "start": d(-40), "end": d(-10)},
                                     {"name": "风险评估", "start": d(-9), "end": d(20)}],
                           "actions": [{"action": "interview", "count": 2, "by": "全面排查"},
                                       {"action": "assessment", "count": 1, "by": "风险评估"}]})
    return name


def _persons(world, n=3):
    out = [world.add_person(entries=3) for _ in range(n)]
    out.append(world.add_person(scope=world.scope_b, entries=3))
    return out


def _key(html: str) -> str:
    m = re.search(r'href="/campaigns/([0-9a-f]{12})"', html)
    assert m, "no campaign link"
    return m.group(1)


def _visible(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_campaign_progress_per_community_with_charts_and_reports(web, world):
    people = _persons(world)
    name = _campaign(world)
    b = web("admin")
    page = b.get("/campaigns")
    assert page.status_code == 200 and name in page.text
    r = b.get(f"/campaigns/{_key(page.text)}")
    assert r.status_code == 200
    text = _visible(r.text)
    assert "苗圃社区" in text and "东风社区" in text and "合计" in text and "逾期未完成" in text
    # everyone was due two interviews by the end of 全面排查 and had none in the window: all overdue
    for ref, p in people:
        assert ref.archive_no in r.text and p["name"] not in r.text     # names masked as in the weekly report
    imgs = re.findall(r'<img src="(/campaigns/r/[^"]+\.png)"', r.text)
    assert len(imgs) == 3
    png = b.get(imgs[0])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    token = imgs[0].split("/")[3]
    for fmt, magic in (("docx", b"PK"), ("xlsx", b"PK")):
        f = b.get(f"/campaigns/r/{token}/report.{fmt}")
        assert f.status_code == 200 and f.content[:2] == magic
        assert f.headers["content-disposition"].startswith("attachment;")
        assert "no-store" in f.headers["cache-control"]
    with zipfile.ZipFile(io.BytesIO(f.content)) as z:
        assert any(n.startswith("xl/media/") for n in z.namelist())      # the charts are in the workbook
    with world.open("admin") as ar:
        from dossier.approve.hooks import audit_events

        kinds = [e["details"].get("kind") for e in audit_events(ar, action="export")]
    assert kinds.count("campaign-progress") == 2
    # another session cannot use this result's token
    other = web("admin")
    assert other.get(imgs[0]).status_code == 404


def test_stats_page_numbers_match_the_library_and_the_xlsx_downloads(web, world):
    _persons(world)
    b = web("li")
    assert "as_of" not in b.get("/stats").text.split("<form")[0]     # nothing computed before asked
    day = date.today().isoformat()
    r = b.get(f"/stats?scope={world.scope_a}&as_of={day}")
    assert r.status_code == 200
    from dossier.reports import Reports

    with world.open("li") as ar:
        s = Reports(ar).stats(world.scope_a, as_of=date.today())
    text = _visible(r.text)
    assert f"{s['total']['registered']} 登记在册" in text and "东风社区" not in text
    imgs = re.findall(r'<img src="(/stats/r/[^"]+\.png)"', r.text)
    assert len(imgs) == 3 and all(b.get(u).content[:4] == b"\x89PNG" for u in imgs)
    xlsx = re.search(r'href="(/stats/r/[^"]+\.xlsx)"', r.text).group(1)
    f = b.get(xlsx)
    assert f.status_code == 200 and f.headers["content-disposition"].startswith("attachment;")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(f.content)).active
    assert ws.cell(3, 2).value == s["rows"][0]["registered"]
    # a scope outside the clerk's is refused by name, nothing computed
    r = b.get(f"/stats?scope={world.scope_b}&as_of={day}")
    assert r.status_code == 400 and "请从列表中选择辖区" in r.text
    assert b.get(f"/stats?as_of=2025-13-40").status_code == 400


def test_an_inspectors_inspection_and_campaign_pages_hold_no_unmasked_value(web, world):
    people = _persons(world)
    _campaign(world)
    admin = web("admin")
    r = admin.post("/inspection", data={"scope": STREET, "save": "1"}, follow_redirects=True)
    assert r.status_code == 200 and "督查核查结果" in r.text and "已保存脱敏结果" in r.text
    assert "问题清单" in r.text
    found = [ref.archive_no for ref, _ in people if ref.archive_no in r.text]
    assert found, "the run found nothing about the persons (the masking check would prove nothing)"

    q = web("qian")
    assert "运行核查" not in q.get("/inspection").text        # inspectors open the saved result only
    pages = [q.get(f"/inspection?scope={STREET}", follow_redirects=True)]
    assert pages[0].status_code == 200 and all(no in pages[0].text for no in found)
    token = re.search(r'/inspection/([\w-]+)/report\.docx', pages[0].text).group(1)
    doc = q.get(f"/inspection/{token}/report.docx")
    assert doc.status_code == 200 and doc.headers["content-disposition"].startswith("attachment;")
    with zipfile.ZipFile(io.BytesIO(doc.content)) as z:
        body = z.read("word/document.xml").decode()
    listing = q.get("/campaigns")
    progress = q.get(f"/campaigns/{re.search(r'/campaigns/([0-9a-f]{12})', admin.get('/campaigns').text).group(1)}")
    assert listing.status_code == 200 and "夏季大排查" in listing.text and "查看进度" not in listing.text
    assert progress.status_code == 403 and "督查人员不能解密档案" in progress.text
    pages += [listing, progress, q.get("/inspection")]
    for ref, p in people:
        for html in [pg.text for pg in pages] + [body]:
            assert p["name"] not in html and p["id_number"] not in html
            if p.get("phone"):
                assert p["phone"] not in html
    # an inspector cannot run the checks on decrypted data through the form either
    r = q.post("/inspection", data={"scope": STREET}, follow_redirects=True)
    assert all(p["name"] not in r.text for _, p in people)


def test_inspection_rule_choice_and_unknown_rule(web, world):
    _persons(world, 1)
    b = web("li")
    r = b.post("/inspection", data={"scope": world.scope_a, "rule": "STALE"}, follow_redirects=True)
    assert r.status_code == 200
    rules = set(re.findall(r'<span class="mono small">([A-Z_]+)</span>', r.text.split("问题清单")[1]))
    assert rules <= {"STALE"}
    r = b.post("/inspection", data={"scope": world.scope_a, "rule": "NOPE"})
    assert r.status_code == 400 and "NOPE" in r.text




def test_paper_verification_accepts_a_generated_forms_code_and_refuses_a_forged_one(soffice, web, world):
    from dossier.forms import service

    ref, p = world.add_person(entries=2)
    with world.open("li") as ar:
        form = service.fill(ar, "审批表", ref=ref.archive_no, fmt="pdf")
    tok = form.paper
    assert tok is not None
    q = web("qian")
    assert q.get("/verify").status_code == 200
    r = q.post("/verify", data={"code": tok.text})                  # typed as printed, with spaces
    assert r.status_code == 200 and "核验通过" in r.text and ref.archive_no in r.text and "未变更" in r.text
    assert p["name"] not in r.text and tok.token not in str(r.url)
    # a photo of the QR code (the page's PNG, as a phone would upload it)
    r = q.post("/verify", data={}, files={"photo": ("qr.png", tok.qr_png(scale=6), "image/png")})
    assert r.status_code == 200 and "核验通过" in r.text and ref.archive_no in r.text
    # one character changed: refused
    t = tok.token
    i = len(t) // 2
    forged = t[:i] + ("A" if t[i] != "A" else "B") + t[i + 1:]
    r = q.post("/verify", data={"code": forged})
    assert "核验失败" in r.text and "核验通过" not in r.text
    # a new version: still genuine, but the page says the file changed since
    with world.open("li") as ar:
        ar.entries.add(ref.archive_no, "interview", {"date": date.today().isoformat(), "subject": "本人",
                                                     "person_seen": True, "content": "回访。"})
    r = q.post("/verify", data={"code": tok.token})
    assert "核验通过" in r.text and "已变更" in r.text


def test_paper_verification_input_errors(web, world):
    ref, _ = world.add_person()
    with world.open("li") as ar:
        tok = paper.issue(ar, ref.archive_no)
    b = web("li")
    assert b.post("/verify", data={}).status_code == 400
    r = b.post("/verify", data={"code": tok.token}, files={"photo": ("qr.png", tok.qr_png(), "image/png")})
    assert r.status_code == 400 and "只用一种方式" in r.text
    r = b.post("/verify", data={}, files={"photo": ("x.jpg", b"not an image", "image/jpeg")})
    assert r.status_code == 400 and "无法读取" in r.text
    blank = io.BytesIO()
    from PIL import Image

    Image.new("RGB", (200, 200), "white").save(blank, "PNG")
    r = b.post("/verify", data={}, files={"photo": ("blank.png", blank.getvalue(), "image/png")})
    assert r.status_code == 400 and "没有识别到" in r.text
    r = b.post("/verify", data={"code": "XYZ123"})
    assert r.status_code == 400 and "DP1" in r.text
    assert b.post("/verify", data={"code": tok.token}, csrf=False).status_code == 403


def test_inspection_errors_are_shown_on_the_form(web, world):
    _persons(world, 1)
    q = web("qian")
    r = q.get(f"/inspection?scope={STREET}")
    assert r.status_code == 400 and "还没有已保存的督查结果" in r.text
    b = web("li")
    r = b.post("/inspection", data={"save": "1"})
    assert r.status_code == 400 and "须选定辖区" in r.text


def test_paper_verification_accepts_the_short_code(web, world):
    """Issue 14: the 16-character code printed beside the QR code; a mistyped one is a typo
    (the form shows it as an input error), an unknown one is refused."""
    ref, _ = world.add_person()
    with world.open("li") as ar:
        tok = paper.issue(ar, ref.archive_no)
    q = web("qian")
    r = q.post("/verify", data={"code": tok.short})
    assert r.status_code == 200 and "核验通过" in r.text and tok.short in r.text
    r = q.post("/verify", data={"code": tok.short.replace("-", " ").lower()})
    assert r.status_code == 200 and "核验通过" in r.text
    flat = tok.short.replace("-", "")
    typo = flat[:3] + ("7" if flat[3] != "7" else "8") + flat[4:]
    r = q.post("/verify", data={"code": typo})
    assert r.status_code == 400 and "抄错" in r.text and "核验失败" not in r.text
    data = "ABCDEFGHJKMNPQR"
    r = q.post("/verify", data={"code": data + paper.check_char(data)})
    assert r.status_code == 200 and "核验失败" in r.text and "没有签发过" in r.text
