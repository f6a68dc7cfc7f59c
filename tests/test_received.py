"""received.has_tables: asked on every page that reads a head; remembered once seen."""

from __future__ import annotations

from dossier import received
from dossier.store.meta import transaction


class _Counting:
    """A connection that counts its statements (and takes attributes)."""

    def __init__(self, con):
        self.con, self.n = con, 0

    def execute(self, *a):
        self.n += 1
        return self.con.execute(*a)


def test_the_tables_once_seen_are_not_asked_for_again(world):
    with world.open("admin") as ar:
        if not received.has_tables(ar.con):
            with transaction(ar.con):
                received.ensure_tables(ar.con)
        con = _Counting(ar.con)
        assert received.has_tables(con) and con.n == 1
        assert received.has_tables(con) and received.origin(con, "none", 1) is None
        assert con.n == 2                  # the origin query only


def test_absent_tables_are_asked_for_each_time():
    """(Another process's first transfer may create them meanwhile.)"""
    import sqlite3

    class Con(sqlite3.Connection):
        pass

    raw = sqlite3.connect(":memory:", factory=Con)
    con = _Counting(raw)
    assert not received.has_tables(con) and not received.has_tables(con) and con.n == 2
    received.ensure_tables(raw)
    assert received.has_tables(con) and received.has_tables(con) and con.n == 3
    raw.close()
