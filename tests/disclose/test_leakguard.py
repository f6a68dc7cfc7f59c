"""Leak guard: values outside a grant are found in any spacing or width, in every part."""

from __future__ import annotations

import io
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dossier.disclose import leakguard, packages
from dossier.errors import DisclosureRefused, ExitCode

ID = "11010519491231002X"
PHONE = "13800000000"
FW = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


def _policy(fields=("name",)):
    prof = {"name": "测试甲", "id_number": ID, "phone": PHONE}
    return leakguard.Policy.build(packages.forbidden_values(prof, list(fields)),
                                  [prof[f] for f in fields])


def _spaced(v: str, sep: str, full: bool) -> str:
    v = v.translate(FW) if full else v
    return sep.join(v)


@given(sep=st.sampled_from(["", " ", "-", "　", " - ", "\u00a0", "."]), full=st.booleans(),
       which=st.sampled_from([ID, PHONE]))
@settings(max_examples=60, deadline=None)
def test_found_in_any_spacing_and_width(sep, full, which):
    text = f"备注：{_spaced(which, sep, full)}。"
    assert leakguard.scan_text(text, _policy(), "正文")


def test_masked_values_and_granted_values_pass():
    text = "姓名：测试甲 公民身份号码：1***************2X 电话：138****0000"
    assert leakguard.scan_text(text, _policy(), "正文") == []
    assert leakguard.scan_text(f"号码 {ID}", _policy(("name", "id_number")), "正文") == []


def test_unknown_valid_id_and_mobile_are_caught_by_pattern():
    assert {f.kind for f in leakguard.scan_text("53010219200508011X 13912345678", _policy(), "x")} == \
        {"id_number", "phone"}
    assert leakguard.scan_text("530102192005080119", _policy(), "x") == []   # bad checksum: not an ID


def _docx(parts: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, t in parts.items():
            z.writestr(n, t)
    return buf.getvalue()


@pytest.mark.parametrize("part", ["word/document.xml", "word/header1.xml", "word/footer2.xml",
                                  "docProps/core.xml", "docProps/app.xml"])
def test_docx_every_part_scanned_and_refused(part):
    split = '<w:r><w:t>1380000</w:t></w:r><w:r><w:t>0000</w:t></w:r>'   # split across runs
    base = {"word/document.xml": "<w:p>ok</w:p>", "docProps/core.xml": "<dc:creator>x</dc:creator>"}
    data = _docx({**base, part: f"<x>{split}</x>"})
    with pytest.raises(DisclosureRefused) as ei:
        leakguard.guard(data, "docx", _policy())
    assert ei.value.exit_code == ExitCode.DISCLOSURE == 31 and part in ei.value.message
    assert PHONE not in ei.value.message


def test_name_in_pdf_metadata_refused():
    from pypdf import PdfWriter
    w = PdfWriter()
    w.add_blank_page(100, 100)
    w.add_metadata({"/Author": "测 试 甲"})
    buf = io.BytesIO()
    w.write(buf)
    with pytest.raises(DisclosureRefused):
        leakguard.guard(buf.getvalue(), "pdf", _policy(("phone",)))


persons = st.builds(
    lambda n, i, p: {"name": "测试" + n, "id_number": i, "phone": p},
    st.text(alphabet="甲乙丙丁戊己庚辛壬癸子丑寅卯", min_size=1, max_size=2),
    st.sampled_from(["11010519491231002X", "440524188001010014", "53010219200508011X"]),
    st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))


@given(people=st.lists(persons, min_size=1, max_size=3), fields=st.sampled_from([["name"], ["gender"], ["phone"]]))
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_package_contains_no_value_outside_grant(people, fields):
    recs = [packages.reduce_profile(p, fields) for p in people]
    forb = [x for p in people for x in packages.forbidden_values(p, fields)]
    allowed = [p[f] for p in people for f in fields if f in p]
    # a value granted for one person but forbidden for another cannot be both: drop such overlaps
    allowed_n = {leakguard.normalize(a) for a in allowed}
    forb = [(k, v) for k, v in forb if leakguard.normalize(v) not in allowed_n]
    pol = leakguard.Policy.build(forb, allowed)
    pdf = packages.build_package(recs, number="D-T", recipient="督查组", purpose="评查", date="2024-05-12",
                                 policy=pol)
    text = " ".join(t for _, t in leakguard.pdf_parts(pdf))
    norm = leakguard.normalize(text)
    for _, v in pol.forbidden:
        assert v not in norm
