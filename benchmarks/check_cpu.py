"""`check` of an existing archive: versions/s, and the CPU of this process and of its
children (the signature-checking child of crypto/verify_aside.py), N times.

    DOSSIER_KDF=weak-for-tests .venv/bin/python benchmarks/check_cpu.py ARCHIVE [N] [USER] [PASSWORD]

For A/B runs, alternate ``PYTHONPATH=<other src>`` over the same archive (benchmarks/README.md,
"`check` on both cores"). The archive: e.g. ``bench_pg.py``'s import, kept."""

from __future__ import annotations

import resource
import sys
import time

import dossier


def main() -> int:
    arch = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    user = sys.argv[3] if len(sys.argv) > 3 else "admin"
    password = (sys.argv[4] if len(sys.argv) > 4 else "bench-pass-0001").encode()
    for _ in range(n):
        with dossier.open_archive(arch, user=user, password=password) as ar:
            t, c = time.perf_counter(), time.process_time()
            ch = resource.getrusage(resource.RUSAGE_CHILDREN)
            rep = ar.check()
            dt = time.perf_counter() - t
            ch2 = resource.getrusage(resource.RUSAGE_CHILDREN)
            child = ch2.ru_utime + ch2.ru_stime - ch.ru_utime - ch.ru_stime
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print(f"{rep.versions} versions in {dt:.2f} s = {rep.versions / dt:.0f}/s; CPU: process "
                  f"{time.process_time() - c:.2f} s, children {child:.2f} s; ok={rep.ok}; load {load}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
