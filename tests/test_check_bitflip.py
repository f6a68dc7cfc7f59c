"""A single flipped bit in any stored file makes ``check`` fail (issue 16): every
blob, every sealed search-index file, and the sealed values in ``meta.db``
(version contents, sealed audit details, the keys wrapped to the checking
admin), each flipped in turn on a fresh copy of the archive. A few of the
flips go through the real executable for the exit code and the message.

On PostgreSQL (the test lane) the blobs and sealed values are rows: each is
flipped in place in the database (and put back afterwards); the index files
are still files, flipped in a copy of the directory."""

from __future__ import annotations

import random
import shutil
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import pytest

import dossier
from tests.conftest import ON_PG


@pytest.fixture
def filled(world):
    """Plugins as shipped (audit chain, search indexes); three dossiers, a blob, an approval-free workflow."""
    x, _ = world.add_person(world.scope_a, entries=2)
    world.add_person(world.scope_a, entries=1)
    world.add_person(world.scope_b, entries=1)
    with world.open("li") as ar:
        ar.blobs.put("扫描件：测试人甲 协议书".encode(), scope=world.scope_a, dossier_id=x.id)
        ar.search("测试")
    if not ON_PG:
        con = sqlite3.connect(world.path / "meta.db")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
    return world


# (label, table, column, key columns, key values, value) of every sealed value in the store
def sealed_rows(world) -> list[tuple]:
    con = world.store()
    try:
        out = [(f"versions.content {d[:8]} v{v}", "versions", "content", ("dossier", "version"), (d, v), bytes(c))
               for d, v, c in con.execute("SELECT dossier, version, content FROM versions")]
        out += [(f"audit_events.sealed #{s}", "audit_events", "sealed", ("seq",), (s,), bytes(b))
                for s, b in con.execute("SELECT seq, sealed FROM audit_events WHERE sealed IS NOT NULL")]
        out += [(f"scope_keys.wrapped {s}/{k}/{v}", "scope_keys", "wrapped", ("scope", "kind", "key_version", "user"),
                 (s, k, v, "admin"), bytes(w)) for s, k, v, w in con.execute(
            "SELECT scope, kind, key_version, wrapped FROM scope_keys WHERE user='admin'")]
        out += [(f"archive_keys.wrapped {k}", "archive_keys", "wrapped", ("kind", "user"), (k, "admin"), bytes(w))
                for k, w in con.execute("SELECT kind, wrapped FROM archive_keys WHERE user='admin'")]
        if ON_PG:
            out += [(f"objects:{i}", "objects", "data", ("id",), (i,), bytes(d))
                    for i, d in con.execute("SELECT id, data FROM objects")]
            # the search index is in the database too (blind tokens, sealed documents)
            out += [(f"search_docs.sealed {ix}/{d[:8]}", "search_docs", "sealed", ("ix", "dossier"), (ix, d), bytes(b))
                    for ix, d, b in con.execute("SELECT d.ix, d.dossier, d.sealed FROM search_docs d"
                                                " JOIN search_indexes i ON i.ix = d.ix")]
        return out
    finally:
        con.close()


def targets(world, rng: random.Random) -> list[tuple[str, str, object]]:
    """(label, where, what) for every stored file and sealed value: ``where`` is a path relative
    to the archive (what = the bit offset), or ``"db"`` on PostgreSQL (what = (row, bit))."""
    root = world.path
    out = []
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_file() and (rel.startswith("objects/") or (rel.startswith("index/") and p.suffix == ".enc")):
            out.append((rel, rel, rng.randrange(8 * p.stat().st_size)))
    if ON_PG:
        for row in sealed_rows(world):
            out.append((row[0], "db", (row, rng.randrange(8 * min(48, len(row[-1]))))))
        return out
    raw = (root / "meta.db").read_bytes()
    for label, *_, value in sealed_rows(world):
        probe = value[:48]
        at = raw.find(probe)
        assert at >= 0 and raw.find(probe, at + 1) < 0, label      # stored once, contiguous at its start
        out.append((label, "meta.db", 8 * at + rng.randrange(8 * len(probe))))
    return out


def _flip(data: bytes, bit: int) -> bytes:
    b = bytearray(data)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


@contextmanager
def flipped(world, where: str, what, dest: Path):
    """The archive with one bit flipped: a copy of the directory, or (a database value on
    PostgreSQL) the archive itself, the value put back afterwards."""
    if where == "db":
        (label, table, column, keys, vals, value), bit = what
        cond = " AND ".join(f"{k}=?" for k in keys)
        con = world.store()
        con.execute(f"UPDATE {table} SET {column}=? WHERE {cond}", (_flip(value, bit), *vals))
        try:
            yield world.path
        finally:
            con.execute(f"UPDATE {table} SET {column}=? WHERE {cond}", (value, *vals))
            con.close()
        return
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(world.path, dest)
    p = dest / where
    p.write_bytes(_flip(p.read_bytes(), what))
    yield dest


def test_every_flipped_bit_is_found(filled, tmp_path):
    world = filled
    with world.open("admin") as ar:
        assert ar.check().ok
    cases = targets(world, random.Random(16))
    kinds = {c[1].split("/")[0] for c in cases}
    assert ({"db"} if ON_PG else {"objects", "index", "meta.db"}) <= kinds, kinds
    assert not ON_PG or any(c[0].startswith("objects:") for c in cases)
    if ON_PG:       # the search index: sealed rows in the database, not files
        assert sum(c[0].startswith("search_docs.sealed") for c in cases) >= 6
    else:
        assert sum(c[1].endswith(".seg.enc") for c in cases) >= 2
    missed = []
    for label, where, what in cases:
        with flipped(world, where, what, tmp_path / "copy") as path:
            with dossier.open_archive(path, user="admin", password=world.passwords["admin"]) as ar:
                rep = ar.check()
        if rep.ok:
            missed.append(label)
    assert not missed, f"{len(missed)}/{len(cases)} flips not found: {missed}"


@pytest.mark.parametrize("kind", ["seg.enc", "toc.enc", "objects", "versions.content"])
def test_flipped_bit_exit_20_through_the_executable(filled, run_dossier, tmp_path, kind):
    world = filled
    if ON_PG and kind.endswith(".enc"):
        kind = "search_docs.sealed"          # the index's sealed values are rows there
    cases = [c for c in targets(world, random.Random(kind)) if kind in c[0]]
    label, where, what = cases[0]
    with flipped(world, where, what, tmp_path / "copy") as path:
        r = run_dossier(["check"], env=world.env(DOSSIER_ARCHIVE=path))
        assert r.code == 20, (label, r.stdout, r.stderr)
        if kind.endswith(".enc") or kind == "search_docs.sealed":
            assert "检索索引" in r.stdout and "dossier index rebuild" in r.stdout
            assert (Path(where).name if where != "db" else "search_docs") in r.stdout
            r = run_dossier(["index", "rebuild"], env=world.env(DOSSIER_ARCHIVE=path))
            assert r.code == 0, r.stderr
            r = run_dossier(["check"], env=world.env(DOSSIER_ARCHIVE=path))
            assert r.code == 0, r.stdout + r.stderr
