"""``dossier migrate``: move an archive between its two stores (issue 12), verified.

- ``--to postgresql://…``: this archive directory's records and blobs are
  copied into the (empty) database; once verified, ``archive.toml`` names the
  database and the old ``meta.db`` and ``objects/`` are moved aside into
  ``pre-migrate-<time>/`` (delete them once satisfied).
- ``--to ./dir``: a self-contained copy in a new directory (``meta.db``,
  ``objects/``, the search index, ``archive.toml``): backups, hand-over, or
  back from PostgreSQL to an office PC. The source is unchanged.

Every table is copied row by row in storage order under the source's write
lock (nothing changes meanwhile), every blob is verified against its name
while copied, and the copy is then verified: the same number of rows in every
table and of blobs, ``check`` passes on the copy (signatures, hash chains,
decryption, audit chain), and a sample of searches (full names of sample
dossiers) returns the same persons on both. Any difference: exit 20 and the
source stays the archive.

It sits above the façade (it opens the copy as the same user with the keys
already unsealed), beside ``demo``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tomllib
from datetime import datetime
from pathlib import Path

from . import api
from .errors import ArchiveExists, IntegrityError, InvalidInput
from .store import meta, partition
from .store.atomic import atomic_write

# tables first in this order (foreign keys), then the rest by name
FIRST = ("meta", "users", "scopes", "grants", "scope_keys", "archive_keys", "dossiers", "versions", "blobs")
SAMPLE = 12


def _is_pg(con) -> bool:
    return getattr(con, "is_postgres", False)


def source_schema(con) -> list[tuple[str, str, str]]:
    """(type, name, SQLite DDL) of every table and index of the archive, tables first."""
    if _is_pg(con):
        rows = con.execute("SELECT type, name, sql FROM dossier_schema ORDER BY rowid").fetchall()
    else:
        rows = con.execute("SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                           " AND name NOT LIKE 'sqlite_%'").fetchall()
    rows = [(r[0], r[1], r[2]) for r in rows if r[0] in ("table", "alter", "index")]
    rank = {"table": 0, "alter": 1, "index": 2}

    def order(r):       # stable: ALTERs keep their order
        t, name, _ = r
        return (rank[t], FIRST.index(name) if name in FIRST and t == "table" else len(FIRST),
                name if t != "alter" else "")

    return sorted(rows, key=order)


def _columns(con, table: str) -> list[str]:
    if _is_pg(con):
        return [c for c in con.columns(table) if c != "rowid"]
    return [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]


def _order(con, table: str) -> str:
    if not _is_pg(con):
        return "rowid"
    cols = con.columns(table)
    return "rowid" if "rowid" in cols else f'"{cols[0]}"'


def counts(con, tables) -> dict[str, int]:
    return {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for t in tables}


def _sample_queries(ar) -> list[str]:
    """Full names of up to SAMPLE dossiers spread over the archive (decrypted here, never stored)."""
    rows = ar.con.execute("SELECT id FROM dossiers ORDER BY archive_no").fetchall()
    if not rows or not hasattr(ar, "search"):
        return []
    step = max(1, len(rows) // SAMPLE)
    out = []
    for r in rows[::step][:SAMPLE]:
        try:
            row = ar.dossiers.resolve(r[0])
            _, state = ar.dossiers.load(row)
        except Exception:       # noqa: BLE001 - a dossier this admin cannot read: not in the sample
            continue
        name = ((state.get("state") or {}).get("profile") or {}).get("name")
        if name:
            out.append(name)
    return out


def _search(ar, queries: list[str]) -> list[list[str]]:
    return [[h["archive_no"] for h in ar.search.search(q, limit=50)["results"]] for q in queries]


def migrate(ar, to: str) -> dict:
    """Copy the open archive ``ar`` to ``to`` (a PostgreSQL URL or a new directory) and verify
    it; see the module docstring. Returns a report (counts, check, sample searches)."""
    ar.require_role("admin", what="迁移档案库")
    to = str(to).strip()
    src_pg = _is_pg(ar.con)
    if meta.is_url(to):
        if api._has_password(to):
            raise InvalidInput(field="to", reason="数据库地址中不能含口令（请用 PGPASSFILE / ~/.pgpass 提供口令）")
        if src_pg and meta.store_url(ar.config) == to:
            raise InvalidInput(field="to", reason="目标就是当前所用的数据库")
        dest_dir, in_place = Path(ar.path), True
    else:
        dest_dir, in_place = Path(to).resolve(), False
        if dest_dir.exists() and any(dest_dir.iterdir()):
            raise ArchiveExists(f"目标目录“{to}”已存在且不为空")
    queries = _sample_queries(ar)
    before = _search(ar, queries)
    ar.audit("archive.migrate", target="postgresql" if in_place else "directory")

    from .store import pg

    made_dir = False
    dest = None
    with meta.transaction(ar.con, timeout=ar.timeout):      # nothing changes while we copy
        schema = source_schema(ar.con)
        tables = [n for t, n, _ in schema if t == "table"]
        if in_place:
            dest = pg.connect(to)
            if dest.execute("SELECT to_regclass('meta')").fetchone()[0] is not None:
                dest.close()
                raise ArchiveExists("目标 PostgreSQL 数据库中已有档案库（须为空库）")
            dest.executescript(pg.OBJECTS_SCHEMA)
        else:
            dest_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            made_dir = True
            (dest_dir / "objects").mkdir(exist_ok=True, mode=0o700)
            os.close(os.open(dest_dir / "meta.db", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            dest = sqlite3.connect(dest_dir / "meta.db", isolation_level=None)
            dest.execute("PRAGMA journal_mode=WAL")
        try:
            _copy(ar, dest, schema, in_place, dest_dir)
            src_counts = counts(ar.con, tables)
            dst_counts = counts(dest, tables)
            src_blobs = sum(1 for _ in ar.object_store.ids())
        finally:
            dest.close()
        cfg = dict(ar.config)
        if in_place:
            cfg["store"] = {"metadata": "postgresql", "url": to, "blobs": "postgresql"}
        else:
            cfg["store"] = {"metadata": "sqlite", "url": "meta.db", "blobs": "objects", "synchronous": "FULL"}
            _copy_files(Path(ar.path), dest_dir)
        report = {"to": pg._redact(to) if in_place else str(dest_dir), "tables": dst_counts, "blobs": src_blobs,
                  "queries": len(queries)}
        problems = [f"表 {t}：源 {src_counts[t]} 行，副本 {dst_counts[t]} 行"
                    for t in tables if src_counts[t] != dst_counts[t]]
        staged = dest_dir / ".archive.toml.migrate" if in_place else dest_dir / "archive.toml"
        import tomli_w
        atomic_write(staged, tomli_w.dumps(cfg).encode())
        if not problems:
            problems += _verify_copy(ar, staged, cfg, queries, before, src_blobs, report)
        if problems:
            if in_place:
                staged.unlink(missing_ok=True)
            elif made_dir:
                shutil.rmtree(dest_dir, ignore_errors=True)
            raise IntegrityError("迁移校验未通过，源档案库未改动：" + "；".join(problems[:5]))
        if in_place:
            aside = Path(ar.path) / f"pre-migrate-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
            aside.mkdir(mode=0o700)
            if not src_pg:
                # the Whoosh index files too: an archive on PostgreSQL searches its own tables
                for name in ("meta.db", "meta.db-wal", "meta.db-shm", "objects", "index"):
                    if (Path(ar.path) / name).exists():
                        os.replace(Path(ar.path) / name, aside / name)
            else:
                atomic_write(aside / "previous-store.txt", (pg._redact(meta.store_url(ar.config)) + "\n").encode())
            os.replace(staged, Path(ar.path) / "archive.toml")
            report["moved_aside"] = str(aside)
    return report


def _copy(ar, dest, schema, to_pg: bool, dest_dir: Path) -> None:
    src = ar.con
    for t, name, sql in schema:
        if to_pg:
            dest.execute(sql)                 # the translator makes PostgreSQL DDL of it
        else:
            dest.execute(sql)
    dest.execute("BEGIN")
    try:
        # PostgreSQL: a partition per top-level scope before the rows arrive (none land in DEFAULT)
        for top in sorted(set(partition.top_scopes(src).values())):
            partition.add_partition(dest, top)
        for t, name, _ in schema:
            if t != "table":        # (alters are part of their table by now)
                continue
            cols = _columns(src, name)
            qcols = ", ".join(f'"{c}"' for c in cols)
            ins = f'INSERT INTO "{name}"({qcols}) VALUES({", ".join("?" * len(cols))})'
            cur = src.execute(f'SELECT {qcols} FROM "{name}" ORDER BY {_order(src, name)}')
            batch = []
            for r in cur:
                batch.append(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r))
                if len(batch) >= 1000:
                    dest.executemany(ins, batch)
                    batch = []
            if batch:
                dest.executemany(ins, batch)
        if to_pg:
            # identity columns were given explicit values: move their sequences past them
            for t, name, _ in schema:
                if t == "table" and "INTEGER PRIMARY KEY" in _.upper().replace("\n", " "):
                    col = dest.execute(
                        "SELECT attname FROM pg_attribute WHERE attrelid = ?::regclass AND attidentity <> ''",
                        (name,)).fetchone()
                    if col:
                        dest.execute(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', '{col[0]}'),"
                                     f" GREATEST((SELECT MAX(\"{col[0]}\") FROM \"{name}\"), 1))")
            from .store.pg import PgBlobStore
            out = PgBlobStore(dest)
        else:
            from .store.blobs import BlobStore
            out = BlobStore(dest_dir / "objects")
        tops = {r[0]: r[1] for r in src.execute("SELECT id, top_scope FROM blobs")}
        for blob_id in list(ar.object_store.ids()):     # unreferenced ones (gc's to remove): DEFAULT
            # get() verifies the bytes against the name
            out.put(ar.object_store.get(blob_id), top_scope=tops.get(blob_id, 0))
        dest.execute("COMMIT")
    except BaseException:
        try:
            dest.execute("ROLLBACK")
        except Exception:       # noqa: BLE001
            pass
        raise


def _copy_files(src: Path, dest: Path) -> None:
    """Everything in the archive directory beside the store (the search index, exported heads …)."""
    skip = {"meta.db", "meta.db-wal", "meta.db-shm", "objects", "archive.toml"}
    for p in src.iterdir():
        if p.name in skip or p.name.startswith(("pre-migrate-", ".")) or p.name.endswith(".lock"):
            continue
        if p.is_dir():
            shutil.copytree(p, dest / p.name, dirs_exist_ok=True)
        else:
            shutil.copy2(p, dest / p.name)


def _verify_copy(ar, staged_cfg: Path, cfg: dict, queries, before, src_blobs: int, report: dict) -> list[str]:
    """check and the sample searches on the copy, opened with this user's keys."""
    problems: list[str] = []
    path = staged_cfg.parent
    unlocked = api.Unlocked(ar.user.name, ar.user.role, ar.archive_id, ar.keys)
    con = meta.open_store(path, cfg, timeout=ar.timeout) if staged_cfg.name != "archive.toml" else None
    if con is not None:          # in place: the copy is opened from the staged config
        cfg_path = path / "archive.toml"
        real = tomllib.loads(cfg_path.read_text("utf-8"))
        row = con.execute("SELECT * FROM users WHERE name=?", (ar.user.name,)).fetchone()
        s = api.Session(path, con, cfg, row, ar.keys, timeout=ar.timeout)
        copy = api._equip(s)
        assert real["archive_id"] == cfg["archive_id"]
    else:
        copy = api.open_unlocked(path, unlocked, timeout=ar.timeout)
    try:
        n_blobs = sum(1 for _ in copy.object_store.ids())
        if n_blobs != src_blobs:
            problems.append(f"数据块：源 {src_blobs} 个，副本 {n_blobs} 个")
        rep = copy.check()
        report["check"] = {"ok": rep.ok, "dossiers": rep.dossiers, "versions": rep.versions, "blobs": rep.blobs,
                           "problems": rep.problems[:5]}
        if not rep.ok:
            problems.append("副本校验失败：" + "；".join(f"{p['where']}：{p['problem']}" for p in rep.problems[:3]))
        copy.search.ensure()      # an index the copy does not have (another backend's): built from its dossiers
        after = _search(copy, queries)
        same = sum(1 for a, b in zip(before, after) if a == b)
        report["searches_equal"] = same
        if same != len(queries):
            problems.append(f"抽样检索结果不一致（{len(queries) - same}/{len(queries)} 个查询）")
    finally:
        copy.close()
    return problems
