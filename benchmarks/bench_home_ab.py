"""Issue 11: the 工作台 (GET /) alone on a real ``dossier serve`` — for A/B runs of the HTTP layer.

    .venv/bin/python benchmarks/bench_home_ab.py ARCHIVE [N1] [NLOOP]   # an archive of bench_web.py --keep

20 sessions log in; then one session sends N1 (200) GET / one after another, and the 20 send
NLOOP (10) each in a closed loop. Prints which HTTP parser uvicorn picked (httptools when it is
installed, else h11), the server's CPU per request (from /proc) and the latencies. Install or
remove a package between runs and alternate them on one archive copy (each run adds audit events).
"""
import importlib.util
import json
import os
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_web as bw          # noqa: E402 - (it puts tests/web on the path too)
from browserkit import Server   # noqa: E402

arch = Path(sys.argv[1])
n1 = int(sys.argv[2]) if len(sys.argv) > 2 else 200
nloop = int(sys.argv[3]) if len(sys.argv) > 3 else 10
built = json.loads((arch / "bench-persons.json").read_text(encoding="utf-8"))
comms = built["comms"]
work = Path(tempfile.mkdtemp(prefix="bench-home-ab-"))
srv = Server(arch, work)
try:
    impl = "httptools" if importlib.util.find_spec("httptools") else "h11"
    clerks = []
    for s in range(20):
        c = comms[s % len(comms)]
        cl = bw.Clerk(srv.base, f"clerk{s % len(comms):02d}", [tuple(x) for x in built["persons"][c]], random.Random(s))
        cl.login()
        clerks.append(cl)
    for cl in clerks:
        cl.home()
    for _ in range(10):
        clerks[0].home()
    c0 = sum(bw.cpu_s(srv.proc.pid)); w = []
    for _ in range(n1):
        w.append(clerks[0].home())
    c1 = sum(bw.cpu_s(srv.proc.pid))
    one_cpu = (c1 - c0) / n1 * 1000
    res = bw.run_closed(clerks, "home", nloop)["home"]
    c2 = sum(bw.cpu_s(srv.proc.pid))
    loop_cpu = (c2 - c1) / (20 * nloop) * 1000
    print(f"{impl}: load {os.getloadavg()[0]:.2f}; 1 session {n1} GET /: server CPU {one_cpu:.2f} ms/req, "
          f"p50 {bw.pct(w,50)*1000:.1f} ms; 20 sessions x {nloop}: server CPU {loop_cpu:.2f} ms/req, "
          f"p50/p95/max {bw.pct(res,50)*1000:.0f}/{bw.pct(res,95)*1000:.0f}/{max(res)*1000:.0f} ms", flush=True)
finally:
    srv.stop()
