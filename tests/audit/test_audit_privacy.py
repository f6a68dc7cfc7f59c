"""Who can read an audit event's private details, through the real ``dossier`` executable.

A search query is whatever the user typed — often a full name or ID number.
Such details name no dossier, so they are sealed to the admins' audit key:
an inspector (or another clerk) reading the log sees the event, never the
query; admins (including one added later) read it; the chain still verifies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from dossier.audit import AuditLog
from dossier.crypto.keys import UserKeys

DOSSIER = [sys.executable, "-m", "dossier"]
SCOPE = "珠晖区/粤汉街道/苗圃社区"
PW = "correct-horse-1"
P = {"name": "测试审计甲", "id_number": "11010519491231002X", "gender": "女", "phone": "13800000000"}  # synthetic


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit-privacy")
    (tmp / "pw").write_text(PW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSSIER_")}
    env.update(DOSSIER_KDF="weak-for-tests", DOSSIER_ARCHIVE=str(tmp / "archive"),
               DOSSIER_PASSWORD_FILE=str(tmp / "pw"), HOME=str(tmp))

    def run(user, *args, ok=True):
        r = subprocess.run([*DOSSIER, *(["--user", user] if user else []), *args], env=env,
                           capture_output=True, text=True, cwd=tmp, timeout=120)
        if ok and r.returncode != 0:
            raise AssertionError(f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}")
        return r

    run(None, "init", "--name", "测试街道", "--admin", "admin")
    run("admin", "scope", "add", SCOPE)
    for name, role in (("li", "clerk"), ("zhao", "clerk"), ("du", "inspector")):
        run("admin", "user", "add", name, "--role", role, "--scope", SCOPE, "--password-file", str(tmp / "pw"))
    (tmp / "p.json").write_text(json.dumps(P, ensure_ascii=False))
    run("li", "person", "add", "--scope", SCOPE, "--file", "p.json")
    run("li", "search", P["name"])
    run("li", "search", P["id_number"])
    run("du", "search", P["name"])                     # an inspector's exact-name search
    run("du", "search", P["id_number"])
    run("admin", "user", "add", "admin2", "--role", "admin", "--password-file", str(tmp / "pw"))
    return tmp, run


def _queries(run, user):
    rows = json.loads(run(user, "audit", "log", "--action", "search", "--json").stdout)
    return rows, [r["private"]["query"] for r in rows if r.get("private")]


@pytest.mark.parametrize("user", ["du", "zhao", "li"])
def test_others_never_read_search_queries(arch, user):
    _, run = arch
    rows, queries = _queries(run, user)
    assert queries == []
    if user == "du":                                   # inspectors see that searches happened
        assert {r["actor"] for r in rows} >= {"li", "du"}
    for out in (run(user, "audit", "log", "--json").stdout, run(user, "audit", "log").stdout):
        assert P["name"] not in out and P["id_number"] not in out


@pytest.mark.parametrize("admin", ["admin", "admin2"])
def test_admins_read_search_queries(arch, admin):
    _, run = arch
    _, queries = _queries(run, admin)
    assert queries.count(P["name"]) == 2 and queries.count(P["id_number"]) == 2


def test_chain_verifies_and_nothing_in_clear_at_rest(arch):
    tmp, run = arch
    assert run("admin", "audit", "verify").returncode == 0
    raw = b"".join(p.read_bytes() for p in (tmp / "archive").glob("meta.db*"))
    assert P["name"].encode() not in raw and P["id_number"].encode() not in raw


def test_sealed_to_a_public_key_opens_only_with_its_private_half(tmp_path):
    import sqlite3

    log = AuditLog(sqlite3.connect(tmp_path / "m.db"), archive_id="arch-test")
    log.create()
    actor, audit_key, other = UserKeys.generate(), UserKeys.generate(), UserKeys.generate()
    ev = log.append("li", actor, "search", {"count": 1}, private={"query": P["name"]},
                    seal_to=audit_key.box_public, key_id="archive:audit")
    assert log.events()[0].private_boxed(audit_key, "arch-test") == {"query": P["name"]}
    with pytest.raises(Exception):
        ev.private_boxed(other, "arch-test")
    with pytest.raises(Exception):
        ev.private_boxed(actor, "arch-test")            # not even the actor reads it back
    assert log.verify({"li": actor.sign_public}).events == 1
