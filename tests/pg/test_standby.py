"""A streaming standby (issue 12, part 5): the primary is killed, the standby promoted, and
the archive served from it (``DOSSIER_STORE_URL``) with nothing committed lost — the
primary waits for the standby on every commit (``synchronous_standby_names``)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import CLERK_A, make_world


@pytest.fixture
def primary_and_standby():
    from pgcluster import PgCluster

    primary = PgCluster(durable=True, extra="-c synchronous_standby_names='standby'").start()
    standby = None
    try:
        standby = PgCluster(durable=True).start_standby_of(primary)
        yield primary, standby
    finally:
        if standby is not None:
            standby.stop()
        primary.stop()


@pytest.mark.slow
def test_promoted_standby_serves_the_archive_nothing_committed_lost(primary_and_standby, monkeypatch, tmp_path,
                                                                    run_dossier):
    primary, standby = primary_and_standby
    monkeypatch.setenv("DOSSIER_STORE", primary.url("postgres"))   # the one database streamed over
    w = make_world(tmp_path / "archive")
    refs = [w.add_person(entries=1)[0] for _ in range(3)]
    with w.open(CLERK_A) as ar:                       # the last commit before the primary dies
        last = ar.entries.add(refs[0].archive_no, "interview",
                              {"date": "2025-05-21", "method": "电话", "subject": "本人", "person_seen": False,
                               "content": "最后一次提交"}, today=w.today)
    primary.crash()
    standby.promote()
    env = dict(DOSSIER_STORE_URL=standby.url("postgres"))
    r = run_dossier(["check", "--json"], env=w.env("admin", **env))
    assert r.code == 0, r.stdout + r.stderr
    assert json.loads(r.stdout)["dossiers"] == 3
    r = run_dossier(["show", "--json", refs[0].archive_no], env=w.env(CLERK_A, **env))
    assert r.code == 0, r.stderr
    assert "最后一次提交" in r.stdout and json.loads(r.stdout)["version"] == last["version"]
    r = run_dossier(["audit", "verify"], env=w.env("admin", **env))
    assert r.code == 0, r.stdout + r.stderr
    # and it takes writes
    monkeypatch.setenv("DOSSIER_STORE_URL", standby.url("postgres"))
    ref, _ = w.add_person(entries=1)
    with w.open("admin") as ar:
        assert ar.dossiers.resolve(ref.archive_no).head == 2 and ar.check().ok
