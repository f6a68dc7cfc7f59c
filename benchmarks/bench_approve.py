"""Benchmark: signing one 审批表 step and verifying a three-signature PDF.

    /tmp/venv/bin/python benchmarks/bench_approve.py [--rounds N]

Targets (issue 6): sign one step < 1 s; verify three signatures < 0.5 s;
a 50-person disclosure package < 30 s (measured once the archive exists).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "approve"))

from approvekit import make_form_pdf  # noqa: E402

from dossier.approve import pdfsign  # noqa: E402
from dossier.crypto.ca import ArchiveCA, generate_signing_identity  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    ca = ArchiveCA.generate("基准街道", "bench")
    ids = [(s, n, *generate_signing_identity(ca, n, "approver", s))
           for s, n in [("社区初评", "张基准"), ("派出所核查", "李基准"), ("街道审批", "王基准")]]
    sign_times, verify_times = [], []
    for _ in range(args.rounds):
        pdf = pdfsign.prepare_form(make_form_pdf(), form_ref="bench@v1")
        for step, name, key, cert in ids:
            t = time.perf_counter()
            pdf = pdfsign.sign_step(pdf, step=step, signer_name=name, opinion="同意，按中风险管控",
                                    date="2024-05-12", key_pem=key, cert_pem=cert, chain_pems=[ca.cert_pem])
            sign_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        reps = pdfsign.verify_pdf(pdf, trust_pems=[ca.cert_pem])
        verify_times.append(time.perf_counter() - t)
        assert len(reps) == 3 and all(r.ok for r in reps)
    print(f"sign one step: median {statistics.median(sign_times):.3f} s, max {max(sign_times):.3f} s "
          f"(n={len(sign_times)}; target < 1 s)")
    print(f"verify 3 signatures: median {statistics.median(verify_times):.3f} s, "
          f"max {max(verify_times):.3f} s (n={len(verify_times)}; target < 0.5 s)")
    ok = max(sign_times) < 1.0 and max(verify_times) < 0.5
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
