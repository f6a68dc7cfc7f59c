"""Benchmark for issue 11: ``ar.agenda`` (the 工作台) for a 社区 of 500 and a 街道 of 5,000.

One synthetic archive: 10 社区 of 500 persons under one 街道, each with the
inspection seedkit's dossier (interviews, a test, an assessment; some 社区戒毒 with
monthly tests, some 高 with a plan, some 失控) and one running campaign. Times,
as the admin, on a fresh session (every head's signature verified, as the CLI
does) and again in the same session (signatures already checked, as the web
server's long-lived session on its second page), against ``person list`` of the
same scope in the same state — the baseline: the same decrypting pass with no rules.

    DOSSIER_KDF=weak-for-tests python benchmarks/bench_agenda.py [--persons 5000] [--repeat 3] [--keep DIR]

``--keep DIR`` builds the archive there and reuses it when it exists (before/after
comparisons on the same archive).

Target: 社区 of 500 < 200 ms; 街道 of 5,000 < 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "tests" / "reports"))

import seedkit  # noqa: E402

STREET = "珠晖区/粤汉街道"
PASSWORD = seedkit.PASSWORDS["admin"]


def build(path: Path, n: int, communities: int = 10, seed: int = 11) -> list[str]:
    import dossier
    from dossier import synth
    from dossier.api import Session
    from dossier.crypto import kdf

    Session._load_plugins = lambda self: None     # the search index is not part of this benchmark
    rng = random.Random(seed)
    dossier.init_archive(path, name="基准", admin="admin", password=PASSWORD, kdf_params=kdf.WEAK_FOR_TESTS)
    comms = [f"{STREET}/社区{i:02d}" for i in range(communities)]
    with dossier.open_archive(path, user="admin", password=PASSWORD) as ar:
        for c in comms:
            ar.scopes.add(c)
        b = seedkit.Builder(ar, rng)
        with ar.transaction():
            for i in range(n):
                r = rng.random()
                es = b.clean_entries("admin", level=rng.choice(("低", "低", "中", "高")), detox=r < 0.3,
                                     lost=r > 0.97)
                p = synth.person(rng, today=seedkit.AS_OF)
                ref = ar.persons.add(comms[i % communities], p, today=seedkit.AS_OF)
                ar.dossiers.commit(ref.archive_no, lambda st, es=es: st["entries"].extend(es), "导入")
        ar.reports.campaigns.add(seedkit.CAMPAIGN)
    return comms


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def cpu_timed(fn) -> tuple[float, float, float, object]:
    """Wall time, this process's CPU time and its children's (the forked child that takes
    part of a fresh pass: crypto/shared_pass.py), in seconds: on a loaded host the CPU
    times show what an idle one would take."""
    import resource

    def cpu(who):
        r = resource.getrusage(who)
        return r.ru_utime + r.ru_stime
    s0, c0 = cpu(resource.RUSAGE_SELF), cpu(resource.RUSAGE_CHILDREN)
    t, out = timed(fn)
    return t, cpu(resource.RUSAGE_SELF) - s0, cpu(resource.RUSAGE_CHILDREN) - c0, out


def measure(path: Path, scope: str, repeat: int) -> dict:
    import dossier
    from dossier.api import Session

    Session._load_plugins = lambda self: None
    cold_a, warm_a, cold_l, warm_l, cpu_a, cpu_child = [], [], [], [], [], []
    items = persons = 0
    for _ in range(repeat):
        with dossier.open_archive(path, user="admin", password=PASSWORD) as ar:
            t, rows = timed(lambda: ar.persons.list(scope))
            cold_l.append(t)
            warm_l.append(timed(lambda: ar.persons.list(scope))[0])
        with dossier.open_archive(path, user="admin", password=PASSWORD) as ar:
            t, own, child, res = cpu_timed(lambda: ar.agenda(scope, as_of=seedkit.AS_OF))
            cold_a.append(t)
            cpu_a.append(own)
            cpu_child.append(child)
            warm_a.append(timed(lambda: ar.agenda(scope, as_of=seedkit.AS_OF))[0])
        items, persons = len(res.items), res.persons
        assert persons == len(rows)
    med = statistics.median
    return {"scope": scope, "persons": persons, "items": items,
            "agenda_cold": med(cold_a), "agenda_cold_cpu": med(cpu_a), "agenda_cold_child_cpu": med(cpu_child), "agenda_warm": med(warm_a), "list_cold": med(cold_l), "list_warm": med(warm_l)}


def main(argv: list[str]) -> None:
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="build the archive here and keep it (reused when it exists)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        path = args.keep or Path(d) / "archive"
        listing = path / "bench-communities.txt"
        if listing.exists():
            comms = listing.read_text(encoding="utf-8").split("\n")
            print(f"reusing the archive in {path}")
        else:
            t_build, comms = timed(lambda: build(path, args.persons))
            listing.write_text("\n".join(comms), encoding="utf-8")
            print(f"built {args.persons} persons in {t_build:.1f} s")
        rows = [measure(path, comms[0], args.repeat), measure(path, STREET, args.repeat)]
    targets = {comms[0]: 0.2, STREET: 1.0}
    print(f"{'scope':<22} {'persons':>7} {'items':>6} {'agenda cold':>12} {'list cold':>10} {'ratio':>6} "
          f"{'agenda warm':>12} {'list warm':>10} {'ratio':>6}  target")
    for r in rows:
        print(f"{r['scope'].split('/')[-1]:<22} {r['persons']:>7} {r['items']:>6} "
              f"{r['agenda_cold'] * 1000:>10.0f}ms {r['list_cold'] * 1000:>8.0f}ms "
              f"{r['agenda_cold'] / r['list_cold']:>6.2f} {r['agenda_warm'] * 1000:>10.0f}ms "
              f"{r['list_warm'] * 1000:>8.0f}ms {r['agenda_warm'] / r['list_warm']:>6.2f}  "
              f"< {targets[r['scope']] * 1000:.0f} ms")
    print("agenda cold, CPU time: this process / the forked child sharing the pass (crypto/shared_pass.py) "
          f"— load {open('/proc/loadavg').read().split()[0]}")
    for r in rows:
        print(f"{r['scope'].split('/')[-1]:<22} {r['agenda_cold_cpu'] * 1000:>8.0f} ms / "
              f"{r['agenda_cold_child_cpu'] * 1000:.0f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])
