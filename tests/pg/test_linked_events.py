"""Entry adds on PostgreSQL append format-2 audit events, linked by the store under the
archive lock in the commit's round trip (docs/decisions.md "Writers on PostgreSQL: group commit of
the audit chain — events linked by the store", issue 12): the store's link is the one the chain check recomputes;
the version names its event by id; `check` (exit 20) and `audit verify` (exit 21) find a
linked event edited, re-linked or deleted; a writer killed before its commit leaves
nothing, after it a linked event; interleaved writers never fork the chain."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from dossier.audit import GENESIS, SEEN, link_hash
from tests.conftest import CLERK_A

VISIT = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True, "content": "本人在家。"}


def _events(w):
    con = w.store()
    try:
        return [dict(zip(("seq", "event_id", "action", "public", "prev", "hash"), r)) for r in con.execute(
            "SELECT seq, event_id, action, public, prev, hash FROM audit_events ORDER BY seq")]
    finally:
        con.close()


def _add(w, ref, n: int = 1):
    with w.open(CLERK_A) as ar:
        for i in range(n):
            ar.entries.add(ref.archive_no, "interview", dict(VISIT, content=f"第{i}次"), today=w.today)


def test_entry_adds_are_linked_by_the_store(pg_world, run_dossier):
    w = pg_world
    ref, _ = w.add_person()
    _add(w, ref, 3)
    evs = _events(w)
    linked = [e for e in evs if SEEN in json.loads(e["public"])]
    assert len(linked) == 3 and all(e["action"] == "dossier.change" for e in linked)
    by_seq = {e["seq"]: e for e in evs}
    with w.open("admin") as ar:
        events = {e.event_id: e for e in ar.audit_chain.events()}
        for e in linked:
            ev = events[e["event_id"]]
            # the server's hash is link_hash over the body its actor signed, on the true head
            assert e["hash"] == link_hash(e["seq"], by_seq[e["seq"] - 1]["hash"], ev.body_hash())
            assert e["prev"] == by_seq[e["seq"] - 1]["hash"]
            s, h = ev.seen
            assert s < e["seq"] and (by_seq[s]["hash"] if s else GENESIS) == h
        anchors = [json.loads(bytes(r[0])) for r in ar.con.execute(
            "SELECT audit_head FROM versions WHERE dossier=? AND version > 1 ORDER BY version", (ar.dossiers.resolve(
                ref.archive_no).id,))]
        assert [a["event"] for a in anchors] == [e["event_id"] for e in linked]
        assert ar.check().ok
    assert run_dossier(["audit", "verify"], env=w.env("admin")).code == 0
    assert run_dossier(["check"], env=w.env("admin")).code == 0


def test_edited_linked_event_found_by_check_and_verify(pg_world, run_dossier):
    w = pg_world
    ref, _ = w.add_person()
    _add(w, ref, 2)
    seq = [e for e in _events(w) if SEEN in json.loads(e["public"])][0]["seq"]
    con = w.store()
    try:
        row = con.execute("SELECT public FROM audit_events WHERE seq=?", (seq,)).fetchone()
        pub = json.loads(row[0])
        pub["version"] = 99
        con.execute("UPDATE audit_events SET public=? WHERE seq=?",
                    (json.dumps(pub, ensure_ascii=False, sort_keys=True, separators=(",", ":")), seq))
    finally:
        con.close()
    r = run_dossier(["audit", "verify"], env=w.env("admin"))
    assert r.code == 21 and f"第 {seq} 条" in r.stdout + r.stderr
    assert run_dossier(["check"], env=w.env("admin")).code == 20


def test_relinked_chain_after_a_deleted_event_found(pg_world, run_dossier):
    """Event k deleted and every later one renumbered and re-hashed the way the store links
    (no key needed for that): the next event that saw a head at or after k no longer
    matches, and the version whose event is gone is reported."""
    w = pg_world
    ref, _ = w.add_person()
    _add(w, ref, 4)
    evs = _events(w)
    victim = [e for e in evs if SEEN in json.loads(e["public"])][1]["seq"]
    with w.open("admin") as ar:
        bodies = {e.event_id: e.body_hash() for e in ar.audit_chain.events()}
    con = w.store()
    try:
        con.execute("DELETE FROM audit_events WHERE seq=?", (victim,))
        prev = next(e["hash"] for e in evs if e["seq"] == victim - 1)
        for e in evs:
            if e["seq"] <= victim:
                continue
            assert SEEN in json.loads(e["public"])
            h = link_hash(e["seq"] - 1, prev, bodies[e["event_id"]])
            con.execute("UPDATE audit_events SET seq=?, prev=?, hash=? WHERE event_id=?",
                        (e["seq"] - 1, prev, h, e["event_id"]))
            prev = h
    finally:
        con.close()
    r = run_dossier(["audit", "verify"], env=w.env("admin"))
    assert r.code == 21, r.stdout + r.stderr
    assert "所见的链头" in r.stdout + r.stderr
    assert run_dossier(["check"], env=w.env("admin")).code == 20


def test_deleted_last_linked_event_found_by_the_version(pg_world, run_dossier):
    w = pg_world
    ref, _ = w.add_person()
    _add(w, ref, 2)
    last = _events(w)[-1]
    assert SEEN in json.loads(last["public"])
    con = w.store()
    try:
        con.execute("DELETE FROM audit_events WHERE seq=?", (last["seq"],))
    finally:
        con.close()
    r = run_dossier(["check", "--json"], env=w.env("admin"))
    assert r.code == 20 and "审计链中没有该版本锚定的事件" in r.stdout


KILLED = textwrap.dedent("""
    import os, sys
    from datetime import date
    import dossier
    archive, password, ref = sys.argv[1], sys.argv[2], sys.argv[3]
    visit = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True, "content": "被中断"}
    with dossier.open_archive(archive, user="li", password=password) as ar:
        ar.entries.add(ref, "interview", visit, today=date(2025, 6, 1))
    print("committed")
""")


def test_writer_killed_around_its_commit(pg_world, run_dossier, tmp_path):
    """Killed before the commit (its signed event sent, not linked): nothing of it stays.
    Killed right after: its event is linked, the chain whole. Then the archive writes on."""
    w = pg_world
    ref, _ = w.add_person()
    script = tmp_path / "killed.py"
    script.write_text(KILLED, "utf-8")
    for point, landed in (("before-commit", False), ("after-version-insert", False), ("after-commit", True)):
        before = _events(w)
        env = w.env(None, DOSSIER_CRASH_AT=point)
        p = subprocess.run([sys.executable, str(script), str(w.path), w.passwords[CLERK_A], ref.archive_no],
                           env=env, capture_output=True, text=True, timeout=120)
        assert p.returncode == 137, (point, p.stdout, p.stderr)
        after = _events(w)
        assert len(after) == len(before) + (1 if landed else 0), point
        assert [e["seq"] for e in after] == list(range(1, len(after) + 1))
        assert run_dossier(["audit", "verify"], env=w.env("admin")).code == 0, point
    _add(w, ref, 1)
    assert run_dossier(["check"], env=w.env("admin")).code == 0
