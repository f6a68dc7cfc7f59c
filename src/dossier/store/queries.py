"""The read queries that ``check`` and the audit cross-check make of the
metadata store, in one place.

They return plain rows (mappings with the column names of the SQLite
schema), so :mod:`dossier.checker` and :mod:`dossier.crosscheck` run
unchanged over another store (the PostgreSQL store of issue 12 implements
this class's methods with the same names and row keys).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator


class MetaQueries:
    def __init__(self, con: sqlite3.Connection):
        self.con = con

    def users(self) -> list:
        return self.con.execute("SELECT * FROM users ORDER BY name").fetchall()

    def dossiers(self) -> list:
        """id, archive_no, scope, head, top_scope, id_token of every dossier, in 档号 order."""
        return self.con.execute("SELECT id, archive_no, scope, head, top_scope, id_token FROM dossiers"
                                " ORDER BY archive_no").fetchall()

    def dossier_keys(self) -> list:
        """The archive-wide unique keys of every dossier (docs/decisions.md "Partitioning by scope")."""
        return self.con.execute("SELECT dossier, archive_no, id_token, top_scope FROM dossier_keys").fetchall()

    def versions(self, dossier_id: str) -> list:
        return self.con.execute("SELECT * FROM versions WHERE dossier=? ORDER BY version", (dossier_id,)).fetchall()

    def versions_by_dossier(self, rows: list, chunk: int = 256) -> Iterator[tuple]:
        """(dossier row, its version rows) for each of ``rows``, in that order: one query per
        ``chunk`` dossiers (a database server is a round trip away; memory stays bounded)."""
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            ids = [r["id"] for r in part]
            got: dict = {i: [] for i in ids}
            for v in self.con.execute(f"SELECT * FROM versions WHERE dossier IN ({','.join('?' * len(ids))})"
                                      " ORDER BY dossier, version", ids):
                got[v["dossier"]].append(v)
            for r in part:
                yield r, got[r["id"]]

    def all_versions(self) -> Iterator:
        """Every version row, by dossier and version (one pass, for ``audit verify``)."""
        return self.con.execute("SELECT * FROM versions ORDER BY dossier, version")

    def blobs(self) -> list:
        return self.con.execute("SELECT * FROM blobs").fetchall()

    def disclosures(self) -> list:
        """Disclosure requests (the table exists once the disclosure package has been used)."""
        try:
            return self.con.execute("SELECT id, requester, fields, until, status, granted_by, revoked_by"
                                    " FROM disclosures").fetchall()
        except sqlite3.OperationalError:     # no such table: never used
            return []
        except Exception as e:               # the same on PostgreSQL
            if type(e).__name__ != "UndefinedTable":
                raise
            return []

    def wrapped_keys(self, user: str) -> list:
        """(table, scope, kind, key_version, wrapped) of every key wrapped to ``user``."""
        scoped = self.con.execute("SELECT 'scope' AS tbl, scope, kind, key_version, wrapped FROM scope_keys"
                                  " WHERE user=?", (user,)).fetchall()
        archive = self.con.execute("SELECT 'archive' AS tbl, NULL AS scope, kind, NULL AS key_version, wrapped"
                                   " FROM archive_keys WHERE user=?", (user,)).fetchall()
        return [*scoped, *archive]
