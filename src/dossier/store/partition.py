"""The partition key of the big tables: ``top_scope`` (issue 12 part 3, docs/decisions.md
"Partitioning by scope").

``dossiers``, ``versions`` and ``blobs`` (and on PostgreSQL ``objects``) carry the id of
the dossier's *top-level scope*: the scope at the second level of its path (the 街道 of
``珠晖区/粤汉街道/苗圃社区``), or the scope itself when it is at the first or second level
(a dossier filed at the root 区 is its own partition). It is fixed at 建档: no operation
moves a dossier to another scope (``scope`` is written once, by ``dossiers.create`` and a
transfer's import; a hand-over makes a new row in the receiving archive), so it never
changes; ``check`` reports a row whose ``top_scope`` disagrees with its scope.

On SQLite the column is carried unpartitioned; on PostgreSQL the tables are
``PARTITION BY LIST (top_scope)`` with one partition per top-level scope plus a DEFAULT
one (:mod:`dossier.store.pg`). "One person, one dossier in the whole archive" is kept by
``dossier_keys`` (unpartitioned, on both stores), written in the same transaction as the
dossier.

:func:`ensure` upgrades an archive made before the column (on open, under the archive's
write lock, in one transaction).
"""

from __future__ import annotations

import threading

# the tables that carry top_scope on both stores (PostgreSQL adds ``objects``)
TABLES = ("dossiers", "versions", "blobs")


def top_of(path: str, id_by_path: dict[str, int]) -> int:
    """The top-level scope id of the scope at ``path`` (see the module docstring)."""
    parts = path.split("/")
    return id_by_path["/".join(parts[:2])]


def top_scopes(con) -> dict[int, int]:
    """{scope id: its top-level scope id} for every scope of the archive."""
    rows = [(r[0], r[1]) for r in con.execute("SELECT id, path FROM scopes").fetchall()]
    by_path = {p: i for i, p in rows}
    return {i: top_of(p, by_path) for i, p in rows}


def is_top(path: str) -> bool:
    """Whether a scope at ``path`` is a top-level scope (has a partition of its own)."""
    return path.count("/") <= 1


def add_partition(con, top_scope: int) -> None:
    """Make ``top_scope``'s partitions (PostgreSQL, in the caller's transaction: ``scope add``,
    the upgrade, ``migrate``); nothing on SQLite."""
    fn = getattr(con, "add_partition", None)
    if fn is not None:
        fn(int(top_scope))


_DONE: set = set()
_DONE_GUARD = threading.Lock()


def _has_layout(con) -> bool:
    fn = getattr(con, "has_partition_layout", None)
    if fn is not None:
        return fn()
    cols = {r[1] for r in con.execute("PRAGMA table_info(dossiers)")}
    keys = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='dossier_keys'").fetchone()
    return "top_scope" in cols and keys is not None


def ensure(con, where: str, *, timeout: float = 30.0) -> bool:
    """Upgrade an archive made before ``top_scope`` (once per process and archive ``where``):
    returns True when it did. SQLite: add the column to the three tables, fill it from the
    scope tree, fill ``dossier_keys``. PostgreSQL: new partitioned tables filled by
    ``INSERT … SELECT``, the old ones dropped (:meth:`dossier.store.pg.PgConnection.
    upgrade_partitions`). One transaction under the archive's write lock: a crash leaves the
    old layout, whole."""
    if where in _DONE:
        return False
    from .meta import transaction

    if _has_layout(con):
        with _DONE_GUARD:
            _DONE.add(where)
        return False
    with transaction(con, timeout=timeout):
        if _has_layout(con):        # another process did it meanwhile
            did = False
        else:
            tops = top_scopes(con)
            fn = getattr(con, "upgrade_partitions", None)
            if fn is not None:
                fn(tops, _new_ddl())
            else:
                _upgrade_sqlite(con, tops)
            did = True
    with _DONE_GUARD:
        _DONE.add(where)
    return did


def _new_ddl() -> list[str]:
    """The SQLite DDL of the tables the upgrade (re)creates, and their indexes, from
    :data:`dossier.store.meta.SCHEMA`."""
    from .meta import SCHEMA

    want = (*TABLES, "dossier_keys")
    out = []
    for s in (s.strip() for s in SCHEMA.split(";") if s.strip()):
        words = s.replace("(", " ").split()
        if s.upper().startswith("CREATE TABLE") and words[5] in want:
            out.append(s)
        elif s.upper().startswith("CREATE INDEX") and words[7] in want:
            out.append(s)
    return out


def _upgrade_sqlite(con, tops: dict[int, int]) -> None:
    for t in TABLES:
        con.execute(f"ALTER TABLE {t} ADD COLUMN top_scope INTEGER NOT NULL DEFAULT 0")
    for s in _new_ddl():
        if "dossier_keys" in s:
            con.execute(s)
    con.executemany("UPDATE dossiers SET top_scope=? WHERE scope=?", [(top, sid) for sid, top in tops.items()])
    con.executemany("UPDATE blobs SET top_scope=? WHERE scope=?", [(top, sid) for sid, top in tops.items()])
    con.execute("UPDATE versions SET top_scope=(SELECT d.top_scope FROM dossiers d WHERE d.id=versions.dossier)"
                " WHERE EXISTS (SELECT 1 FROM dossiers d WHERE d.id=versions.dossier)")
    con.execute("INSERT INTO dossier_keys(id_token, ref_norm, archive_no, dossier, top_scope)"
                " SELECT id_token, ref_norm, archive_no, id, top_scope FROM dossiers")
