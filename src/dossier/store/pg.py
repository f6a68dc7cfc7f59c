"""The metadata store on PostgreSQL (issue 12), behind the same connection
interface the features use on SQLite.

:class:`PgConnection` offers the DB-API subset the features call on a
``sqlite3.Connection`` (``execute`` / ``executemany`` / ``executescript``,
cursors with ``fetchone`` / ``fetchall`` / iteration / ``rowcount``, rows
addressable by column name and by index like ``sqlite3.Row``,
``in_transaction``, ``commit`` / ``rollback`` / ``close``) and translates the
few SQLite-isms the features write (:func:`translate`), so a feature's SQL
runs unchanged on both stores:

- ``?`` placeholders → ``%s`` (a literal ``%`` is doubled);
- the column name ``user`` (reserved in PostgreSQL) → ``"user"``;
- ``INSERT OR IGNORE`` → ``… ON CONFLICT DO NOTHING``; ``INSERT OR REPLACE``
  → ``… ON CONFLICT (primary key) DO UPDATE SET`` every other column;
- ``BEGIN IMMEDIATE`` → ``BEGIN`` plus the archive's write lock
  (``pg_advisory_xact_lock``), so writers are serialised exactly as SQLite
  serialises them (the audit chain never forks; see docs/decisions.md).
  One path opts out (:meth:`PgConnection.begin` with ``late=True``: adding an
  entry to a dossier): it reads under a lock of its own dossier and takes the
  archive lock only at its first write (the audit append), so writers to
  different dossiers overlap in everything but the append and the commit;
- ``PRAGMA …`` → nothing (``foreign_keys=OFF``: ``session_replication_role``, superusers only);
- ``sqlite_master`` → ``dossier_schema`` (the features' own DDL, SQLite dialect),
  ``PRAGMA table_info(t)`` → the same rows from ``information_schema``;
- DDL (``CREATE TABLE``, ``ALTER TABLE``): ``BLOB`` → ``BYTEA``, ``INTEGER`` → ``BIGINT`` (SQLite integers are
  64-bit), ``INTEGER PRIMARY KEY`` → an identity column, ``TEXT`` → ``TEXT
  COLLATE "C"`` (byte order, as SQLite sorts), and a trailing ``rowid
  BIGSERIAL`` column on other tables so ``ORDER BY rowid`` (insertion order)
  keeps working; ``SELECT *`` does not show it.

The big tables (``dossiers``, ``versions``, ``blobs``, ``objects``) are partitioned by
``top_scope`` when the features' DDL carries that column (:data:`PARTITIONED_DDL` replaces the
translation; partitions by :meth:`PgConnection.add_partition`; an archive made before them is
rebuilt by :meth:`PgConnection.upgrade_partitions`; see :mod:`dossier.store.partition`).

Blobs live in the ``objects`` table (:class:`PgBlobStore`), content-addressed
and verified exactly like the files under ``objects/``, so one ``pg_dump``
covers the whole archive.
"""

from __future__ import annotations

import functools
import hashlib
import re
import time
from contextlib import contextmanager

import psycopg
from psycopg import errors as pgerrors
from psycopg.pq import TransactionStatus

from ..errors import IntegrityError, Locked, NotFound, StoreUnavailable, VersionConflict
from .meta import CONFLICT as _CONFLICT

# the archive's one write lock (pg_advisory_xact_lock key): "dossier" in ASCII
WRITE_LOCK = 0x646F7373696572
# a dossier's own lock: pg_advisory_xact_lock(DOSSIER_LOCK, int4 of the dossier id's SHA-256), the
# two-key lock space (never equal to the one-key WRITE_LOCK): "doss" in ASCII
DOSSIER_LOCK = 0x646F7373
# reads of tables that only change under the archive lock (kept for the transaction, execute)
_STABLE_READ = re.compile(r"^\s*SELECT\s[^;]*\sFROM\s+scope_keys\b(?![^;]*\b(?:JOIN|FROM\s+\w+\s*,)\b)", re.I | re.S)
_STABLE_TABLE = re.compile(r"\bscope_keys\b", re.I)
# a deferred compare-and-swap that changed another number of rows fails with this text
_CAS_FAILED = "dossier-compare-and-swap-failed"
_CAS_STATEMENT = re.compile(r"^\s*(UPDATE|DELETE)\s", re.I)
# statements that write: in a late-locked transaction they take the archive lock first
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "ALTER", "DROP", "TRUNCATE", "WITH")

# PostgreSQL-only tables: the blobs, and the features' DDL as they wrote it (SQLite dialect), so
# `dossier migrate --to ./dir` recreates every table exactly as an embedded archive has it
OBJECTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects(id TEXT PRIMARY KEY, data BLOB NOT NULL, created TEXT NOT NULL,
    top_scope INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS dossier_schema(name TEXT PRIMARY KEY, type TEXT NOT NULL, sql TEXT NOT NULL);
"""
PG_ONLY_TABLES = ("objects", "dossier_schema")
_DDL_NAME = re.compile(r"^\s*CREATE\s+(TABLE|INDEX|UNIQUE\s+INDEX)\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w\"]+)", re.I)

# The big tables, partitioned by their top-level scope (docs/decisions.md "Partitioning by
# scope"; dossier.store.partition): a feature's SQLite DDL for one of them that carries
# top_scope becomes this. Primary keys lead with the partition key (a unique constraint of a
# partitioned table must include it), the global ones — 档号, ref_norm, the ID token — live in
# dossier_keys; an index on the id alone serves the lookups that do not carry top_scope yet.
# Columns in the SQLite order, then rowid (insertion order, as elsewhere). The partitions:
# <table>_default, and <table>_s<top scope id> (PgConnection.add_partition).
PARTITIONED = ("dossiers", "versions", "blobs", "objects")
_TEXT = 'TEXT COLLATE "C"'
PARTITIONED_DDL = {
    "dossiers": f"""CREATE TABLE IF NOT EXISTS dossiers(
        id {_TEXT} NOT NULL, archive_no {_TEXT} NOT NULL, ref_norm {_TEXT} NOT NULL,
        scope BIGINT NOT NULL REFERENCES scopes(id), id_token BYTEA NOT NULL, head BIGINT NOT NULL,
        created {_TEXT} NOT NULL, top_scope BIGINT NOT NULL, rowid BIGSERIAL,
        PRIMARY KEY(top_scope, id)) PARTITION BY LIST (top_scope);
      CREATE INDEX IF NOT EXISTS dossiers_id ON dossiers(id)""",
    "versions": f"""CREATE TABLE IF NOT EXISTS versions(
        dossier {_TEXT} NOT NULL, version BIGINT NOT NULL, parent_hash BYTEA NOT NULL, author {_TEXT} NOT NULL,
        time {_TEXT} NOT NULL, key_version BIGINT NOT NULL, content BYTEA NOT NULL, audit_head BYTEA,
        hash BYTEA NOT NULL, signature BYTEA NOT NULL, top_scope BIGINT NOT NULL, rowid BIGSERIAL,
        PRIMARY KEY(top_scope, dossier, version),
        FOREIGN KEY(top_scope, dossier) REFERENCES dossiers(top_scope, id)) PARTITION BY LIST (top_scope);
      CREATE INDEX IF NOT EXISTS versions_dossier ON versions(dossier, version)""",
    "blobs": f"""CREATE TABLE IF NOT EXISTS blobs(
        id {_TEXT} NOT NULL, scope BIGINT NOT NULL, dossier {_TEXT}, kind {_TEXT} NOT NULL,
        key {_TEXT} NOT NULL DEFAULT 'data', key_version BIGINT NOT NULL, size BIGINT NOT NULL,
        created {_TEXT} NOT NULL, top_scope BIGINT NOT NULL, rowid BIGSERIAL,
        PRIMARY KEY(top_scope, id)) PARTITION BY LIST (top_scope);
      CREATE INDEX IF NOT EXISTS blobs_id ON blobs(id)""",
    "objects": f"""CREATE TABLE IF NOT EXISTS objects(
        id {_TEXT} NOT NULL, data BYTEA NOT NULL, created {_TEXT} NOT NULL, top_scope BIGINT NOT NULL,
        rowid BIGSERIAL, PRIMARY KEY(top_scope, id)) PARTITION BY LIST (top_scope);
      CREATE INDEX IF NOT EXISTS objects_id ON objects(id)""",
}
for _t in PARTITIONED:
    PARTITIONED_DDL[_t] += f";\n      CREATE TABLE IF NOT EXISTS {_t}_default PARTITION OF {_t} DEFAULT"
_TOP_SCOPE = re.compile(r"\btop_scope\b", re.I)

_ALTER_TABLE = re.compile(r"^\s*ALTER\s+TABLE\s+([\w\"]+)", re.I)
_SQLITE_MASTER = re.compile(r"\bsqlite_(?:master|schema)\b", re.I)
_TABLE_INFO = re.compile(r"^\s*PRAGMA\s+table_info\s*\(\s*[\"']?(\w+)[\"']?\s*\)", re.I)

MISSING_TABLE = (pgerrors.UndefinedTable,)

# --------------------------------------------------------------------------------------------- translation
_TOKEN = re.compile(r"""('(?:[^']|'')*')|("(?:[^"]|"")*")|(--[^\n]*)|([^'"-]+|-)""", re.S)
_WORD_USER = re.compile(r"(?<![\w\"])user(?![\w\"])", re.I)
_INSERT_OR = re.compile(r"^\s*INSERT\s+OR\s+(IGNORE|REPLACE)\s+INTO\s+", re.I)
_INSERT_TABLE = re.compile(r"^\s*INSERT\s+INTO\s+([\w\"]+)\s*\(([^)]*)\)", re.I)
_RETURNING = re.compile(r"\sRETURNING\s", re.I)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?([\w\"]+)\s*\(", re.I)


def _split_code(sql: str):
    """(is_code, text) pieces: string literals, quoted identifiers and comments are not code."""
    for m in _TOKEN.finditer(sql):
        lit, ident, comment, code = m.groups()
        if code is not None:
            yield True, code
        elif comment is not None:
            continue
        else:
            yield False, lit or ident


def _map_code(sql: str, fn) -> str:
    return "".join(fn(t) if is_code else t for is_code, t in _split_code(sql))


def _types(code: str) -> str:
    code = re.sub(r"\bINTEGER\s+PRIMARY\s+KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", code,
                  flags=re.I)
    code = re.sub(r"\bINTEGER\b", "BIGINT", code, flags=re.I)
    code = re.sub(r"\bBLOB\b", "BYTEA", code, flags=re.I)
    code = re.sub(r"\bREAL\b", "DOUBLE PRECISION", code, flags=re.I)
    code = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', code, flags=re.I)
    return code


def _ddl(sql: str) -> str:
    m = _CREATE_TABLE.match(sql)
    if m and m.group(1).strip('"') in PARTITIONED_DDL and _TOP_SCOPE.search(sql):
        return PARTITIONED_DDL[m.group(1).strip('"')]
    out = _map_code(sql, _types)
    if _CREATE_TABLE.match(sql) and "IDENTITY PRIMARY KEY" not in out:
        i = out.rstrip().rstrip(";").rstrip()
        assert i.endswith(")"), sql
        out = i[:-1].rstrip() + ", rowid BIGSERIAL)"
    return out


@functools.lru_cache(maxsize=4096)
def translate(sql: str, with_params: bool = True) -> tuple[str, str | None, str | None]:
    """(PostgreSQL text, ``"ignore"``/``"replace"``/None, table for a REPLACE).

    Pure; the primary key a REPLACE needs is filled in by the connection."""
    mode = table = None
    m = _INSERT_OR.match(sql)
    if m:
        mode = m.group(1).lower()
        sql = "INSERT INTO " + sql[m.end():]
    if re.match(r"^\s*CREATE\s+TABLE", sql, re.I):
        sql = _ddl(sql)
    elif _ALTER_TABLE.match(sql):
        sql = _map_code(sql, _types)

    def code(t: str) -> str:
        if with_params:
            t = t.replace("%", "%%").replace("?", "%s")
        t = _SQLITE_MASTER.sub("dossier_schema", t)
        return _WORD_USER.sub('"user"', t)

    sql = "".join(code(t) if is_code else (t.replace("%", "%%") if with_params else t)
                  for is_code, t in _split_code(sql))
    if mode:
        tm = _INSERT_TABLE.match(sql)
        table = tm.group(1).strip('"') if tm else None
        body = sql.rstrip().rstrip(";")
        r = _RETURNING.search(body)
        tail = ""
        if r:
            body, tail = body[:r.start()], body[r.start():]
        if mode == "ignore":
            sql = body + " ON CONFLICT DO NOTHING" + tail
        else:
            sql = body + " {ON_CONFLICT}" + tail
    return sql, mode, table


def split_script(script: str) -> list[str]:
    out, cur = [], []
    for is_code, t in _split_code(script):
        if not is_code:
            cur.append(t)
            continue
        parts = t.split(";")
        for i, p in enumerate(parts):
            cur.append(p)
            if i < len(parts) - 1:
                out.append("".join(cur))
                cur = []
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


# --------------------------------------------------------------------------------------------- rows, cursors
class Row(tuple):
    """A result row like ``sqlite3.Row``: by index, by (case-insensitive) column name, ``keys()``."""

    __slots__ = ()
    _names: tuple = ()

    def __getitem__(self, key):
        if key.__class__ is str:        # the names as the query spelled them, then any case
            i = self._index.get(key)
            if i is None:
                i = self._index.get(key.lower())
                if i is None:
                    raise IndexError(f"No item with that key: {key}")
            return tuple.__getitem__(self, i)
        if isinstance(key, str):
            return self[str(key)]
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.lru_cache(maxsize=1024)
def _row_class(names: tuple) -> type:
    index = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    index.update({n: i for i, n in reversed(list(enumerate(names))) if n not in index})
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": index})


class Cursor:
    def __init__(self, cur, hide_rowid: bool):
        self._cur = cur
        self._cls = None
        self._keep = None
        self.rowcount = cur.rowcount
        self.lastrowid = None
        if cur.description is not None:
            names = [d.name for d in cur.description]
            if hide_rowid and "rowid" in names:
                self._keep = [i for i, n in enumerate(names) if n != "rowid"]
                names = [names[i] for i in self._keep]
            self._cls = _row_class(tuple(names))

    @property
    def description(self):
        return self._cur.description

    def _wrap(self, t):
        if t is None:
            return None
        if self._keep is not None:
            t = [t[i] for i in self._keep]
        return tuple.__new__(self._cls, t)

    def fetchone(self):
        if self._cls is None:
            return None
        return self._wrap(self._cur.fetchone())

    def fetchall(self) -> list:
        if self._cls is None:
            return []
        return [self._wrap(t) for t in self._cur.fetchall()]

    def fetchmany(self, size: int = 100) -> list:
        if self._cls is None:
            return []
        return [self._wrap(t) for t in self._cur.fetchmany(size)]

    def __iter__(self):
        if self._cls is None:
            return
        while True:
            rows = self._cur.fetchmany(500)
            if not rows:
                return
            for t in rows:
                yield self._wrap(t)

    def close(self) -> None:
        self._cur.close()


class _Rows:
    """Rows already fetched (a catalogue answer kept for the rest of a transaction)."""

    def __init__(self, rows: list):
        self._rows = rows
        self.rowcount = len(rows)
        self.lastrowid = None
        self.description = None

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchall(self):
        return list(self._rows)

    def fetchmany(self, size: int = 100):
        return list(self._rows[:size])

    def __iter__(self):
        return iter(list(self._rows))


class _Empty:
    rowcount = -1
    lastrowid = None
    description = None

    def fetchone(self):
        return None

    def fetchall(self):
        return []

    def __iter__(self):
        return iter(())


# --------------------------------------------------------------------------------------------- connection
def _connect(url: str, timeout: float):
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=max(2, int(timeout)))
    except psycopg.OperationalError as e:
        raise StoreUnavailable(f"无法连接档案库的 PostgreSQL 数据库（{_redact(url)}）：{_first_line(e)}") from None


def _redact(url: str) -> str:
    return re.sub(r"(//[^:/@]*):[^@]*@", r"\1:***@", url)


def _first_line(e: Exception) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


class PgConnection:
    """See the module docstring. One per session, like the SQLite connection."""

    is_postgres = True
    row_factory = None          # accepted and ignored (rows are always Row)
    _created: set = set()       # (url, CREATE statement) already run in this process

    def __init__(self, url: str, *, timeout: float = 30.0):
        self.url = url
        self.timeout = timeout
        self._pg = _connect(url, timeout)
        self._pks: dict[str, list[str]] = {}
        self._cols: dict[str, list[str]] = {}
        self._late = False              # this transaction has not taken the archive lock yet
        self.archive_locked = False     # this transaction holds the archive lock
        self.began_late = False         # … and began without it (begin(late=True))
        self._deferred: list[tuple[str, tuple]] = []   # writes sent with the next statement (defer)
        self._flush_after = False       # commit asynchronously, then wait for the WAL flush
        self._catalogue: dict = {}      # catalogue answers of this transaction (execute)
        self.tx_serial = 0              # counts transactions begun (AuditLog: "still the same one?")
        self._may_emit: bool | None = None

    # -- the DB-API subset -------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        return self._pg.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params=()):
        head = sql.lstrip()[:16].upper()
        if head.startswith("PRAGMA"):
            ti = _TABLE_INFO.match(sql)
            if ti:      # (cid, name, type, notnull, dflt_value, pk), as SQLite answers it
                cur = self._pg.execute(
                    "SELECT c.ordinal_position - 1 AS cid, c.column_name AS name, upper(c.data_type) AS type,"
                    " (c.is_nullable = 'NO')::int AS notnull, c.column_default AS dflt_value,"
                    " COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k"
                    "  JOIN information_schema.table_constraints t ON t.constraint_name = k.constraint_name"
                    "  AND t.constraint_type = 'PRIMARY KEY' WHERE k.table_name = c.table_name"
                    "  AND k.column_name = c.column_name AND k.table_schema = c.table_schema), 0) AS pk"
                    " FROM information_schema.columns c WHERE c.table_schema = current_schema()"
                    " AND c.table_name = %s AND c.column_name <> 'rowid' ORDER BY c.ordinal_position",
                    (ti.group(1),))
                return Cursor(cur, False)
            # only "foreign_keys=OFF" means something else here: (superuser only) stop enforcing them
            if re.match(r"\s*PRAGMA\s+foreign_keys\s*=\s*(OFF|0|FALSE)\b", sql, re.I):
                self._pg.execute("SET session_replication_role = replica")
            return _Empty()
        if head.startswith("BEGIN"):
            self.begin()
            return _Empty()
        if re.fullmatch(r"\s*(COMMIT|END)(\s+TRANSACTION)?\s*;?\s*", sql, re.I):
            self.commit()
            return _Empty()
        # the features' catalogue (sqlite_master → dossier_schema) is read the same way several
        # times per write ("does this archive have the transfer tables yet?"): within one
        # transaction the first answer is kept (until its own DDL), one round trip each
        catalogue = self.in_transaction and _SQLITE_MASTER.search(sql) is not None
        # the scope keys change only under the archive lock: while this transaction holds it,
        # what it read of them stays true until it writes them itself (an import asks for the
        # current key version of the same scope for every row). A late-locked one (an entry
        # add) may keep them too: its compare-and-swap re-checks the key version under the lock
        if not catalogue and (self.archive_locked or self.began_late) and _STABLE_READ.match(sql) \
                and self.in_transaction:
            catalogue = True
        elif self._catalogue and _STABLE_TABLE.search(sql) and not head.startswith("SELECT"):
            self._catalogue.clear()
        if catalogue:
            key = (sql, tuple(params) if params else ())
            hit = self._catalogue.get(key)
            if hit is not None:
                return _Rows(hit)
        # a write of a late-locked transaction: the archive lock goes with it, in one round trip
        lock = self._late and head.startswith(_WRITES) and not self.archive_locked
        ending = head.startswith(("COMMIT", "END", "ROLLBACK")) and "SAVEPOINT" not in sql.upper()
        if ending and head.startswith("ROLLBACK"):
            self._deferred = []
        text, mode, table = translate(sql, bool(params))
        if mode == "replace":
            text = text.replace("{ON_CONFLICT}", self._upsert(table, sql))
        try:
            if self._deferred or lock:
                cur = self._flush(text, params if params else None, lock=lock)
            else:
                cur = self._pg.execute(text, params if params else None)
        except psycopg.OperationalError as e:
            if isinstance(e, pgerrors.LockNotAvailable):
                raise Locked() from None
            if self._pg.closed or self._pg.broken:
                raise StoreUnavailable(f"与档案库数据库的连接中断：{_first_line(e)}") from None
            raise
        finally:
            if ending:
                self._late = self.archive_locked = self.began_late = False
        if catalogue:
            out = Cursor(cur, True)
            rows = out.fetchall()
            self._catalogue[key] = rows
            return _Rows(rows)
        if ending or head.startswith(("CREATE", "ALTER", "DROP")):
            self._catalogue.clear()
        m = _DDL_NAME.match(sql)
        a = _ALTER_TABLE.match(sql) if not m else None
        if m and m.group(2).strip('"').lower() not in PG_ONLY_TABLES:
            kind = "table" if m.group(1).upper() == "TABLE" else "index"
            self._pg.execute("INSERT INTO dossier_schema(name, type, sql) VALUES(%s, %s, %s) ON CONFLICT DO NOTHING",
                             (m.group(2).strip('"'), kind, sql.strip()))
        elif a:         # kept after its table, in order, for migrate --to ./dir
            self._cols.pop(a.group(1).strip('"'), None)
            name = a.group(1).strip('"') + "+" + hashlib.sha256(sql.strip().encode()).hexdigest()[:16]
            self._pg.execute("INSERT INTO dossier_schema(name, type, sql) VALUES(%s, 'alter', %s)"
                             " ON CONFLICT DO NOTHING", (name, sql.strip()))
        return Cursor(cur, "rowid" not in sql.lower())

    def executemany(self, sql: str, seq) -> Cursor | _Empty:
        if self._late:
            self.lock_archive()
        text, mode, table = translate(sql, True)
        if mode == "replace":
            text = text.replace("{ON_CONFLICT}", self._upsert(table, sql))
        self._send_deferred()
        self._catalogue.clear()
        with self._pg.cursor() as cur:
            cur.executemany(text, list(seq))      # psycopg pipelines executemany: one round trip
        return _Empty()

    def defer(self, sql: str, params=(), *, expect_rows: int | None = None) -> None:
        """A write of the write path whose result is not read at once, sent together with the
        next statement or the commit in one round trip (psycopg pipeline mode) instead of one
        of its own; in order with everything else. In a late-locked transaction the archive
        lock goes first in that same round trip. ``expect_rows``: the number of rows it must
        change (a compare-and-swap): the server fails it otherwise, so nothing after it in the
        round trip (the commit) runs, and :class:`VersionConflict` is raised. Outside a
        transaction: run now. Any error it raises surfaces at that next statement or the
        commit, which then fails, and the transaction rolls back as a whole."""
        if not self.in_transaction:
            cur = self.execute(sql, params)
            if expect_rows is not None and cur.rowcount != expect_rows:
                raise VersionConflict(_CONFLICT)
            return
        if _STABLE_TABLE.search(sql):
            self._catalogue.clear()
        text, mode, table = translate(sql, bool(params))
        if mode == "replace":
            text = text.replace("{ON_CONFLICT}", self._upsert(table, sql))
        if expect_rows is not None:
            if not _CAS_STATEMENT.match(text) or _RETURNING.search(text):
                raise ValueError(f"expect_rows 只用于 UPDATE/DELETE：{sql}")
            text = (f"WITH cas AS ({text} RETURNING 1) SELECT CAST(CASE WHEN count(*) = {int(expect_rows)}"
                    f" THEN '1' ELSE '{_CAS_FAILED}' END AS integer) FROM cas")
        self._deferred.append((text, params if params else None))

    def _flush(self, text: str | None, params, *, lock: bool = False):
        """One round trip: the archive lock (``lock``, or a late-locked transaction with writes
        waiting), the deferred writes, then ``text`` (if any); returns its cursor."""
        q, self._deferred = self._deferred, []
        lock = (lock or (self._late and bool(q))) and not self.archive_locked
        cur = None
        try:
            with self._pg.pipeline():
                if lock:
                    self._pg.cursor().execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                for t, p in q:
                    self._pg.cursor().execute(t, p)
                if text is not None:
                    cur = self._pg.cursor()
                    cur.execute(text, params)
        except pgerrors.LockNotAvailable:
            self._rollback_quietly()
            raise Locked() from None
        except pgerrors.InvalidTextRepresentation as e:
            if _CAS_FAILED not in str(e):
                raise
            self._rollback_quietly()
            raise VersionConflict(_CONFLICT) from None
        except psycopg.OperationalError as e:
            if self._pg.closed or self._pg.broken:
                raise StoreUnavailable(f"与档案库数据库的连接中断：{_first_line(e)}") from None
            raise
        if lock:
            self._late, self.archive_locked = False, True
        return cur

    def _send_deferred(self) -> None:
        if self._deferred:
            self._flush(None, None)

    def executescript(self, script: str) -> None:
        self._send_deferred()
        self._catalogue.clear()
        stmts = [s for s in split_script(script) if (self.url, s) not in self._created]
        if not stmts:
            return
        own = not self.in_transaction
        if own:
            self.begin()
        try:
            for s in stmts:
                self.execute(s)
            if own:
                self.commit()
        except BaseException:
            if own:
                self.rollback()
            raise
        for s in stmts:
            if re.match(r"^\s*CREATE\s", s, re.I):
                self._created.add((self.url, s))

    def begin(self, *, late: bool = False) -> None:
        """BEGIN and take the archive's write lock (every BEGIN is IMMEDIATE here), in one round
        trip. ``late``: not yet — :meth:`lock_archive` takes it, at the latest before the
        transaction's first write (see :meth:`lock_dossier`); and the commit does not wait for
        the disk while it holds the lock (:meth:`commit`)."""
        lock = f"; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        if late:
            lock = "; SET LOCAL synchronous_commit = off" if self._can_wait_flush() else ""
        try:
            self._pg.execute(f"BEGIN; SET LOCAL lock_timeout = {int(self.timeout * 1000)}{lock}")
        except pgerrors.LockNotAvailable:
            self._pg.execute("ROLLBACK")
            raise Locked() from None
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"与档案库数据库的连接中断：{_first_line(e)}") from None
        self._late, self.archive_locked, self.began_late = late, not late, late
        self._flush_after = late and bool(lock)
        self._catalogue.clear()
        self.tx_serial += 1

    def _can_wait_flush(self) -> bool:
        """Whether this login may call ``pg_logical_emit_message`` (how :meth:`commit` waits for
        the disk after a late-locked transaction); without it those commit synchronously."""
        if self._may_emit is None:
            try:
                self._may_emit = bool(self._pg.execute(
                    "SELECT has_function_privilege('pg_logical_emit_message(boolean,text,text)', 'EXECUTE')"
                ).fetchone()[0])
            except psycopg.Error:
                self._may_emit = False
        return self._may_emit

    def lock_archive(self, then: str | None = None) -> "Cursor | None":
        """Take the archive's write lock now if this transaction does not hold it yet (a
        late-locked one, at its audit append or first write). Everything read after this
        point sees every writer that committed before (READ COMMITTED: a snapshot per
        statement, and the statements of a pipeline run one after the other), so the audit
        chain is appended on its true head and never forks.

        ``then``: a statement without parameters run right after the lock (and the deferred
        writes) in the same round trip (the chain's head); its cursor is returned — None if
        the lock was held already (run it yourself)."""
        if self.archive_locked or not self.in_transaction:
            return None
        cur = self._flush(translate(then, False)[0] if then else None, None, lock=True)
        return Cursor(cur, "rowid" not in then.lower()) if then else None

    def lock_dossier(self, dossier_id: str) -> bool:
        """In a late-locked transaction that has not written yet: take ``dossier_id``'s own lock
        (held to the end of the transaction) and return True; otherwise False (the archive lock
        is held already, and covers the dossier). A dossier lock is only ever taken *before*
        the archive lock, never while holding it, so two transactions cannot wait on each
        other (no deadlock)."""
        if not self._late:
            return False
        key = int.from_bytes(hashlib.sha256(dossier_id.encode()).digest()[:4], "big", signed=True)
        self._lock("SELECT pg_advisory_xact_lock(%s, %s)", (DOSSIER_LOCK, key))
        return True

    def _lock(self, sql: str, params: tuple | None):
        try:
            return self._pg.execute(sql, params)
        except pgerrors.LockNotAvailable:
            self._pg.execute("ROLLBACK")
            self._late = self.archive_locked = self.began_late = False
            raise Locked() from None
        except psycopg.OperationalError as e:
            raise StoreUnavailable(f"与档案库数据库的连接中断：{_first_line(e)}") from None

    def commit(self) -> None:
        """COMMIT. A late-locked transaction commits without waiting for the disk
        (``synchronous_commit = off``), so its locks — the archive lock — are released at
        once, not after an fsync; then, holding no lock, it waits until the WAL is on disk up
        to a record written after its commit (a transactional ``pg_logical_emit_message``
        commits synchronously), and only then returns: what it reports as saved is durable,
        and concurrent writers' waits share one fsync (group commit). A crash before that
        flush loses this commit and every later one together (the WAL is replayed as a
        prefix), so the audit chain never has a gap; other sessions may see the change for
        those milliseconds before it is durable (docs/decisions.md, issue 12)."""
        wait = self._flush_after
        try:
            if self.in_transaction:
                if self._deferred:
                    self._flush("COMMIT", None)     # the last writes and the commit: one round trip
                else:
                    self._pg.execute("COMMIT")
            else:
                wait = False
        finally:
            self._late = self.archive_locked = self.began_late = self._flush_after = False
            self._catalogue.clear()
        if wait:
            try:
                self._pg.execute("SELECT pg_logical_emit_message(true, 'dossier', '')")
            except psycopg.OperationalError as e:
                raise StoreUnavailable("提交后等待数据库写盘时连接中断：本次改动可能已经保存，也可能没有，"
                                       f"请在数据库恢复后查看该档案再决定是否重做（{_first_line(e)}）") from None

    def rollback(self) -> None:
        self._late = self.archive_locked = self.began_late = self._flush_after = False
        self._catalogue.clear()
        self._deferred = []
        if self.in_transaction:
            self._pg.execute("ROLLBACK")

    def close(self) -> None:
        self._pg.close()

    # -- partitions (docs/decisions.md "Partitioning by scope") -------------------------------
    def add_partition(self, top_scope: int) -> None:
        """``top_scope``'s partition of every partitioned table, in this transaction (a new
        top-level scope: ``scope add``; the upgrade; ``migrate``). Not recorded in
        ``dossier_schema``: an embedded archive has no partitions."""
        top = int(top_scope)
        self._send_deferred()
        for t in PARTITIONED:
            self._pg.execute(f"CREATE TABLE IF NOT EXISTS {t}_s{top} PARTITION OF {t} FOR VALUES IN ({top})")
        self._catalogue.clear()

    def partitions(self, table: str) -> dict[str, str]:
        """{partition name: its bound} of ``table`` (``FOR VALUES IN (7)``, ``DEFAULT``)."""
        rows = self._pg.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i JOIN pg_class c"
            " ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY c.relname", (table,)).fetchall()
        return {r[0]: r[1] for r in rows}

    def has_partition_layout(self) -> bool:
        """Whether ``dossiers`` is partitioned by top_scope (an archive made before: no) and
        ``dossier_keys`` exists."""
        row = self._pg.execute(
            "SELECT (SELECT relkind FROM pg_class WHERE oid = to_regclass('dossiers')),"
            " to_regclass('dossier_keys') IS NOT NULL").fetchone()
        return row[0] == "p" and bool(row[1])

    def upgrade_partitions(self, tops: dict[int, int], ddl: list[str]) -> None:
        """Turn an archive made before partitioning into the partitioned layout, in the caller's
        transaction (which holds the archive lock): PostgreSQL cannot partition a table in
        place, so each big table is renamed aside (its indexes too: their names are reused),
        made anew from ``ddl`` (the features' SQLite DDL, translated as for a new archive),
        given a partition per top-level scope, filled by ``INSERT … SELECT`` with top_scope
        computed from ``tops`` ({scope: top-level scope}; versions take their dossier's,
        objects their blob row's, unreferenced objects 0: the DEFAULT partition), and the old
        table dropped. ``dossier_keys`` is filled from the dossiers; ``dossier_schema`` gets
        the new DDL (``migrate --to ./dir`` recreates the new layout)."""
        pg = self._pg
        self._send_deferred()
        for t in PARTITIONED:
            for (ix,) in pg.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                                    " WHERE i.indrelid = %s::regclass", (t,)).fetchall():
                pg.execute(f'ALTER INDEX "{ix}" RENAME TO "{ix}_pre"')
            pg.execute(f"ALTER TABLE {t} RENAME TO {t}_pre")
        pg.execute("DELETE FROM dossier_schema WHERE name IN ('dossiers', 'versions', 'blobs')"
                   " OR name LIKE 'dossiers+%' OR name LIKE 'versions+%' OR name LIKE 'blobs+%'")
        tables = [s for s in ddl if re.match(r"\s*CREATE\s+TABLE", s, re.I)]
        for s in tables:
            self.execute(s)
        self.execute(split_script(OBJECTS_SCHEMA)[0])
        for top in sorted(set(tops.values())):
            self.add_partition(top)
        pairs = sorted(tops.items())
        scopes, top_ids = [p[0] for p in pairs], [p[1] for p in pairs]
        tmap = "(SELECT unnest(%s::bigint[]) AS scope, unnest(%s::bigint[]) AS top)"

        def copy(t: str, a: str, top: str, join: str = "", params=None) -> None:
            """``t``_pre's rows into ``t`` (alias ``a``), with ``top`` as their top_scope."""
            c = [f'"{x}"' for x in self.columns(f"{t}_pre") if x != "top_scope"]
            pg.execute(f"INSERT INTO {t}({', '.join(c)}, top_scope) SELECT {', '.join(f'{a}.{x}' for x in c)},"
                       f" {top} FROM {t}_pre {a}{join}", params)

        copy("dossiers", "d", "COALESCE(m.top, 0)", f" LEFT JOIN {tmap} m ON m.scope = d.scope", (scopes, top_ids))
        copy("versions", "v", "d.top_scope", " JOIN dossiers d ON d.id = v.dossier")
        copy("blobs", "b", "COALESCE(m.top, 0)", f" LEFT JOIN {tmap} m ON m.scope = b.scope", (scopes, top_ids))
        copy("objects", "o", "COALESCE((SELECT b.top_scope FROM blobs b WHERE b.id = o.id LIMIT 1), 0)")
        pg.execute("INSERT INTO dossier_keys(id_token, ref_norm, archive_no, dossier, top_scope)"
                   " SELECT id_token, ref_norm, archive_no, id, top_scope FROM dossiers")
        for t in PARTITIONED:
            pg.execute(f"DROP TABLE {t}_pre CASCADE")
            pg.execute(f"SELECT setval(pg_get_serial_sequence('{t}', 'rowid'),"
                       f" GREATEST((SELECT MAX(rowid) FROM {t}), 1))")
        for s in ddl:
            if s not in tables:
                self.execute(s)
        self._cols.clear()
        self._pks.clear()
        self._catalogue.clear()

    # -- helpers -----------------------------------------------------------------------------
    def columns(self, table: str) -> list[str]:
        if table not in self._cols:
            rows = self._pg.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
                " AND NOT attisdropped ORDER BY attnum", (table,)).fetchall()
            self._cols[table] = [r[0] for r in rows]
        return self._cols[table]

    def _upsert(self, table: str | None, sql: str) -> str:
        if table is None:
            raise ValueError(f"INSERT OR REPLACE 无法转换：{sql}")
        if table not in self._pks:
            rows = self._pg.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid"
                " AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                (table,)).fetchall()
            self._pks[table] = [r[0] for r in rows]
        pk = self._pks[table]
        m = _INSERT_TABLE.match(translate(sql, True)[0])
        cols = [c.strip().strip('"') for c in m.group(2).split(",")] if m else []
        sets = [c for c in cols if c not in pk]
        target = ", ".join(f'"{c}"' for c in pk)
        if not sets:
            return f"ON CONFLICT ({target}) DO NOTHING"
        return f"ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in sets)

    @contextmanager
    def write_transaction(self, timeout: float = 30.0, *, late: bool = False):
        """The PostgreSQL side of :func:`dossier.store.meta.transaction`."""
        saved, self.timeout = self.timeout, timeout
        try:
            self.begin(late=late)
        finally:
            self.timeout = saved
        try:
            yield self
        except BaseException:
            if not self._pg.closed:
                try:
                    self.rollback()
                except psycopg.Error:
                    pass
            raise
        else:
            try:
                self.commit()
            except psycopg.OperationalError as e:
                self._rollback_quietly()
                raise StoreUnavailable(f"提交时与档案库数据库的连接中断（本次改动未写入）：{_first_line(e)}") from None
            except StoreUnavailable:
                raise
            except BaseException:       # a deferred write failed: the transaction is void
                self._rollback_quietly()
                raise

    def _rollback_quietly(self) -> None:
        if not self._pg.closed:
            try:
                self.rollback()
            except psycopg.Error:
                pass        # the connection is already broken: the caller's own error is what counts


def connect(url: str, *, timeout: float = 30.0) -> PgConnection:
    return PgConnection(url, timeout=timeout)


def create_database(pattern: str) -> str:
    """``postgresql://…/name_*?…`` → a new database (``*`` → random hex) created through the
    server's ``postgres`` database (needs CREATEDB); returns its URL."""
    import os
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(pattern)
    name = u.path.lstrip("/").replace("*", os.urandom(6).hex())
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        from ..errors import InvalidInput
        raise InvalidInput(field="store", reason="数据库名只能含字母、数字和下划线")
    admin = _connect(urlunsplit(u._replace(path="/postgres")), 30)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    return urlunsplit(u._replace(path="/" + name))


def create(url: str, schema: str) -> PgConnection:
    con = connect(url)
    if con.execute("SELECT to_regclass('meta')").fetchone()[0] is not None:
        con.close()
        from ..errors import ArchiveExists
        raise ArchiveExists("该 PostgreSQL 数据库中已有档案库")
    con.executescript(OBJECTS_SCHEMA)
    con.executescript(schema)
    return con


# --------------------------------------------------------------------------------------------- blobs
class PgBlobStore:
    """Blobs in the ``objects`` table: named by the SHA-256 of the sealed bytes,
    verified on every read exactly like :class:`dossier.store.blobs.BlobStore`."""

    def __init__(self, con: PgConnection):
        self.con = con

    def put(self, sealed: bytes, *, top_scope: int) -> str:
        """Store ``sealed`` in ``top_scope``'s partition (0: none known — the DEFAULT one)."""
        from ..clock import now_iso

        from .atomic import crash_point

        blob_id = hashlib.sha256(sealed).hexdigest()
        # the same crash points as the file write (tests): before the bytes are stored, and
        # once they are but the row that references them is not yet committed
        crash_point("atomic-after-write")
        self.con.execute("INSERT OR IGNORE INTO objects(id, data, created, top_scope) VALUES(?,?,?,?)",
                         (blob_id, sealed, now_iso(), int(top_scope)))
        crash_point("atomic-after-rename")
        return blob_id

    def raw(self, blob_id: str) -> bytes | None:
        row = self.con.execute("SELECT data FROM objects WHERE id=?", (blob_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def get(self, blob_id: str) -> bytes:
        data = self.raw(blob_id)
        if data is None:
            raise NotFound(f"数据块 {blob_id[:12]}… 缺失")
        if hashlib.sha256(data).hexdigest() != blob_id:
            raise IntegrityError(f"数据块 {blob_id[:12]}… 内容与校验值不符（已损坏或被篡改）")
        return data

    def delete(self, blob_id: str) -> None:
        self.con.execute("DELETE FROM objects WHERE id=?", (blob_id,))

    def ids(self):
        for (i,) in self.con.execute("SELECT id FROM objects ORDER BY id").fetchall():
            yield i

    def sweep(self, known: set, *, min_age_s: float, dry_run: bool) -> tuple[list[str], int]:
        from ..clock import now_iso  # noqa: F401  (same clock as put)
        import datetime as _dt

        removed, kept = [], 0
        now = _dt.datetime.now(_dt.timezone.utc)
        for i, created in self.con.execute("SELECT id, created FROM objects ORDER BY id").fetchall():
            if i in known:
                continue
            try:
                age = (now - _dt.datetime.fromisoformat(created)).total_seconds()
            except ValueError:
                age = min_age_s
            if age < min_age_s:
                kept += 1
                continue
            removed.append(f"objects:{i}")
            if not dry_run:
                self.con.execute("DELETE FROM objects WHERE id=?", (i,))
        return removed, kept


def wait_ready(url: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
