"""Short paper codes (issue 14): every generated page — docx and PDF alike — carries the QR code
and a 16-character code a person can type; ``verify-paper`` resolves it against the archive.
A mistyped code is a typo (exit 1, its own message), never a forgery; an unknown or foreign
code is refused (exit 20); the long grouped token still works."""

from __future__ import annotations

import io
import json
import random
import re
import subprocess
import sys

import pytest

from dossier import paper
from dossier.errors import IntegrityError, InvalidInput

from formkit import TODAY

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b")


def _root_conftest():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("root_conftest", Path(__file__).parents[1] / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("root_conftest", mod)
    spec.loader.exec_module(mod)
    return mod


def _changed(code: str, i: int, c: str) -> str:
    flat = code.replace("-", "")
    return paper.group_code(flat[:i] + c + flat[i + 1:])


def test_check_character_catches_every_single_changed_character():
    rng = random.Random(14)
    for _ in range(20):
        data = "".join(rng.choice(paper.CODE_ALPHABET) for _ in range(paper.CODE_DATA))
        code = data + paper.check_char(data)
        assert paper.normalize_code(paper.group_code(code)) == code
        assert paper.normalize_code(code.lower().replace("0", "o").replace("1", "l")) == code   # as read aloud
        for i in range(len(code)):
            for c in paper.CODE_ALPHABET:
                if c != code[i]:
                    with pytest.raises(InvalidInput) as e:
                        paper.normalize_code(code[:i] + c + code[i + 1:])
                    assert "抄错" in e.value.message and not isinstance(e.value, IntegrityError)
        for bad in (code[:-1], code + "7", code[:5] + "U" + code[6:]):
            with pytest.raises(InvalidInput):
                paper.normalize_code(bad)


def test_codes_are_short_grouped_and_stable(world):
    ref, _ = world.add_person()
    with world.open("li") as ar:
        a = paper.issue(ar, ref.archive_no, doc_id="0123456789ab")
        b = paper.issue(ar, ref.archive_no, doc_id="0123456789ab")
        c = paper.issue(ar, ref.archive_no)
    assert CODE.fullmatch(a.short) and len(a.short.replace("-", "")) == 16
    assert a.short == b.short != c.short                          # one code per token
    # the lookup table holds neither the code nor the token in clear
    data = b"".join(p.read_bytes() for p in world.path.glob("meta.db*"))
    for needle in (a.short, a.short.replace("-", ""), a.token, c.short.replace("-", "")):
        assert needle.encode() not in data


def test_docx_and_pdf_codes_verify_typos_and_foreign_codes_are_refused(person_world, run_dossier, tmp_path):
    import docx

    make_world = _root_conftest().make_world

    world, no, prof = person_world
    out = tmp_path / "审批表.docx"
    r = run_dossier(["form", "fill", "审批表", no, "-o", out, "--pdf"], env=world.env("li"), timeout=180)
    assert r.code == 0, r.stderr
    doc = docx.Document(io.BytesIO(out.read_bytes()))
    footer = "\n".join(p.text for s in doc.sections for p in s.footer.paragraphs)
    assert doc.sections[0].footer.paragraphs and any(
        "graphicData" in p._p.xml for p in doc.sections[0].footer.paragraphs)          # the QR picture
    from_docx = CODE.findall(footer)
    pdf_text = subprocess.run(["pdftotext", str(out.with_suffix(".pdf")), "-"], capture_output=True,
                              text=True, check=True).stdout
    from_pdf = CODE.findall(pdf_text)
    assert len(from_docx) == 1 and len(from_pdf) == 2                # the PDF: once per page (2 pages)
    assert set(from_pdf) == {from_pdf[0]}
    for code in (from_docx[0], from_pdf[0]):
        res = run_dossier(["verify-paper", code, "--json"], env=world.env("qian"))     # an inspector
        assert res.code == 0, res.stderr
        v = json.loads(res.stdout)
        assert v["valid"] and v["archive_no"] == no and v["code"] == code and prof["name"] not in res.stdout
    # typed as people type: lower case, no dashes, O for 0
    code = from_pdf[0]
    loose = code.replace("-", " ").lower().replace("0", "o")
    assert run_dossier(["verify-paper", *loose.split()], env=world.env("qian")).code == 0
    # one changed character: a typo (exit 1, its own message), not a forgery
    flat = code.replace("-", "")
    typo = _changed(code, 6, "7" if flat[6] != "7" else "8")
    res = run_dossier(["verify-paper", typo, "--json"], env=world.env("qian"))
    assert res.code == 1, res.stderr
    v = json.loads(res.stdout)
    assert v["valid"] is False and v["typo"] is True and "抄错" in v["reason"]
    res = run_dossier(["verify-paper", typo], env=world.env("qian"))
    assert res.code == 1 and "抄错" in res.stderr and "伪造" in res.stderr        # "不是伪造判定"
    # a well-formed code this archive never issued (right check character): refused as forged
    data = "".join(random.Random(1).choice(paper.CODE_ALPHABET) for _ in range(15))
    res = run_dossier(["verify-paper", paper.group_code(data + paper.check_char(data)), "--json"],
                      env=world.env("qian"))
    assert res.code == 20 and json.loads(res.stdout)["typo"] is False
    # a code of another archive: refused
    other = make_world(tmp_path / "other")
    oref, _ = other.add_person()
    with other.open("li") as ar:
        foreign = paper.issue(ar, oref.archive_no)
    assert run_dossier(["verify-paper", foreign.short], env=other.env("qian")).code == 0
    res = run_dossier(["verify-paper", foreign.short], env=world.env("qian"))
    assert res.code == 20 and "没有签发过" in res.stderr
    # the long grouped token in the QR code still works as before
    with world.open("li") as ar:
        tok = paper.issue(ar, no)
    assert run_dossier(["verify-paper", *tok.text.split()], env=world.env("qian")).code == 0


def test_docx_only_form_carries_the_code(person_world, run_dossier, tmp_path):
    """A form saved as .docx alone (what offices print from Word or WPS) carries it too."""
    import docx

    world, no, _ = person_world
    out = tmp_path / "谈话记录.docx"
    r = run_dossier(["form", "fill", "interview", no, "-o", out], env=world.env("li"), timeout=120)
    assert r.code == 0, r.stderr
    doc = docx.Document(str(out))
    codes = CODE.findall("\n".join(p.text for s in doc.sections for p in s.footer.paragraphs))
    assert len(codes) == 1
    assert CODE.findall("\n".join(p.text for p in doc.paragraphs)) == codes     # also in the body's last line
    res = run_dossier(["verify-paper", codes[0], "--json"], env=world.env("qian"))
    assert res.code == 0 and json.loads(res.stdout)["archive_no"] == no
    with world.open("qian") as ar:
        assert paper.verify(ar, codes[0])["valid"]
    assert TODAY  # the forms kit's date is the one the fixture used


def test_printed_docx_is_reproducible_from_the_kept_one(person_world):
    from dossier.forms import service
    from dossier.paper_stamp import stamp_docx

    world, no, _ = person_world
    with world.open("li") as ar:
        r = service.fill(ar, "审批表", ref=no, today=TODAY)
        view = ar.dossiers.show(no)
        doc = view.state["documents"][-1]
        kept = ar.blobs.get(doc["blob"], scope=view.scope, dossier_id=view.id, kind="document")
        again = paper.issue(ar, no, version=view.version, doc_id=doc["paper_doc"])
    assert r.data == kept and r.docx != kept                  # kept unstamped; printed with the code
    assert again.short == r.paper.short and stamp_docx(kept, again) == r.docx
    assert r.paper.short in "\n".join(p.text for s in __import__("docx").Document(io.BytesIO(r.docx)).sections
                                      for p in s.footer.paragraphs)
