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
