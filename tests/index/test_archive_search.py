"""Search on a real archive: scopes, roles, audit, consistency after a crash."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from dossier.errors import PermissionDenied

CLERK_A, CLERK_B, APPROVER, INSPECTOR = "li", "wang", "zhao", "qian"


@pytest.fixture
def populated(world):
    a = [world.add_person(entries=2) for _ in range(4)]
    b = [world.add_person(scope=world.scope_b, entries=2) for _ in range(3)]
    return world, a, b


def _ids(rows):
    return {r["archive_no"] for r in rows}


def test_clerks_never_see_other_scopes(populated):
    world, a, b = populated
    with world.open(CLERK_A) as ar:
        for ref, p in b:
            for q in (p["name"], p["id_number"], p["id_number"][-6:], p["phone"][-4:], p["name"][:2]):
                assert ref.archive_no not in _ids(ar.search(q, limit=100)), q
        assert ar.search("scope:东风社区") == []
        assert {ref.archive_no for ref, _ in a} <= _ids(ar.search("scope:苗圃社区", limit=100))
    with world.open(CLERK_B) as ar:
        ref, p = a[0]
        assert ref.archive_no not in _ids(ar.search(p["name"], limit=100))


def test_clerk_finds_own_person_in_full(populated):
    world, a, _ = populated
    ref, p = a[1]
    with world.open(CLERK_A) as ar:
        (top, *_) = ar.search(p["id_number"])
        assert top["archive_no"] == ref.archive_no
        assert top["name"] == p["name"] and top["id_number"] == p["id_number"]
        assert top["match"] == "exact" and "snippet" in top


def test_approver_covers_the_street(populated):
    world, a, b = populated
    with world.open(APPROVER) as ar:
        got = _ids(ar.search("scope:粤汉街道", limit=100))
    assert {r.archive_no for r, _ in a + b} <= got


def test_inspector_masked_and_exact_only(populated):
    world, a, b = populated
    ref, p = b[0]
    with world.open(INSPECTOR) as ar:
        rows = ar.search(p["id_number"])
        assert [r["archive_no"] for r in rows] == [ref.archive_no]
        r = rows[0]
        assert r["masked"] and "snippet" not in r
        assert r["id_number"] != p["id_number"] and r["id_number"].endswith(p["id_number"][-4:])
        assert p["name"] not in r["name"] and p["phone"] not in r["phone"]
        assert _ids(ar.search(p["name"])) == {ref.archive_no} | {x.archive_no for x, q in a + b
                                                                  if q["name"] == p["name"]}
        for q in (p["id_number"][:6] + "*", p["id_number"][-6:], p["phone"][-4:], p["name"][0] + "*"):
            assert ar.search(q) == [], q
        with pytest.raises(PermissionDenied):
            ar.search.rebuild()


def test_every_search_is_audited(populated, monkeypatch):
    world, a, _ = populated
    with world.open(CLERK_A) as ar:
        calls = []
        ar.audit_log = lambda action, **d: calls.append((action, d))
        ar.search(a[0][1]["name"])
        ar.search("无此人")
    assert [c[0] for c in calls] == ["search", "search"]
    assert calls[0][1]["query"] == a[0][1]["name"] and calls[0][1]["count"] >= 1
    assert calls[1][1]["count"] == 0


def test_updates_are_indexed_in_the_same_operation(populated):
    world, a, _ = populated
    ref, p = a[2]
    with world.open(CLERK_A) as ar:
        ar.persons.update(ref.archive_no, {"residence_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区梧桐巷77号"},
                          today=world.today)
        assert _ids(ar.search("梧桐巷77号")) == {ref.archive_no}
        ar.entries.add(ref.archive_no, "interview", {"date": "2025-05-02", "method": "敲门见人", "subject": "本人",
                                                     "content": "反映在冷链仓库找到夜班工作"}, today=world.today)
        (hit,) = ar.search("冷链仓库")
        assert "【冷链仓库】" in hit["snippet"]
        assert all(s["state"] == "ok" for s in ar.search.status())


CRASH = textwrap.dedent("""
    import sys, dossier
    with dossier.open_archive(sys.argv[1], user="li", password=sys.argv[2]) as ar:
        ar.persons.update(sys.argv[3], {"residence_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区银杏路5号"})
""")


def test_crash_between_commit_and_index_is_detected_and_repaired(populated):
    world, a, _ = populated
    ref, p = a[0]
    env = world.env(None, DOSSIER_CRASH_AT="after-commit")
    r = subprocess.run([sys.executable, "-c", CRASH, str(world.path), world.passwords[CLERK_A], ref.archive_no],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 137, r.stderr
    with world.open(CLERK_A) as ar:
        st = {s["kind"]: s for s in ar.search.status() if s["scope"] == world.scope_a}
        assert st["clerk"]["state"] == "stale" and st["clerk"]["archive_nos"] == [ref.archive_no]
        assert st["inspect"]["state"] == "stale"
        out = ar.search.search("银杏路")
        assert out["results"] == [] and out["warnings"]
        before = ar.search.search(p["name"])
        assert before["results"][0].get("stale") is True
        ar.search.rebuild()
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert _ids(ar.search("银杏路")) == {ref.archive_no}
        queries = [p["name"], p["name"][:2], "苗圃社区", "status:社区戒毒", p["phone"][-4:]]
        after_rebuild = [[(r["archive_no"], r["score"]) for r in ar.search(q, limit=50)] for q in queries]
        ar.search.rebuild()
        assert after_rebuild == [[(r["archive_no"], r["score"]) for r in ar.search(q, limit=50)] for q in queries]


def test_never_returns_a_person_missing_from_the_store(populated):
    world, a, _ = populated
    ref, p = a[3]
    with world.open(CLERK_A) as ar:
        assert _ids(ar.search(p["id_number"])) == {ref.archive_no}
        # the store loses the dossier behind the index's back (restore from an older backup, say)
        ar.con.execute("PRAGMA foreign_keys=OFF")
        ar.con.execute("DELETE FROM dossiers WHERE id=?", (ref.id,))
        assert ar.search(p["id_number"]) == []
        assert ref.archive_no not in _ids(ar.search("scope:苗圃社区", limit=100))
        assert any(s["extra"] for s in ar.search.status())


def test_missing_index_is_rebuilt_on_next_commit(populated):
    import shutil

    world, a, _ = populated
    with world.open(CLERK_A) as ar:
        if ar.search.in_database:          # PostgreSQL: the blind-token tables
            for sid in ar.scopes.covered():
                for kind in ar.search._kinds_held(sid):
                    ar.search.index(sid, kind).drop()
        else:
            shutil.rmtree(world.path / "index")
        out = ar.search.search(a[0][1]["name"])
        assert out["results"] == [] and out["warnings"]
    ref, p = world.add_person()
    with world.open(CLERK_A) as ar:
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert ref.archive_no in _ids(ar.search(p["name"]))
        assert a[0][0].archive_no in _ids(ar.search(a[0][1]["name"]))


def test_address_with_chinese_ellipsis_is_stored_as_typed_and_found(world):
    ref, _ = world.add_person(residence_address="珠晖区幸福路１２号……后门")
    with world.open(CLERK_A) as ar:
        assert ar.dossiers.show(ref.archive_no).profile["residence_address"] == "珠晖区幸福路12号……后门"
        for q in ("幸福路12号……后门", "幸福路１２号……后门", "幸福路12号......后门", "幸福路"):
            assert ref.archive_no in _ids(ar.search(q, limit=100)), q


def test_entry_codes_are_not_indexed_as_text():
    """A status entry's axis code (``measure`` / ``presence``) is bookkeeping, not text about the
    person: it must not show in a snippet (it did: "…演示历史数据；measure；…")."""
    from datetime import date

    from dossier.index.documents import clerk_doc

    state = {"profile": {"name": "邱晓静", "id_number": "430405199001011233"},
             "entries": [{"type": "status", "axis": "measure", "status": "社区康复", "start": "2024-02-01",
                          "date": "2024-02-01", "decision_doc": "珠公（禁）决字〔2024〕1号"},
                         {"type": "status", "axis": "presence", "status": "在册", "date": "2024-02-01"}]}
    doc = clerk_doc("d1", "A-0001", "珠晖区/粤汉街道/苗圃社区", 1, state, date(2024, 6, 1))
    body = " ".join(str(v) for v in doc.values())
    assert "社区康复" in body
    assert "measure" not in body and "presence" not in body
