"""The capabilities hang off the session: ar.forms, ar.meetings, ar.reports,
ar.search, ar.approvals, ar.disclosures — each usable without the CLI."""

from __future__ import annotations

import random
from datetime import date

import dossier
from dossier import synth


def test_library_facades(tmp_path):
    pw = b"facade-pass-1"
    dossier.init_archive(tmp_path / "a", name="测试", admin="admin", password=pw)
    with dossier.open_archive(tmp_path / "a", user="admin", password=pw) as ar:
        ar.scopes.add("珠晖区/粤汉街道/苗圃社区")
        today = date.today()
        p = synth.person(random.Random(5), today=today)
        ref = ar.persons.add("苗圃社区", p)
        codes = {f.code for f in ar.forms.list()}
        assert {"risk-approval", "basic-info", "cover"} <= codes
        res = ar.forms.fill("basic-info", ref=ref.archive_no)
        assert res.docx[:2] == b"PK"
        assert ar.meetings.list() == []
        stats = ar.reports.stats("珠晖区/粤汉街道", as_of=today)
        assert stats["total"]["registered"] == 1
        hits = ar.search(p["name"])
        assert [h["archive_no"] for h in hits] == [ref.archive_no]
        assert hasattr(ar, "approvals") and hasattr(ar, "disclosures")
