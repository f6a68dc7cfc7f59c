"""``dossier search`` and ``dossier index`` through the real executable."""

from __future__ import annotations

import json

import pytest

from dossier.cli.search import index, search


@pytest.fixture
def people(world):
    a = [world.add_person(entries=2) for _ in range(3)]
    b = world.add_person(scope=world.scope_b)
    return world, a, b


def test_search_json_for_clerk(people, run_dossier):
    world, a, b = people
    ref, p = a[0]
    r = run_dossier(["search", p["id_number"][-6:], "--json", "--limit", "5"], env=world.env("li"))
    assert r.code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows[0]["archive_no"] == ref.archive_no
    for k in ("archive_no", "name", "id_number", "scope", "score", "snippet"):
        assert k in rows[0]
    assert rows[0]["id_number"] == p["id_number"]


def test_search_table_and_no_result(people, run_dossier):
    world, a, b = people
    r = run_dossier(["search", a[1][1]["name"]], env=world.env("li"))
    assert r.code == 0 and a[1][0].archive_no in r.stdout and "档号" in r.stdout
    r = run_dossier(["search", b[1]["name"]], env=world.env("li"))   # other scope
    assert r.code == 0 and b[0].archive_no not in r.stdout


def test_search_inspector_masked(people, run_dossier):
    world, a, b = people
    ref, p = b
    r = run_dossier(["search", p["id_number"], "--json"], env=world.env("qian"))
    assert r.code == 0, r.stderr
    (row,) = json.loads(r.stdout)
    assert row["archive_no"] == ref.archive_no and "snippet" not in row
    assert p["id_number"] not in r.stdout and p["name"] not in r.stdout and p["phone"] not in r.stdout
    r = run_dossier(["search", p["id_number"][:6] + "*", "--json"], env=world.env("qian"))
    assert json.loads(r.stdout) == []


def test_bad_query_exit_1(people, run_dossier):
    world, *_ = people
    r = run_dossier(["search", "date:2024-99-01"], env=world.env("li"))
    assert r.code == 1 and "日期" in r.stderr


def test_index_status_and_rebuild(people, run_dossier):
    import shutil

    world, *_ = people
    r = run_dossier(["index", "status", "--json"], env=world.env("li"))
    assert r.code == 0, r.stderr
    assert {x["state"] for x in json.loads(r.stdout)} == {"ok"}
    with world.open("li") as ar:
        if ar.search.in_database:          # PostgreSQL: the blind-token tables
            for sid in ar.scopes.covered():
                for kind in ar.search._kinds_held(sid):
                    ar.search.index(sid, kind).drop()
        else:
            shutil.rmtree(world.path / "index")
    r = run_dossier(["index", "status"], env=world.env("li"))
    assert r.code == 1 and "缺失" in r.stdout
    r = run_dossier(["index", "rebuild", "--json"], env=world.env("li"))
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)
    assert run_dossier(["index", "status"], env=world.env("li")).code == 0
    r = run_dossier(["index", "rebuild"], env=world.env("qian"))
    assert r.code == 13


def test_commands_have_help():
    for cmd in (search, index, *index.commands.values()):
        assert cmd.help and "示例" in cmd.help
