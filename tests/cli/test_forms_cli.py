"""form fill / attach through the real executable: exit codes and files."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "forms"))

from formkit import full_entries, full_profile, gps_jpeg  # noqa: E402


def _person(world):
    with world.open("li") as ar:
        ref = ar.persons.add(world.scope_a, full_profile(), today=world.today)
        for e in full_entries():
            e = dict(e)
            ar.entries.add(ref.archive_no, e.pop("type"), e, today=world.today)
    return ref.archive_no


def test_fill_docx_and_missing_soffice(world, run_dossier, tmp_path):
    no = _person(world)
    out = tmp_path / "审批表.docx"
    r = run_dossier(["form", "fill", "审批表", no, "-o", out], env=world.env("li"))
    assert r.code == 0, r.stderr
    assert zipfile.is_zipfile(out)
    out2 = tmp_path / "b.docx"
    r = run_dossier(["form", "fill", "审批表", no, "-o", out2, "--pdf"],
                    env=world.env("li", DOSSIER_SOFFICE="/nonexistent/soffice"))
    assert r.code == 1 and "apt-get install" in r.stderr and not out2.exists()


def test_fill_with_misspelled_template_exit_30_no_output(world, run_dossier, tmp_path):
    no = _person(world)
    tdir = tmp_path / "tpl"
    tdir.mkdir()
    from dossier.forms import Registry

    src = Registry().get("risk-approval").path
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tdir / src.name, "w") as zout:
        for i in zin.infolist():
            data = zin.read(i.filename)
            if i.filename == "word/document.xml":
                data = data.replace(b"person.phone", b"person.phnoe")
            zout.writestr(i, data)
    out = tmp_path / "x.docx"
    r = run_dossier(["form", "fill", "risk-approval", no, "-o", out, "--templates", tdir], env=world.env("li"))
    assert r.code == 30 and "person.phnoe" in r.stderr and src.name in r.stderr
    assert not out.exists()


def test_attach_and_refusals(world, run_dossier, tmp_path):
    no = _person(world)
    jpg = tmp_path / "照片.jpg"
    jpg.write_bytes(gps_jpeg())
    r = run_dossier(["attach", no, jpg, "--title", "本人照片", "--category", "身份证明"], env=world.env("li"))
    assert r.code == 0, r.stderr
    exe = tmp_path / "协议书.pdf"
    exe.write_bytes(b"MZ\x90\x00" + b"\0" * 100)
    r = run_dossier(["attach", no, exe, "--title", "协议书", "--category", "协议"], env=world.env("li"))
    assert r.code == 1 and "可执行文件" in r.stderr
