"""Templates and rendering, without an archive (fast)."""

from __future__ import annotations

import io
import shutil
import zipfile
from datetime import date

import pytest
from docx import Document
from formkit import NASTY, needs_soffice

from dossier.errors import TemplateError
from dossier.forms import Registry, check_template, context_for, render, sample
from dossier.forms.render import PreparedTemplate, naive_render
from dossier.rules.lists import SELECTORS

TODAY = date(2024, 3, 5)
REG = Registry()


def cells(docx: bytes) -> list[list[str]]:
    d = Document(io.BytesIO(docx))
    return [[c.text for c in row.cells] for t in d.tables for row in t.rows]


def alltext(docx: bytes) -> str:
    d = Document(io.BytesIO(docx))
    return "\n".join([p.text for p in d.paragraphs] + ["\t".join(r) for r in cells(docx)])


def right_of(docx: bytes, label: str) -> str:
    for row in cells(docx):
        if label in row:
            i = row.index(label)
            return next(c for c in row[i + 1:] if c != label)
    raise AssertionError(f"no cell {label!r}")


def ctx(spec, dossier, others=()):
    return context_for(spec, TODAY, dossier=dossier, dossiers=[dossier, *others],
                       meeting=sample.sample_meeting(["d1"]), meeting_dossiers={"d1": dossier},
                       scope=sample.SCOPE, masked=False)


@pytest.mark.parametrize("full", [True, False], ids=["full", "minimal"])
@pytest.mark.parametrize("code", [s.code for s in REG.forms()])
def test_every_template_renders(code, full):
    spec = REG.get(code)
    d = sample.sample_dossier(full=full)
    out = render(REG, code, ctx(spec, d))
    zipfile.ZipFile(io.BytesIO(out)).testzip()
    text = alltext(out)
    assert "{{" not in text and "{%" not in text
    if spec.kind == "person" and code not in ("cover", "file-index", "remarks"):
        assert d["profile"]["name"] in text
    if spec.kind == "list" and SELECTORS[spec.select](d):
        assert d["profile"]["id_number"] in text


def test_values_in_expected_cells():
    d = sample.sample_dossier()
    out = render(REG, "risk-approval", ctx(REG.get("risk-approval"), d))
    assert right_of(out, "姓名") == "林晓峰"
    assert right_of(out, "公民身份号码") == d["profile"]["id_number"]
    assert right_of(out, "滥用毒品种类") == "冰毒、氯胺酮"
    assert "☑中" in right_of(out, "最终等级") and "☐高" in right_of(out, "最终等级")
    police = right_of(out, "②派出所核查意见")
    assert "经核查属实" in police and "陈立新" in police and "2024年2月27日" in police
    assert "李红" in right_of(out, "⑤区（县）禁毒办备案意见")
    rows = cells(render(REG, "fb02", ctx(REG.get("fb02"), d)))
    data = next(r for r in rows if d["profile"]["id_number"] in r)
    assert data[2] == "林晓峰" and data[0] == "1"


def test_signature_blocks_are_bookmarked():
    xml = zipfile.ZipFile(REG.get("risk-approval").path).read("word/document.xml").decode()
    for b in REG.get("risk-approval").signature_blocks:
        assert f'w:name="{b["bookmark"]}"' in xml
    assert len(REG.get("risk-approval").signature_blocks) == 5


def test_values_render_literally():
    d = sample.sample_dossier()
    long = "长" * 10000
    d["profile"].update(name=NASTY, alias=long, notes="a\nb")
    for code in ("risk-approval", "basic-info", "fb02"):
        out = render(REG, code, ctx(REG.get(code), d))
        text = alltext(out)
        assert '<&>"\'</w:t></w:r>{{ 7*7 }}{% for x in y %}{%tr endfor %}' in text
        assert "49" not in text.replace("1949", "")
        if code != "fb02":
            assert long in text


def test_prepared_equals_naive():
    spec = REG.get("risk-approval")
    c = ctx(spec, sample.sample_dossier())
    fast = render(REG, "risk-approval", c)
    slow = naive_render(spec.path, c)
    assert cells(fast) == cells(slow)


def _edited(tmp_path, old, new, name="风险分类评估审批表.docx"):
    src = REG.get("risk-approval").path
    dst = tmp_path / name
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for i in zin.infolist():
            data = zin.read(i.filename)
            if i.filename == "word/document.xml":
                data = data.replace(old.encode(), new.encode())
            zout.writestr(i, data)
    return dst


def test_misspelled_field_refused(tmp_path):
    bad = _edited(tmp_path, "person.id_number", "person.id_nubmer")
    with pytest.raises(TemplateError) as e:
        check_template(bad)
    assert "person.id_nubmer" in e.value.message and bad.name in e.value.message
    assert "person.id_number" in e.value.message          # the hint
    assert check_template(REG.get("risk-approval").path)["ok"]


def test_sandbox_refuses_unsafe_template(tmp_path):
    bad = _edited(tmp_path, "{{ person.name }}", "{{ person.name.__class__.__mro__ }}")
    with pytest.raises(TemplateError):
        PreparedTemplate(bad, "person").render(ctx(REG.get("risk-approval"), sample.sample_dossier()))


def test_override_directory_wins(tmp_path):
    edited = _edited(tmp_path, "一、基本情况", "一、本人基本情况")
    reg = Registry([tmp_path])
    assert reg.get("审批表").overridden
    out = render(reg, "risk-approval", ctx(reg.get("risk-approval"), sample.sample_dossier()))
    assert "一、本人基本情况" in alltext(out)
    assert edited.exists()


def test_cli_template_check_exit_30(tmp_path, run_dossier):
    bad = _edited(tmp_path, "person.id_number", "person.id_nubmer")
    r = run_dossier(["template", "check", bad])
    assert r.code == 30 and "person.id_nubmer" in r.stderr
    r = run_dossier(["template", "check", REG.get("fb02").path, "--json"])
    assert r.code == 0 and "rows[].id_number" in r.stdout


def test_cli_form_list_json(run_dossier):
    import json

    r = run_dossier(["form", "list", "--json"])
    assert r.code == 0
    forms = {f["code"]: f for f in json.loads(r.stdout)}
    assert forms["risk-approval"]["title"] == "社会面吸毒人员风险分类评估审批表"
    assert {f["kind"] for f in forms.values()} == {"person", "list", "meeting", "statistics"}
    assert sum(1 for c in forms if c.startswith("fb")) == 14
    assert "person.name" in forms["risk-approval"]["fields"]


@needs_soffice
@pytest.mark.slow
def test_nasty_docx_opens_in_libreoffice():
    from dossier.forms.pdf import docx_to_pdf

    d = sample.sample_dossier()
    d["profile"].update(name="林" + NASTY, alias="长" * 10000)
    out = render(REG, "risk-approval", ctx(REG.get("risk-approval"), d))
    pdf = docx_to_pdf([out])[0]
    assert pdf.startswith(b"%PDF")


def test_missing_soffice_is_missing_dependency(monkeypatch):
    from dossier.errors import MissingDependency
    from dossier.forms.pdf import require_soffice

    monkeypatch.setenv("DOSSIER_SOFFICE", "/nonexistent/soffice")
    with pytest.raises(MissingDependency) as e:
        require_soffice()
    assert "apt-get install" in e.value.message and e.value.exit_code == 1
    assert shutil.which("python3")


def test_shipped_tables_fit_the_text_width():
    """No shipped template has a table wider than the A4 text area (page minus margins)."""
    from pathlib import Path

    from docx.oxml.ns import qn

    tpl_dir = Path(__file__).resolve().parents[2] / "templates" / "docx"
    for path in sorted(tpl_dir.glob("*.docx")):
        d = Document(str(path))
        sec = d.sections[0]
        assert {round(sec.page_width.mm), round(sec.page_height.mm)} == {210, 297}, path.name      # A4
        text_twips = (sec.page_width - sec.left_margin - sec.right_margin) / 635      # EMU → twips
        for t in d.tables:
            grid = sum(int(g.get(qn("w:w"))) for g in t._tbl.tblGrid.findall(qn("w:gridCol")))
            assert grid <= text_twips + 57, f"{path.name}: table {grid / 56.7:.0f} mm > {text_twips / 56.7:.0f} mm"
