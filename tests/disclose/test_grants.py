"""Disclosure request → grant → export; revoked, expired, foreign and non-granted exports exit 31."""

from __future__ import annotations

import datetime as dt

import pytest

import dossier
from dossier.approve.hooks import ensure_attached
from dossier.crypto import kdf
from dossier.disclose import leakguard
from dossier.errors import DisclosureRefused, PermissionDenied

SCOPE = "珠晖区/粤汉街道/苗圃社区"
PW = b"correct-horse-1"
P1 = {"name": "测试甲", "id_number": "11010519491231002X", "gender": "女", "phone": "13800000000"}


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    path = tmp_path_factory.mktemp("disc") / "archive"
    dossier.init_archive(path, name="测试街道", admin="admin", password=PW, kdf_params=kdf.WEAK_FOR_TESTS)
    with dossier.open_archive(path, user="admin", password=PW) as ar:
        ensure_attached(ar)
        ar.scopes.add(SCOPE)
        ar.scopes.add("珠晖区/粤汉街道/东风社区")
        ar.users.add("li", role="clerk", scopes=[SCOPE], password=PW)
        ar.users.add("ma", role="clerk", scopes=["珠晖区/粤汉街道/东风社区"], password=PW)
        ar.users.add("zhou", role="inspector", scopes=[SCOPE], password=PW)
    with dossier.open_archive(path, user="li", password=PW) as ar:
        ref = ar.persons.add(SCOPE, P1)
    return path, ref.archive_no


def _open(path, user):
    return ensure_attached(dossier.open_archive(path, user=user, password=PW))


def test_request_grant_export_and_refusals(arch, tmp_path):
    path, ref = arch
    with _open(path, "zhou") as ar:
        req = ar.disclosures.request([ref], purpose="2024年度交叉评查", fields=["name"],
                                     until=(dt.date.today() + dt.timedelta(days=3)).isoformat())
        did = req["id"]
        with pytest.raises(DisclosureRefused):
            ar.disclosures.export(did)                      # not granted yet
        with pytest.raises(PermissionDenied):
            ar.disclosures.grant(did)                       # inspectors cannot grant
    with _open(path, "ma") as ar:
        with pytest.raises(PermissionDenied):
            ar.disclosures.grant(did)                       # clerk of another scope
    with _open(path, "li") as ar:
        ar.disclosures.grant(did)
        with pytest.raises(DisclosureRefused):
            ar.disclosures.export(did)                      # only the requester exports
    with _open(path, "zhou") as ar:
        pdf = ar.disclosures.export(did, password="pkg-pass-1")
        parts = leakguard.pdf_parts(pdf, "pkg-pass-1")
        text = leakguard.normalize(" ".join(t for _, t in parts))
        assert "测试甲" in text and "11010519491231002X" not in text and "13800000000" not in text
        assert leakguard.normalize(did) in text and leakguard.normalize("2024年度交叉评查") in text
        assert all(did in t for p, t in parts if p.startswith("第"))             # on every page
        meta = dict(parts)["文档属性"]
        assert "测试" not in meta
        with pytest.raises(DisclosureRefused):
            ar.disclosures.export(did, today=dt.date.today() + dt.timedelta(days=4))   # expired
        ar.disclosures.revoke(did)
        with pytest.raises(DisclosureRefused) as ei:
            ar.disclosures.export(did)                      # revoked
        assert ei.value.exit_code == 31
        events = [e.action for e in ar.audit_chain.events()]
        assert {"disclose.request", "disclose.grant", "disclose.export", "disclose.revoke"} <= set(events)
    with _open(path, "admin") as ar:
        from dossier.approve.hooks import public_keys, version_anchors
        ar.audit_chain.verify(public_keys(ar), version_anchors(ar))


def test_extending_until_in_the_database_does_not_extend_the_grant(arch):
    import sqlite3

    path, ref = arch
    last_day = dt.date.today() + dt.timedelta(days=2)
    with _open(path, "zhou") as ar:
        did = ar.disclosures.request([ref], purpose="抽查", fields=["name"], until=last_day.isoformat())["id"]
    with _open(path, "li") as ar:
        ar.disclosures.grant(did)
    con = sqlite3.connect(path / "meta.db")
    con.execute("UPDATE disclosures SET until=? WHERE id=?", ((last_day + dt.timedelta(days=365)).isoformat(), did))
    con.commit()
    con.close()
    with _open(path, "zhou") as ar:
        assert ar.disclosures.export(did, today=last_day)              # still within the granted period
        with pytest.raises(DisclosureRefused) as ei:
            ar.disclosures.export(did, today=last_day + dt.timedelta(days=1))
        assert ei.value.exit_code == 31 and "过期" in ei.value.message
