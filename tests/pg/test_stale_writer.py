"""A writer whose dossier moved on while it worked (issue 12, "Several writers"): on PostgreSQL
an entry add locks only its dossier and takes the archive lock at its audit append, so a
writer holding the archive lock (a profile edit, a key rotation) can change the dossier in
between. The compare-and-swap on the head (and on the scope's key version) must turn that
into a retry on the new head, or, once the retries are spent, a clear VersionConflict —
never an overwrite, never a version sealed under a retired key, never a stray event."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import APPROVER, CLERK_A

VISIT = {"date": "2025-05-20", "method": "敲门见人", "subject": "本人", "person_seen": True, "content": "迟到的记录"}


def _paused_entry_add(ar, ref: str, loaded: threading.Event, go: threading.Event, out: dict,
                      after_key: bool = False):
    """ar.entries.add in a thread, stopped once (after it read and decrypted the head, before
    it seals and appends; ``after_key``: once it also read the scope key to seal with) until ``go``."""
    original = ar.dossiers._write
    calls = []

    def pause():
        loaded.set()
        assert go.wait(60)

    def write(row, state, message, **kw):
        calls.append(row.head)
        if len(calls) == 1 and not after_key:
            pause()
        return original(row, state, message, **kw)

    ar.dossiers._write = write
    if after_key:
        scope_key = ar.keyring.scope_key

        def key(scope, kind="data", key_version=None):
            got = scope_key(scope, kind, key_version)
            if key_version is None and kind == "data" and len(calls) == 1 and not loaded.is_set():
                pause()
            return got

        ar.keyring.scope_key = key

    def run():
        try:
            out["entry"] = ar.entries.add(ref, "interview", VISIT, today=None)
        except Exception as e:      # noqa: BLE001 - handed to the test
            out["error"] = e
        out["bases"] = calls

    t = threading.Thread(target=run, daemon=True)
    t.start()
    assert loaded.wait(60)
    return t


class _Released:
    """Let the paused writer go on however the block ends."""

    def __init__(self, go: threading.Event, t: threading.Thread):
        self.go, self.t = go, t

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.go.set()
        self.t.join(60)


def _chain_and_check(w, run_dossier):
    r = run_dossier(["check", "--json"], env=w.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
    r = run_dossier(["audit", "verify", "--json"], env=w.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
    with w.open("admin") as ar:
        changes = ar.con.execute("SELECT COUNT(*) FROM audit_events WHERE action='dossier.change'").fetchone()[0]
        versions = ar.con.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        assert changes == versions      # the abandoned attempt left no event behind


def test_stale_entry_is_made_again_on_the_new_head(pg_world, run_dossier):
    w = pg_world
    ref, _ = w.add_person()
    loaded, go, out = threading.Event(), threading.Event(), {}
    with w.open(CLERK_A) as late, w.open(CLERK_A) as other:
        base = late.dossiers.resolve(ref.archive_no).head
        t = _paused_entry_add(late, ref.archive_no, loaded, go, out)
        with _Released(go, t):
            # meanwhile a profile edit (it holds the archive lock from its BEGIN) saves a new version
            assert other.persons.update(ref.archive_no, {"alias": "改过的别名"}) == base + 1
    assert "error" not in out, out.get("error")
    assert out["bases"] == [base, base + 1]          # stale once, then made again on the new head
    assert out["entry"]["version"] == base + 2
    with w.open(CLERK_A) as ar:
        row = ar.dossiers.resolve(ref.archive_no)
        assert row.head == base + 2
        _, content = ar.dossiers.load(row)
        assert content["state"]["profile"]["alias"] == "改过的别名"     # the edit was not overwritten
        assert [e["content"] for e in content["state"]["entries"]].count(VISIT["content"]) == 1
    _chain_and_check(w, run_dossier)


def test_stale_entry_gets_a_clear_conflict_when_retries_are_spent(pg_world, run_dossier, monkeypatch):
    from dossier import dossiers
    from dossier.errors import VersionConflict

    monkeypatch.setattr(dossiers, "CAS_RETRIES", 0)
    w = pg_world
    ref, _ = w.add_person()
    loaded, go, out = threading.Event(), threading.Event(), {}
    with w.open(CLERK_A) as late, w.open(CLERK_A) as other:
        base = late.dossiers.resolve(ref.archive_no).head
        t = _paused_entry_add(late, ref.archive_no, loaded, go, out)
        with _Released(go, t):
            other.persons.update(ref.archive_no, {"alias": "改过的别名"})
    assert isinstance(out.get("error"), VersionConflict), out
    assert out["error"].base == base and out["error"].head == base + 1
    with w.open(CLERK_A) as ar:
        row = ar.dossiers.resolve(ref.archive_no)
        assert row.head == base + 1                    # nothing of the stale writer was saved
        _, content = ar.dossiers.load(row)
        assert content["state"]["profile"]["alias"] == "改过的别名"
        assert VISIT["content"] not in [e.get("content") for e in content["state"]["entries"]]
    _chain_and_check(w, run_dossier)


def test_entry_sealed_meanwhile_under_a_retired_key_is_sealed_again(pg_world, run_dossier):
    """A user revoked while an entry is being added rotates the scope key; the entry, sealed
    under the old key before, is sealed again under the new one (the swap checks the key version)."""
    w = pg_world
    ref, _ = w.add_person()
    loaded, go, out = threading.Event(), threading.Event(), {}
    with w.open(CLERK_A) as late, w.open("admin") as admin:
        scope = late.dossiers.resolve(ref.archive_no).scope
        old_kv = late.keyring.current_version(scope, "data")
        t = _paused_entry_add(late, ref.archive_no, loaded, go, out, after_key=True)
        with _Released(go, t):
            assert admin.users.revoke(APPROVER)["rotated_scopes"] >= 1
        assert "error" not in out, out.get("error")
        new_kv = admin.keyring.current_version(scope, "data")
        assert new_kv == old_kv + 1
        kv = admin.con.execute("SELECT key_version FROM versions WHERE dossier=? AND version=?",
                               (ref.id, out["entry"]["version"])).fetchone()[0]
        assert kv == new_kv
    _chain_and_check(w, run_dossier)


@pytest.mark.parametrize("same", [True, False])
def test_a_write_lock_waits_for_nobody_holding_only_a_dossier(pg_world, same):
    """No deadlock between the two kinds of writers: an entry add holding its dossier's lock
    while it waits for the archive lock never blocks a writer holding the archive lock."""
    w = pg_world
    ref, _ = w.add_person()
    loaded, go, out = threading.Event(), threading.Event(), {}
    with w.open(CLERK_A) as late, w.open(CLERK_A) as other:
        t = _paused_entry_add(late, ref.archive_no, loaded, go, out)
        with _Released(go, t):
            target = ref.archive_no if same else w.add_person()[0].archive_no
            # a writer holding the archive lock from its BEGIN (a profile edit), on the same or
            # another dossier, finishes while the entry add holds its dossier's lock
            assert other.persons.update(target, {"alias": "别名二"}) is not None
    assert "error" not in out, out.get("error")
