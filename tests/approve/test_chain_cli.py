"""The approval chain end to end through the real ``dossier`` executable, on the
real 审批表 (forms engine template, LibreOffice): three signers, pdfsig,
permission exits, verify, the 会商 step completed by ``meeting add``, audit.

One archive is built once for the module (``arch``); the tests use different
persons in it. Independent refusals run concurrently to keep the file < 40 s."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from dossier.approve import pdfsign

DOSSIER = [sys.executable, "-m", "dossier"]
SCOPE = "珠晖区/粤汉街道/苗圃社区"
OTHER = "珠晖区/粤汉街道/东风社区"
PERSON = {"name": "测试甲", "id_number": "11010519491231002X", "gender": "女", "phone": "13800000000"}
PW = "correct-horse-1"
needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="pdfsig missing")


class Arch:
    def __init__(self, tmp):
        self.tmp = tmp
        self.path = tmp / "archive"
        self.pwfile = tmp / "pw"
        self.pwfile.write_text(PW)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
        self.env.update(DOSSIER_KDF="weak-for-tests", DOSSIER_ARCHIVE=str(self.path),
                        DOSSIER_PASSWORD_FILE=str(self.pwfile), HOME=str(tmp))

    def parallel(self, *calls):
        """Run independent ``(user, *args)`` calls concurrently (ok=False); results in order."""
        with ThreadPoolExecutor(len(calls)) as ex:
            return list(ex.map(lambda c: self.run(c[0], *c[1:], ok=False), calls))

    def run(self, user, *args, ok=True):
        cmd = [*DOSSIER, *(["--user", user] if user else []), *args]
        r = subprocess.run(cmd, env=self.env, capture_output=True, text=True, cwd=self.tmp, timeout=120)
        if ok is True and r.returncode != 0:
            raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    a = Arch(tmp_path_factory.mktemp("chain"))
    a.run(None, "init", "--name", "测试街道", "--admin", "admin")
    a.run("admin", "scope", "add", SCOPE)
    a.run("admin", "scope", "add", OTHER)
    users = [("li", "clerk", None, SCOPE), ("wang", "approver", "派出所核查", SCOPE),
             ("zhao", "approver", "街道审批", SCOPE), ("qian", "approver", "区禁毒办备案", SCOPE),
             ("sun", "approver", "派出所核查", OTHER), ("zhou", "inspector", None, SCOPE)]
    for name, role, step, scope in users:
        a.run("admin", "user", "add", name, "--role", role, *(["--step", step] if step else []),
              "--scope", scope, "--password-file", str(a.pwfile))
    a.run("admin", "approve", "issue-cert", "li")   # re-issuing for an existing user works
    (a.tmp / "p.json").write_text(json.dumps(PERSON, ensure_ascii=False))
    out = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", "p.json", "--json").stdout)
    a.ref = out["archive_no"]
    (a.tmp / "m.json").write_text(json.dumps({"date": "2024-05-01", "level": "中", "filed_with": "街道",
                                              "measures": ["每季度见面核查"]}, ensure_ascii=False))
    a.run("li", "entry", "add", a.ref, "--type", "measure", "--file", "m.json")
    return a


def _field_pages(pdf: bytes) -> dict:
    import io

    from pypdf import PdfReader

    r = PdfReader(io.BytesIO(pdf))
    pages = {p.indirect_reference.idnum: i for i, p in enumerate(r.pages)}
    out = {}
    for i, page in enumerate(r.pages):
        for annot in page.get("/Annots") or []:
            a = annot.get_object()
            if a.get("/FT") == "/Sig" and "/T" in a:
                out[str(a["/T"])] = i
    del pages
    return out


def test_full_chain_three_signers_pdfsig_and_verify(arch):
    a, ref = arch, arch.ref
    # permission: wrong role / wrong step / wrong scope → 13
    assert a.run("wang", "approve", "submit", ref, "--level", "中", "--reason", "x", ok=False).returncode == 13
    a.run("li", "approve", "submit", ref, "--level", "中", "--reason", "正在执行社区康复", "--date", "2024-05-06")
    sign_police = ("approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意")
    refused = a.parallel(("zhao", *sign_police),     # approver of another step
                         ("li", *sign_police),       # clerk, not approver
                         ("sun", *sign_police),      # right step, other scope
                         ("zhou", *sign_police),     # inspector
                         ("wang", *sign_police, "--date", "2024-05-01"))   # dates never go backwards
    assert [r.returncode for r in refused] == [13, 13, 13, 13, 1], [r.stderr for r in refused]
    assert "倒退" in refused[-1].stderr
    pend = json.loads(a.run("wang", "approve", "pending", "--json").stdout)
    assert [p["next"] for p in pend] == ["派出所核查"]
    a.run("wang", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "经核查属实", "--date", "2024-05-07")
    a.run("li", "approve", "meeting", ref, "--minutes", "〔2024〕第3期", "--date", "2024-05-08", "--conclusion", "中")
    a.run("zhao", "approve", "sign", ref, "--step", "街道审批", "--opinion", "同意", "--date", "2024-05-09")
    st = json.loads(a.run("li", "approve", "status", ref, "--json").stdout)
    assert st["next"] == "区禁毒办备案" and [s["signer"] for s in st["steps"]] == ["li", "wang", "li", "zhao"]
    out = a.tmp / "审批表.pdf"
    a.run("zhao", "approve", "export", ref, "-o", str(out))
    sigs = pdfsign.pdfsig_report(str(out)) if shutil.which("pdfsig") else None
    if sigs is not None:
        assert len(sigs) == 4 and all(s["valid"] for s in sigs), sigs
        assert {s["Signer Certificate Common Name"] for s in sigs} == {"li", "wang", "zhao"}
    # the real 2-page form (its 25 mm bottom margin, clear of the paper stamp, puts ② on page 2)
    assert _field_pages(out.read_bytes()) == {"Step1Community": 0, "Step2Police": 1, "Step3Meeting": 1,
                                              "Step4Street": 1, "Step5District": 1}
    a.run("zhao", "approve", "verify", str(out))
    a.run("zhao", "approve", "verify", ref)
    # one flipped byte inside the signed range: pdfsig and approve verify both fail (exit 20)
    data = out.read_bytes()
    i = data.index(b"/DossierForm") + 2
    bad = a.tmp / "bad.pdf"
    bad.write_bytes(data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1:])
    r = a.run("zhao", "approve", "verify", str(bad), ok=False)
    assert r.returncode == 20, r.stdout + r.stderr
    if sigs is not None:
        assert not any(s["valid"] for s in pdfsign.pdfsig_report(str(bad)))
    # an inspector cannot read the dossier but can check a form: a good one passes (said unmatched
    # against the record, not reported as tampering), the altered one still exits 20
    good, altered = a.parallel(("zhou", "approve", "verify", str(out), "--json"),
                               ("zhou", "approve", "verify", str(bad)))
    assert good.returncode == 0, good.stderr
    v = json.loads(good.stdout)
    assert v["ok"] and v["archive_checked"] is False and v["notes"] and len(v["signatures"]) == 4
    assert altered.returncode == 20, altered.stderr
    assert json.loads(a.run("zhao", "approve", "verify", str(out), "--json").stdout)["archive_checked"] is True
    a.run("qian", "approve", "sign", ref, "--step", "区禁毒办备案", "--opinion", "予以备案", "--date", "2024-05-10")
    st = json.loads(a.run("li", "approve", "status", ref, "--json").stdout)
    assert st["status"] == "已备案" and st["next"] is None
    # the audit chain holds the signatures and verifies
    a.run("admin", "audit", "verify")
    evs = json.loads(a.run("admin", "audit", "log", "--action", "approve", "--json").stdout)
    assert [e["details"].get("step") for e in evs if e["action"] == "approve.sign"] == \
        ["派出所核查", "会商", "街道审批", "区禁毒办备案"]


def test_return_to_previous_step_and_high_needs_district_plan(arch, tmp_path):
    a = arch
    p = dict(PERSON, name="测试乙", id_number="440524188001010014", gender="男")
    (a.tmp / "p2.json").write_text(json.dumps(p, ensure_ascii=False))
    ref = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", "p2.json", "--json").stdout)["archive_no"]
    a.run("li", "approve", "submit", ref, "--level", "高", "--reason", "多次拒绝检测")
    a.run("wang", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "属实")
    a.run("li", "approve", "meeting", ref, "--minutes", "〔2024〕第4期", "--conclusion", "高")
    r = a.run("zhao", "approve", "sign", ref, "--step", "街道审批", "--opinion", "同意", ok=False)
    assert r.returncode == 1 and "一人一策" in r.stderr
    a.run("zhao", "approve", "sign", ref, "--step", "街道审批", "--opinion", "会商依据不足，请重议", "--return")
    st = json.loads(a.run("li", "approve", "status", ref, "--json").stdout)
    assert st["next"] == "会商"
    # a meeting dated before the 派出所核查 signature is recorded (exit 0), but the refusal of
    # the 会商 block is reported for that person, and the approval still waits at 会商
    early = {"no": "〔2024〕第4期补", "date": "2024-01-05", "place": "粤汉街道会议室", "host": "测试主持",
             "persons": [{"ref": ref, "level": "中", "reasons": "复核后按中风险管控"}]}
    (a.tmp / "mt0.json").write_text(json.dumps(early, ensure_ascii=False))
    r = a.run("li", "meeting", "add", "--file", "mt0.json")
    assert "已记录会商会议" in r.stdout
    assert f"{ref}：审批表会商一栏未签入" in r.stderr and "倒退" in r.stderr, r.stdout + r.stderr
    assert json.loads(a.run("li", "approve", "status", ref, "--json").stdout)["next"] == "会商"
    # the re-held meeting is recorded with `meeting add`: it signs the 会商 block itself
    (a.tmp / "mt.json").write_text(json.dumps({
        "no": "〔2024〕第5期", "date": dt.date.today().isoformat(), "place": "粤汉街道会议室", "host": "测试主持",
        "persons": [{"ref": ref, "level": "中", "reasons": "复核后按中风险管控"}]}, ensure_ascii=False))
    r = a.run("li", "meeting", "add", "--file", "mt.json")
    assert f"{ref}：审批表会商一栏已签入，评定为中风险，待“街道审批”" in r.stdout, r.stdout + r.stderr
    assert "未签入" not in r.stdout + r.stderr
    st = json.loads(a.run("li", "approve", "status", ref, "--json").stdout)
    assert st["next"] == "街道审批" and st["level"] == "中", st
    meeting = [s for s in st["steps"] if s["step"] == "会商" and not s["superseded"]]
    assert meeting[-1]["minutes_no"] == "〔2024〕第5期" and meeting[-1]["signer"] == "li"
    out = tmp_path / "f.pdf"
    a.run("li", "approve", "export", ref, "-o", str(out))
    a.run("li", "approve", "verify", str(out))
    if shutil.which("pdfsig"):
        sigs = pdfsign.pdfsig_report(str(out))
        assert len(sigs) == 3 and all(s["valid"] for s in sigs)


def test_verify_a_file_that_is_not_a_pdf_is_invalid_input(arch):
    a = arch
    (a.tmp / "hostname").write_text("myhost\n")
    (a.tmp / "notes.pdf").write_text("这不是 PDF\n")
    not_pdf, named_pdf, missing = a.parallel(("zhao", "approve", "verify", str(a.tmp / "hostname")),
                                             ("zhao", "approve", "verify", str(a.tmp / "notes.pdf")),
                                             ("zhao", "approve", "verify", str(a.tmp / "nowhere.pdf")))
    for r in (not_pdf, named_pdf):
        assert r.returncode == 1 and "不是 PDF" in r.stderr, r.stderr
    assert missing.returncode == 1 and "找不到" in missing.stderr and "Traceback" not in missing.stderr


def test_audit_tampering_in_meta_db_exits_21(arch, tmp_path):
    a = arch
    # (the module's fixture is shared; under xdist the chain test may have run in another worker)
    status = json.loads(a.run("li", "approve", "status", a.ref, "--json").stdout)
    if not status.get("approval"):
        a.run("li", "approve", "submit", a.ref, "--level", "中", "--reason", "正在执行社区康复", "--date", "2024-05-06")
        a.run("wang", "approve", "sign", a.ref, "--step", "派出所核查", "--opinion", "同意", "--date", "2024-05-07")
    # every kind of event is in the chain: change, unmasked view, search, export, signature
    a.run("li", "show", a.ref)
    a.run("li", "search", "测试甲")
    a.run("li", "approve", "export", a.ref, "-o", str(tmp_path / "e.pdf"))
    actions = {e["action"] for e in json.loads(a.run("admin", "audit", "log", "--json").stdout)}
    assert {"dossier.change", "view", "search", "export", "approve.submit", "approve.sign"} <= actions, actions
    a.run("admin", "check")
    a.run("admin", "audit", "export-head", "-o", str(tmp_path / "head.json"))
    con = sqlite3.connect(a.path / "meta.db")
    n = con.execute("SELECT MAX(seq) FROM audit_events").fetchone()[0]
    con.execute("UPDATE audit_events SET action='search' WHERE seq=?", (n // 2,))
    con.commit()
    r = a.run("admin", "audit", "verify", ok=False)
    assert r.returncode == 21 and f"第 {n // 2} 条" in r.stderr
    r = a.run("admin", "check", ok=False)           # `check` includes the audit chain
    assert r.returncode != 0 and "审计链" in r.stdout + r.stderr, r.stdout + r.stderr
    con.close()
