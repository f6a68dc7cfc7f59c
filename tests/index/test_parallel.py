"""Index writes side by side in forked workers: shares, outcomes reported back
from children, and a batch indexed in parallel equal to one indexed serially."""

from __future__ import annotations

import os
import random
from datetime import date

import pytest

from dossier import synth
from dossier.errors import IntegrityError
from dossier.index import parallel


@pytest.fixture
def world(whoosh_world):
    """Whoosh's index workers are the subject: an embedded archive on every lane (an archive on
    PostgreSQL writes blind tokens in this process: tests/index/test_blind_backend.py)."""
    return whoosh_world


def test_shares_balance_cost():
    parts = parallel.shares([9, 1, 1, 3, 3, 3], 2)
    loads = sorted(sum([9, 1, 1, 3, 3, 3][i] for i in p) for p in parts)
    assert loads == [9, 11] or loads == [10, 10]
    assert sorted(i for p in parts for i in p) == list(range(6))
    assert parallel.shares([5], 3) == [[0]]


def test_outcomes_come_back_from_children_in_order(tmp_path):
    def writer(i):
        def job():
            (tmp_path / f"job{i}-{os.getpid()}").write_text("x")
        return job

    def broken():
        raise IntegrityError("认证失败")

    def failing():
        raise ValueError("坏了")

    def dies():
        os._exit(3)                      # a worker killed mid-job

    jobs = [(5, writer(0)), (4, broken), (3, writer(2)), (2, failing), (1, writer(4))]
    got = parallel.run(jobs, 2)
    assert got[0] is None and got[2] is None and got[4] is None
    assert got[1] == ("integrity", "认证失败")
    assert got[3][0] == "error" and "坏了" in got[3][1]
    pids = {p.name.split("-")[1] for p in tmp_path.iterdir()}
    assert len(pids) == 2                 # the parent and one child did the work
    assert str(os.getpid()) in pids
    # a child that dies before reporting: its jobs are errors, nothing hangs
    got = parallel.run([(10, writer(5)), (1, dies)], 2)
    assert got[0] is None and got[1][0] == "error"


def test_serial_when_one_worker(tmp_path):
    seen = []
    got = parallel.run([(1, lambda: seen.append(os.getpid())), (1, lambda: seen.append(os.getpid()))], 1)
    assert got == [None, None] and seen == [os.getpid()] * 2


def _batch(world, n: int) -> list[dict]:
    rng = random.Random(5)
    people = []
    with world.open("admin") as ar, ar.batch():
        for i in range(n):
            p = synth.person(rng, today=world.today)
            scope = world.scope_a if i % 2 else world.scope_b
            ref = ar.persons.add(scope, p, today=world.today)
            people.append({"archive_no": ref.archive_no, **p})
    return people


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_large_batch_indexed_in_parallel_is_complete(world, monkeypatch, workers):
    """More than PARALLEL_MIN_DOCS persons in one batch over two 社区: every index
    current, and every person found by name and ID tail by the clerk of the 社区."""
    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", workers)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_DOCS", 40)
    calls = []
    real_run = parallel.run
    monkeypatch.setattr(parallel, "run", lambda jobs, n=None: calls.append(len(jobs)) or real_run(jobs, n))
    people = _batch(world, 60)
    # two 社区 × (clerk, inspection) index, in one parallel run; with one worker, serially
    assert calls == ([4] if workers == "2" else [])
    with world.open("admin") as ar:
        status = ar.search.status()
        assert status and all(s["state"] == "ok" for s in status), status
        assert sum(s["indexed"] for s in status if s["kind"] == "clerk") == 60
    with world.open("li") as ar:         # the clerk of 社区 A (odd rows)
        for p in people[1::2]:
            got = [r["archive_no"] for r in ar.search(p["name"], limit=50)]
            assert p["archive_no"] in got, p["name"]
            assert p["archive_no"] in [r["archive_no"] for r in ar.search(p["id_number"][-6:], limit=50)]
        mine = {r["archive_no"] for r in ar.search("scope:苗圃社区", limit=100)}
        assert mine == {p["archive_no"] for p in people[1::2]}


def test_workers_setting(monkeypatch, caplog):
    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "3")
    assert parallel.workers() == 3
    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "0")
    assert parallel.workers() == 1
    monkeypatch.setenv("DOSSIER_INDEX_WORKERS", "many")
    assert 1 <= parallel.workers() <= 4 and "DOSSIER_INDEX_WORKERS" in caplog.text
