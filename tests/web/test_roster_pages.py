"""Roster import in the browser (web/views/roster.py): upload → preview → confirm,
the same all-or-nothing import as ``dossier import``, the annotated and
rejected-rows workbooks, sheet templates, and no plaintext of the upload on disk."""

from __future__ import annotations

import io
import os
import re
import time
from pathlib import Path

import openpyxl

KNOWN = "端木青禾"          # a name found nowhere else: searched for on disk after the import


def roster(rows: list[dict], *, extra_header: tuple = ()) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名册"
    ws.append(["序号", "姓名", "公民身份号码", "联系电话", *extra_header])
    for i, r in enumerate(rows, 1):
        c = ws.cell(i + 1, 3, r["id_number"])
        c.number_format = "@"
        ws.cell(i + 1, 1, i)
        ws.cell(i + 1, 2, r["name"])
        ws.cell(i + 1, 4, r.get("phone", ""))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(b, data: bytes, scope: str, name: str = "名册.xlsx"):
    return b.post("/import", data={"scope": scope}, files={"file": (name, data, "application/octet-stream")},
                  follow_redirects=False)


def wait(b, url: str, timeout: float = 60) -> str:
    """The job page once its job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        html = b.get(url).text
        if 'hx-trigger="every 1s"' not in html:
            return html
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.1)


def job_url(r) -> str:
    assert r.status_code == 303, r.text
    loc = r.headers["location"]
    assert re.fullmatch(r"/import/[A-Za-z0-9_-]+", loc), loc
    return loc


def names_in_archive(world, user="li") -> set[str]:
    with world.open(user) as ar:
        return {p["name"] for p in ar.persons.list()}


def test_upload_preview_confirm_writes_the_persons(web, world):
    b = web("li")
    page = b.get("/import")
    assert page.status_code == 200 and 'name="file"' in page.text and 'name="scope"' in page.text
    people = [world.person(name=KNOWN), world.person(), world.person()]
    url = job_url(upload(b, roster(people), world.scope_a))
    assert not any(x in url for p in people for x in (p["name"], p["id_number"]))   # only a random job id
    html = wait(b, url)
    assert "校验通过" in html and "确认导入" in html, html[html.find("<main"):][:3000]
    assert re.search(r'<span class="n">3</span><span>新增人员</span>', html)
    assert names_in_archive(world) == set()                                 # a preview writes nothing
    r = b.post(url + "/confirm", follow_redirects=False)
    done = wait(b, job_url(r))
    assert "导入完成" in done and "新增 3 人" in done
    assert names_in_archive(world) == {p["name"] for p in people}
    with world.open("li") as ar:
        ids = {p["id_number"] for p in ar.persons.list()}
    assert ids == {p["id_number"] for p in people}
    # the upload left memory once imported: a second confirm imports nothing again
    again = b.post(url + "/confirm", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/import"


def test_a_bad_roster_writes_nothing_and_shows_row_and_column(web, world):
    b = web("li")
    good, bad = world.person(), world.person()
    bad_id = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
    data = roster([good, {**bad, "id_number": bad_id}])
    url = job_url(upload(b, data, world.scope_a))
    html = wait(b, url)
    assert "有 1 处错误" in html, html[html.find("<main"):][:1500]
    row = re.search(r'<tr class="error"><td data-label="工作表">名册</td><td data-label="行">第 3 行</td>\s*'
                    r'<td data-label="列">公民身份号码 <span class="mono muted">C3</span></td>', html)
    assert row, html[html.find("问题清单"):][:1500]
    assert bad_id in html
    # the annotated copy: the bad cell marked, a list of problems
    r = b.get(url + "/files/report")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    assert "错误清单" in wb.sheetnames and wb["名册"]["C3"].comment is not None
    # confirming as it is is not offered; forcing it writes nothing (all or nothing, as the CLI)
    assert "只导入正确的行" in html and "确认导入" not in html
    forced = wait(b, job_url(b.post(url + "/confirm", follow_redirects=False)))
    assert "校验未通过，未写入任何内容" in forced
    assert names_in_archive(world) == set()
    # --skip-invalid: the good row goes in, the bad one comes back as a workbook
    done = wait(b, job_url(b.post(url + "/confirm", data={"skip_invalid": "1"}, follow_redirects=False)))
    assert "导入完成" in done and "未导入 1 行" in done
    assert names_in_archive(world) == {good["name"]}
    job = re.search(r'href="(/import/[^/"]+)/files/rejected"', done).group(1)
    rej = openpyxl.load_workbook(io.BytesIO(b.get(job + "/files/rejected").content))
    values = [c.value for row in rej.worksheets[0].iter_rows() for c in row]
    assert bad_id in values and "未导入原因" in values


def test_no_plaintext_of_the_upload_on_disk(web, world, temp_dir):
    b = web("li")
    people = [world.person(name=KNOWN), world.person()]
    csv = ("姓名,公民身份号码\n" + "".join(f"{p['name']},{p['id_number']}\n" for p in people)).encode("gb18030")
    url = job_url(upload(b, csv, world.scope_a, name="名册.csv"))
    assert "校验通过" in wait(b, url)
    assert "导入完成" in wait(b, job_url(b.post(url + "/confirm", follow_redirects=False)))
    assert KNOWN in names_in_archive(world)
    needles = [KNOWN.encode("utf-8"), KNOWN.encode("gb18030"), people[1]["id_number"].encode()]
    for root in (temp_dir, world.path):
        for p in Path(root).rglob("*"):
            if p.is_file():
                blob = p.read_bytes()
                for n in needles:
                    assert n not in blob, f"{n!r} in {p}"
    assert os.listdir(temp_dir) == [] or all(not Path(temp_dir, x).is_file() for x in os.listdir(temp_dir))


def test_uploads_are_checked_by_content_and_size(web, world):
    b = web("li")
    r = upload(b, b"%PDF-1.4\n\x00\x01binary", world.scope_a, name="名册.xlsx")
    assert r.status_code == 400 and "不是 Excel 工作簿" in r.text
    r = upload(b, b"MZ\x90\x00", world.scope_a, name="tool.exe")
    assert r.status_code == 400 and "只接受" in r.text
    r = upload(b, b"x" * (b.app.state.settings.max_upload + 300 * 1024), world.scope_a, name="名册.csv")
    assert r.status_code == 413 and "未接收" in r.text
    r = upload(b, roster([world.person()]), world.scope_b)      # 东风社区 is not li's
    assert r.status_code == 400 and "辖区" in r.text
    # a POST without its CSRF token: refused, nothing held
    r = b.post("/import", data={"scope": world.scope_a}, files={"file": ("a.xlsx", roster([world.person()]))},
               csrf=False)
    assert r.status_code == 403


def test_a_job_belongs_to_its_session(web, world):
    li, other = web("li"), web("li")
    url = job_url(upload(li, roster([world.person()]), world.scope_a))
    wait(li, url)
    assert other.get(url).status_code == 404
    assert other.get(url + "/files/report").status_code == 404
    assert web("wang").get(url).status_code == 404


def test_sheet_templates_download(web):
    b = web("li")
    r = b.get("/import/template?type=interview&type=test")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment;")
    wb = openpyxl.load_workbook(io.BytesIO(r.content))
    visible = [ws.title for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert len(visible) == 3 and "填写说明" in visible       # two sheets and the guide
    assert b.get("/import/template").status_code == 400
