"""Forms on a real archive: fill and keep, meetings, attachments, binding."""

from __future__ import annotations

import io
import subprocess

import pytest
from docx import Document

from dossier.errors import InvalidInput
from dossier.forms import service
from dossier.forms.bind import index_rows_from_pdf

from formkit import TODAY, full_profile, gps_jpeg, needs_soffice, small_pdf


def _text(docx_bytes: bytes) -> str:
    d = Document(io.BytesIO(docx_bytes))
    parts = [p.text for p in d.paragraphs]
    for t in d.tables:
        for row in t.rows:
            parts.extend(c.text for c in row.cells)
    return "\n".join(parts)


def test_fill_person_form_keeps_document(person_world):
    world, no, prof = person_world
    with world.open("li") as ar:
        head = ar.dossiers.show(no).version
        r = service.fill(ar, "审批表", ref=no, today=TODAY)
        assert prof["name"] in _text(r.data)
        view = ar.dossiers.show(no)
        assert view.version == head + 1
        doc = view.state["documents"][-1]
        assert doc["code"] == "risk-approval" and doc["basis_version"] == head
        kept = ar.blobs.get(doc["blob"], scope=view.scope, dossier_id=view.id, kind="document")
        assert kept == r.data          # what was printed can be produced again
    # nothing in plaintext on disk
    raw = b"".join(p.read_bytes() for p in world.path.rglob("*") if p.is_file())
    assert prof["name"].encode() not in raw and prof["id_number"].encode() not in raw


def test_list_form_over_scope_xlsx(person_world):
    from openpyxl import load_workbook

    world, no, prof = person_world
    with world.open("li") as ar:
        r = service.fill(ar, "附表2", scope=world.scope_a, today=TODAY, fmt="xlsx")
    ws = load_workbook(io.BytesIO(r.data)).active
    values = [c.value for row in ws.iter_rows() for c in row]
    assert prof["name"] in values and prof["id_number"] in values


def test_meeting_add_appends_assessment_and_minutes_masked(person_world):
    world, no, prof = person_world
    with world.open("li") as ar:
        v0 = ar.dossiers.show(no).version
        m = service.add_meeting(ar, {
            "no": "〔2025〕第1期", "date": "2025-05-20", "place": "街道三楼会议室", "host": "黄志远",
            "attendees": [{"unit": "粤汉街道", "name": "黄志远"}, {"unit": "粤汉派出所", "name": "陈立新"}],
            "absentees": [{"unit": "区禁毒办", "name": "李红"}],
            "persons": [{"ref": no, "level": "高", "community_level": "中", "reasons": "拒绝检测3次",
                         "measures": "每月见面、检测", "responsible": "陈立新", "next_review": "2025-06-20"}],
            "decisions": ["高风险人员落实一人一策"]}, today=TODAY)
        view = ar.dossiers.show(no)
        assert view.version == v0 + 1
        last = [e for e in view.entries if e["type"] == "assessment"][-1]
        assert last["final_level"] == "高" and last["date"] == "2025-05-20"
        assert [x["id"] for x in service.list_meetings(ar)] == [m["id"]]
        r = service.fill(ar, "minutes", meeting="〔2025〕第1期", today=TODAY)
    text = _text(r.data)
    assert "街道三楼会议室" in text and "黄志远" in text and "请假" in text
    assert prof["name"] not in text and prof["id_number"] not in text      # 对外文书: masked
    assert prof["id_number"][0] in text and prof["id_number"][-2:] in text


def test_meeting_with_bad_person_stores_nothing(person_world):
    world, no, _ = person_world
    with world.open("li") as ar:
        v0 = ar.dossiers.show(no).version
        with pytest.raises(InvalidInput):
            service.add_meeting(ar, {"date": "2025-05-20", "place": "x", "host": "y",
                                     "persons": [{"ref": no, "level": "中"}, {"ref": "NOPE-1", "level": "紫"}]},
                                today=TODAY)
        assert ar.dossiers.show(no).version == v0
        assert service.list_meetings(ar) == []


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter(clone_from=PdfReader(io.BytesIO(small_pdf(1))))
    w.encrypt("secret", algorithm="AES-256")
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()


def test_attach_strips_exif_and_refuses_bad_files(person_world):
    from PIL import Image

    world, no, _ = person_world
    with world.open("li") as ar:
        item = service.attach(ar, no, gps_jpeg(), "现场照片.jpg", title="现场照片", category="身份证明", today=TODAY)
        view = ar.dossiers.show(no)
        stored = ar.blobs.get(item["blob"], scope=view.scope, dossier_id=view.id, kind="attachment")
        img = Image.open(io.BytesIO(stored))
        assert not img.getexif() and b"Exif" not in stored and b"SpyCam" not in stored
        assert view.state["attachments"][-1]["title"] == "现场照片"
        v = view.version
        for data, name in ((b"MZ\x90\x00" + b"\0" * 200, "协议书.pdf"), (small_pdf(2)[:-300], "trunc.pdf"),
                           (_encrypted_pdf(), "enc.pdf"), (gps_jpeg(), "claims.png")):
            with pytest.raises(InvalidInput):
                service.attach(ar, no, data, name, title="x", category="协议", today=TODAY)
        assert ar.dossiers.show(no).version == v


@needs_soffice
@pytest.mark.slow
def test_bind_bookmarks_index_pages_and_text(person_world, tmp_path):
    from pypdf import PdfReader

    world, no, prof = person_world
    with world.open("li") as ar:
        service.fill(ar, "审批表", ref=no, today=TODAY, fmt="pdf")
        service.attach(ar, no, small_pdf(3), "协议.pdf", title="社区康复协议书", category="协议", today=TODAY)
        service.attach(ar, no, gps_jpeg(), "p.jpg", title="本人照片", category="身份证明", today=TODAY)
        pdf = service.bind_dossier(ar, no, today=TODAY, watermark="仅供内部使用")
    marks = index_rows_from_pdf(pdf)
    titles = [t for t, _ in marks]
    assert titles[0] == "档案封面" and titles[1] == "卷内文件目录" and titles[-1] == "卷内备考表"
    assert any("社区康复协议书" in t for t in titles) and any("本人照片" in t for t in titles)
    assert any("审批表" in t for t in titles) and any("基本信息登记表" in t for t in titles)
    f = tmp_path / "b.pdf"
    f.write_bytes(pdf)
    full = subprocess.run(["pdftotext", "-layout", str(f), "-"], capture_output=True, text=True).stdout
    assert prof["name"] in full and no in full
    # the 卷内目录's page numbers match where each document's bookmark points
    reader = PdfReader(io.BytesIO(pdf))
    index_page = [p for t, p in marks if t == "卷内文件目录"][0]
    index_text = reader.pages[index_page - 1].extract_text()
    lines = subprocess.run(["pdftotext", "-layout", "-f", str(index_page), "-l", str(index_page), str(f), "-"],
                           capture_output=True, text=True).stdout.splitlines()
    for title, page in marks[2:-1]:
        name = title.split(". ", 1)[1]
        row = next(line for line in lines if name[:6] in line)
        assert row.split()[-1] == str(page) or f" {page} " in row + " ", (row, page)
    assert index_text
    # no EXIF of the photo in the bound file
    assert b"SpyCam" not in pdf and b"GPS" not in pdf


def test_approval_form_blank_date_lines_and_xlsx_counts(person_world):
    """Unsigned blocks of the 审批表 print a 年 月 日 line to write by hand; counts
    in an xlsx 统计表 are numbers (summable), ID numbers stay text."""
    from openpyxl import load_workbook

    world, no, prof = person_world
    with world.open("li") as ar:
        bare = ar.persons.add(world.scope_a, full_profile(name="许明", n=11), today=world.today).archive_no
        r = service.fill(ar, "审批表", ref=bare, today=TODAY, keep=False)     # nothing signed yet
        stats = service.fill(ar, "附表1", scope=world.scope_a, today=TODAY, fmt="xlsx")
        fb02 = service.fill(ar, "附表2", scope=world.scope_a, today=TODAY, fmt="xlsx")
    d = Document(io.BytesIO(r.data))
    blocks = [row.cells[1].text for t in d.tables for row in t.rows
              if row.cells[0].text.startswith(("①", "②", "③", "④", "⑤"))]
    assert len(blocks) == 5
    for b in blocks:
        assert b.rstrip().endswith("年　　月　　日"), b
    ws = load_workbook(io.BytesIO(stats.data)).active
    header = [c.value for c in ws[4]]
    row = [c.value for c in ws[5]]
    assert isinstance(row[header.index("登记在册总数")], int) and row[header.index("登记在册总数")] >= 1
    ws = load_workbook(io.BytesIO(fb02.data)).active
    ids = [c.value for c in ws["E"]]
    assert prof["id_number"] in ids             # 18-digit text, not a number


@pytest.mark.parametrize("extra, key", [
    ({"期号": "〔2025〕第4期"}, "期号"),
    ({"number": "〔2025〕第4期"}, "number"),
    ({"attendee": [{"name": "黄志远"}]}, "attendee"),
])
def test_meeting_with_unknown_key_is_refused_and_stores_nothing(person_world, extra, key):
    world, no, _ = person_world
    with world.open("li") as ar:
        v0 = ar.dossiers.show(no).version
        with pytest.raises(InvalidInput) as ei:
            service.add_meeting(ar, {"date": "2025-05-20", "place": "x", "host": "y", **extra,
                                     "persons": [{"ref": no, "level": "中"}]}, today=TODAY)
        assert f"“{key}”" in ei.value.message and "可用的键" in ei.value.message
        assert "attendees" in ei.value.message and "no" in ei.value.message
        assert ar.dossiers.show(no).version == v0 and service.list_meetings(ar) == []


def test_meeting_person_with_unknown_key_is_refused(person_world):
    world, no, _ = person_world
    with world.open("li") as ar:
        with pytest.raises(InvalidInput) as ei:
            service.add_meeting(ar, {"date": "2025-05-20", "place": "x", "host": "y",
                                     "persons": [{"ref": no, "level": "中", "measure": "每月见面"}]}, today=TODAY)
        assert "“measure”" in ei.value.message and "measures" in ei.value.message
        assert service.list_meetings(ar) == []
