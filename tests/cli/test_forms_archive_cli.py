"""meeting add/list, form fill --scope, attach, show and bind through the real executable.

Synthetic data only. The bind test needs LibreOffice (skipped without it) and
checks the bound file the way a reader would: a bookmark per document, the
卷内文件目录's page numbers against the real pages, and the text (pdftotext).
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "forms"))

from formkit import full_entries, full_profile, gps_jpeg, small_pdf  # noqa: E402

needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                                   reason="LibreOffice / poppler not installed")


def _people(world):
    """Two persons in 苗圃社区 (li) and one in 东风社区 (wang); returns their archive numbers and names."""
    out = {}
    with world.open("li") as ar:
        for name, n in (("林晓峰", 7), ("王建国", 8)):
            ref = ar.persons.add(world.scope_a, full_profile(name=name, n=n), today=world.today)
            for e in full_entries():
                e = dict(e)
                ar.entries.add(ref.archive_no, e.pop("type"), e, today=world.today)
            out[name] = ref.archive_no
    with world.open("wang") as ar:
        ref = ar.persons.add(world.scope_b, full_profile(name="赵东风", n=9), today=world.today)
        out["赵东风"] = ref.archive_no
    return out


def _meeting_yaml(path: Path, nos: list[str], level="高") -> Path:
    import yaml

    path.write_text(yaml.safe_dump({
        "no": "〔2025〕第2期", "date": "2025-05-28", "place": "粤汉街道综治中心", "host": "黄志远",
        "recorder": "周敏",
        "attendees": [{"unit": "粤汉街道", "name": "黄志远", "role": "主任"},
                      {"unit": "粤汉派出所", "name": "陈立新", "role": "社区民警"}],
        "persons": [{"ref": no, "level": level, "reasons": "近期拒绝检测", "measures": "每月见面两次",
                     "next_review": "2025-08-28"} for no in nos],
    }, allow_unicode=True), encoding="utf-8")
    return path


def test_meeting_add_list_and_refusal(world, run_dossier, tmp_path):
    p = _people(world)
    nos = [p["林晓峰"], p["王建国"]]
    env = world.env("li")
    r = run_dossier(["meeting", "add", "--file", _meeting_yaml(tmp_path / "会商.yaml", nos)], env=env)
    assert r.code == 0, r.stderr
    assert "2 人" in r.stdout
    r = run_dossier(["meeting", "list", "--json"], env=env)
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 1 and rows[0]["no"] == "〔2025〕第2期" and rows[0]["persons"] == 2
    assert rows[0]["scope"] == world.scope_a
    r = run_dossier(["meeting", "list"], env=env)
    assert r.code == 0 and "粤汉街道综治中心" in r.stdout
    # each person got an assessment entry (a new version)
    r = run_dossier(["show", nos[0]], env=env)
    assert r.code == 0 and "风险评估" in r.stdout and "〔2025〕第2期" in r.stdout
    # a wrong level: exit 10-ish (invalid input), nothing stored
    bad = _meeting_yaml(tmp_path / "bad.yaml", nos, level="特高")
    r = run_dossier(["meeting", "add", "--file", bad], env=env)
    assert r.code != 0 and "level" in r.stderr
    assert len(json.loads(run_dossier(["meeting", "list", "--json"], env=env).stdout)) == 1
    # the 东风社区 clerk does not see a 苗圃社区 meeting
    rows_b = json.loads(run_dossier(["meeting", "list", "--json"], env=world.env("wang")).stdout)
    assert rows_b == []
    # minutes of the meeting (masked names on a circulating form)
    out = tmp_path / "纪要.docx"
    r = run_dossier(["form", "fill", "minutes", "--meeting", "〔2025〕第2期", "-o", out], env=env)
    assert r.code == 0, r.stderr
    from docx import Document

    body = "\n".join(c.text for t in Document(str(out)).tables for row in t.rows for c in row.cells)
    assert "林*峰" in body and "林晓峰" not in body


def test_form_fill_scope_xlsx_and_docx(world, run_dossier, tmp_path):
    from docx import Document
    from openpyxl import load_workbook

    p = _people(world)
    env = world.env("li")
    xlsx = tmp_path / "附表2.xlsx"
    r = run_dossier(["form", "fill", "附表2", "--scope", "珠晖区/粤汉街道", "-o", xlsx], env=env)
    assert r.code == 0, r.stderr
    ws = load_workbook(xlsx).active
    cells = [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]
    assert "吸毒人员排查情况登记通表" in cells
    assert "林晓峰" in cells and "王建国" in cells
    assert "赵东风" not in cells          # another 社区: not in li's view even though the scope is the 街道
    ids = [c for c in cells if len(c) == 18 and c[:6] == "430405"]
    assert len(ids) == 2                   # stored as text, not numbers
    docx = tmp_path / "附表2.docx"
    r = run_dossier(["form", "fill", "fb02", "--scope", "珠晖区/粤汉街道", "-o", docx], env=env)
    assert r.code == 0, r.stderr
    assert zipfile.is_zipfile(docx)
    text = "\n".join(c.text for t in Document(str(docx)).tables for row in t.rows for c in row.cells)
    assert "林晓峰" in text and "王建国" in text and "赵东风" not in text
    # the street's view (an approver of the 街道) lists all three
    r = run_dossier(["form", "fill", "fb02", "--scope", "珠晖区/粤汉街道", "-o", tmp_path / "all.xlsx"],
                    env=world.env("zhao"))
    if r.code == 0:
        all_cells = [str(c.value) for row in load_workbook(tmp_path / "all.xlsx").active.iter_rows()
                     for c in row if c.value is not None]
        assert {"林晓峰", "王建国", "赵东风"} <= set(all_cells)
    # a person form needs a person; a list form refuses --pdf together with xlsx
    assert run_dossier(["form", "fill", "审批表", "-o", tmp_path / "x.docx"], env=env).code != 0
    assert run_dossier(["form", "fill", "fb02", "--scope", "珠晖区", "-o", tmp_path / "y.xlsx", "--pdf"],
                       env=env).code != 0


def _index_rows(pdf_path: Path, page: int) -> list[str]:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf_path), "-"],
                          capture_output=True, text=True, check=True).stdout.splitlines()


@needs_soffice
def test_attach_show_and_bind(world, run_dossier, tmp_path):
    from pypdf import PdfReader

    p = _people(world)
    no = p["林晓峰"]
    env = world.env("li")
    # a generated form kept with its PDF, minutes kept docx-only (bind converts them)
    r = run_dossier(["form", "fill", "审批表", no, "-o", tmp_path / "审批表.docx", "--pdf"], env=env, timeout=120)
    assert r.code == 0, r.stderr
    assert (tmp_path / "审批表.pdf").exists()
    assert run_dossier(["meeting", "add", "--file", _meeting_yaml(tmp_path / "m.yaml", [no])], env=env).code == 0
    assert run_dossier(["form", "fill", "纪要", "--meeting", "〔2025〕第2期", "-o", tmp_path / "纪要.docx"],
                       env=env).code == 0
    (tmp_path / "协议书.pdf").write_bytes(small_pdf(3))
    (tmp_path / "照片.jpg").write_bytes(gps_jpeg())
    r = run_dossier(["attach", no, tmp_path / "协议书.pdf", "--title", "社区康复协议书", "--category", "协议",
                     "--date", "2025-03-02"], env=env)
    assert r.code == 0 and "3 页" in r.stdout, r.stderr
    r = run_dossier(["attach", no, tmp_path / "照片.jpg", "--title", "本人照片", "--category", "身份证明",
                     "--json"], env=env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["pages"] == 1
    r = run_dossier(["show", no], env=env)
    assert r.code == 0, r.stderr
    assert "附件 2 件" in r.stdout and "社区康复协议书" in r.stdout and "本人照片" in r.stdout
    assert "已生成文书 2 件" in r.stdout and "风险分类评估审批表" in r.stdout and "会商会议纪要" in r.stdout

    out = tmp_path / "一人一档.pdf"
    r = run_dossier(["bind", no, "-o", out, "--watermark", "仅供内部使用"], env=env, timeout=180)
    assert r.code == 0, r.stderr
    reader = PdfReader(str(out))
    marks = [(o.title, reader.get_destination_page_number(o) + 1) for o in reader.outline
             if not isinstance(o, list)]
    titles = [t for t, _ in marks]
    # cover, 目录, 登记表 (generated), 照片, 协议书, 审批表, 纪要, 备考表 — one bookmark each
    assert titles[0] == "档案封面" and titles[1] == "卷内文件目录" and titles[-1] == "卷内备考表"
    docs = marks[2:-1]
    assert len(docs) == 5, titles
    for want in ("基本信息登记表", "本人照片", "社区康复协议书", "风险分类评估审批表", "会商会议纪要"):
        assert any(want in t for t, _ in docs), (want, titles)
    pages = [pg for _, pg in marks]
    assert pages == sorted(pages) and pages[-1] == len(reader.pages)
    # the 目录 lists every document with the page its bookmark points to
    lines = _index_rows(out, marks[1][1])
    for title, page in docs:
        seq, name = title.split(". ", 1)
        row = next(line for line in lines if line.split()[:1] == [seq] and name[:4] in line)
        assert str(page) in row.split()[-3:], (row, page)
    # page numbers stamped (the 目录 page says "2"), the name and 档号 are text
    assert _index_rows(out, 2)[0].strip() == "2"
    full = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "林晓峰" in full and no in full
    raw = out.read_bytes()
    assert b"SpyCam" not in raw

    # with a password: encrypted, opens with it
    pw = tmp_path / "pw.txt"
    pw.write_text("secret-bind-1\n")
    out2 = tmp_path / "加密.pdf"
    r = run_dossier(["bind", no, "-o", out2, "--password-file", pw], env=env, timeout=180)
    assert r.code == 0, r.stderr
    enc = PdfReader(io.BytesIO(out2.read_bytes()))
    assert enc.is_encrypted and enc.decrypt("secret-bind-1")
    assert len(enc.pages) == len(reader.pages)


def test_meeting_yaml_as_written_by_hand(world, run_dossier, tmp_path):
    """An unquoted ``no:`` (YAML 1.1 reads it as False) keeps the 期号; a second
    meeting with the same 期号 is refused; the 审批表 shows the 会商 number and date."""
    from docx import Document

    p = _people(world)
    env = world.env("li")
    f = tmp_path / "会商.yaml"
    f.write_text(f"""no: 〔2025〕第3期
date: 2025-05-28
place: 粤汉街道综治中心
host: 黄志远
persons:
  - ref: {p["林晓峰"]}
    level: 中
""", encoding="utf-8")
    r = run_dossier(["meeting", "add", "--file", f], env=env)
    assert r.code == 0, r.stderr
    assert "〔2025〕第3期" in r.stdout
    rows = json.loads(run_dossier(["meeting", "list", "--json"], env=env).stdout)
    assert [m["no"] for m in rows] == ["〔2025〕第3期"]
    r = run_dossier(["meeting", "add", "--file", f], env=env)
    assert r.code == 1 and "〔2025〕第3期" in r.stderr and "已有会议记录" in r.stderr
    assert len(json.loads(run_dossier(["meeting", "list", "--json"], env=env).stdout)) == 1
    out = tmp_path / "审批表.docx"
    r = run_dossier(["form", "fill", "审批表", p["林晓峰"], "--date", "2025-06-01", "-o", out], env=env)
    assert r.code == 0, r.stderr
    cells = {c.text for t in Document(str(out)).tables for row in t.rows for c in row.cells}
    block = next(c for c in cells if c.startswith("会议纪要编号"))
    assert "〔2025〕第3期" in block and "会商日期：2025年5月28日" in block


def test_meeting_yaml_with_unknown_key_exits_1(world, run_dossier, tmp_path):
    p = _people(world)
    f = tmp_path / "会商.yaml"
    f.write_text(f"""期号: 〔2025〕第5期
date: 2025-05-28
place: 粤汉街道综治中心
host: 黄志远
attendee:
  - {{unit: 粤汉派出所, name: 王五}}
persons:
  - ref: {p["林晓峰"]}
    level: 中
""", encoding="utf-8")
    r = run_dossier(["meeting", "add", "--file", f], env=world.env("li"))
    assert r.code == 1 and "“期号”" in r.stderr and "“attendee”" in r.stderr and "attendees" in r.stderr, r
    assert json.loads(run_dossier(["meeting", "list", "--json"], env=world.env("li")).stdout) == []
