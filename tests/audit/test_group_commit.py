"""Audit events appended by many threads of one process (the web server's sessions,
each with its own connection) are committed in groups (audit._group_commit): every
event is in the chain exactly once, in a valid chain, each signed by its own actor,
and each caller gets its own event back."""

from __future__ import annotations

import threading

from dossier.approve.hooks import public_keys
from dossier.audit import verify_chain


def test_concurrent_sessions_append_every_event_once_in_a_valid_chain(world):
    users = ["admin", "li", "wang", "zhao"]
    sessions = [world.open(u) for u in users for _ in range(2)]
    try:
        before = sessions[0].audit_chain.head().seq
        got: list = []
        errors: list = []
        start = threading.Barrier(len(sessions))

        def work(k, ar):
            try:
                start.wait()
                for i in range(15):
                    ev = ar.audit_chain.append(ar.user.name, ar.keys, "search", {"n": f"{k}-{i}"})
                    got.append((ar.user.name, ev.seq, ev.public["n"]))
            except Exception as e:   # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k, ar)) for k, ar in enumerate(sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        ar = sessions[0]
        events = [e for e in ar.audit_chain.events() if e.seq > before]
        assert len(events) == len(got) == len(sessions) * 15
        assert sorted(s for _, s, _ in got) == [e.seq for e in events]            # each caller its own event
        assert {(e.actor, e.public["n"]) for e in events} == {(u, n) for u, _, n in got}
        rep = verify_chain(ar.audit_chain.events(), public_keys(ar))
        assert not rep.problems and rep.events == len(ar.audit_chain.events()), rep
    finally:
        for ar in sessions:
            ar.close()


def test_an_event_that_fails_fails_only_its_own_caller(world, monkeypatch):
    """One event of a group raising: the others are committed one by one, its caller
    gets the error, nothing half-written."""
    import pytest

    a, b = world.open("li"), world.open("wang")
    try:
        log_a, log_b = a.audit_chain, b.audit_chain

        class Boom(Exception):
            pass

        class BadKey:
            def sign_bytes(self, data):
                raise Boom()

        before = log_a.head().seq
        with pytest.raises(Boom):
            log_a.append("li", BadKey(), "search", {"n": "bad"})
        ev = log_b.append("wang", b.keys, "search", {"n": "good"})
        assert ev.seq == before + 1
        assert [e.public["n"] for e in log_a.events() if e.seq > before] == ["good"]
    finally:
        a.close()
        b.close()


class _CountingLock:
    """The file's writer lock, counting who takes it (shared by the sessions' connections)."""

    def __init__(self, real):
        self.real, self.taken_by = real, []

    def acquire(self, *a, **k):
        got = self.real.acquire(*a, **k)
        if got:
            self.taken_by.append(__import__("threading").current_thread().name)
        return got

    def release(self):
        self.real.release()

    def _is_owned(self):
        return self.real._is_owned()


def _logs(tmp_path, n):
    """``n`` connections to one SQLite audit chain (the group commit is the SQLite store's;
    on PostgreSQL each event is its own transaction), whatever the test lane."""
    from dossier.audit import AuditLog
    from dossier.store.meta import connect

    path = tmp_path / "chain.db"
    logs = [AuditLog(connect(path)) for _ in range(n)]
    logs[0].create()
    return logs


def _queued(lock) -> int:
    from dossier import audit

    with audit._GROUPS_GUARD:
        g = audit._GROUPS.get(id(lock))
        return len(g.queue) if g is not None else 0


def _wait_for(cond, timeout=10.0):
    import time

    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.005)


def test_a_group_is_committed_by_one_caller_the_others_never_take_the_writer_lock(world, tmp_path,
                                                                                   monkeypatch):
    """Five callers wait while the writer lock is held elsewhere: one has the turn and
    commits all five in one transaction (in INSERTs of GROUP_ROWS rows, here 2); the other
    four are woken with their events and never queue on the lock (the 工作台's tail under
    load was that queue)."""
    from dossier import audit

    monkeypatch.setattr(audit, "GROUP_ROWS", 2)
    sessions = [world.open(u) for u in ("li", "wang", "zhao", "li", "wang")]
    logs = _logs(tmp_path, 5)
    lock = _CountingLock(logs[0].conn.write_lock)
    for log in logs:
        log.conn.write_lock = lock
    try:
        before = logs[0].head().seq
        got, errors = {}, []

        def work(k, ar):
            try:
                got[k] = logs[k].append(ar.user.name, ar.keys, "search", {"n": str(k)})
            except Exception as e:   # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k, ar), name=f"caller{k}") for k, ar in enumerate(sessions)]
        lock.real.acquire()                   # a writer of the process holds the lock meanwhile
        try:
            for t in threads:
                t.start()
            _wait_for(lambda: _queued(lock) == 5)
        finally:
            lock.real.release()
        for t in threads:
            t.join(30)
        assert not errors, errors
        assert len(lock.taken_by) == 1, lock.taken_by       # one commit, by the caller with the turn
        seqs = sorted(ev.seq for ev in got.values())
        assert seqs == list(range(before + 1, before + 6))
        events = [e for e in logs[0].events() if e.seq > before]
        assert {e.public["n"] for e in events} == {str(k) for k in range(5)}
        assert all(got[int(e.public["n"])].hash == e.hash for e in events)   # each caller its own event
        rep = verify_chain(logs[0].events(), public_keys(sessions[0]))
        assert not rep.problems, rep
        assert _queued(lock) == 0 and not audit._GROUPS[id(lock)].taken     # the turn was given back
    finally:
        for ar in sessions:
            ar.close()
        for log in logs:
            log.conn.close()


def test_waiting_callers_get_locked_after_the_timeout_and_nothing_is_written(world, tmp_path, monkeypatch):
    from dossier import audit
    from dossier.errors import Locked

    monkeypatch.setattr(audit, "GROUP_TIMEOUT_S", 0.5)
    a, b = world.open("li"), world.open("wang")
    la, lb = _logs(tmp_path, 2)
    try:
        before = la.head().seq
        errors = []

        def work(ar, log):
            try:
                log.append(ar.user.name, ar.keys, "search", {"n": "x"})
            except Exception as e:   # noqa: BLE001
                errors.append(e)

        la.conn.write_lock.acquire()            # (the same lock for both: one file)
        try:
            threads = [threading.Thread(target=work, args=x) for x in ((a, la), (b, lb))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(10)
        finally:
            la.conn.write_lock.release()
        assert len(errors) == 2 and all(isinstance(e, Locked) for e in errors), errors
        assert la.head().seq == before and _queued(la.conn.write_lock) == 0
        ev = lb.append("wang", b.keys, "search", {"n": "after"})      # the next one goes through
        assert ev.seq == before + 1
    finally:
        a.close()
        b.close()
        la.conn.close()
        lb.conn.close()


def test_a_caller_that_holds_the_writer_lock_commits_the_waiting_events_itself(world, tmp_path):
    """Re-entrant: the lock's holder appends while another caller has the turn and waits
    for that lock — no deadlock; the holder commits both."""
    a, b = world.open("li"), world.open("wang")
    la, lb = _logs(tmp_path, 2)
    try:
        before = la.head().seq
        got = {}
        t = threading.Thread(target=lambda: got.setdefault("b", lb.append("wang", b.keys, "search", {"n": "b"})))
        lock = la.conn.write_lock
        lock.acquire()
        try:
            t.start()
            _wait_for(lambda: _queued(lock) == 1)
            got["a"] = la.append("li", a.keys, "search", {"n": "a"})
            assert got["a"].seq == before + 2        # b's event, queued first, went in first
        finally:
            lock.release()
        t.join(10)
        assert got["b"].seq == before + 1
        rep = verify_chain(la.events(), public_keys(a))
        assert not rep.problems, rep
    finally:
        a.close()
        b.close()
        la.conn.close()
        lb.conn.close()
