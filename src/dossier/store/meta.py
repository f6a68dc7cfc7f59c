"""The metadata store: SQLite in WAL mode. No plaintext personal data here.

Tables hold users and their public keys, wrapped keys, the scope tree,
dossier rows (opaque id, 档号, blind ID-number token) and sealed versions.
``dossiers``, ``versions`` and ``blobs`` carry ``top_scope``, the partition key
(:mod:`dossier.store.partition`); ``dossier_keys`` keeps 档号, ref_norm and the ID
token unique across the whole archive (on PostgreSQL the partitioned tables cannot).
"""

from __future__ import annotations

import os
import sqlite3
import threading
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
    head INTEGER NOT NULL, created TEXT NOT NULL, top_scope INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dossier_keys(
    id_token BLOB PRIMARY KEY, ref_norm TEXT UNIQUE NOT NULL, archive_no TEXT UNIQUE NOT NULL,
    dossier TEXT UNIQUE NOT NULL, top_scope INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS dossiers_scope ON dossiers(scope);
CREATE INDEX IF NOT EXISTS dossiers_scope_heads ON dossiers(scope, archive_no, id, head);
CREATE TABLE IF NOT EXISTS versions(
    dossier TEXT NOT NULL REFERENCES dossiers(id), version INTEGER NOT NULL,
    parent_hash BLOB NOT NULL, author TEXT NOT NULL, time TEXT NOT NULL,
    key_version INTEGER NOT NULL, content BLOB NOT NULL, audit_head BLOB,
    hash BLOB NOT NULL, signature BLOB NOT NULL, top_scope INTEGER NOT NULL,
    PRIMARY KEY(dossier, version));
CREATE TABLE IF NOT EXISTS blobs(
    id TEXT PRIMARY KEY, scope INTEGER NOT NULL, dossier TEXT, kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT 'data', key_version INTEGER NOT NULL,
    size INTEGER NOT NULL, created TEXT NOT NULL, top_scope INTEGER NOT NULL);
"""


class Connection(sqlite3.Connection):
    """A connection that carries its database file's in-process writer lock (see
    :func:`writing`)."""

    write_lock: "threading.RLock | None" = None


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def writer_lock(path: Path) -> threading.RLock:
    """The lock every connection of this process to ``path`` takes around a write
    transaction. SQLite serialises writers across processes by polling (a busy writer
    sleeps 1 … 100 ms between tries), so threads of one process — the web server's
    sessions, each with its own connection — queued behind each other's fsyncs in
    sleeps far longer than the writes; on this lock they wait their turn and start
    at once. Another process still waits in SQLite's busy handler."""
    key = os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(key)
        if lock is None:
            lock = _WRITE_LOCKS[key] = threading.RLock()
        return lock


@contextmanager
def writing(con, timeout: float = 30.0):
    """Hold ``con``'s in-process writer lock (nothing for a plain connection);
    :class:`Locked` after ``timeout`` seconds."""
    lock = getattr(con, "write_lock", None)
    if lock is None:
        yield
        return
    if not lock.acquire(timeout=max(0.0, timeout)):
        raise Locked()
    try:
        yield
    finally:
        lock.release()


def connect(path: Path, *, timeout: float = 30.0, synchronous: str = "FULL") -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False, factory=Connection)
    con.write_lock = writer_lock(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={synchronous}")
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    con.row_factory = sqlite3.Row
    return con


SERVING_INDEXES = {
    # a scope's dossiers in 档号 order with their heads, from the index alone: the 工作台 and
    # the search's staleness check read it on every page (3–7× faster than through the table)
    "dossiers_scope_heads": "CREATE INDEX IF NOT EXISTS dossiers_scope_heads ON dossiers(scope, archive_no, id, head)",
}


def ensure_serving_indexes(con) -> None:
    """Add :data:`SERVING_INDEXES` to an archive made before them (``dossier serve`` at start;
    derived from columns the table holds in the clear already; nothing else changes)."""
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    missing = [sql for name, sql in SERVING_INDEXES.items() if name not in have]
    if missing:
        with transaction(con):
            for sql in missing:
                con.execute(sql)


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
    from . import partition

    store = cfg.get("store", {})
    if store.get("metadata") == "postgresql":
        from . import pg
        where = store_url(cfg)
        con = pg.connect(where, timeout=timeout)
    else:
        sync = str(store.get("synchronous", "FULL")).upper()
        where = os.path.realpath(path / "meta.db")
        con = connect(path / "meta.db", timeout=timeout, synchronous=sync)
    try:        # an archive made before the partition key: upgraded once (docs/decisions.md)
        partition.ensure(con, where, timeout=timeout)
    except BaseException:
        con.close()
        raise
    return con


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


def lock_dossier(con, dossier_id: str) -> bool:
    """In a transaction begun with ``late_lock=True`` on PostgreSQL: lock ``dossier_id`` for the
    rest of it and return True (the caller re-reads what it read of the dossier before).
    False everywhere else: SQLite's one writer lock, or the archive lock, covers it already."""
    fn = getattr(con, "lock_dossier", None)
    return bool(fn(dossier_id)) if fn is not None else False


CONFLICT = "档案已被他人同时修改，本次改动未保存；请重新操作"


def execute_later(con, sql: str, params=(), *, expect_rows: int | None = None) -> None:
    """A write of the write path whose result is not read at once (no RETURNING): on
    PostgreSQL sent with the next statement or the commit in one round trip
    (:meth:`dossier.store.pg.PgConnection.defer`); on SQLite run now, as ``execute``.
    ``expect_rows``: the rows it must change (a compare-and-swap), else
    :class:`~dossier.errors.VersionConflict` (there and then on SQLite; on PostgreSQL at the
    round trip that carries it)."""
    fn = getattr(con, "defer", None)
    if fn is not None:
        fn(sql, params, expect_rows=expect_rows)
        return
    cur = con.execute(sql, params)
    if expect_rows is not None and cur.rowcount != expect_rows:
        from ..errors import VersionConflict
        raise VersionConflict(CONFLICT)


def lock_archive(con, then: str | None = None):
    """Make sure the transaction holds the archive's write lock (PostgreSQL, begun with
    ``late_lock=True``; a no-op otherwise): before reading what a write depends on
    archive-wide, such as the audit chain's head. ``then``: a query without parameters
    sent with the lock in one round trip; its cursor is returned, or None when nothing was
    sent (SQLite, or the lock was held already: run the query yourself)."""
    fn = getattr(con, "lock_archive", None)
    return fn(then) if fn is not None else None


@contextmanager
def transaction(con: sqlite3.Connection, *, timeout: float = 30.0, late_lock: bool = False):
    """BEGIN IMMEDIATE … COMMIT; writers are serialised: the threads of this process
    by the file's writer lock (:func:`writing`), processes by SQLite.

    A writer that cannot get the lock within ``timeout`` gets :class:`Locked`
    (exit 11); any exception rolls the whole transaction back.

    ``late_lock`` (PostgreSQL only; SQLite ignores it): begin without the archive's write lock;
    the transaction may lock one dossier (:func:`lock_dossier`) and read, and takes the archive
    lock before its first write (:func:`lock_archive`, or automatically) — so writers to
    different dossiers overlap in their reading and crypto (docs/decisions.md, issue 12).
    """
    if getattr(con, "is_postgres", False):
        with con.write_transaction(timeout, late=late_lock) as c:
            yield c
        return
    deadline = time.monotonic() + timeout
    with writing(con, timeout):
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
