"""Run every benchmark in this directory, one after another (``./dev bench``).

Each ``bench_*.py`` is a standalone script printing its own table of figures
and ratios against its baseline measured in the same run. Pass a name to run
only some: ``./dev bench archive search``. The scripts (see README.md):
bench_agenda, bench_approve, bench_archive, bench_forms, bench_import,
bench_inspect, bench_search, bench_transfer (issue 13: transfer bundles),
bench_web.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

here = Path(__file__).parent
wanted = sys.argv[1:]
scripts = sorted(here.glob("bench_*.py"))
if wanted:
    scripts = [s for s in scripts if any(w in s.stem for w in wanted)]
failed = []
for s in scripts:
    print(f"\n=== {s.stem} ===", flush=True)
    t = time.perf_counter()
    rc = subprocess.call([sys.executable, str(s)])
    print(f"--- {s.stem}: {time.perf_counter() - t:.1f} s, exit {rc}", flush=True)
    if rc:
        failed.append(s.stem)
sys.exit(1 if failed else 0)
