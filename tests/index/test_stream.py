"""Indexes of new scopes built beside a large batch's writes (``index.stream``):
the same search results as a build after the commit, nothing left behind on a
rollback, and the usual path when a worker fails."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time

import pytest

from dossier import synth
from dossier.index import batches, parallel, stream

@pytest.fixture
def world(whoosh_world):
    """Whoosh's index workers are the subject: an embedded archive on every lane (an archive on
    PostgreSQL writes blind tokens in this process: tests/index/test_blind_backend.py)."""
    return whoosh_world


QUERIES_PER_PERSON = ("name", "id6", "phone4")


@pytest.fixture
def streaming(monkeypatch):
    """Streaming on for batches of 40+ with two workers; records each finish()."""
    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "2")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_DOCS", 40)
    monkeypatch.setattr(batches, "REBUILD_STREAM_MIN", 40)
    finished = []
    real = stream.IndexStream.finish

    def finish(self):
        got = real(self)
        finished.append((sorted(k for k, v in self.specs.items() if v), got[1]))
        return got

    monkeypatch.setattr(stream.IndexStream, "finish", finish)
    return finished


def _add_people(ar, world, n: int, *, seed: int = 5, update_every: int = 0) -> list[dict]:
    rng = random.Random(seed)
    people = []
    for i in range(n):
        p = synth.person(rng, today=world.today)
        scope = world.scope_a if i % 2 else world.scope_b
        ref = ar.persons.add(scope, p, today=world.today)
        if update_every and i % update_every == 0:       # a second change in the same batch
            p["phone"] = f"139{i:08d}"
            ar.persons.update(ref.id, {"phone": p["phone"]}, today=world.today)
        people.append({"archive_no": ref.archive_no, "id": ref.id, **p})
    return people


def _roster(tmp_path, world, *, seed: int, n: int = 45):
    """A CSV roster of ``n`` synthetic persons: (path, persons)."""
    import csv

    rng = random.Random(seed)
    rows = [synth.person(rng, today=world.today) for _ in range(n)]
    roster = tmp_path / f"名册{seed}.csv"
    with open(roster, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["姓名", "公民身份号码", "现住址", "联系电话"])
        for p in rows:
            w.writerow([p["name"], p["id_number"], p["residence_address"], p["phone"]])
    return roster, rows


def _serial_rebuild(ar) -> None:
    """The reference: a rebuild in one process, nothing streamed."""
    os.environ["DOSSIER_INDEX_WORKERS"] = "1"
    try:
        ar.search.rebuild()
    finally:
        os.environ["DOSSIER_INDEX_WORKERS"] = "2"


def _results(ar, people) -> dict:
    out = {}
    for p in people:
        for q in (p["name"], p["id_number"][-6:], p["phone"][-4:], "scope:苗圃社区"):
            out[q] = sorted(r["archive_no"] for r in ar.search(q, limit=200))
    return out


def _no_leftovers(world) -> None:
    root = world.path / "index"
    left = [p for p in root.rglob("*") if ".part-" in p.name or ".new-" in p.name] if root.exists() else []
    assert not left, left
    with pytest.raises(ChildProcessError):           # every worker reaped
        os.waitpid(-1, os.WNOHANG)


def test_streamed_indexes_equal_a_fresh_build(world, streaming):
    with world.open("admin") as ar:
        with ar.batch(size_hint=60):
            people = _add_people(ar, world, 60, update_every=7)
        # both 社区 were new: both streamed, no worker failed
        assert streaming[0][1] is None and len(streaming[0][0]) == 2
        status = ar.search.status()
        assert status and all(s["state"] == "ok" for s in status), status
        assert sum(s["indexed"] for s in status if s["kind"] == "clerk") == 60
        streamed = _results(ar, people)
        for p in people:                             # the last state of a person changed twice
            assert p["archive_no"] in streamed[p["phone"][-4:]]
        for s in ar.search.status():                 # no document left behind by the earlier state
            ix = ar.search.index(ar.scopes.id_of(s["scope"]), s["kind"])
            assert ix.searcher().reader().doc_count_all() == ix.doc_count() == s["indexed"]
        _serial_rebuild(ar)
        assert _results(ar, people) == streamed
    _no_leftovers(world)
    with world.open("li") as ar:                     # the clerk of 社区 A sees exactly its half
        mine = {r["archive_no"] for r in ar.search("scope:苗圃社区", limit=100)}
        assert mine == {p["archive_no"] for p in people[1::2]}
    with world.open("qian") as ar:              # the inspection index: exact name, masked
        p = people[3]
        hits = ar.search(p["name"], limit=50)
        assert p["archive_no"] in [h["archive_no"] for h in hits]
        assert all(h["name"] != p["name"] for h in hits if len(p["name"]) > 1)


def test_a_batch_into_scopes_with_indexes_adds_segments_to_them(world, streaming, monkeypatch):
    """Both 社区 have dossiers and indexes: the batch's documents come as segments added
    in one commit, and the earlier documents of the dossiers it changed are gone."""
    from dossier.index.whoosh_backend import WhooshIndex

    calls = []
    for name in ("add_segments", "upsert"):
        real = getattr(WhooshIndex, name)
        monkeypatch.setattr(WhooshIndex, name, lambda self, *a, real=real, name=name: calls.append(name)
                            or real(self, *a))
    with world.open("admin") as ar:
        first = _add_people(ar, world, 4, seed=1)
        old_phones = {p["archive_no"]: p["phone"] for p in first}
        calls.clear()
        with ar.batch(size_hint=60):
            people = _add_people(ar, world, 60, seed=2)
            for i, p in enumerate(first):             # existing persons changed in the same batch
                p["phone"] = f"137{i:08d}"
                ar.persons.update(p["id"], {"phone": p["phone"]}, today=world.today)
        assert streaming and streaming[0][1] is None and len(streaming[0][0]) == 2
        assert sorted(calls) == ["add_segments"] * 4          # 2 社区 × 2 kinds, nothing by the usual path
        status = ar.search.status()
        assert all(s["state"] == "ok" for s in status), status
        assert sum(s["indexed"] for s in status if s["kind"] == "clerk") == 64
        everyone = first + people
        got = _results(ar, everyone)
        for p in first:
            assert p["archive_no"] in got[p["phone"][-4:]]
            assert p["archive_no"] not in {r["archive_no"] for r in ar.search(old_phones[p["archive_no"]])}
        _serial_rebuild(ar)
        assert _results(ar, everyone) == got


def test_a_rollback_leaves_no_index_and_no_worker(world, streaming):
    with world.open("admin") as ar:
        with pytest.raises(RuntimeError):
            with ar.batch(size_hint=60):
                _add_people(ar, world, 50)
                raise RuntimeError("中途出错")
        assert ar.con.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 0
        assert not (world.path / "index").exists() or not any((world.path / "index").rglob("*.enc"))
        _no_leftovers(world)
        # the archive and its index work as before afterwards
        people = _add_people(ar, world, 3, seed=9)
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert people[0]["archive_no"] in [r["archive_no"] for r in ar.search(people[0]["name"])]


def test_a_failing_worker_leaves_the_indexes_to_the_usual_path(world, streaming, monkeypatch):
    def broken(inp, out, k, parent_pid, today):
        if k == 1:
            os._exit(3)                                   # one worker dies at once
        return real(inp, out, k, parent_pid, today)

    real = stream._worker
    monkeypatch.setattr(stream, "_worker", broken)
    with world.open("admin") as ar:
        with ar.batch(size_hint=60):
            people = _add_people(ar, world, 60)
        assert streaming and streaming[0][1] is not None   # the stream failed …
        status = ar.search.status()                        # … and the indexes were built after the commit
        assert status and all(s["state"] == "ok" for s in status), status
        got = _results(ar, people)
        assert all(p["archive_no"] in got[p["name"]] for p in people)
    _no_leftovers(world)


def test_an_import_builds_the_new_scope_index_while_writing(world, streaming, tmp_path):
    from dossier.io.importer import import_file

    roster, rows = _roster(tmp_path, world, seed=11)
    with world.open("admin") as ar:
        res = import_file(ar, roster, scope=world.scope_a, today=world.today)
        assert res.applied and res.counts()["added"] == 45, res.summary()
        assert streaming and streaming[0][1] is None
        assert all(s["state"] == "ok" for s in ar.search.status())
        for p in rows[:10]:
            assert p["name"] in [r["name"] for r in ar.search(p["id_number"][-6:])]
    _no_leftovers(world)


CRASH = textwrap.dedent("""
    import random, sys, datetime, dossier
    from dossier import synth
    from dossier.index import parallel
    parallel.PARALLEL_MIN_DOCS = 40
    rng = random.Random(3)
    with dossier.open_archive(sys.argv[1], user="admin", password=sys.argv[2]) as ar, ar.batch(size_hint=50):
        for i in range(50):
            ar.persons.add(sys.argv[3], synth.person(rng, today=datetime.date(2025, 6, 1)))
        print("streaming", ar.search._stream.streaming, flush=True)
""")


def test_a_crash_after_the_commit_leaves_no_share_behind_and_rebuild_repairs(world):
    env = world.env(None, DOSSIER_CRASH_AT="after-commit", DOSSIER_INDEX_WORKERS="2")
    r = subprocess.run([sys.executable, "-c", CRASH, str(world.path), world.passwords["admin"], world.scope_a],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 137, r.stderr
    assert "streaming True" in r.stdout          # the workers were running when the writer died
    root = world.path / "index"
    deadline = time.monotonic() + 20        # the orphaned workers see EOF, cancel and leave
    while time.monotonic() < deadline and any(".part-" in p.name for p in root.rglob("*")):
        time.sleep(0.1)
    assert not any(".part-" in p.name for p in root.rglob("*"))
    with world.open("admin") as ar:
        assert ar.con.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 50
        assert not all(s["state"] == "ok" for s in ar.search.status())     # the index is known to be behind
        ar.search.rebuild()
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert len(ar.search("scope:苗圃社区", limit=100)) == 50


def test_a_rebuild_in_workers_gives_what_a_serial_rebuild_gives(world, streaming, monkeypatch):
    with world.open("admin") as ar:
        people = _add_people(ar, world, 60)
        for p in people[:5]:
            ar.entries.add(p["id"], "interview", {"date": "2025-05-02", "method": "敲门见人", "subject": "本人",
                                                  "content": f"反映在冷链仓库第{p['archive_no'][-2:]}班组工作"},
                           today=world.today)
        queries = [p["name"] for p in people[:20]] + [people[0]["name"][:2], "冷链仓库", "苗圃社区",
                                                        "status:社区戒毒", people[1]["phone"][-4:]]

        def results():
            return [sorted((r["archive_no"], round(r["score"], 6)) for r in ar.search(q, limit=100))
                    for q in queries]

        monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "1")
        serial = ar.search.rebuild()
        want = results()
        monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "2")
        streaming.clear()
        parallel_ = ar.search.rebuild()
        assert streaming and streaming[0][1] is None          # built by the workers
        assert sorted(map(str, parallel_)) == sorted(map(str, serial))
        assert results() == want
        assert all(s["state"] == "ok" for s in ar.search.status())
    _no_leftovers(world)


def test_workers_started_ahead_of_an_import_are_taken_over_or_released(world, streaming, tmp_path, monkeypatch):
    """A large file: the workers start before its rows are read (and load jieba on the
    side); the import's batch takes them over. When no batch follows (every row
    invalid) they are released."""
    from dossier.io import importer

    forks = []
    real_fork = stream.IndexStream._fork
    monkeypatch.setattr(stream.IndexStream, "_fork", lambda self: forks.append(self._preload) or real_fork(self))
    roster, _ = _roster(tmp_path, world, seed=12)
    monkeypatch.setattr(importer, "estimated_rows", lambda path: 45)
    with world.open("admin") as ar:
        res = importer.import_file(ar, roster, scope=world.scope_a, today=world.today)
        assert res.applied and res.counts()["added"] == 45
        assert forks == [True]                      # started ahead, once, and used by the batch
        assert streaming and streaming[0][1] is None
        assert all(s["state"] == "ok" for s in ar.search.status())
        assert ar.search._prepared is None and ar.search._stream is None
        _no_leftovers(world)
        bad = tmp_path / "坏名册.csv"
        bad.write_text("姓名,公民身份号码\n" + "".join(f"某人{i},12345\n" for i in range(45)), encoding="utf-8")
        res = importer.import_file(ar, bad, scope=world.scope_b, today=world.today)
        assert not res.applied
        assert forks == [True, True] and ar.search._prepared is None
        _no_leftovers(world)


def test_the_estimate_of_rows_from_the_file_size(tmp_path):
    from dossier.io.importer import estimated_rows

    big = tmp_path / "a.xlsx"
    big.write_bytes(b"x" * 905_000)
    assert 9_000 <= estimated_rows(big) <= 11_000
    assert estimated_rows(tmp_path / "missing.csv") == 0


def test_persons_with_entries_in_one_batch_are_indexed_once_in_their_last_state(world, streaming, monkeypatch):
    from dossier.index.whoosh_backend import WhooshIndex

    upserts = []
    real = WhooshIndex.upsert
    monkeypatch.setattr(WhooshIndex, "upsert", lambda self, docs: upserts.append(len(list(docs))) or real(self, docs))
    with world.open("admin") as ar:
        with ar.batch(size_hint=100):
            people = _add_people(ar, world, 50)
            for p in people:                          # a roster with an interview sheet: created, then an entry
                ar.entries.add(p["id"], "interview", {"date": "2025-05-02", "method": "敲门见人", "subject": "本人",
                                                      "content": f"谈话记录冷链仓库{p['archive_no'][-3:]}"},
                               today=world.today)
        assert streaming and streaming[0][1] is None
        assert upserts == []                           # nothing indexed again after the swap
        for s in ar.search.status():
            assert s["state"] == "ok", s
            ix = ar.search.index(ar.scopes.id_of(s["scope"]), s["kind"])
            assert ix.searcher().reader().doc_count_all() == s["indexed"] == 25
        got = {r["archive_no"] for r in ar.search("冷链仓库", limit=100)}
        assert got == {p["archive_no"] for p in people}
    _no_leftovers(world)


@pytest.mark.parametrize("where", ["answers", "adopt"])
def test_an_interruption_after_the_commit_leaves_no_worker_and_no_share(world, streaming, monkeypatch, where):
    """Ctrl-C while the workers seal their segments, or while they are swapped in: the
    data is committed, the interruption is what the user sees, nothing is left over,
    and the index is reported behind until rebuilt."""
    from dossier.index.whoosh_backend import WhooshIndex

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    if where == "answers":
        monkeypatch.setattr(stream._Child, "read_answer", interrupted)
    else:
        monkeypatch.setattr(WhooshIndex, "adopt", interrupted)
    with world.open("admin") as ar:
        with pytest.raises(KeyboardInterrupt):
            with ar.batch(size_hint=60):
                _add_people(ar, world, 60)
        assert ar.con.execute("SELECT count(*) FROM dossiers").fetchone()[0] == 60
    _no_leftovers(world)
    monkeypatch.undo()
    with world.open("admin") as ar:
        assert not all(s["state"] == "ok" for s in ar.search.status())
        ar.search.rebuild()
        assert all(s["state"] == "ok" for s in ar.search.status())


def test_rebuild_sweeps_what_dead_processes_left(world, tmp_path):
    with world.open("admin") as ar:
        _add_people(ar, world, 3)
        sid = ar.scopes.id_of(world.scope_a)
        base = ar.search.root / str(sid)
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        left = [base / f".clerk-k1.part-{dead}-0", base / f".inspect-k1.new-{dead}", base / f".clerk-k1.old-{dead}"]
        mine = base / f".clerk-k1.part-{os.getpid()}-1"           # a live process's share stays
        for d in [*left, mine]:
            d.mkdir()
            (d / "x.enc").write_bytes(b"sealed")
        ar.search.rebuild()
        assert not any(d.exists() for d in left)
        assert mine.exists()
        assert all(s["state"] == "ok" for s in ar.search.status())


def test_a_leftover_old_directory_of_this_pid_does_not_break_a_rebuild(world, streaming):
    with world.open("admin") as ar:
        _add_people(ar, world, 60)
        sid = ar.scopes.id_of(world.scope_a)
        left = ar.search.root / str(sid) / f".clerk-k1.old-{os.getpid()}"   # a killed process had our pid
        left.mkdir()
        (left / "x.enc").write_bytes(b"sealed")
        ar.search.rebuild()
        assert all(s["state"] == "ok" for s in ar.search.status())
    _no_leftovers(world)


def test_segments_whose_documents_were_all_replaced_are_dropped(world, streaming):
    """Batch after batch changing the same persons: the index does not keep every old copy."""
    with world.open("admin") as ar:
        with ar.batch(size_hint=60):
            people = _add_people(ar, world, 60)
        for round_ in range(3):
            with ar.batch(size_hint=60):
                for i, p in enumerate(people):
                    ar.persons.update(p["id"], {"phone": f"13{round_}{i:08d}"}, today=world.today)
        assert all(s["state"] == "ok" for s in ar.search.status())
        for s in ar.search.status():
            reader = ar.search.index(ar.scopes.id_of(s["scope"]), s["kind"]).searcher().reader()
            assert reader.doc_count() == 30
            assert reader.doc_count_all() <= 60, reader.doc_count_all()   # at most the last two rounds' copies


def test_status_reports_two_documents_of_one_dossier(world):
    from dossier.index.whoosh_backend import to_fields

    with world.open("admin") as ar:
        p = _add_people(ar, world, 2)[1]                       # in 社区 A
        ix = ar.search.index(ar.scopes.id_of(world.scope_a), "clerk")
        doc = ar.search._doc("clerk", p["id"], p["archive_no"], world.scope_a, 1,
                             ar.dossiers.load(ar.dossiers.resolve(p["archive_no"]))[1]["state"], world.today, None)
        w = ix._ix.writer()                                     # a second copy, the first not deleted
        w.add_document(**to_fields("clerk", doc))
        w.commit()
        st = {s["kind"]: s for s in ar.search.status() if s["scope"] == world.scope_a}
        assert st["clerk"]["state"] == "stale" and st["inspect"]["state"] == "ok"
