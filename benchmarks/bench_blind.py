"""Blind-token search in PostgreSQL vs the encrypted Whoosh index, side by side in one run,
on the same synthetic persons (issue 12, part 2).

    python benchmarks/bench_blind.py [--persons 20000] [--queries 200] [--json out.json] [--skip-whoosh]

The documents are built from synthetic dossier states (``tests/index/index_corpus``) and
fed straight into both backends' bulk builds (``WhooshIndex.rebuild``: one segment by
``SegmentBuilder``; ``BlindIndex.rebuild``: analysis, HMAC tokens, sealed documents, COPY):
what ``dossier index rebuild`` does, without paying for signed versions of a million
persons through the archive import. PostgreSQL runs as a production server would (fsync
and synchronous commit on), started by ``tests/pgcluster.py`` on a private socket.

Reports: build time; size (Whoosh directory; PostgreSQL: search tables with their
indexes); p50/p95 of a full name, a two-character fragment, an ID suffix (last 6), a
phone suffix (last 4) and fielded queries (filters only, as bench_search.py, and a term
with a filter); whether both backends return the same persons; and "open + first search"
in a fresh process beyond the KDF (the keys are given: Whoosh decrypts its files into
memory, the blind index connects and queries). Synthetic data only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "index"))
sys.path.insert(0, str(HERE.parent / "tests"))

from index_corpus import SCOPE, TODAY, make_states  # noqa: E402

from dossier.crypto.aead import new_key  # noqa: E402
from dossier.index.documents import clerk_doc  # noqa: E402
from dossier.index.normalize import norm_name  # noqa: E402
from dossier.index.query import parse  # noqa: E402

CONTEXT = ("bench-archive", "1", "k1")
FIELDED = ["status:社区戒毒 risk:高", "risk:中 date:2024-01-01..2024-06-30", "label:戒断三年未复吸 scope:苗圃社区",
           "status:社区康复"]


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def timed(fn, queries):
    out, got = [], []
    for q in queries:
        t = time.perf_counter()
        r = fn(q)
        out.append((time.perf_counter() - t) * 1000)
        got.append(r)
    return out, got


def iter_docs(n: int, seed: int, people: list):
    """Clerk documents of ``n`` synthetic persons, made 5,000 at a time (a million never sits in
    memory at once); each person's name, ID number and phone go to ``people`` (the queries)."""
    step = 5000
    for start in range(0, n, step):
        for i, p in enumerate(make_states(min(step, n - start), seed + start)):
            pid = f"{start + i:07d}"
            prof = p["profile"]
            people.append({"name": prof["name"], "id_number": prof["id_number"], "phone": prof["phone"]})
            yield clerk_doc(pid, f"430405004-JD·2025-Y-{start // step:03d}-{i:04d}", SCOPE, 1, p, TODAY)


FIRST = r"""
import json, sys, time
from dossier.index.query import parse
cfg = json.loads(sys.stdin.read())
key = bytes.fromhex(cfg["key"])
parse("预热")
import psycopg
from dossier.index.blind_backend import BlindIndex
from dossier.index.whoosh_backend import WhooshIndex
t = time.perf_counter()        # modules loaded (a server has them); the KDF is not run here
if cfg["backend"] == "whoosh":
    ix = WhooshIndex(cfg["path"], "clerk", key, tuple(cfg["context"]), durable=False)
else:
    con = psycopg.connect(cfg["url"], autocommit=True)
    ix = BlindIndex(con, "clerk", key, tuple(cfg["context"]), 1, 1)
hits = ix.search(parse(cfg["query"]), 20)
print(json.dumps({"ms": (time.perf_counter() - t) * 1000, "hits": len(hits)}))
"""


def first_search(cfg: dict) -> float:
    r = subprocess.run([sys.executable, "-c", FIRST], input=json.dumps(cfg), capture_output=True, text=True,
                       check=True)
    return json.loads(r.stdout)["ms"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--persons", type=int, default=20_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip-whoosh", action="store_true", help="only the blind-token side (a very large run)")
    args = ap.parse_args()

    import psycopg
    from pgcluster import PgCluster

    from dossier.index.blind_backend import BlindIndex
    from dossier.index.whoosh_backend import WhooshIndex

    res: dict = {"persons": args.persons}
    rng = random.Random(7)
    people: list = []
    if args.skip_whoosh:
        docs = iter_docs(args.persons, 1000, people)        # streamed into the blind build
    else:
        t = time.perf_counter()
        docs = list(iter_docs(args.persons, 1000, people))
        res["make_docs_s"] = round(time.perf_counter() - t, 1)
        print(f"{args.persons} synthetic documents in {res['make_docs_s']} s", flush=True)
    key = new_key()
    cluster = PgCluster(durable=True).start()
    tmp = Path(tempfile.mkdtemp(prefix="bench-blind-"))
    try:
        url = cluster.new_database("bench_blind")
        con = psycopg.connect(url, autocommit=True)
        blind = BlindIndex(con, "clerk", key, CONTEXT, 1, 1)
        t = time.perf_counter()
        blind.rebuild(docs)
        res["build_blind_s"] = round(time.perf_counter() - t, 1)   # with --skip-whoosh: making the documents too
        t = time.perf_counter()
        con.execute("VACUUM ANALYZE search_terms")
        con.execute("VACUUM ANALYZE search_docs")
        res["analyze_blind_s"] = round(time.perf_counter() - t, 1)
        sizes = {r[0]: r[1] for r in con.execute(
            "SELECT c, pg_total_relation_size(c::regclass) FROM unnest(ARRAY['search_terms','search_docs']) c")}
        res["size_blind_mb"] = round(sum(sizes.values()) / 1e6, 1)
        res["size_blind_detail_mb"] = {k: round(v / 1e6, 1) for k, v in sizes.items()}
        res["postings"] = con.execute("SELECT count(*) FROM search_terms").fetchone()[0]
        print(f"blind build {res['build_blind_s']} s (+ analyze {res['analyze_blind_s']} s), "
              f"{res['size_blind_mb']} MB, {res['postings']} postings", flush=True)
        whoosh = None
        if not args.skip_whoosh:
            whoosh = WhooshIndex(tmp / "clerk", "clerk", key, CONTEXT, durable=False)
            t = time.perf_counter()
            whoosh.rebuild(docs)
            res["build_whoosh_s"] = round(time.perf_counter() - t, 1)
            res["size_whoosh_mb"] = round(sum(p.stat().st_size for p in (tmp / "clerk").rglob("*")
                                              if p.is_file()) / 1e6, 1)
            print(f"whoosh build {res['build_whoosh_s']} s, {res['size_whoosh_mb']} MB", flush=True)
        del docs

        sample = rng.sample(people, min(args.queries, len(people)))
        kinds = {
            "term(full name)": [p["name"] for p in sample],
            "term(2-char fragment)": [norm_name(p["name"])[:2] for p in sample],
            "id_suffix(6)": [p["id_number"][-6:] for p in sample],
            "phone_suffix(4)": [p["phone"][-4:] for p in sample],
            "fielded(filters only)": [rng.choice(FIELDED) for _ in sample],
            "fielded(name: + status:)": [f"name:{p['name']} status:社区康复" for p in sample],
        }
        backends = {"blind": blind}
        if whoosh is not None:
            backends["whoosh"] = whoosh
        for b in backends.values():
            b.search(parse("预热"), 20)
        res["latency_ms"], res["same_persons"] = {}, {}
        for kind, qs in kinds.items():
            parsed = [parse(q) for q in qs]
            row, got = {}, {}
            for name, b in backends.items():
                ms, hits = timed(lambda q, b=b: b.search(q, 20), parsed)
                row[f"{name}_p50"], row[f"{name}_p95"] = round(pct(ms, 50), 2), round(pct(ms, 95), 2)
                got[name] = [sorted((h.tier, h.id) for h in hs) for hs in hits]
            res["latency_ms"][kind] = row
            if "whoosh" in got:
                # the same persons (by tier) up to the limit; ties at the cut may differ, so compare
                # the exact-tier sets, and whole result sets where fewer than 20 matched
                same = sum(1 for a, w in zip(got["blind"], got["whoosh"])
                           if (len(w) < 20 and a == w) or (len(w) == 20 and
                                                           [x for x in a if x[0] == 0] == [x for x in w if x[0] == 0]))
                res["same_persons"][kind] = f"{same}/{len(qs)}"
            print(f"{kind:26s} " + "  ".join(f"{k} {v:7.2f}" for k, v in row.items())
                  + (f"  same {res['same_persons'].get(kind, '-')}"), flush=True)
        q = sample[0]["name"]
        res["open_first_search_ms"] = {
            "blind": round(min(first_search({"backend": "blind", "url": url, "key": key.hex(),
                                             "context": CONTEXT, "query": q}) for _ in range(3)), 1)}
        if whoosh is not None:
            whoosh.close()
            res["open_first_search_ms"]["whoosh"] = round(min(first_search(
                {"backend": "whoosh", "path": str(tmp / "clerk"), "key": key.hex(), "context": CONTEXT,
                 "query": q}) for _ in range(3)), 1)
        print("open + first search (beyond the KDF):", res["open_first_search_ms"], flush=True)
        con.close()
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(res, ensure_ascii=False, indent=1))
    if args.json:
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
