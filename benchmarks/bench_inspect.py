"""Benchmark for issue 7: ``inspect`` over N persons with 5 interviews each.

Builds a synthetic archive (dossier.synth profiles, varied notes; 3 persons with
copied notes so the near-duplicate rule has work), then times the whole
``Reports.inspect`` (decrypt + verify every dossier, all rules) and, separately,
the near-duplicate step, at 2,000 and 10,000 persons.

    DOSSIER_KDF=weak-for-tests python benchmarks/bench_inspect.py [2000 10000]

Target: 10,000 persons < 60 s; near-duplicate time grows ~linearly (×5 persons → ≈×5 time).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "reports"))

import seedkit  # noqa: E402


def build(path: Path, n: int, seed: int = 1) -> None:
    import dossier
    from dossier import synth
    from dossier.api import Session
    from dossier.crypto import kdf

    Session._load_plugins = lambda self: None     # the search index is not part of this benchmark
    rng = random.Random(seed)
    dossier.init_archive(path, name="基准", admin="admin", password=seedkit.PASSWORDS["admin"],
                         kdf_params=kdf.WEAK_FOR_TESTS)
    comms = [f"珠晖区/粤汉街道/社区{i:02d}" for i in range(20)]
    with dossier.open_archive(path, user="admin", password=seedkit.PASSWORDS["admin"]) as ar:
        for c in comms:
            ar.scopes.add(c)
        b = seedkit.Builder(ar, rng)
        copied = None
        with ar.transaction():
            for i in range(n):
                author = f"clerk{i % 40}"
                es = [b.interview(date(2024, 6, 1) + timedelta(days=rng.randrange(0, 360)), author,
                                  rng.choice(("本人", "本人", "亲属", "邻居"))) for _ in range(5)]
                if i < 3:
                    copied = copied or es[0]["content"]
                    es[0]["content"] = copied
                p = synth.person(rng, today=seedkit.AS_OF)
                ref = ar.persons.add(comms[i % len(comms)], p, today=seedkit.AS_OF)
                ar.dossiers.commit(ref.archive_no, lambda st, es=es: st["entries"].extend(es), "导入")


def measure(n: int) -> dict:
    from dossier import open_archive
    from dossier.reports import Reports
    from dossier.reports import inspection
    from dossier.reports.population import load_population

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "archive"
        t0 = time.perf_counter()
        build(path, n)
        t_build = time.perf_counter() - t0
        with open_archive(path, user="admin", password=seedkit.PASSWORDS["admin"]) as ar:
            t0 = time.perf_counter()
            res = Reports(ar).inspect(None, as_of=seedkit.AS_OF)
            t_inspect = time.perf_counter() - t0
            recs = load_population(ar, None)
        t0 = time.perf_counter()
        dups = list(inspection.rule_dup_notes(recs, inspection.thresholds()["DUP_NOTES"], seedkit.AS_OF))
        t_dup = time.perf_counter() - t0
    return {"persons": n, "interviews": n * 5, "build_s": round(t_build, 1), "inspect_s": round(t_inspect, 2),
            "neardup_s": round(t_dup, 2), "dup_groups": len(dups), "findings": res["summary"]["total"]}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    sizes = [int(a) for a in argv] or [2000, 10000]
    rows = [measure(n) for n in sizes]
    for r in rows:
        print(f"{r['persons']:>6} persons / {r['interviews']} interviews: inspect {r['inspect_s']} s "
              f"(near-dup {r['neardup_s']} s, {r['dup_groups']} group(s)); build {r['build_s']} s; "
              f"{r['findings']} findings")
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        k = b["persons"] / a["persons"]
        print(f"×{k:.0f} persons → inspect ×{b['inspect_s'] / a['inspect_s']:.1f}, "
              f"near-dup ×{b['neardup_s'] / a['neardup_s']:.1f} (quadratic would be ×{k * k:.0f})")


if __name__ == "__main__":
    main(sys.argv[1:])
