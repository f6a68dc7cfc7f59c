"""PostgreSQL stopped in the middle of an import (issue 12, part 5): a clear error with
its own exit code (14), nothing half-written, and the same import completes after the
server is back."""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import make_world

ROWS = 1200
STREET = "珠晖区/粤汉街道"


def _roster(path: Path, n: int) -> None:
    import openpyxl

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))
    from make_rosters import person

    rng = random.Random(12)
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("名册")
    ws.append(["序号", "姓名", "性别", "公民身份号码", "户籍地址", "现住址", "联系电话", "列管派出所",
               "初次查获日期", "社区（村）", "备注"])
    seen, i = set(), 0
    while i < n:
        p = person(rng, i)
        if p["id_number"] in seen:
            continue
        seen.add(p["id_number"])
        i += 1
        ws.append([i, p["name"], p["gender"], p["id_number"], p["hukou_address"], p["residence_address"],
                   p["phone"], p["residence_police"], p["first_seized_date"].strftime("%Y.%m.%d"),
                   p["community"], None])
    wb.save(path)


@pytest.fixture
def own_cluster():
    from pgcluster import PgCluster

    c = PgCluster().start()
    yield c
    c.stop()


def _import_transaction_open(url: str, seconds: float) -> bool:
    """Whether a transaction holding the archive's write lock has been open for ``seconds``."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND a.xact_start < now() - make_interval(secs => %s)",
            (seconds,)).fetchone()
    return row[0] > 0


@pytest.mark.slow
def test_server_stopped_mid_import_exit_14_nothing_half_written_then_completes(own_cluster, monkeypatch,
                                                                                tmp_path, run_dossier):
    monkeypatch.setenv("DOSSIER_STORE", own_cluster.url("outage_*"))
    w = make_world(tmp_path / "archive")
    with w.open("admin") as ar:
        for c in ("苗圃社区", "粤汉社区", "东阳渡社区"):
            ar.scopes.add(f"{STREET}/{c}")
        url = ar.con.url
    roster = tmp_path / "名册.xlsx"
    _roster(roster, ROWS)
    args = ["import", roster, "--scope", STREET, "--today", "2024-06-01", "--json"]
    p = subprocess.Popen([sys.executable, "-m", "dossier", *map(str, args)], env=w.env("admin"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not _import_transaction_open(url, 0.5):
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.05)
    own_cluster.crash()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 14, (out, err)
    assert "数据库" in err and "Traceback" not in err
    own_cluster.start_server()
    con = w.store()
    try:
        assert con.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0] == 0      # nothing half-written
    finally:
        con.close()
    assert run_dossier(["check"], env=w.env("admin")).code == 0
    r = run_dossier(args, env=w.env("admin"), timeout=300)
    assert r.code == 0, r.stderr
    con = w.store()
    try:
        assert con.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0] == ROWS
    finally:
        con.close()
    r = run_dossier(["check"], env=w.env("admin"), timeout=300)
    assert r.code == 0, r.stdout + r.stderr
    r = run_dossier(["index", "status"], env=w.env("admin"))
    assert r.code == 0, r.stdout + r.stderr
