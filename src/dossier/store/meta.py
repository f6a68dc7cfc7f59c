"""The metadata store: SQLite in WAL mode. No plaintext personal data here.

Tables hold users and their public keys, wrapped keys, the scope tree,
dossier rows (opaque id, 档号, blind ID-number token) and sealed versions.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from ..errors import Locked

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users(
    name TEXT PRIMARY KEY, role TEXT NOT NULL, step TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    box_pub BLOB NOT NULL, sign_pub BLOB NOT NULL,
    salt BLOB NOT NULL, sealed BLOB NOT NULL, kdf TEXT NOT NULL,
    created TEXT NOT NULL, revoked TEXT, added_by TEXT, record_sig BLOB,
    pdf_identity BLOB, cert BLOB);
CREATE TABLE IF NOT EXISTS scopes(
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, parent INTEGER REFERENCES scopes(id),
    code TEXT, created TEXT NOT NULL, seq INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS grants(
    user TEXT NOT NULL, scope INTEGER NOT NULL, PRIMARY KEY(user, scope));
CREATE TABLE IF NOT EXISTS scope_keys(
    scope INTEGER NOT NULL, kind TEXT NOT NULL, key_version INTEGER NOT NULL,
    user TEXT NOT NULL, wrapped BLOB NOT NULL,
    PRIMARY KEY(scope, kind, key_version, user));
CREATE TABLE IF NOT EXISTS archive_keys(
    kind TEXT NOT NULL, user TEXT NOT NULL, wrapped BLOB NOT NULL, PRIMARY KEY(kind, user));
CREATE TABLE IF NOT EXISTS dossiers(
    id TEXT PRIMARY KEY, archive_no TEXT UNIQUE NOT NULL, ref_norm TEXT UNIQUE NOT NULL,
    scope INTEGER NOT NULL REFERENCES scopes(id), id_token BLOB UNIQUE NOT NULL,
    head INTEGER NOT NULL, created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS dossiers_scope ON dossiers(scope);
CREATE TABLE IF NOT EXISTS versions(
    dossier TEXT NOT NULL REFERENCES dossiers(id), version INTEGER NOT NULL,
    parent_hash BLOB NOT NULL, author TEXT NOT NULL, time TEXT NOT NULL,
    key_version INTEGER NOT NULL, content BLOB NOT NULL, audit_head BLOB,
    hash BLOB NOT NULL, signature BLOB NOT NULL,
    PRIMARY KEY(dossier, version));
CREATE TABLE IF NOT EXISTS blobs(
    id TEXT PRIMARY KEY, scope INTEGER NOT NULL, dossier TEXT, kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT 'data', key_version INTEGER NOT NULL,
    size INTEGER NOT NULL, created TEXT NOT NULL);
"""


def connect(path: Path, *, timeout: float = 30.0, synchronous: str = "FULL") -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    con.row_factory = sqlite3.Row
    return con


def create(path: Path) -> sqlite3.Connection:
    # owner-only, like every other file of the archive; SQLite gives its -wal
    # and -shm files the database file's permissions
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    con = connect(path)
    con.executescript(SCHEMA)
    return con


def is_url(store: str | None) -> bool:
    """Whether ``--store`` / archive.toml's ``store.url`` names a database server."""
    return bool(store) and str(store).startswith(("postgresql://", "postgres://"))


def open_store(path: Path, cfg: dict, *, timeout: float = 30.0):
    """The metadata connection archive.toml names: ``meta.db`` beside it, or PostgreSQL."""
    store = cfg.get("store", {})
    if store.get("metadata") == "postgresql":
        from . import pg
        return pg.connect(store_url(cfg), timeout=timeout)
    sync = str(store.get("synchronous", "FULL")).upper()
    return connect(path / "meta.db", timeout=timeout, synchronous=sync)


def store_url(cfg: dict) -> str:
    """The database URL of a PostgreSQL archive. ``DOSSIER_STORE_URL`` overrides it (a standby
    promoted, another host name on this machine); a password never goes in archive.toml
    (libpq: PGPASSFILE / ~/.pgpass, PGSSLMODE …)."""
    return os.environ.get("DOSSIER_STORE_URL") or cfg.get("store", {}).get("url", "")


def blob_store(con, path: Path):
    """The blob store that goes with ``con``: files under ``objects/``, or the ``objects`` table."""
    if getattr(con, "is_postgres", False):
        from .pg import PgBlobStore
        return PgBlobStore(con)
    from .blobs import BlobStore
    return BlobStore(path / "objects")


@contextmanager
def transaction(con: sqlite3.Connection, *, timeout: float = 30.0):
    """BEGIN IMMEDIATE … COMMIT; writers are serialised by SQLite.

    A writer that cannot get the lock within ``timeout`` gets :class:`Locked`
    (exit 11); any exception rolls the whole transaction back.
    """
    if getattr(con, "is_postgres", False):
        with con.write_transaction(timeout) as c:
            yield c
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            con.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) and "busy" not in str(e):
                raise
            if time.monotonic() >= deadline:
                raise Locked() from None
            time.sleep(0.01)
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        try:
            con.execute("COMMIT")
        except sqlite3.OperationalError as e:
            con.execute("ROLLBACK")
            if "locked" in str(e) or "busy" in str(e):
                raise Locked() from None
            raise
