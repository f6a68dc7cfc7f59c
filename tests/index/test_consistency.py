"""Index consistency under the fast write path: the batched commit hook,
reused segment readers, unscored filter queries, and index files written
without fsync (a torn or lost write after power loss is detected, never
trusted, and repaired by a rebuild)."""

from __future__ import annotations

import shutil

import pytest

from dossier.crypto.aead import new_key
from dossier.index.documents import clerk_doc
from dossier.index.query import parse
from dossier.index.whoosh_backend import MERGE_AT, WhooshIndex

from index_corpus import SCOPE, TODAY, make_states

CLERK_A = "li"


def _ids(rows):
    return {r["archive_no"] for r in rows}


# -- backend: the incremental searcher equals a freshly opened one -------------------------

def _view(ix, q):
    return [(h.id, round(h.score, 6), h.version) for h in ix.search(parse(q), 40)]


def test_reused_readers_equal_a_fresh_open(tmp_path):
    persons = make_states(60, seed=21)
    key = new_key()
    ix = WhooshIndex(tmp_path / "clerk", "clerk", key, ("a", "1", "k1"))
    ix.rebuild([clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons[:40]])
    queries = ["社区", persons[3]["profile"]["name"], persons[5]["profile"]["phone"][-4:], "status:社区戒毒",
               "risk:低", "冰毒 risk:低", "date:2024-01-01..2025-12-31"]
    # enough single-person commits to pass the merge threshold, updates and deletions mixed in
    for k in range(MERGE_AT + 4):
        p = persons[40 + k] if k < 20 else persons[k]
        ix.upsert([clerk_doc(p["id"], p["archive_no"], SCOPE, 2 + k, p, TODAY)])
        if k % 5 == 4:
            ix.delete([persons[k]["id"]])
        fresh = WhooshIndex(tmp_path / "clerk", "clerk", key, ("a", "1", "k1"))
        for q in queries:
            assert _view(ix, q) == _view(fresh, q), (k, q)
        assert ix.fingerprint() == fresh.fingerprint()
        assert ix.indexed_versions() == fresh.indexed_versions()


def test_filter_only_queries_give_the_first_by_archive_no(tmp_path):
    persons = make_states(80, seed=22)
    ix = WhooshIndex(tmp_path / "clerk", "clerk", new_key(), ("a",))
    docs = [clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons]
    ix.rebuild(docs[::-1][:60])
    ix.upsert(docs[::-1][60:])            # later archive numbers first, earlier ones in a second segment
    everyone = ix.search(parse("scope:苗圃社区"), 1000)
    assert len(everyone) == 80 and all(h.score == 0 for h in everyone)
    first = ix.search(parse("scope:苗圃社区"), 7)
    assert [h.archive_no for h in first] == sorted(p["archive_no"] for p in persons)[:7]
    for q in ("status:社区戒毒", "risk:低", "risk:中 date:2020-01-01..2025-12-31"):
        full = [h.archive_no for h in ix.search(parse(q), 1000)]
        assert full == sorted(full)
        assert [h.archive_no for h in ix.search(parse(q), 5)] == full[:5]


# -- archive: the batched hook ----------------------------------------------------------------

def test_index_hook_is_batched_one_commit_per_scope_and_kind(world, monkeypatch):
    a = [world.add_person(entries=1) for _ in range(2)]
    b = world.add_person(scope=world.scope_b)
    writes = []
    with world.open("admin") as ar:
        svc = ar.search
        W = type(svc.index(ar.scopes.id_of(world.scope_a), "clerk"))     # the backend of this store
        commits = []
        if svc.in_database:     # PostgreSQL: a scope's clerk and inspection index in one transaction
            from dossier.index import blind_backend

            real_many = blind_backend.upsert_many

            def many(work):
                work = [(ix, list(docs)) for ix, docs in work]
                commits.append([ix.kind for ix, _ in work])
                writes.extend((id(ix), len(docs)) for ix, docs in work)
                return real_many(work)
            monkeypatch.setattr(blind_backend, "upsert_many", many)
        else:
            real = W.upsert
            monkeypatch.setattr(W, "upsert", lambda self, docs: (writes.append((id(self), len(docs))),
                                                                 real(self, docs))[1])
        assert svc.on_commit_batch in ar.on_commit_batch
        assert not any(getattr(h, "__self__", None) is svc for h in ar.on_commit)
        with ar.batch():
            for ref, _ in a:
                ar.persons.update(ref.archive_no, {"employer": "冷链物流公司"}, today=world.today)
                ar.persons.update(ref.archive_no, {"occupation": "夜班叉车工"}, today=world.today)
            ar.persons.update(b[0].archive_no, {"employer": "冷链物流公司"}, today=world.today)
        # two scopes × (clerk, inspect), one commit each, every dossier once
        assert sorted(n for _, n in writes) == [1, 1, 2, 2] and len({p for p, _ in writes}) == 4
        if svc.in_database:     # one commit per scope, clerk before inspection (the lock order)
            assert commits == [["clerk", "inspect"], ["clerk", "inspect"]]
        assert _ids(ar.search("冷链物流", limit=50)) == {ref.archive_no for ref, _ in a} | {b[0].archive_no}
        assert _ids(ar.search("夜班叉车工", limit=50)) == {ref.archive_no for ref, _ in a}
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert not svc.errors


# -- archive: torn and lost index files (no fsync on index writes) ----------------------------

def _clerk_dir(world, ar):
    sid = ar.scopes.id_of(world.scope_a)
    (d,) = [p for p in (world.path / "index" / str(sid)).iterdir() if p.name.startswith("clerk-")]
    return d


@pytest.mark.parametrize("damage", ["truncate", "empty", "garbage-toc"])
def test_torn_index_file_reports_corrupt_and_is_repaired(whoosh_world, damage):
    world = whoosh_world          # Whoosh files (embedded archive) on every lane
    a = [world.add_person(entries=1) for _ in range(3)]
    b = world.add_person(scope=world.scope_b)
    with world.open("admin") as ar:
        d = _clerk_dir(world, ar)
    if damage == "garbage-toc":
        victim = next(p for p in d.iterdir() if p.name.endswith(".toc.enc"))
        victim.write_bytes(b"\0" * victim.stat().st_size)
    else:
        victim = max((p for p in d.iterdir() if p.name.endswith(".seg.enc")), key=lambda p: p.stat().st_size)
        data = victim.read_bytes()
        victim.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    ref, p = a[0]
    with world.open("admin") as ar:
        st = {(s["scope"], s["kind"]): s for s in ar.search.status()}
        assert st[(world.scope_a, "clerk")]["state"] == "corrupt"
        assert "rebuild" in st[(world.scope_a, "clerk")]["error"]
        assert st[(world.scope_b, "clerk")]["state"] == "ok"
        # search does not crash and returns nobody from the damaged index, only a warning
        out = ar.search.search(p["name"])
        assert ref.archive_no not in _ids(out["results"]) and any("损坏" in w for w in out["warnings"])
        assert _ids(ar.search(b[1]["name"])) >= {b[0].archive_no}
        # the next commit in that scope rebuilds the index from the store
        ar.persons.update(ref.archive_no, {"employer": "砖厂"}, today=world.today)
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert _ids(ar.search(p["name"])) >= {ref.archive_no}
        assert _ids(ar.search("砖厂")) == {ref.archive_no}
        assert not ar.search.errors


def test_lost_index_write_is_stale_and_rebuild_repairs(whoosh_world):
    world = whoosh_world          # Whoosh files (embedded archive) on every lane
    a = [world.add_person(entries=1) for _ in range(3)]
    ref, p = a[1]
    with world.open("admin") as ar:
        d = _clerk_dir(world, ar)
    saved = d.with_name("saved")
    shutil.copytree(d, saved)
    with world.open("admin") as ar:
        ar.persons.update(ref.archive_no, {"residence_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区银杏路5号"},
                          today=world.today)
    # power loss: the index commit never reached the disk (the data commit did)
    shutil.rmtree(d)
    shutil.move(saved, d)
    with world.open("admin") as ar:
        st = {(s["scope"], s["kind"]): s for s in ar.search.status()}
        assert st[(world.scope_a, "clerk")]["state"] == "stale"
        assert st[(world.scope_a, "clerk")]["archive_nos"] == [ref.archive_no]
        out = ar.search.search(p["name"])
        assert out["warnings"] and out["results"][0].get("stale") is True
        ar.search.rebuild()
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert _ids(ar.search("银杏路")) == {ref.archive_no}


def test_tidy_merges_only_the_small_segments_and_changes_no_result(tmp_path):
    """``tidy`` (run by the index-writing helper of ``dossier serve`` when idle): the
    one-person segments of saves become one; the large segment stays; every query
    finds the same documents, and the fingerprint and versions are unchanged."""
    from dossier.index.whoosh_backend import TIDY_SMALL

    persons = make_states(TIDY_SMALL + 30, seed=23)
    key = new_key()
    ix = WhooshIndex(tmp_path / "clerk", "clerk", key, ("a", "1", "k1"))
    ix.rebuild([clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons[:TIDY_SMALL + 10]])
    for k in range(8):
        p = persons[TIDY_SMALL + 10 + k] if k % 2 else persons[k]       # new persons and updates
        ix.upsert([clerk_doc(p["id"], p["archive_no"], SCOPE, 2 + k, p, TODAY)])
    queries = ["社区", persons[3]["profile"]["name"], persons[TIDY_SMALL + 11]["profile"]["name"],
               persons[5]["profile"]["phone"][-4:], "status:社区戒毒", "冰毒 risk:低"]
    # the same documents match (BM25 scores move slightly, as after any merge: the purged
    # deleted documents leave the collection statistics)
    def found(view, q):
        return sorted((i, v) for i, _, v in _view(view, q))

    before = {q: found(ix, q) for q in queries}
    fp, versions = ix.fingerprint(), ix.indexed_versions()
    ix.refresh()
    sizes = sorted(s.doc_count_all() for s in ix._ix._segments())
    assert len(sizes) == 9 and sizes[-1] == TIDY_SMALL + 10
    assert ix.tidy() is True
    fresh = WhooshIndex(tmp_path / "clerk", "clerk", key, ("a", "1", "k1"))
    for view in (ix, fresh):
        fresh.refresh()
        assert sorted(s.doc_count_all() for s in fresh._ix._segments()) == [8, TIDY_SMALL + 10]
        assert {q: found(view, q) for q in queries} == before
        assert view.fingerprint() == fp and view.indexed_versions() == versions
    assert ix.tidy() is False              # one small segment left: nothing to merge
