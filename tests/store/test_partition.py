"""The partition key ``top_scope`` (issue 12 part 3; docs/decisions.md "Partitioning by scope"):
every row in its top-level scope, one dossier per person across the whole archive, partitions
on PostgreSQL made by ``scope add`` and pruned by queries that carry the key, archives made
before the key upgraded on open, and ``check`` finding a row out of place.

Tests with ``world`` run on the lane's store; those with ``pg_world`` on PostgreSQL whatever
the lane (partitions exist only there)."""

from __future__ import annotations

import pytest

from dossier.errors import InvalidInput
from dossier.store import partition

OTHER_STREET = "珠晖区/东风街道/和平社区"
TABLES = ("dossiers", "versions", "blobs")


def _ids(ar, *paths):
    return [ar.scopes.id_of(p) for p in paths]


def _populate(world, n=3):
    refs = [world.add_person(scope=world.scope_a if i % 2 == 0 else world.scope_b, entries=1)[0] for i in range(n)]
    with world.open("admin") as ar:
        ar.blobs.put("附件内容".encode(), scope=world.scope_a, dossier_id=refs[0].id)
    return refs


def _rows(con, table: str) -> list[tuple]:
    cols = [c for c in (r[1] for r in con.execute(f"PRAGMA table_info({table})")) if c not in ("top_scope", "rowid")]
    rows = con.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
    return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in rows)


# -------------------------------------------------------------------------------------- both stores
def test_rows_carry_their_street(world):
    refs = _populate(world)
    with world.open("admin") as ar:
        street, root = _ids(ar, "珠晖区/粤汉街道", "珠晖区")
        assert ar.scopes.top_of(ar.scopes.id_of(world.scope_a)) == street
        assert ar.scopes.top_of(street) == street and ar.scopes.top_of(root) == root
        for t in TABLES:
            assert {r[0] for r in ar.con.execute(f"SELECT top_scope FROM {t}")} == {street}, t
        keys = {r[0]: r[1] for r in ar.con.execute("SELECT dossier, top_scope FROM dossier_keys")}
        assert keys == {r.id: street for r in refs}
        # a person filed at the root 区 itself: the root is its own top-level scope
        ref = ar.persons.add("珠晖区", world.person(), today=world.today)
        assert ar.con.execute("SELECT top_scope FROM dossiers WHERE id=?", (ref.id,)).fetchone()[0] == root
        assert ar.dossiers.show(ref.archive_no).id == ref.id
        assert ar.check().ok


def test_one_person_one_dossier_across_streets(world):
    with world.open("admin") as ar:
        ar.scopes.add(OTHER_STREET)
    ref, p = world.add_person(scope=world.scope_a)
    with world.open("admin") as ar:
        with pytest.raises(InvalidInput, match="已建档"):
            ar.persons.add(OTHER_STREET, dict(p), today=world.today)
        assert ar.con.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0] == 1
        # the database itself refuses a second row for the ID token or the 档号, whatever its street
        other = ar.scopes.top_of(ar.scopes.id_of(OTHER_STREET))
        token, archive_no = ar.con.execute("SELECT id_token, archive_no FROM dossier_keys").fetchone()
        for dup in ((bytes(token), "X1", "X1", "d-1"), (b"other-token", "X2", archive_no, "d-2")):
            with pytest.raises(Exception) as e:
                with ar.transaction() as con:
                    con.execute("INSERT INTO dossier_keys(id_token, ref_norm, archive_no, dossier, top_scope)"
                                " VALUES(?,?,?,?,?)", (*dup, other))
            assert type(e.value).__name__ in ("IntegrityError", "UniqueViolation"), e.value
        # and the ID still finds the one dossier
        assert ar.dossiers.resolve(p["id_number"]).id == ref.id


def test_check_finds_a_dossier_moved_across_streets(world):
    """No operation moves a dossier to another top-level scope; a row edited to do so is reported."""
    refs = _populate(world)
    with world.open("admin") as ar:
        ar.scopes.add(OTHER_STREET)
        elsewhere = ar.scopes.id_of(OTHER_STREET)
    con = world.store()
    try:
        con.execute("UPDATE dossiers SET scope=? WHERE id=?", (elsewhere, refs[1].id))
        con.execute("DELETE FROM dossier_keys WHERE dossier=?", (refs[2].id,))
    finally:
        con.close()
    with world.open("admin") as ar:
        rep = ar.check()
    problems = {(p.get("archive_no"), p["problem"][:6]) for p in rep.problems}
    assert (refs[1].archive_no, "分区键（to") in problems
    assert (refs[2].archive_no, "全库唯一键表") in problems
    assert not rep.ok


def test_archive_made_before_the_key_upgrades_on_open(world, run_dossier):
    refs = _populate(world)
    with world.open("admin") as ar:
        before = {t: _rows(ar.con, t) for t in TABLES}
        shown = ar.dossiers.show(refs[0].archive_no).to_dict()
        street = ar.scopes.id_of("珠晖区/粤汉街道")
    _downgrade(world)
    con = world.store()
    try:
        assert "top_scope" not in {r[1] for r in con.execute("PRAGMA table_info(dossiers)")}
    finally:
        con.close()
    partition._DONE.clear()
    with world.open("admin") as ar:         # opening upgrades it
        assert {t: _rows(ar.con, t) for t in TABLES} == before
        for t in TABLES:
            assert {r[0] for r in ar.con.execute(f"SELECT top_scope FROM {t}")} == {street}, t
        assert ar.con.execute("SELECT COUNT(*) FROM dossier_keys").fetchone()[0] == len(refs)
        assert ar.dossiers.show(refs[0].archive_no).to_dict() == shown
        assert ar.blobs.get(ar.con.execute("SELECT id FROM blobs").fetchone()[0]) == "附件内容".encode()
        if getattr(ar.con, "is_postgres", False):
            root = ar.scopes.id_of("珠晖区")
            assert set(ar.con.partitions("dossiers")) == {"dossiers_default", f"dossiers_s{root}",
                                                          f"dossiers_s{street}"}
            assert ar.con.execute("SELECT COUNT(*) FROM dossiers_default").fetchone()[0] == 0
    r = run_dossier(["check"], env=world.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
    world.add_person(entries=1)          # and it keeps working
    assert run_dossier(["check"], env=world.env("admin")).code == 0


# -------------------------------------------------------------------------------------- PostgreSQL
def test_rows_land_in_their_partition(pg_world):
    _populate(pg_world)
    with pg_world.open("admin") as ar:
        street = ar.scopes.id_of("珠晖区/粤汉街道")
        for t in (*TABLES, "objects"):
            where = {r[0] for r in ar.con.execute(f"SELECT tableoid::regclass::text FROM {t}")}
            assert where == {f"{t}_s{street}"}, (t, where)
            assert ar.con.execute(f"SELECT COUNT(*) FROM {t}_default").fetchone()[0] == 0
            assert ar.con.execute(f"SELECT COUNT(*) FROM {t}_s{street}").fetchone()[0] > 0


def test_scope_add_makes_the_partitions(pg_world):
    with pg_world.open("admin") as ar:
        street, root = _ids(ar, "珠晖区/粤汉街道", "珠晖区")
        assert set(ar.con.partitions("versions")) == {"versions_default", f"versions_s{root}", f"versions_s{street}"}
        ar.scopes.add("珠晖区/粤汉街道/新社区")        # a 社区: inside its street's partition
        assert len(ar.con.partitions("versions")) == 3
        ar.scopes.add(OTHER_STREET)                     # a new 街道: its own partition of every table
        new = ar.scopes.id_of("珠晖区/东风街道")
        for t in (*TABLES, "objects"):
            parts = ar.con.partitions(t)
            assert parts[f"{t}_s{new}"] == f"FOR VALUES IN ('{new}')", parts
            assert parts[f"{t}_default"] == "DEFAULT"
    ref, _ = pg_world.add_person(scope=OTHER_STREET, user="admin")
    with pg_world.open("admin") as ar:
        got = ar.con.execute("SELECT tableoid::regclass::text FROM versions WHERE dossier=?", (ref.id,)).fetchone()[0]
        assert got == f"versions_s{new}"


def test_a_query_with_top_scope_reads_one_partition(pg_world):
    ref, _ = pg_world.add_person(entries=2)
    with pg_world.open("admin") as ar:
        ar.scopes.add(OTHER_STREET)
        street = ar.scopes.id_of("珠晖区/粤汉街道")
        plan = "\n".join(r[0] for r in ar.con.execute(
            "EXPLAIN SELECT * FROM versions WHERE top_scope=? AND dossier=? AND version=2", (street, ref.id)))
        assert f"versions_s{street}" in plan and "versions_default" not in plan, plan
        assert sum(f"versions_s{s}" in plan for s in ar.scopes._load()) == 1, plan
        # without the key, every partition is read (docs/decisions.md: lookups by id only)
        plan = "\n".join(r[0] for r in ar.con.execute("EXPLAIN SELECT * FROM versions WHERE dossier=?", (ref.id,)))
        assert "versions_default" in plan


def test_check_finds_tampering_inside_a_partition(pg_world, run_dossier):
    """A bit flipped in a version and in a blob, written straight into their street's partition."""
    ref, _ = pg_world.add_person(entries=2)
    with pg_world.open("admin") as ar:
        ar.blobs.put("附件内容".encode(), scope=pg_world.scope_a, dossier_id=ref.id)
        street = ar.scopes.id_of("珠晖区/粤汉街道")
    con = pg_world.store()
    try:
        old = bytes(con.execute(f"SELECT content FROM versions_s{street} WHERE dossier=? AND version=2",
                                (ref.id,)).fetchone()[0])
        con.execute(f"UPDATE versions_s{street} SET content=? WHERE dossier=? AND version=2",
                    (old[:-1] + bytes([old[-1] ^ 1]), ref.id))
        data = bytes(con.execute(f"SELECT data FROM objects_s{street}").fetchone()[0])
        con.execute(f"UPDATE objects_s{street} SET data=?", (data[:-1] + bytes([data[-1] ^ 1]),))
    finally:
        con.close()
    r = run_dossier(["check"], env=pg_world.env("admin"))
    assert r.code == 20, r.stdout + r.stderr
    assert ref.archive_no in r.stdout + r.stderr and "数据块" in r.stdout + r.stderr


def test_migrate_to_postgresql_fills_the_partitions(world, pg_url):
    """From the lane's store (an embedded archive, or another PostgreSQL database)."""
    _populate(world)
    from dossier import migrate

    with world.open("admin") as ar:
        street = ar.scopes.id_of("珠晖区/粤汉街道")
        rep = migrate.migrate(ar, pg_url)
    assert rep["check"]["ok"], rep
    from dossier.store import pg

    con = pg.connect(pg_url)
    try:
        for t in (*TABLES, "objects"):
            assert {r[0] for r in con.execute(f"SELECT tableoid::regclass::text FROM {t}")} == {f"{t}_s{street}"}
    finally:
        con.close()


# -------------------------------------------------------------------------------------- helpers
# the tables as main made them before top_scope (SQLite dialect, as the features write DDL)
LEGACY = {
    "dossiers": """CREATE TABLE IF NOT EXISTS dossiers(
    id TEXT PRIMARY KEY, archive_no TEXT UNIQUE NOT NULL, ref_norm TEXT UNIQUE NOT NULL,
    scope INTEGER NOT NULL REFERENCES scopes(id), id_token BLOB UNIQUE NOT NULL,
    head INTEGER NOT NULL, created TEXT NOT NULL)""",
    "versions": """CREATE TABLE IF NOT EXISTS versions(
    dossier TEXT NOT NULL REFERENCES dossiers(id), version INTEGER NOT NULL,
    parent_hash BLOB NOT NULL, author TEXT NOT NULL, time TEXT NOT NULL,
    key_version INTEGER NOT NULL, content BLOB NOT NULL, audit_head BLOB,
    hash BLOB NOT NULL, signature BLOB NOT NULL,
    PRIMARY KEY(dossier, version))""",
    "blobs": """CREATE TABLE IF NOT EXISTS blobs(
    id TEXT PRIMARY KEY, scope INTEGER NOT NULL, dossier TEXT, kind TEXT NOT NULL,
    key TEXT NOT NULL DEFAULT 'data', key_version INTEGER NOT NULL,
    size INTEGER NOT NULL, created TEXT NOT NULL)""",
    "objects": "CREATE TABLE IF NOT EXISTS objects(id TEXT PRIMARY KEY, data BLOB NOT NULL, created TEXT NOT NULL)",
}
LEGACY_INDEXES = ("CREATE INDEX IF NOT EXISTS dossiers_scope ON dossiers(scope)",
                  "CREATE INDEX IF NOT EXISTS dossiers_scope_heads ON dossiers(scope, archive_no, id, head)")


def _downgrade(world) -> None:
    """Turn the world's archive back into the layout main had before top_scope."""
    con = world.store()
    try:
        if getattr(con, "is_postgres", False):
            _downgrade_pg(con)
        else:
            con.execute("DROP TABLE dossier_keys")
            for t in TABLES:
                con.execute(f"ALTER TABLE {t} DROP COLUMN top_scope")
    finally:
        con.close()


def _downgrade_pg(con) -> None:
    raw = con._pg
    con.execute("BEGIN")
    for t in ("dossiers", "versions", "blobs", "objects"):
        for (ix,) in raw.execute("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                                 " WHERE i.indrelid = %s::regclass", (t,)).fetchall():
            raw.execute(f'ALTER INDEX "{ix}" RENAME TO "{ix}_new"')
        raw.execute(f"ALTER TABLE {t} RENAME TO {t}_new")
    raw.execute("DELETE FROM dossier_schema WHERE name IN ('dossiers', 'versions', 'blobs', 'dossier_keys')")
    for t in ("dossiers", "versions", "blobs", "objects"):
        con.execute(LEGACY[t])
        cols = ", ".join(f'"{c}"' for c in con.columns(t))
        raw.execute(f"INSERT INTO {t}({cols}) SELECT {cols} FROM {t}_new ORDER BY rowid")
    for t in ("versions", "blobs", "objects", "dossiers"):
        raw.execute(f"DROP TABLE {t}_new CASCADE")
    raw.execute("DROP TABLE dossier_keys")
    for s in LEGACY_INDEXES:
        con.execute(s)
    con.execute("COMMIT")
    assert not con.has_partition_layout()
