"""The README's main job, end to end: ``dossier demo`` through the real
executable builds an archive, fills and binds documents, signs an approval,
searches, reports — and leaves no personal data in plaintext at rest."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dossier.api import open_archive
from dossier.config import Password
from dossier.demo import PASSWORDS

needs_office = pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                                  reason="LibreOffice/poppler are installed by ./dev; the demo needs them")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    import os

    out = tmp_path_factory.mktemp("demo") / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env["DOSSIER_KDF"] = "weak-for-tests"
    proc = subprocess.run([sys.executable, "-m", "dossier", "demo", "--out", str(out), "--persons", "12"],
                          capture_output=True, text=True, env=env, timeout=900)
    return out, proc


@needs_office
def test_demo_runs_and_checks(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "【校验】" in proc.stdout and "全部通过" in proc.stdout
    for name in ("一人一档.pdf", "审批表.pdf", "附表2.xlsx", "周报.docx", "核查报告.docx"):
        assert (out / name).stat().st_size > 1000, name


@needs_office
def test_demo_archive_passes_check_and_audit_verify(demo_run):
    """After every kind of workflow (entries, forms, attachments, approvals, meetings,
    disclosures, imports, campaigns), the versions and the audit chain agree (issue 16)."""
    import os

    out, proc = demo_run
    assert proc.returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(DOSSIER_ARCHIVE=str(out / "archive"), DOSSIER_USER="admin", DOSSIER_PASSWORD=PASSWORDS["admin"])
    for args in (["check"], ["audit", "verify"]):
        r = subprocess.run([sys.executable, "-m", "dossier", *args], capture_output=True, text=True, env=env,
                           timeout=300)
        assert r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    r = subprocess.run([sys.executable, "-m", "dossier", "audit", "log", "--action", "approve", "--json"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert '"approve.sign"' in r.stdout        # the approvals were cross-checked, not absent


@needs_office
def test_demo_bound_file_names_the_person(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0
    with open_archive(out / "archive", user="li", password=Password(PASSWORDS["li"])) as ar:
        first = ar.persons.list()[0]
        view = ar.dossiers.show(first["archive_no"])
    text = subprocess.run(["pdftotext", str(out / "一人一档.pdf"), "-"], capture_output=True, text=True).stdout
    assert view.archive_no.replace("·", "") in text.replace("·", "").replace(" ", "")
    assert view.profile["name"] in text.replace(" ", "")


@needs_office
def test_demo_archive_holds_no_plaintext(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0
    with open_archive(out / "archive", user="admin", password=Password(PASSWORDS["admin"])) as ar:
        people = ar.persons.list()
        needles = set()
        for p in people:
            prof = ar.dossiers.show(p["archive_no"]).profile
            needles |= {prof["name"], prof["id_number"], prof.get("phone") or "", prof.get("residence_address") or ""}
    needles = {n for n in needles if len(n) >= 2}
    assert len(needles) > 20
    for f in (out / "archive").rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            for n in needles:
                for enc in ("utf-8", "utf-16-le", "gb18030"):
                    # under 6 bytes (a 2-character name in UTF-16/GB18030) ciphertext matches by chance
                    if len(n.encode(enc)) >= 6:
                        assert n.encode(enc) not in data, f"{n!r} in {f}"


@needs_office
def test_demo_inspector_sees_masked_search_and_roster_rejects_bad_rows(demo_run):
    out, proc = demo_run
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    insp = next(x for x in lines if x.startswith("【督查检索】"))
    with open_archive(out / "archive", user="li", password=Password(PASSWORDS["li"])) as ar:
        first = ar.persons.list()[0]
    assert first["name"] not in insp and first["id_number"] not in insp and "*" in insp
    assert any("未导入 2" in x for x in lines)
    assert (out / "和平社区名册_未导入.xlsx").exists()
