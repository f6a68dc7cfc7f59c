"""Profile the whole ``GET /`` (工作台) in-process: the ASGI app with its middleware, the
page function run in the calling thread (so cProfile sees it), one logged-in session.

    .venv/bin/python benchmarks/profile_home.py ARCHIVE [N]   # an archive of bench_web.py --keep
    PROF=1 .venv/bin/python benchmarks/profile_home.py ARCHIVE 200   # with a cProfile listing
    USER_=clerk01 ...                                                # another clerk

Prints the CPU and wall time per request (after warm-up); the benchmark's users and password.
"""
import asyncio
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path
from starlette.testclient import TestClient

from dossier.web.app import create_app
from dossier.web import pages
from dossier.web.pages import COOKIE
arch = Path(sys.argv[1])
N = int(sys.argv[2]) if len(sys.argv) > 2 else 200
user = os.environ.get("USER_", "clerk00")
app = create_app(arch)
with TestClient(app, base_url="http://testserver") as c:
    c.get("/login")
    tok = c.cookies.get("dossier_pre")
    r = c.post("/login", data={"csrf": tok, "user": user, "password": "bench-clerk-0001"}, follow_redirects=False)
    assert r.status_code == 303, r.text[:200]
    sid = c.cookies.get(COOKIE)
    for _ in range(2):
        r = c.get("/"); assert r.status_code == 200
    async def direct(fn, *a):   # run the page in this thread, so cProfile sees it
        return fn(*a)
    pages.run_in_threadpool = direct
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"cookie", f"{COOKIE}={sid}".encode()), (b"user-agent", b"x")],
             "client": ("127.0.0.1", 1), "server": ("testserver", 80), "state": {}, "app": app}
    out = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(m):
        if m["type"] == "http.response.start": out.append(m["status"])
    async def many(n):
        for _ in range(n):
            await app(dict(scope, state={}), receive, send)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(many(5)); assert set(out) == {200}, out
    t = time.process_time(); w = time.perf_counter()
    loop.run_until_complete(many(N))
    print(f"{user}: cpu/req {1000*(time.process_time()-t)/N:.2f} ms wall/req {1000*(time.perf_counter()-w)/N:.2f} ms")
    if os.environ.get("PROF"):
        pr = cProfile.Profile(); pr.enable()
        loop.run_until_complete(many(N))
        pr.disable()
        st = pstats.Stats(pr); st.sort_stats("cumulative").print_stats(50); st.sort_stats("tottime").print_stats(35)
