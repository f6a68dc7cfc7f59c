"""Disclosure through the real ``dossier`` executable: exit 31 when not granted,
expired or revoked; a leak-guard refusal writes no file at all."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys

import pytest

from dossier.disclose import leakguard

DOSSIER = [sys.executable, "-m", "dossier"]
SCOPE = "珠晖区/粤汉街道/苗圃社区"
PW = "correct-horse-1"
# Synthetic persons. P2's address carries P2's (not granted) phone number, spaced.
P1 = {"name": "测试甲", "id_number": "11010519491231002X", "gender": "女", "phone": "13800000000"}
P2 = {"name": "测试丙", "id_number": "440524188001010014", "gender": "男", "phone": "13900000001",
      "residence_address": "衡阳市珠晖区苗圃社区3栋201（联系 139 0000 0001）"}


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
        if ok and r.returncode != 0:
            raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    def request(self, user, refs, fields, until=None):
        args = ["disclose", "request", *refs, "--purpose", "2024年度交叉评查", "--fields", fields, "--json"]
        if until:
            args += ["--until", until]
        return json.loads(self.run(user, *args).stdout)["id"]


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    a = Arch(tmp_path_factory.mktemp("disc-cli"))
    a.run(None, "init", "--name", "测试街道", "--admin", "admin")
    a.run("admin", "scope", "add", SCOPE)
    for name, role in (("li", "clerk"), ("du", "inspector")):
        a.run("admin", "user", "add", name, "--role", role, "--scope", SCOPE, "--password-file", str(a.pwfile))
    a.refs = []
    for i, p in enumerate((P1, P2)):
        (a.tmp / f"p{i}.json").write_text(json.dumps(p, ensure_ascii=False))
        out = json.loads(a.run("li", "person", "add", "--scope", SCOPE, "--file", f"p{i}.json", "--json").stdout)
        a.refs.append(out["archive_no"])
    return a


def test_not_granted_then_granted_then_revoked(arch, tmp_path):
    a = arch
    did = a.request("du", a.refs[:1], "name", until=(dt.date.today() + dt.timedelta(days=5)).isoformat())
    out = tmp_path / "pkg.pdf"
    r = a.run("du", "disclose", "export", did, "-o", str(out), ok=False)
    assert r.returncode == 31 and not out.exists(), r.stderr          # not granted yet
    assert a.run("du", "disclose", "grant", did, ok=False).returncode == 13   # inspectors cannot grant
    a.run("li", "disclose", "grant", did)
    r = a.run("li", "disclose", "export", did, "-o", str(out), ok=False)
    assert r.returncode == 31 and not out.exists()                     # only the requester exports
    a.run("du", "disclose", "export", did, "-o", str(out))
    text = leakguard.normalize(" ".join(t for _, t in leakguard.pdf_parts(out.read_bytes())))
    assert "测试甲" in text and "13800000000" not in text and "11010519491231002X" not in text
    assert "性别" not in text            # a field outside the grant (not identifying) is left out, not shown
    out.unlink()
    a.run("admin", "disclose", "revoke", did)
    r = a.run("du", "disclose", "export", did, "-o", str(out), ok=False)
    assert r.returncode == 31 and not out.exists(), r.stderr           # revoked


def test_expired_grant_exits_31(arch, tmp_path):
    a = arch
    did = a.request("du", a.refs[:1], "name,id_number", until=dt.date.today().isoformat())
    a.run("admin", "disclose", "grant", did)
    # time passes: the grant's last day is now yesterday
    con = sqlite3.connect(a.path / "meta.db")
    con.execute("UPDATE disclosures SET until=? WHERE id=?", ((dt.date.today() - dt.timedelta(days=1)).isoformat(), did))
    con.commit()
    con.close()
    out = tmp_path / "late.pdf"
    r = a.run("du", "disclose", "export", did, "-o", str(out), ok=False)
    assert r.returncode == 31 and "过期" in r.stderr and not out.exists()


def test_leak_guard_refusal_writes_nothing(arch, tmp_path):
    a = arch
    # the address is granted, the phone is not — but the address spells out the phone
    did = a.request("du", a.refs[1:], "name,residence_address")
    a.run("admin", "disclose", "grant", did)
    out = tmp_path / "leak.pdf"
    before = set(tmp_path.iterdir())
    r = a.run("du", "disclose", "export", did, "-o", str(out), ok=False)
    assert r.returncode == 31, r.stdout + r.stderr
    assert not out.exists() and set(tmp_path.iterdir()) == before
    assert "13900000001" not in r.stdout + r.stderr                    # the refusal does not echo the value
    log = json.loads(a.run("admin", "audit", "log", "--json").stdout)
    assert any(e["action"] == "disclose.refused" for e in log)
