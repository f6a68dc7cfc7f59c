"""Several writer processes on one PostgreSQL archive (issue 12, "Several writers"):
nothing lost or duplicated, ``check`` and ``audit verify`` pass, the audit chain has no fork."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import CLERK_A

WRITER = textwrap.dedent("""
    import random, sys
    from datetime import date
    import dossier
    from dossier import synth
    archive, password, shared, n, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    visit = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True, "content": "本人在家。"}
    today = date(2025, 6, 1)
    own = None
    with dossier.open_archive(archive, user="li", password=password) as ar:
        p = synth.person(random.Random(seed), today=today)
        own = ar.persons.add("珠晖区/粤汉街道/苗圃社区", p, today=today).archive_no
        for i in range(n):
            ar.entries.add(shared, "interview", dict(visit, content=f"写入者{seed}第{i}次（共享）"), today=today)
            ar.entries.add(own, "interview", dict(visit, content=f"写入者{seed}第{i}次"), today=today)
    print(own)
""")


def test_eight_writers_nothing_lost_or_duplicated(pg_world, run_dossier, tmp_path):
    w = pg_world
    shared, _ = w.add_person()
    n, procs = 5, []
    script = tmp_path / "writer.py"
    script.write_text(WRITER, "utf-8")
    env = w.env(None)
    for k in range(8):
        procs.append(subprocess.Popen([sys.executable, str(script), str(w.path), w.passwords[CLERK_A],
                                       shared.archive_no, str(n), str(1000 + k)],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    owns = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        owns.append(out.strip())
    assert len(set(owns)) == 8          # eight distinct 档号: the sequence was not raced
    with w.open(CLERK_A) as ar:
        row = ar.dossiers.resolve(shared.archive_no)
        assert row.head == 1 + 8 * n    # every shared write is a version: nothing lost
        _, content = ar.dossiers.load(row)
        texts = [e.get("content") for e in content["state"]["entries"] if "共享" in (e.get("content") or "")]
        for own in owns:
            assert ar.dossiers.resolve(own).head == 1 + n
    assert len(texts) == len(set(texts)) == 8 * n   # every write in the last state, none twice
    r = run_dossier(["check", "--json"], env=w.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
    r = run_dossier(["audit", "verify", "--json"], env=w.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
    with w.open("admin") as ar:
        seqs = [r[0] for r in ar.con.execute("SELECT seq FROM audit_events ORDER BY seq")]
        assert seqs == list(range(1, len(seqs) + 1))       # no gap, no fork (seq is the primary key)
        prevs = [r[0] for r in ar.con.execute("SELECT prev FROM audit_events")]
        assert len(prevs) == len(set(prevs))                # no two events on one parent
