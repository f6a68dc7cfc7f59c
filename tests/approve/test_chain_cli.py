"""The approval chain end to end through the real ``dossier`` executable:
three signers, pdfsig, permission exits, verify, audit."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

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
        a.run("admin", "approve", "issue-cert", name)   # no-op if user add already issued one
    (a.tmp / "p.json").write_text(json.dumps(PERSON, ensure_ascii=False))
    out = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", "p.json", "--json").stdout)
    a.ref = out["archive_no"]
    (a.tmp / "m.json").write_text(json.dumps({"date": "2024-05-01", "level": "中", "filed_with": "街道",
                                              "measures": ["每季度见面核查"]}, ensure_ascii=False))
    a.run("li", "entry", "add", a.ref, "--type", "measure", "--file", "m.json")
    return a


def test_full_chain_three_signers_pdfsig_and_verify(arch):
    a, ref = arch, arch.ref
    # permission: wrong role / wrong step / wrong scope → 13
    assert a.run("wang", "approve", "submit", ref, "--level", "中", "--reason", "x", ok=False).returncode == 13
    a.run("li", "approve", "submit", ref, "--level", "中", "--reason", "正在执行社区康复", "--date", "2024-05-06")
    assert a.run("zhao", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意",
                 ok=False).returncode == 13          # approver of another step
    assert a.run("li", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意",
                 ok=False).returncode == 13          # clerk, not approver
    r = a.run("sun", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意", ok=False)
    assert r.returncode == 13, r.stderr               # right step, other scope
    assert a.run("zhou", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意",
                 ok=False).returncode == 13          # inspector
    # dates never go backwards
    r = a.run("wang", "approve", "sign", ref, "--step", "派出所核查", "--opinion", "同意", "--date", "2024-05-01",
              ok=False)
    assert r.returncode == 1 and "倒退" in r.stderr
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
    a.run("li", "approve", "meeting", ref, "--minutes", "〔2024〕第5期", "--conclusion", "中")
    out = tmp_path / "f.pdf"
    a.run("li", "approve", "export", ref, "-o", str(out))
    a.run("li", "approve", "verify", str(out))
    if shutil.which("pdfsig"):
        sigs = pdfsign.pdfsig_report(str(out))
        assert len(sigs) == 3 and all(s["valid"] for s in sigs)


def test_audit_tampering_in_meta_db_exits_21(arch, tmp_path):
    a = arch
    a.run("admin", "audit", "export-head", "-o", str(tmp_path / "head.json"))
    con = sqlite3.connect(a.path / "meta.db")
    n = con.execute("SELECT MAX(seq) FROM audit_events").fetchone()[0]
    con.execute("UPDATE audit_events SET action='search' WHERE seq=?", (n // 2,))
    con.commit()
    r = a.run("admin", "audit", "verify", ok=False)
    assert r.returncode == 21 and f"第 {n // 2} 条" in r.stderr
    con.close()
