"""The SQLite metadata store: WAL, one write transaction at a time, rollback on
error, Locked (exit 11) after the timeout."""

from __future__ import annotations

import time

import pytest

from dossier.errors import ExitCode, Locked
from dossier.store import meta


@pytest.fixture
def db(tmp_path):
    con = meta.create(tmp_path / "meta.db")
    yield tmp_path / "meta.db", con
    con.close()


def test_wal_and_schema(db):
    path, con = db
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "scopes", "grants", "scope_keys", "archive_keys", "dossiers", "versions", "blobs"} <= tables


def test_commit_and_rollback(db):
    _, con = db
    with meta.transaction(con):
        con.execute("INSERT INTO meta VALUES('a', '1')")
    with pytest.raises(RuntimeError):
        with meta.transaction(con):
            con.execute("INSERT INTO meta VALUES('b', '2')")
            raise RuntimeError("boom")
    assert [r[0] for r in con.execute("SELECT key FROM meta")] == ["a"]
    assert not con.in_transaction


def test_locked_after_timeout(db):
    path, con = db
    other = meta.connect(path, timeout=0.2)
    con.execute("BEGIN IMMEDIATE")
    try:
        t = time.monotonic()
        with pytest.raises(Locked) as ei:
            with meta.transaction(other, timeout=0.2):
                pass
        assert 0.15 <= time.monotonic() - t < 5
        assert ei.value.exit_code == ExitCode.LOCKED
        # readers are not blocked by a writer (WAL)
        assert other.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0
    finally:
        con.execute("ROLLBACK")
        other.close()
    with meta.transaction(con, timeout=0.2):     # free again
        pass


def test_owner_only_permissions(db):
    """meta.db and its WAL files are readable by the owner only, like the rest of the archive."""
    import os
    import stat
    path, con = db
    with meta.transaction(con):
        con.execute("INSERT INTO meta(key, value) VALUES('k', 'v')")
    for p in path.parent.iterdir():
        if p.name.startswith("meta.db"):
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p.name
