"""Benchmark (issue 12): the same work on SQLite and on PostgreSQL, side by side in one run.

    .venv/bin/python benchmarks/bench_pg.py [--rows 10000] [--writers 8] [--entries 40]

- a roster import (``bench_import.make_roster``, every hook on) into a new SQLite
  archive and into a new PostgreSQL archive: rows/s, PostgreSQL / SQLite
  (target ≥ 0.7×);
- ``check`` of each: versions/s (target ≥ 2,000/s);
- writer processes on PostgreSQL, each adding ``--entries`` entries to a dossier of
  its own: entries/s with 1 writer and with ``--writers`` (target ≥ 1.5×);
- the database size after the import.

The PostgreSQL server is started by the benchmark (tests/pgcluster.py) with fsync
and synchronous commit ON, as a production server, on a unix socket of this
machine; the SQLite archive keeps its default (synchronous=FULL).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

WRITER = textwrap.dedent("""
    import random, sys, time
    from datetime import date
    import dossier
    from dossier import synth
    archive, n, seed, go, index = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
    import os
    visit = {"date": "2024-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True, "content": "在家"}
    today = date(2024, 6, 1)
    with dossier.open_archive(archive, user="admin", password=b"bench-pass-0001") as ar:
        own = ar.persons.add("珠晖区/粤汉街道/苗圃社区", synth.person(random.Random(seed), today=today),
                             today=today).archive_no
        if index == "off":      # the store alone: no index write after each commit
            ar.on_commit_batch.remove(ar.search.on_commit_batch)
        print("ready", flush=True)
        while not os.path.exists(go):
            time.sleep(0.002)
        for i in range(n):
            ar.entries.add(own, "interview", dict(visit, content=f"第{i}次"), today=today)
    print("done", flush=True)
""")


def _import(arch: Path, roster: Path, store: str | None, rows: int) -> tuple[float, float, int]:
    import dossier
    from bench_import import STREET, TODAY
    from dossier.io.importer import import_file

    sys.path.insert(0, str(ROOT / "tests" / "io"))
    from make_rosters import COMMUNITIES

    dossier.init_archive(arch, name="基准街道", admin="admin", password=b"bench-pass-0001", store=store)
    with dossier.open_archive(arch, user="admin", password=b"bench-pass-0001") as ar:
        for c in COMMUNITIES:
            ar.scopes.add(f"{STREET}/{c}")
        t = time.perf_counter()
        res = import_file(ar, roster, scope=STREET, today=TODAY)
        import_s = time.perf_counter() - t
        assert res.applied and res.counts()["added"] == rows, res.summary()
    with dossier.open_archive(arch, user="admin", password=b"bench-pass-0001") as ar:
        t = time.perf_counter()
        rep = ar.check()
        check_s = time.perf_counter() - t
        assert rep.ok, rep.problems[:3]
        return import_s, check_s, rep.versions


def _writers(arch: Path, k: int, n: int, tmp: Path, index: str = "on", seed: int | None = None) -> float:
    """Entries/s of ``k`` writer processes adding ``n`` entries each to a new dossier of its
    own; ``seed``: the first writer's persons' seed (default: one per ``k`` and ``index``)."""
    go = tmp / f"go-{k}-{index}"
    script = tmp / "writer.py"
    script.write_text(WRITER, "utf-8")
    if seed is None:
        seed = 5000 + 100 * k + (50 if index == "off" else 0)
    procs = [subprocess.Popen([sys.executable, str(script), str(arch), str(n), str(seed + i), str(go), index],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(k)]
    for p in procs:
        line = p.stdout.readline()
        assert line.strip() == "ready", p.communicate()
    t = time.perf_counter()
    go.write_text("go")
    for p in procs:
        out, err = p.communicate(timeout=1800)
        assert p.returncode == 0, err
    return k * n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--entries", type=int, default=40)
    ap.add_argument("--only", choices=("import", "writers"), help="run one half of the benchmark")
    args = ap.parse_args()
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    from pgcluster import PgCluster

    cluster = PgCluster(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            if args.only != "writers":
                _bench_import(cluster, tmp, args)
            if args.only != "import":
                _bench_writers(cluster, tmp, args)
    finally:
        cluster.stop()
    return 0


def _bench_import(cluster, tmp: Path, args) -> None:
    from bench_import import make_roster
    roster = tmp / "名册.xlsx"
    make_roster(roster, args.rows)
    url_import = cluster.new_database("bench_import")
    sq_s, sq_check, sq_versions = _import(tmp / "sqlite", roster, None, args.rows)
    pg_s, pg_check, pg_versions = _import(tmp / "pg", roster, url_import, args.rows)
    import psycopg
    with psycopg.connect(url_import) as con:
        size = con.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    sq_size = sum(p.stat().st_size for p in (tmp / "sqlite").rglob("*") if p.is_file()
                  and "index" not in p.parts)
    print(f"rows: {args.rows} (every hook on; PostgreSQL with fsync on)")
    print(f"import  SQLite:     {sq_s:7.2f} s  ({args.rows / sq_s:7.0f} rows/s)")
    print(f"import  PostgreSQL: {pg_s:7.2f} s  ({args.rows / pg_s:7.0f} rows/s)  "
          f"= {sq_s / pg_s:.2f}x SQLite (target >= 0.7x: {'ok' if sq_s / pg_s >= 0.7 else 'MISSED'})")
    print(f"check   SQLite:     {sq_versions / sq_check:7.0f} versions/s;  PostgreSQL: "
          f"{pg_versions / pg_check:7.0f} versions/s (target >= 2,000/s)")
    print(f"size    SQLite meta.db + objects: {sq_size / 1e6:6.1f} MB;  PostgreSQL database: {size / 1e6:6.1f} MB")


def _bench_writers(cluster, tmp: Path, args) -> None:
    url_w = cluster.new_database("bench_writers")
    import dossier
    arch = tmp / "pgw"
    dossier.init_archive(arch, name="基准街道", admin="admin", password=b"bench-pass-0001", store=url_w)
    with dossier.open_archive(arch, user="admin", password=b"bench-pass-0001") as ar:
        ar.scopes.add("珠晖区/粤汉街道/苗圃社区")
    for index in ("on", "off"):
        one = _writers(arch, 1, args.entries, tmp, index)
        many = _writers(arch, args.writers, args.entries, tmp, index)
        what = ("with the search index (blind tokens in the database)" if index == "on"
                else "store only (no index write after the commit)")
        print(f"writers on PostgreSQL, {what}: 1 → {one:6.1f} entries/s; {args.writers} → {many:6.1f} "
              f"entries/s = {many / one:.2f}x (target >= 1.5x: {'ok' if many / one >= 1.5 else 'MISSED'})")


if __name__ == "__main__":
    raise SystemExit(main())
