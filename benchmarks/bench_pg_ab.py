"""A/B of the PostgreSQL writers' benchmark on a shared host (issue 12).

    .venv/bin/python benchmarks/bench_pg_ab.py A_SRC B_SRC [--rounds 6] [--entries 40] [--writers 8]

``bench_pg.py --only writers`` run alternately for two source trees scatters by ±50 % on a
host other jobs share, because each run lasts ~30 s and the load changes between them. This
one interleaves finely instead: one PostgreSQL server (fsync on), one archive, and for each
round and each mode (with the index, store only) the measurements 1 writer A, 1 writer B,
8 writers A, 8 writers B — each a few seconds — with the writer processes started from
``A_SRC`` or ``B_SRC`` (their ``PYTHONPATH``). Every writer adds ``--entries`` entries to a
new dossier of its own, as in bench_pg.py. Printed: each measurement, then per variant the
medians and the ratio of the medians, with the load average. Both variants write to the same
archive (a chain may then mix audit event formats; nothing here verifies it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("a_src")
    ap.add_argument("b_src")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--entries", type=int, default=40)
    ap.add_argument("--writers", type=int, default=8)
    args = ap.parse_args()
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    import bench_pg
    import dossier
    from pgcluster import PgCluster

    srcs = {"A": str(Path(args.a_src).resolve()), "B": str(Path(args.b_src).resolve())}
    res: dict = {}
    cluster = PgCluster(durable=True).start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            url = cluster.new_database("bench_ab")
            arch = tmp / "pgw"
            dossier.init_archive(arch, name="基准街道", admin="admin", password=b"bench-pass-0001", store=url)
            with dossier.open_archive(arch, user="admin", password=b"bench-pass-0001") as ar:
                ar.scopes.add("珠晖区/粤汉街道/苗圃社区")
            seed = 10_000
            for r in range(args.rounds):
                for index in ("on", "off"):
                    for k in (1, args.writers):
                        for v in ("A", "B") if r % 2 == 0 else ("B", "A"):
                            os.environ["PYTHONPATH"] = srcs[v]
                            sub = tmp / f"r{r}{index}{k}{v}"
                            sub.mkdir()
                            rate = bench_pg._writers(arch, k, args.entries, sub, index, seed)
                            seed += 100
                            res.setdefault((index, k, v), []).append(rate)
                            print(f"round {r + 1} index={index:3s} {k} writer(s) {v}: {rate:7.1f} entries/s"
                                  f"  (load {os.getloadavg()[0]:.2f})", flush=True)
    finally:
        cluster.stop()
    for index in ("on", "off"):
        what = "with the search index" if index == "on" else "store only"
        for v in ("A", "B"):
            one = statistics.median(res[(index, 1, v)])
            many = statistics.median(res[(index, args.writers, v)])
            print(f"{what:22s} {v} ({srcs[v]}): 1 → {one:6.1f}, {args.writers} → {many:6.1f} entries/s"
                  f" (medians of {args.rounds}) = {many / one:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
