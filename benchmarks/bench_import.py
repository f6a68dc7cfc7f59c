"""Benchmark: import a 10,000-row roster into a new archive.

    /tmp/venv/bin/python benchmarks/bench_import.py [--rows 10000] [--profile]

Measures, on the same synthetic .xlsx:
- a bare openpyxl read (read-only, every cell value);
- validation only (read + header detection + every row through the model);
- the full import (validation, planning, encryption, signing, one transaction).

Targets (issue 3): ≥ 500 rows/s for the full import; full import ≤ 5× the bare
read (reported, the goal). The archive is created with the weak test KDF so
that setup is quick; the KDF is not on the import path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "io"))

TODAY = dt.date(2024, 6, 1)
STREET = "珠晖区/粤汉街道"


def make_roster(path: Path, n: int) -> None:
    import openpyxl
    from make_rosters import COMMUNITIES, person

    rng = random.Random(10_000)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("名册")
    ws.append(["珠晖区粤汉街道登记在册吸毒人员名册（虚构基准数据）"])
    ws.append(["序号", "姓名", "性别", "公民身份号码", "户籍地址", "现住址", "联系电话", "列管派出所",
               "初次查获日期", "社区（村）", "备注"])
    seen = set()
    i = 0
    while i < n:
        p = person(rng, i)
        if p["id_number"] in seen:
            continue
        seen.add(p["id_number"])
        i += 1
        ws.append([i, p["name"], p["gender"], p["id_number"], p["hukou_address"], p["residence_address"],
                   p["phone"], p["residence_police"], p["first_seized_date"].strftime("%Y.%m.%d"),
                   p["community"], None])
    wb.save(path)
    assert set(COMMUNITIES)


def bare_read(path: Path) -> float:
    import openpyxl

    t = time.perf_counter()
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            cells += len(row)
    wb.close()
    return time.perf_counter() - t


def flush_batched_index(ar, pending, today) -> None:
    """Benchmark-only emulation of a batched index hook: one upsert per (scope, kind)."""
    from collections import defaultdict

    from dossier.index.documents import clerk_doc, inspect_doc
    from dossier.index.service import CLERK

    svc = ar.search
    groups = defaultdict(list)
    for row, version, state in pending:
        groups[row.scope].append((row, version, state))
    for sid, items in groups.items():
        path = ar.scopes.path_of(sid)
        for kind in svc._kinds_held(sid):
            ix = svc.index(sid, kind)
            if kind == CLERK:
                docs = [clerk_doc(r.id, r.archive_no, path, v, st, today) for r, v, st in items]
            else:
                docs = [inspect_doc(r.id, r.archive_no, path, v, st, today, ix._blind_key) for r, v, st in items]
            if ix.exists():
                ix.upsert(docs)
            else:
                ix.rebuild(docs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--profile", action="store_true", help="cProfile the full import (top 25 by cumulative)")
    ap.add_argument("--without-index", action="store_true",
                    help="diagnostic: detach the search-index commit hook, to see the archive core's own cost")
    ap.add_argument("--batched-index", action="store_true",
                    help="diagnostic: collect the index hook's calls and upsert them per scope in one writer "
                         "commit after the import (what a batch hook would cost)")
    args = ap.parse_args()
    os.environ.setdefault("DOSSIER_KDF", "weak-for-tests")
    import dossier
    from dossier.io.importer import import_file
    from dossier.io.validate import validate_book

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        roster = tmp / "名册.xlsx"
        make_roster(roster, args.rows)
        read_s = min(bare_read(roster) for _ in range(3))
        t = time.perf_counter()
        v = validate_book(roster, today=TODAY)
        validate_s = time.perf_counter() - t
        assert v.ok, [str(p) for p in v.problems[:5]]

        arch = tmp / "archive"
        dossier.init_archive(arch, name="基准街道", admin="admin", password=b"bench-pass-0001")
        with dossier.open_archive(arch, user="admin", password=b"bench-pass-0001") as ar:
            from make_rosters import COMMUNITIES

            for c in COMMUNITIES:
                ar.scopes.add(f"{STREET}/{c}")
            if args.without_index:
                ar.on_commit.clear()
            pending = []
            if args.batched_index:
                svc = ar.search
                ar.on_commit[:] = [h for h in ar.on_commit if getattr(h, "__self__", None) is not svc]
                ar.on_commit.append(lambda _ar, row, version, state: pending.append((row, version, state)))
            t = time.perf_counter()
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                res = prof.runcall(import_file, ar, roster, scope=STREET, today=TODAY)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
            else:
                res = import_file(ar, roster, scope=STREET, today=TODAY)
            if pending:
                flush_batched_index(ar, pending, TODAY)
            import_s = time.perf_counter() - t
            assert res.applied and res.counts()["added"] == args.rows, res.summary()
            t = time.perf_counter()
            res2 = import_file(ar, roster, scope=STREET, today=TODAY)
            reimport_s = time.perf_counter() - t
            assert res2.counts()["unchanged"] == args.rows
    n = args.rows
    rate = n / import_s
    mode = (" (search-index hook detached)" if args.without_index else
            " (index updates batched per scope)" if args.batched_index else "")
    print(f"rows: {n}{mode}")
    print(f"bare openpyxl read:        {read_s:7.2f} s  ({n / read_s:8.0f} rows/s)")
    print(f"validate only:             {validate_s:7.2f} s  ({n / validate_s:8.0f} rows/s, "
          f"{validate_s / read_s:.1f}x bare read)")
    print(f"full import (new archive): {import_s:7.2f} s  ({rate:8.0f} rows/s, {import_s / read_s:.1f}x bare read)")
    print(f"re-import (all unchanged): {reimport_s:7.2f} s  ({n / reimport_s:8.0f} rows/s)")
    print(f"targets: >= 500 rows/s: {'ok' if rate >= 500 else 'MISSED'}; "
          f"<= 5x bare read: {'ok' if import_s / read_s <= 5 else 'MISSED'}")
    return 0 if rate >= 500 else 1


if __name__ == "__main__":
    raise SystemExit(main())
