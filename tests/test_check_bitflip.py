"""A single flipped bit in any stored file makes ``check`` fail (issue 16): every
blob, every sealed search-index file, and the sealed values in ``meta.db``
(version contents, sealed audit details, the keys wrapped to the checking
admin), each flipped in turn on a fresh copy of the archive. A few of the
flips go through the real executable for the exit code and the message."""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path

import pytest

import dossier


@pytest.fixture
def filled(world):
    """Plugins as shipped (audit chain, search indexes); three dossiers, a blob, an approval-free workflow."""
    x, _ = world.add_person(world.scope_a, entries=2)
    world.add_person(world.scope_a, entries=1)
    world.add_person(world.scope_b, entries=1)
    with world.open("li") as ar:
        ar.blobs.put("扫描件：测试人甲 协议书".encode(), scope=world.scope_a, dossier_id=x.id)
        ar.search("测试")
    con = sqlite3.connect(world.path / "meta.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return world


def sealed_values(db: Path) -> list[tuple[str, bytes]]:
    con = sqlite3.connect(db)
    try:
        out = [(f"versions.content {d[:8]} v{v}", bytes(c))
               for d, v, c in con.execute("SELECT dossier, version, content FROM versions")]
        out += [(f"audit_events.sealed #{s}", bytes(b)) for s, b in con.execute(
            "SELECT seq, sealed FROM audit_events WHERE sealed IS NOT NULL")]
        out += [(f"scope_keys.wrapped {s}/{k}/{v}", bytes(w)) for s, k, v, w in con.execute(
            "SELECT scope, kind, key_version, wrapped FROM scope_keys WHERE user='admin'")]
        out += [(f"archive_keys.wrapped {k}", bytes(w)) for k, w in con.execute(
            "SELECT kind, wrapped FROM archive_keys WHERE user='admin'")]
        return out
    finally:
        con.close()


def targets(root: Path, rng: random.Random) -> list[tuple[str, str, int]]:
    """(label, relative path, bit offset) for every stored file and sealed value."""
    out = []
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.is_file() and (rel.startswith("objects/") or (rel.startswith("index/") and p.suffix == ".enc")):
            out.append((rel, rel, rng.randrange(8 * p.stat().st_size)))
    raw = (root / "meta.db").read_bytes()
    for label, value in sealed_values(root / "meta.db"):
        probe = value[:48]
        at = raw.find(probe)
        assert at >= 0 and raw.find(probe, at + 1) < 0, label      # stored once, contiguous at its start
        out.append((label, "meta.db", 8 * at + rng.randrange(8 * len(probe))))
    return out


def flipped_copy(world, rel: str, bit: int, dest: Path) -> Path:
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(world.path, dest)
    p = dest / rel
    data = bytearray(p.read_bytes())
    data[bit // 8] ^= 1 << (bit % 8)
    p.write_bytes(bytes(data))
    return dest


def test_every_flipped_bit_is_found(filled, tmp_path):
    world = filled
    with world.open("admin") as ar:
        assert ar.check().ok
    cases = targets(world.path, random.Random(16))
    kinds = {c[1].split("/")[0] for c in cases}
    assert {"objects", "index", "meta.db"} <= kinds, kinds
    assert sum(c[1].endswith(".seg.enc") for c in cases) >= 2
    missed = []
    for label, rel, bit in cases:
        path = flipped_copy(world, rel, bit, tmp_path / "copy")
        with dossier.open_archive(path, user="admin", password=world.passwords["admin"]) as ar:
            rep = ar.check()
        if rep.ok:
            missed.append(label)
    assert not missed, f"{len(missed)}/{len(cases)} flips not found: {missed}"


@pytest.mark.parametrize("kind", ["seg.enc", "toc.enc", "objects", "versions.content"])
def test_flipped_bit_exit_20_through_the_executable(filled, run_dossier, tmp_path, kind):
    world = filled
    cases = [c for c in targets(world.path, random.Random(kind)) if kind in c[0]]
    label, rel, bit = cases[0]
    path = flipped_copy(world, rel, bit, tmp_path / "copy")
    r = run_dossier(["check"], env=world.env(DOSSIER_ARCHIVE=path))
    assert r.code == 20, (label, r.stdout, r.stderr)
    if kind.endswith(".enc"):
        assert "检索索引" in r.stdout and "dossier index rebuild" in r.stdout
        assert Path(rel).name in r.stdout
        r = run_dossier(["index", "rebuild"], env=world.env(DOSSIER_ARCHIVE=path))
        assert r.code == 0, r.stderr
        r = run_dossier(["check"], env=world.env(DOSSIER_ARCHIVE=path))
        assert r.code == 0, r.stdout + r.stderr
