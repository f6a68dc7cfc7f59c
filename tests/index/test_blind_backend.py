"""The blind-token backend (``index.blind_backend``) on a PostgreSQL server the tests start
(``pg_cluster``, on both lanes): the same persons as Whoosh for the recall and query tables,
nothing readable in its tables, updates that no slower or concurrent writer can undo."""

from __future__ import annotations

import random
import threading
from datetime import date

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier.crypto.aead import new_key
from dossier.errors import IntegrityError
from dossier.index.blind_backend import BlindIndex, date_buckets, date_cover
from dossier.index.documents import clerk_doc, inspect_doc
from dossier.index.normalize import norm_name
from dossier.index.query import parse
from dossier.index.whoosh_backend import WhooshIndex

from index_corpus import SCOPE, TODAY, make_states

N = 300


@pytest.fixture(scope="module")
def pair(tmp_path_factory, pg_cluster):
    """The same 300 synthetic persons in Whoosh and in blind-token indexes (clerk, inspect)."""
    persons = make_states(N, seed=12)
    fk, bk = new_key(), new_key()
    root = tmp_path_factory.mktemp("pair")
    url = pg_cluster.new_database("blind")
    con = psycopg.connect(url, autocommit=True)
    w = {"clerk": WhooshIndex(root / "clerk", "clerk", fk, ("a", "1", "k1"), durable=False),
         "inspect": WhooshIndex(root / "inspect", "inspect", fk, ("a", "1", "k1"), blind_key=bk, durable=False)}
    b = {"clerk": BlindIndex(con, "clerk", fk, ("a", "1", "k1"), 1, 1),
         "inspect": BlindIndex(con, "inspect", fk, ("a", "1", "k1"), 1, 1, blind_key=bk)}
    for ix in (w["clerk"], b["clerk"]):
        ix.rebuild([clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY) for p in persons])
    for ix in (w["inspect"], b["inspect"]):
        ix.rebuild([inspect_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY, bk) for p in persons])
    yield persons, w, b, url
    con.close()


def _queries(persons) -> list[str]:
    qs = set()
    for p in persons[:60]:
        prof = p["profile"]
        name = norm_name(prof["name"])
        qs.update({name, name[:2], name[-2:], prof["id_number"][-6:], prof["id_number"][-4:], prof["phone"][-4:],
                   prof["id_number"], prof["phone"], f"name:{name}", f"{name[:1]} status:社区康复"})
        addr = prof["residence_address"]
        qs.update({addr[-6:], f'"{addr[3:9]}"', addr[:4] + " risk:高"})
        for e in p["entries"][:2]:
            text = next((v for v in e.values() if isinstance(v, str) and len(v) > 8), None)
            if text:
                qs.add(text[2:6])
    qs.update({"苗圃社区", "scope:苗圃社区", "status:社区康复", "risk:高", "risk:中 status:社区戒毒",
               "date:2024-01-01..2024-06-30", "date:..2023-12-31", "date:2025", "label:戒断三年未复吸",
               "张 date:2024", "no:430405004-JD·2025-Y-012-0007", "王五六七八", "幸福路12号",
               "scope:粤汉街道/苗圃社区 scope:东风社区", "status:社区康复 scope:东风社区 scope:珠晖区/粤汉街道"})
    return sorted(qs)


def _view(hits):
    return sorted((h.id, h.tier, h.version) for h in hits)


def test_clerk_results_equal_whoosh(pair):
    persons, w, b, _ = pair
    for q in _queries(persons):
        pq = parse(q)
        assert _view(b["clerk"].search(pq, N)) == _view(w["clerk"].search(pq, N)), q


def test_ranking_matches_whoosh_by_tier_and_limit(pair):
    persons, w, b, _ = pair
    for p in persons[:40]:
        name = norm_name(p["profile"]["name"])
        for q in (name, name[:2]):
            got, want = b["clerk"].search(parse(q), 5), w["clerk"].search(parse(q), 5)
            assert [h.tier for h in got] == [h.tier for h in want], q
            exact = {h.id for h in want if h.tier == 0}
            assert {h.id for h in got if h.tier == 0} == exact, q
    # filters only: the first by 档号, as Whoosh gives them
    for q in ("scope:苗圃社区", "status:社区康复", "date:2024"):
        assert [h.id for h in b["clerk"].search(parse(q), 7)] == [h.id for h in w["clerk"].search(parse(q), 7)]


def test_snippets_and_stored_values_equal_whoosh(pair):
    persons, w, b, _ = pair
    for q in _queries(persons)[:80]:
        got = {h.id: (h.snippet, h.data, h.archive_no, h.scope) for h in b["clerk"].search(parse(q), N)}
        want = {h.id: (h.snippet, h.data, h.archive_no, h.scope) for h in w["clerk"].search(parse(q), N)}
        assert got == want, q


def test_inspection_index_exact_only_and_masked(pair):
    persons, w, b, url = pair
    for p in persons[:30]:
        prof = p["profile"]
        name = norm_name(prof["name"])
        for q in (name, prof["id_number"], f"id:{prof['id_number']}", p["archive_no"]):
            got = b["inspect"].search(parse(q), 20)
            assert _view(got) == _view(w["inspect"].search(parse(q), 20)), q
            assert p["id"] in {h.id for h in got}
            for h in got:
                assert prof["name"] not in repr(h.data) and prof["id_number"] not in repr(h.data)
        for q in (name[:2], name[1:], name + "*", prof["id_number"][-6:], prof["phone"], prof["phone"][-4:],
                  prof["residence_address"][:6]):
            if norm_name(q) == name:
                continue
            assert b["inspect"].search(parse(q), 20) == [], q
    # the inspection tables hold exactly the Whoosh inspection index's terms: per document the
    # blind name and ID, the 档号, scope parts, status, risk, labels and date buckets — no fragment
    con = psycopg.connect(url, autocommit=True)
    try:
        ix = con.execute("SELECT ix FROM search_indexes WHERE kind='inspect'").fetchone()[0]
        p = persons[0]
        doc = inspect_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY, b["inspect"]._blind_key)
        expect = (len(doc["name_blind"]) + len(doc["id_blind"]) + 1 + len(doc["scope_terms"]) + len(doc["status"])
                  + len(doc["risk"]) + len(doc["labels"]) + len({x for d in doc["dates"] for x in date_buckets(d)}))
        n = con.execute("SELECT count(*) FROM search_terms t JOIN search_docs d ON d.doc=t.doc"
                        " WHERE d.ix=%s AND d.dossier=%s", (ix, p["id"])).fetchone()[0]
        assert n == expect
        frag = b["inspect"].token("name", norm_name(p["profile"]["name"])[:2])
        assert con.execute("SELECT count(*) FROM search_terms WHERE ix=%s AND token=%s", (ix, frag)).fetchone()[0] == 0
    finally:
        con.close()


def _encodings(s: str) -> list[bytes]:
    return [s.encode("utf-8"), s.encode("gb18030"), s.encode("utf-16-le"), s.encode("utf-16-be")]


def test_tables_hold_no_plaintext(pair):
    persons, _, _, url = pair
    con = psycopg.connect(url, autocommit=True)
    try:
        blob = b"".join(bytes(r[0]) for r in con.execute(
            "SELECT convert_to(d::text, 'UTF8') FROM search_docs d"))
        blob += b"".join(bytes(r[0]) for r in con.execute(
            "SELECT convert_to(t::text, 'UTF8') FROM search_terms t"))
        blob += b"".join(bytes(r[0]) + bytes(r[1]) for r in con.execute("SELECT sealed, tokens FROM search_docs"))
    finally:
        con.close()
    needles = []
    for p in persons[:100]:
        prof = p["profile"]
        needles += [prof["name"], prof["id_number"], prof["phone"], prof["residence_address"][:8],
                    prof["id_number"][-6:] + prof["phone"][-4:]]
    hits = [n for n in needles for b in _encodings(n) if len(b) >= 6 and b in blob]
    assert hits == []
    assert b"430405004-JD" in blob          # the 档号 (not personal, in dossiers too): sanity of the grep


def test_sealed_documents_are_padded_and_bound_to_their_row(pair):
    persons, _, b, url = pair
    con = psycopg.connect(url, autocommit=True)
    try:
        ix = b["clerk"]._ix()
        rows = con.execute("SELECT dossier, length(sealed), sealed FROM search_docs WHERE ix=%s ORDER BY dossier"
                           " LIMIT 2", (ix,)).fetchall()
        overhead = 2 + 12 + 16
        assert all((n - overhead) % 256 == 0 for _, n, _ in rows)
        (d1, _, s1), (d2, _, s2) = rows
        con.execute("UPDATE search_docs SET sealed=%s WHERE ix=%s AND dossier=%s", (s2, ix, d1))
        try:
            p = next(p for p in persons if p["id"] == d1)
            with pytest.raises(IntegrityError):
                b["clerk"].search(parse(norm_name(p["profile"]["name"])), 5)
        finally:
            con.execute("UPDATE search_docs SET sealed=%s WHERE ix=%s AND dossier=%s", (s1, ix, d1))
    finally:
        con.close()


@pytest.fixture
def blind(pg_url):
    con = psycopg.connect(pg_url, autocommit=True)
    fk = new_key()
    ix = BlindIndex(con, "clerk", fk, ("a", "7", "k1"), 7, 1)
    yield ix, pg_url, fk
    con.close()


def _doc(i: int, version: int, name: str):
    prof = {"name": name, "id_number": f"43040519900101{i:03d}X"[:18], "phone": f"1380000{i:04d}",
            "residence_address": f"幸福路{i}号"}
    return clerk_doc(f"D{i:03d}", f"AN-{i:03d}", SCOPE, version, {"profile": prof, "entries": []}, TODAY)


def test_upsert_delete_rebuild_status(blind):
    ix, url, _ = blind
    assert not ix.exists() and ix.indexed_versions() == {} and ix.fingerprint() is None
    ix.rebuild([_doc(1, 1, "赵一"), _doc(2, 1, "钱二")])
    assert ix.exists() and ix.indexed_versions() == {"D001": 1, "D002": 1} and ix.fingerprint() == (2, 2)
    ix.upsert([_doc(2, 3, "孙三"), _doc(3, 1, "李四")])
    assert ix.indexed_versions() == {"D001": 1, "D002": 3, "D003": 1}
    assert [h.id for h in ix.search(parse("孙三"), 5)] == ["D002"]
    assert ix.search(parse("钱二"), 5) == []                 # the old tokens went with the old version
    ix.delete(["D001"])
    assert ix.search(parse("赵一"), 5) == [] and ix.doc_count() == 2
    con = psycopg.connect(url, autocommit=True)
    try:
        old = ix._ix()
        ix.rebuild([_doc(5, 1, "周五")])
        assert ix._ix() != old
        # the old index's rows are gone, only the new one's remain
        assert con.execute("SELECT count(*) FROM search_docs WHERE ix=%s", (old,)).fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM search_terms WHERE ix=%s", (old,)).fetchone()[0] == 0
        assert con.execute("SELECT count(DISTINCT ix) FROM search_terms").fetchone()[0] == 1
    finally:
        con.close()
    assert ix.indexed_versions() == {"D005": 1}


def test_a_slower_writer_never_undoes_a_later_version(blind):
    ix, _, _ = blind
    ix.rebuild([])
    ix.upsert([_doc(1, 5, "吴六")])
    ix.upsert([_doc(1, 4, "郑七")])          # a writer that committed v4 but indexes after v5's writer
    assert ix.indexed_versions() == {"D001": 5}
    assert [h.id for h in ix.search(parse("吴六"), 5)] == ["D001"] and ix.search(parse("郑七"), 5) == []


def test_concurrent_writers_lose_nothing(blind):
    """Eight writers (own connections, as several app servers) update the same and different
    documents at once: every document ends at its highest version, with that version's tokens."""
    ix, url, fk = blind
    ix.rebuild([])
    errors = []

    def writer(k: int):
        con = psycopg.connect(url, autocommit=True)
        mine = BlindIndex(con, "clerk", fk, ("a", "7", "k1"), 7, 1)
        rng = random.Random(k)
        try:
            for v in range(1, 16):
                docs = [_doc(100 + k, v, f"甲{k}乙{v}"), _doc(rng.randrange(5), rng.randrange(1, 40), "共用")]
                mine.upsert(docs)
        except Exception as e:       # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            con.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    have = ix.indexed_versions()
    for k in range(8):
        assert have[f"D{100 + k:03d}"] == 15
        assert [h.id for h in ix.search(parse(f"甲{k}乙15"), 5)] == [f"D{100 + k:03d}"]
        assert ix.search(parse(f"甲{k}乙14"), 5) == []
    assert ix.doc_count() == len(have)


@settings(max_examples=200, deadline=None)
@given(a=st.dates(date(1990, 1, 1), date(2030, 12, 31)), b=st.dates(date(1990, 1, 1), date(2030, 12, 31)),
       d=st.dates(date(1985, 1, 1), date(2035, 12, 31)), open_end=st.sampled_from(["", "lo", "hi"]))
def test_date_cover_is_exact(a, b, d, open_end):
    lo, hi = sorted((int(a.strftime("%Y%m%d")), int(b.strftime("%Y%m%d"))))
    if open_end == "lo":
        lo = 0
    elif open_end == "hi":
        hi = 99991231
    day = int(d.strftime("%Y%m%d"))
    cover = set(date_cover(lo, hi))
    assert bool(cover & set(date_buckets(day))) == (lo <= day <= hi)
    assert len(cover) <= 250


# -- on an archive whose store is PostgreSQL (pg_world: on both lanes) -----------------------------

def _ids(rows):
    return {r["archive_no"] for r in rows}


def test_an_archive_on_postgresql_searches_blind_tokens_not_files(pg_world):
    w = pg_world
    people = [w.add_person(entries=2) for _ in range(3)] + [w.add_person(scope=w.scope_b, entries=1)]
    with w.open("li") as ar:
        assert ar.search.in_database
        assert not (w.path / "index").exists()        # no Whoosh files beside a PostgreSQL archive
        for ref, p in people[:3]:
            assert ref.archive_no in _ids(ar.search(p["name"]))
            assert ref.archive_no in _ids(ar.search(p["id_number"][-6:]))
        assert people[3][0].archive_no not in _ids(ar.search(people[3][1]["name"]))   # another scope
        assert all(s["state"] == "ok" for s in ar.search.status())
    with w.open("qian") as ar:                       # the inspector: exact values, masked results
        ref, p = people[0]
        got = ar.search(p["name"])
        assert _ids(got) == {ref.archive_no} and got[0]["masked"] and got[0]["name"] != p["name"]
        assert ar.search(norm_name(p["name"])[:2]) == [] and ar.search(p["id_number"][-6:]) == []


def test_index_status_and_rebuild_commands_on_postgresql(pg_world, run_dossier):
    import json

    w = pg_world
    ref, p = w.add_person(entries=1)
    env = w.env("li")
    r = run_dossier(["index", "status", "--json"], env=env)
    assert r.code == 0 and {s["state"] for s in json.loads(r.stdout)} == {"ok"}
    con = w.store()
    try:       # the index loses its rows behind the application's back (a restore of an older dump)
        con.execute("DELETE FROM search_docs")
        con.execute("DELETE FROM search_terms")
    finally:
        con.close()
    r = run_dossier(["index", "status", "--json"], env=env)
    assert r.code == 1 and ref.id in {i for s in json.loads(r.stdout) for i in s["missing"]}
    r = run_dossier(["index", "rebuild", "--json"], env=env)
    assert r.code == 0, r.stderr
    assert run_dossier(["index", "status"], env=env).code == 0
    r = run_dossier(["search", p["name"], "--json"], env=env)
    assert r.code == 0 and ref.archive_no in r.stdout


def test_a_large_batch_on_postgresql_indexes_every_person(pg_world, monkeypatch):
    from dossier import synth
    from dossier.index import parallel

    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "2")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_DOCS", 20)     # the large-batch paths, at test size
    w = pg_world
    rng = random.Random(3)
    with w.open("admin") as ar:
        people = []
        with ar.batch(size_hint=60):
            for i in range(60):
                p = synth.person(rng, today=w.today)
                ref = ar.persons.add(w.scope_a if i % 2 else w.scope_b, p, today=w.today)
                people.append((ref, p))
        assert not ar.search.errors
        assert all(s["state"] == "ok" for s in ar.search.status())
        for ref, p in people[::7]:
            assert ref.archive_no in _ids(ar.search(p["name"])), p["name"]
        # a second large batch changes them all (the update path, in bulk)
        with ar.batch(size_hint=60):
            for ref, p in people:
                ar.persons.update(ref.archive_no, {"employer": "冷链物流公司"}, today=w.today)
        assert _ids(ar.search("冷链物流公司", limit=100)) == {ref.archive_no for ref, _ in people}
        assert all(s["state"] == "ok" for s in ar.search.status())
        out = ar.search.rebuild()
        assert sum(r["documents"] for r in out if r["kind"] == "clerk") == 60


def test_a_tampered_index_row_is_refused_and_rebuild_repairs(pg_world):
    w = pg_world
    (ref, p), (ref2, p2) = w.add_person(), w.add_person()
    con = w.store()
    try:
        ix = con.execute("SELECT ix FROM search_indexes WHERE kind='clerk'").fetchone()[0]
        mine = con.execute("SELECT ix, dossier, sealed FROM search_docs WHERE ix=? ORDER BY dossier",
                           (ix,)).fetchall()
        con.execute("UPDATE search_docs SET sealed=? WHERE ix=? AND dossier=?", (mine[1][2], ix, mine[0][1]))
    finally:
        con.close()
    with w.open("admin") as ar:
        out = ar.search.search("scope:苗圃社区")
        assert any("损坏" in x for x in out["warnings"])
        ar.search.rebuild()
        out = ar.search.search("scope:苗圃社区")
        assert not out["warnings"] and _ids(out["results"]) == {ref.archive_no, ref2.archive_no}


def _doc_terms_over_joined_fields(kind: str, doc: dict) -> set:
    """``doc_terms`` as it was before it analysed value by value: over each field's values
    joined by line breaks (what the Whoosh analyzers see)."""
    from dossier.index.analysis import bigram_tokens, words
    from dossier.index.blind_backend import doc_terms

    out = {t for t in doc_terms(kind, {**doc, "addr": [], "text": []})}
    for f in ("addr", "text"):
        out.update((f, t[0]) for t in bigram_tokens("\n".join(doc.get(f, []) or [])))
    out.update(("words", w) for w in words("\n".join([*(doc.get("addr") or []), *(doc.get("text") or [])])))
    return out


TRICKY_TEXTS = ["ΟΔΟΣ\nΣΟΦΟΣ 12号", "Ａ１２３ｂ幸福路", "e\u0301te\u0301 家访", "多行\n文字\n\n末尾ΑΣ", "  ", "单",
                "家属配合，情况稳定；继续帮扶", "AB12-CD 34 号楼"]


@pytest.mark.parametrize("seed", range(3))
def test_doc_terms_value_by_value_equal_the_joined_fields(seed):
    from dossier.index.blind_backend import doc_terms

    rng = random.Random(seed)
    for p in make_states(40, seed=100 + seed):
        doc = clerk_doc(p["id"], p["archive_no"], SCOPE, 1, p, TODAY)
        doc["text"] = doc["text"] + rng.sample(TRICKY_TEXTS, 3)
        doc["addr"] = doc["addr"] + rng.sample(TRICKY_TEXTS, 2)
        assert doc_terms("clerk", doc) == _doc_terms_over_joined_fields("clerk", doc)
