"""Issue 11, the tail: where a page's time goes at 20 sessions, A/B in one run.

    .venv/bin/python benchmarks/bench_tail_ab.py ARCHIVE VARIANTS [NLOOP] [KINDS] [ROUNDS]

ARCHIVE: one kept by ``bench_web.py --keep`` (each run adds audit events and saves to it).
VARIANTS: comma-separated, run in turn, ROUNDS (1) times: ``name[+KEY=VALUE…]`` — environment
for the server (``new+DOSSIER_SERVE_GC=default``); a name ``src=PATH`` serves another source tree
(``src=/tmp/base/src`` for "before"), else the PYTHONPATH of this process. KINDS: home, person,
search (``home``), each a closed loop of 20 sessions × NLOOP (10). Per run: server CPU and the
client's own CPU per request, req/s, p50/p95/max; then, from the probe inside the server
(benchmarks/tailprobe): the collector's pauses during each loop, the writer lock's waits and
holds, and per kind the server's own time split: waiting for a pool thread, in the thread
(its CPU; its audit event's wait), back to the event loop.
"""
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_web as bw          # noqa: E402 - (it puts tests/web on the path too)
from browserkit import Server   # noqa: E402

PROBE = str(Path(__file__).resolve().parent / "tailprobe")
PATHS = {"home": lambda p: p == "/", "person": lambda p: p.startswith("/persons/"), "search": lambda p: p == "/search"}


def q(xs, p):
    return bw.pct(xs, p) * 1000 if xs else float("nan")


def trio(xs):
    return f"{q(xs, 50):.1f}/{q(xs, 95):.1f}/{max(xs) * 1000:.1f}" if xs else "—"


def one_run(arch, built, variant, nloop, kinds):
    work = Path(tempfile.mkdtemp(prefix="bench-tail-"))
    out = work / "probe.json"
    name, *kvs = variant.split("+")
    src = name[4:] if name.startswith("src=") else os.environ.get("PYTHONPATH", "")
    env = {"PYTHONPATH": f"{PROBE}:{src}", "PROBE_OUT": str(out)}
    env.update(kv.split("=", 1) for kv in kvs)
    srv = Server(arch, work, extra_env=env)
    marks, line = {}, [f"{variant:14s} load {os.getloadavg()[0]:.2f}"]
    try:
        comms = built["comms"]
        clerks = []
        for s in range(20):
            c = comms[s % len(comms)]
            cl = bw.Clerk(srv.base, f"clerk{s % len(comms):02d}", [tuple(x) for x in built["persons"][c]],
                          random.Random(s))
            cl.login()
            clerks.append(cl)
        for cl in clerks:
            cl.home()
            cl.search("name")
        for kind in kinds:
            c0, b0, t0 = sum(bw.cpu_s(srv.proc.pid)), os.times(), time.perf_counter()
            xs = bw.run_closed(clerks, kind, nloop)[kind]
            t1, c1, b1 = time.perf_counter(), sum(bw.cpu_s(srv.proc.pid)), os.times()
            n = len(xs)
            marks[kind] = (t0, t1)
            line.append(f"{kind}: srv {(c1 - c0) / n * 1000:.2f} cli "
                        f"{(b1.user + b1.system - b0.user - b0.system) / n * 1000:.2f} ms/req {n / (t1 - t0):.0f} req/s "
                        f"p50/p95/max {q(xs, 50):.0f}/{q(xs, 95):.0f}/{max(xs) * 1000:.0f}")
        for cl in clerks:
            cl.c.close()
    finally:
        srv.proc.send_signal(signal.SIGUSR1)
        time.sleep(1.0)
        srv.stop()
    print(" | ".join(line), flush=True)
    if not out.exists():
        print("  (no probe output)")
        return
    d = json.loads(out.read_text())
    for kind, (a, b) in marks.items():
        inw = [p for p in d["gc"] if a <= p[2] <= b]
        print(f"  collector during {kind}: {len(inw)} pauses, {sum(p[1] for p in inw) * 1000:.0f} ms; full ones "
              f"{[round(p[1] * 1000) for p in inw if p[0] == 2]} ms", flush=True)
    if d["locks"]:
        w, h = [x[0] for x in d["locks"][-300:]], [x[1] for x in d["locks"][-300:]]
        print(f"  writer lock (last 300 takes): wait {trio(w)} hold {trio(h)}")
    recs = [r for r in d["recs"] if "t_done" in r]
    for kind in marks:
        rs = [r for r in recs if PATHS[kind](r["path"])][-20 * nloop:]
        print(f"  {kind} in the server: total {trio([r['t_end'] - r['t0'] for r in rs])} | pool wait "
              f"{trio([r['t_thread'] - r['t0'] for r in rs])} | in thread {trio([r['t_done'] - r['t_thread'] for r in rs])}"
              f" (CPU {trio([r['cpu'] for r in rs])}; audit wait {trio([r.get('audit', 0) for r in rs])}) | back to "
              f"the loop {trio([r['t_end'] - r['t_done'] for r in rs])}", flush=True)


def main(argv):
    arch = Path(argv[0])
    variants = argv[1].split(",")
    nloop = int(argv[2]) if len(argv) > 2 else 10
    kinds = (argv[3] if len(argv) > 3 else "home").split(",")
    rounds = int(argv[4]) if len(argv) > 4 else 1
    built = json.loads((arch / "bench-persons.json").read_text(encoding="utf-8"))
    for _ in range(rounds):
        for v in variants:
            one_run(arch, built, v, nloop, kinds)


if __name__ == "__main__":
    main(sys.argv[1:])
