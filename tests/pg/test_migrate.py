"""``dossier init --store`` and ``dossier migrate`` both ways (issue 12), through the real
executable, on a PostgreSQL server the tests start themselves (tests/pgcluster.py)."""

from __future__ import annotations

import json
import tomllib

import pytest

from tests.conftest import CLERK_A


def _populate(world, n=6):
    refs = []
    for i in range(n):
        refs.append(world.add_person(scope=world.scope_a if i % 2 == 0 else world.scope_b, entries=1))
    with world.open(CLERK_A) as ar:
        ar.blobs.put("附件内容 张三".encode(), scope=world.scope_a, dossier_id=refs[0][0].id)
    return refs


def test_init_on_postgresql_then_check_and_index_status(tmp_path, pg_url, run_dossier, world):
    arch = tmp_path / "district"
    env = world.env(None, DOSSIER_ARCHIVE=arch, DOSSIER_USER="admin", DOSSIER_PASSWORD="district-pass-01")
    r = run_dossier(["init", "--name", "珠晖区", "--admin", "admin", "--store", pg_url], env=env)
    assert r.code == 0, r.stderr
    cfg = tomllib.loads((arch / "archive.toml").read_text("utf-8"))
    assert cfg["store"] == {"metadata": "postgresql", "url": pg_url, "blobs": "postgresql"}
    assert not (arch / "meta.db").exists() and not (arch / "objects").exists()
    assert run_dossier(["scope", "add", "珠晖区/粤汉街道/苗圃社区"], env=env).code == 0
    r = run_dossier(["check", "--json"], env=env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True
    r = run_dossier(["index", "status", "--json"], env=env)
    assert r.code == 0, r.stderr


def test_password_in_store_url_refused(tmp_path, pg_cluster, run_dossier, world):
    url = pg_cluster.url("x").replace("postgres@", "postgres:secret@")
    env = world.env(None, DOSSIER_ARCHIVE=tmp_path / "a", DOSSIER_USER="admin", DOSSIER_PASSWORD="district-pass-01")
    r = run_dossier(["init", "--name", "x", "--admin", "admin", "--store", url], env=env)
    assert r.code == 1 and "口令" in r.stderr
    assert not (tmp_path / "a" / "archive.toml").exists()


def test_unreachable_store_exit_14(tmp_path, pg_cluster, run_dossier, world):
    env = world.env(None, DOSSIER_ARCHIVE=tmp_path / "a", DOSSIER_USER="admin", DOSSIER_PASSWORD="district-pass-01")
    bad = f"postgresql://postgres@/x?host={tmp_path}/nosocket"
    r = run_dossier(["init", "--name", "x", "--admin", "admin", "--store", bad], env=env)
    assert r.code == 14, r.stderr
    assert "PostgreSQL" in r.stderr


def test_migrate_sqlite_to_postgresql_and_back(tmp_path, world, pg_url, run_dossier):
    if world.path.joinpath("meta.db").exists() is False:
        pytest.fail("this test starts from an embedded archive")   # the PG lane keeps meta.db-less worlds
    refs = _populate(world)
    before = run_dossier(["search", "--json", refs[0][1]["name"]], env=world.env(CLERK_A))
    assert before.code == 0, before.stderr
    r = run_dossier(["migrate", "--to", pg_url, "--json"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["check"]["ok"] and rep["searches_equal"] == rep["queries"] > 0
    assert rep["tables"]["dossiers"] == 6 and rep["blobs"] >= 1
    cfg = tomllib.loads((world.path / "archive.toml").read_text("utf-8"))
    assert cfg["store"]["metadata"] == "postgresql"
    assert not (world.path / "meta.db").exists()
    aside = [p for p in world.path.iterdir() if p.name.startswith("pre-migrate-")]
    assert len(aside) == 1 and (aside[0] / "meta.db").exists()
    # the archive now runs on PostgreSQL: every command as before
    after = run_dossier(["search", "--json", refs[0][1]["name"]], env=world.env(CLERK_A))
    assert after.code == 0, after.stderr
    names = lambda out: [h["archive_no"] for h in json.loads(out)]  # noqa: E731
    assert names(after.stdout) == names(before.stdout) and refs[0][0].archive_no in names(after.stdout)
    ref, _ = world.add_person(entries=1)
    assert run_dossier(["check"], env=world.env("admin")).code == 0
    with world.open("admin") as ar:     # a feature adds a column and a table later, SQLite-style
        ar.con.execute("ALTER TABLE users ADD COLUMN unit TEXT")
        ar.con.execute("UPDATE users SET unit=? WHERE name='li'", ("粤汉街道",))
        ar.con.executescript("CREATE TABLE IF NOT EXISTS later(k TEXT PRIMARY KEY, v BLOB);")
        ar.con.execute("INSERT INTO later(k, v) VALUES(?, ?)", ("a", b"\x00\x01"))
    assert run_dossier(["audit", "verify"], env=world.env("admin")).code == 0
    # and back into a directory of its own
    copy = tmp_path / "copy"
    r = run_dossier(["migrate", "--to", copy, "--json"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["tables"]["dossiers"] == 7 and rep["check"]["ok"]
    cfg = tomllib.loads((copy / "archive.toml").read_text("utf-8"))
    assert cfg["store"]["metadata"] == "sqlite" and (copy / "meta.db").exists()
    env = world.env("admin", DOSSIER_ARCHIVE=copy)
    assert run_dossier(["check"], env=env).code == 0
    import sqlite3
    con = sqlite3.connect(copy / "meta.db")
    assert con.execute("SELECT unit FROM users WHERE name='li'").fetchone() == ("粤汉街道",)
    assert con.execute("SELECT v FROM later").fetchone() == (b"\x00\x01",)
    con.close()
    r = run_dossier(["show", "--json", ref.archive_no], env=world.env(CLERK_A, DOSSIER_ARCHIVE=copy))
    assert r.code == 0, r.stderr


def test_migrate_refuses_a_non_empty_target(tmp_path, world, pg_url, run_dossier):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    r = run_dossier(["migrate", "--to", tmp_path / "full"], env=world.env("admin"))
    assert r.code == 1
    r = run_dossier(["migrate", "--to", tmp_path / "ok"], env=world.env(CLERK_A))
    assert r.code == 13
