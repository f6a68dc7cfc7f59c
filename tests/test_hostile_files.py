"""Issue 15: hostile files through the real executable, under a memory cap.

Each bomb or malformed file is refused with exit 1 and a Chinese message naming
the problem, the archive is byte-identical before and after, and the child runs
with its address space capped (RLIMIT_AS, MEMORY_MB) — a bomb that got past the
checks would die of it instead of passing. Formulas in rosters: a cached result
is imported, a formula without one is an error naming sheet, row and column.
All data synthetic.
"""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest

from dossier.io.grid import FORMULA_NO_RESULT, MAX_COLUMNS, MAX_ROWS
from dossier.model.idnumber import make_id_number

MEMORY_MB = 512      # a plain import needs < 256 MB of address space
HYPERLINK = '=HYPERLINK("http://evil.example/x","点我")'
NEW_ID = make_id_number("430405", dt.date(1990, 1, 1), 17)


@pytest.fixture
def clerk(world):
    """The world with one person in 苗圃社区; ``clerk.env`` runs as the clerk li."""
    ref, p = world.add_person()
    world.ref, world.profile = ref, p
    world.clerk_env = world.env("li")
    return world


def refused(run_dossier, w, args, *, says: str, timeout: float = 120):
    before = w.snapshot()
    r = run_dossier(args, env=w.clerk_env, memory_mb=MEMORY_MB, timeout=timeout)
    assert r.code == 1, (r.code, r.stdout, r.stderr[-2000:])
    assert says in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr
    assert w.snapshot() == before
    return r


# ------------------------------------------------------------------ building hostile .xlsx files

def _base_xlsx() -> dict[str, bytes]:
    from openpyxl.writer.excel import ExcelWriter

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        ExcelWriter(openpyxl.Workbook(), z).save()
    with zipfile.ZipFile(buf) as z:
        return {n: z.read(n) for n in z.namelist()}


def write_xlsx(path: Path, sheet_chunks, *, extra_entries: int = 0) -> Path:
    """A valid package whose first sheet's XML is streamed from ``sheet_chunks``."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for name, data in _base_xlsx().items():
            if name != "xl/worksheets/sheet1.xml":
                z.writestr(name, data)
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=False) as fh:
            for chunk in sheet_chunks:
                fh.write(chunk)
        for i in range(extra_entries):
            z.writestr(f"customXml/item{i}.xml", b"<a/>")
    return path


def _text(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def sheet(rows_xml, *, dimension: str = "A1:C2"):
    yield (f'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="{dimension}"/><sheetData>').encode()
    yield from (r.encode() for r in rows_xml)
    yield b"</sheetData></worksheet>"


def roster_rows(w, phone_cell: str | None = None):
    yield f'<row r="1">{_text("A1", "姓名")}{_text("B1", "公民身份号码")}{_text("C1", "联系电话")}</row>'
    yield (f'<row r="2">{_text("A2", "赵小明")}{_text("B2", NEW_ID)}'
           f'{phone_cell if phone_cell is not None else _text("C2", "13812345678")}</row>')


# ------------------------------------------------------------------ roster bombs

def test_zip_bomb_is_refused_before_inflating(clerk, run_dossier, tmp_path):
    pad = b" " * (1 << 20)

    def chunks():
        yield from sheet(roster_rows(clerk))
        for _ in range(100):       # 100 MB of spaces: ~100 KB compressed
            yield pad

    bomb = write_xlsx(tmp_path / "名册.xlsx", chunks())
    assert bomb.stat().st_size < 2 << 20
    refused(run_dossier, clerk, ["import", bomb, "--scope", clerk.scope_a], says="压缩炸弹")


def test_too_many_parts_are_refused(clerk, run_dossier, tmp_path):
    f = write_xlsx(tmp_path / "名册.xlsx", sheet(roster_rows(clerk)), extra_entries=2_500)
    refused(run_dossier, clerk, ["import", f, "--scope", clerk.scope_a], says="文件项过多")


def test_content_far_right_is_refused_naming_the_cell(clerk, run_dossier, tmp_path):
    rows = [*roster_rows(clerk), f'<row r="1048576">{_text("XFD1048576", "x")}</row>']
    f = write_xlsx(tmp_path / "名册.xlsx", sheet(rows, dimension="A1:XFD1048576"))
    r = refused(run_dossier, clerk, ["import", f, "--scope", clerk.scope_a], says="第1048576行 XFD 列有内容")
    assert f"最多 {MAX_COLUMNS} 列" in r.stderr


def test_a_million_rows_are_refused(clerk, run_dossier, tmp_path):
    def rows():
        yield from roster_rows(clerk)
        for n in range(3, 1_000_003):
            yield f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'

    f = write_xlsx(tmp_path / "名册.xlsx", sheet(rows(), dimension="A1:C1000002"))
    refused(run_dossier, clerk, ["import", f, "--scope", clerk.scope_a], says=f"超过 {MAX_ROWS:,} 行")


def test_a_lying_dimension_and_formatted_empty_rows_cost_nothing(clerk, run_dossier, tmp_path):
    """openpyxl's read-only iter_rows would pad 1,048,576 rows to 16,384 columns."""
    def rows():
        yield from roster_rows(clerk)
        for n in range(3, 200_000):
            yield f'<row r="{n}" s="1" customFormat="1"><c r="A{n}" s="1"/><c r="XFD{n}" s="1"/></row>'

    f = write_xlsx(tmp_path / "名册.xlsx", sheet(rows(), dimension="A1:XFD1048576"))
    r = run_dossier(["import", f, "--scope", clerk.scope_a, "--dry-run"], env=clerk.clerk_env,
                    memory_mb=MEMORY_MB, timeout=120)
    assert r.code == 0, r.stderr
    assert "新增 1 人" in r.stdout


# ------------------------------------------------------------------ formulas in rosters

def test_a_formula_without_a_result_is_an_error_on_its_cell(clerk, run_dossier, tmp_path):
    f = write_xlsx(tmp_path / "名册.xlsx", sheet(roster_rows(clerk, '<c r="C2"><f>13812345678</f></c>')))
    r = refused(run_dossier, clerk, ["import", f, "--scope", clerk.scope_a], says=FORMULA_NO_RESULT)
    assert "第2行 “联系电话”列（C2）“=13812345678”" in r.stderr
    copy = openpyxl.load_workbook(tmp_path / "名册_错误标注.xlsx")
    assert copy["Sheet"]["C2"].value == "=13812345678" and copy["Sheet"]["C2"].data_type == "s"


def test_a_formula_with_a_cached_result_imports_the_result(clerk, tmp_path):
    from dossier.io.importer import import_file

    cell = '<c r="C2" t="str"><f>"138"&amp;"12345678"</f><v>13812345678</v></c>'
    f = write_xlsx(tmp_path / "名册.xlsx", sheet(roster_rows(clerk, cell)))
    with clerk.open("li") as ar:
        res = import_file(ar, f, scope=clerk.scope_a, today=clerk.today)
        assert res.ok and res.counts()["added"] == 1
        assert ar.dossiers.show(NEW_ID).profile["phone"] == "13812345678"


def test_a_formula_with_an_empty_text_result_is_empty(clerk, tmp_path):
    from dossier.io.reader import read_book

    cell = '<c r="C2" t="str"><f>IF(1,"","x")</f><v></v></c>'
    book = read_book(write_xlsx(tmp_path / "名册.xlsx", sheet(roster_rows(clerk, cell))))
    assert book.sheets[0].rows[1][1] == ("赵小明", NEW_ID)


# ------------------------------------------------------------------ attachments

def _png(width: int, height: int) -> bytes:
    """A complete, valid RGB PNG of black pixels: tiny on disk, width × height × 3 bytes decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    line = b"\0" * (1 + 3 * width)            # filter byte + pixels
    idat = b"".join(z.compress(line) for _ in range(height)) + z.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _photo(fmt: str) -> bytes:
    from PIL import Image

    img = Image.effect_noise((200, 150), 40).convert("RGB")
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(clerk, run_dossier, tmp_path):
    f = tmp_path / "照片.png"
    f.write_bytes(_png(9_000, 9_000))            # 81 M pixels, 243 MB decoded; the file is ~250 KB
    refused(run_dossier, clerk, ["attach", clerk.ref.archive_no, f, "--title", "本人照片"], says="像素过多")


@pytest.mark.parametrize("fmt, name", [("JPEG", "照片.jpg"), ("PNG", "照片.png")])
def test_a_truncated_image_is_refused(clerk, run_dossier, tmp_path, fmt, name):
    data = _photo(fmt)
    f = tmp_path / name
    f.write_bytes(data[: len(data) // 2])
    refused(run_dossier, clerk, ["attach", clerk.ref.archive_no, f, "--title", "本人照片"], says="损坏或不完整")


def test_a_pdf_that_does_not_parse_is_refused(clerk, run_dossier, tmp_path):
    f = tmp_path / "协议书.pdf"
    f.write_bytes(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 9 0 R >>\nendobj\n" + bytes(range(256)) * 4
                  + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    refused(run_dossier, clerk, ["attach", clerk.ref.archive_no, f, "--title", "协议书"], says="PDF")


@pytest.mark.parametrize("title, says", [
    ("../../etc/passwd", "路径写法"),
    ("..\\..\\协议书", "路径写法"),
    ("本人\x1b[2J照片", "控制字符 U+001B"),
    ("协议书\r\n伪造的一行", "控制字符 U+000D"),
])
def test_titles_with_path_tricks_or_control_characters_are_refused(clerk, run_dossier, tmp_path, title, says):
    f = tmp_path / "照片.jpg"
    f.write_bytes(_photo("JPEG"))
    refused(run_dossier, clerk, ["attach", clerk.ref.archive_no, f, "--title", title], says=says)


def test_a_file_name_with_a_control_character_is_refused(clerk, run_dossier, tmp_path):
    f = tmp_path / "照片\x07.jpg"
    f.write_bytes(_photo("JPEG"))
    refused(run_dossier, clerk, ["attach", clerk.ref.archive_no, f, "--title", "本人照片"], says="控制字符 U+0007")


# ------------------------------------------------------------------ YAML

def _person_yaml(tmp_path: Path, body: str) -> Path:
    f = tmp_path / "person.yaml"
    f.write_text(f'id_number: "{NEW_ID}"\n{body}', encoding="utf-8")
    return f


def test_exponential_yaml_aliases_are_refused(clerk, run_dossier, tmp_path):
    lines = ['a0: &a0 ["哈哈", "哈哈", "哈哈", "哈哈", "哈哈", "哈哈", "哈哈", "哈哈", "哈哈"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]   # 9^10 strings
    f = _person_yaml(tmp_path, "name: 赵小明\n" + "\n".join(lines) + "\nnotes: *a9\n")
    refused(run_dossier, clerk, ["person", "add", "--scope", clerk.scope_a, "--file", f], says="YAML 别名（*a0）")


def test_python_tags_in_yaml_are_refused(clerk, run_dossier, tmp_path):
    marker = tmp_path / "pwned"
    f = _person_yaml(tmp_path, f'name: !!python/object/apply:os.system ["touch {marker}"]\n')
    refused(run_dossier, clerk, ["person", "add", "--scope", clerk.scope_a, "--file", f],
            says="不允许的 YAML 标签 !!python/object/apply:os.system")
    assert not marker.exists()


def test_nul_and_control_characters_in_values_are_refused(clerk, run_dossier, tmp_path):
    f = _person_yaml(tmp_path, 'name: "赵\\0小明"\nhukou_address: "湖南省\\e[31m衡阳市"\n')
    r = refused(run_dossier, clerk, ["person", "add", "--scope", clerk.scope_a, "--file", f], says="控制字符 U+0000")
    assert "U+001B" in r.stderr


# ------------------------------------------------------------------ the reproduction

def test_a_typed_formula_is_exported_as_text(clerk, run_dossier, tmp_path):
    f = _person_yaml(tmp_path, f"name: 赵小明\nhukou_address: '{HYPERLINK}'\n")
    r = run_dossier(["person", "add", "--scope", clerk.scope_a, "--file", f], env=clerk.clerk_env)
    assert r.code == 0, r.stderr
    out = tmp_path / "导出.xlsx"
    r = run_dossier(["export", "--scope", clerk.scope_a, "-o", out], env=clerk.clerk_env, memory_mb=MEMORY_MB)
    assert r.code == 0, r.stderr
    cells = [c for row in openpyxl.load_workbook(out).active.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    hits = [c for c in cells if c.value == HYPERLINK]
    assert hits and all(c.data_type == "s" and c.quotePrefix for c in hits)
