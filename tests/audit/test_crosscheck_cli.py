"""Issue 16 through the real executable: ``check`` and ``audit verify`` find an
erased record — the latest version of a dossier deleted with its head set
back, a change event deleted from the middle of the chain, the last events
cut off (with an exported head) — and pass on a clean archive."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def filled(world):
    x, _ = world.add_person(world.scope_a, entries=3)
    y, _ = world.add_person(world.scope_a, entries=1)
    z, _ = world.add_person(world.scope_b, entries=2)
    with world.open("li") as ar:
        ar.blobs.put("扫描件：测试人甲 协议书".encode(), scope=world.scope_a, dossier_id=x.id)
    return world, {"x": x, "y": y, "z": z}


def sql(world, *statements):
    con = world.store()         # meta.db, or the PostgreSQL database
    for s, *args in statements:
        con.execute(s, *args)
    con.commit()
    con.close()


def one(world, query, *args):
    con = world.store()
    try:
        return con.execute(query, args).fetchone()
    finally:
        con.close()


def both(run_dossier, world, *extra):
    return (run_dossier(["check", *extra], env=world.env()),
            run_dossier(["audit", "verify", *extra], env=world.env()))


def test_clean_archive_passes_both_checks(filled, run_dossier):
    world, _ = filled
    chk, ver = both(run_dossier, world)
    assert chk.code == 0, chk.stdout + chk.stderr
    assert "校验通过" in chk.stdout
    assert ver.code == 0, ver.stdout + ver.stderr
    assert "与档案版本、审批、披露、用户核对一致" in ver.stdout


def test_deleted_latest_version_is_found_naming_the_dossier(filled, run_dossier):
    world, d = filled
    x = d["x"]
    head = one(world, "SELECT head FROM dossiers WHERE id=?", x.id)[0]
    assert head == 4
    sql(world, ("DELETE FROM versions WHERE dossier=? AND version=?", (x.id, head)),
        ("UPDATE dossiers SET head=? WHERE id=?", (head - 1, x.id)))
    chk, ver = both(run_dossier, world)
    for r in (chk, ver):
        assert r.code == 20, r.stdout + r.stderr
        assert x.archive_no in r.stdout
        assert "第 4 版" in r.stdout and "最新版本被删除" in r.stdout
    assert d["y"].archive_no not in chk.stdout


def test_check_json_names_dossier_and_versions(filled, run_dossier):
    world, d = filled
    x = d["x"]
    sql(world, ("DELETE FROM versions WHERE dossier=? AND version>=3", (x.id,)),
        ("UPDATE dossiers SET head=2 WHERE id=?", (x.id,)))
    r = run_dossier(["check", "--json"], env=world.env())
    assert r.code == 20
    problems = json.loads(r.stdout)["problems"]
    mine = [p for p in problems if p.get("archive_no") == x.archive_no and p.get("versions")]
    assert mine and mine[0]["versions"] == [3, 4] and mine[0]["head"] == 2


def test_deleted_change_event_in_the_middle_is_found(filled, run_dossier):
    world, d = filled
    con = world.store()
    seqs = [r for r in con.execute("SELECT seq FROM audit_events WHERE action='dossier.change' ORDER BY seq")]
    con.close()
    middle = seqs[len(seqs) // 2][0]
    sql(world, ("DELETE FROM audit_events WHERE seq=?", (middle,)))
    chk, ver = both(run_dossier, world)
    assert chk.code == 20, chk.stdout + chk.stderr
    assert f"第 {middle} 条" in chk.stdout
    assert ver.code == 21, ver.stdout + ver.stderr       # the chain itself is broken
    assert f"第 {middle} 条" in ver.stdout or f"{middle}" in ver.stderr


def test_cut_tail_is_found_with_an_exported_head(filled, run_dossier, tmp_path):
    """The latest change and every event after it erased, versions and chain alike:
    consistent in itself, found only against a head kept elsewhere."""
    world, d = filled
    x = d["x"]
    heads = tmp_path / "U盘" / "链头"
    heads.mkdir(parents=True)
    visit = tmp_path / "见面.yaml"
    visit.write_text("date: 2025-05-20\nmethod: 敲门见人\nsubject: 本人\nperson_seen: true\ncontent: 本人在家\n",
                     "utf-8")
    r = run_dossier(["entry", "add", x.archive_no, "--type", "interview", "--file", visit], env=world.env("li"))
    assert r.code == 0, r.stderr
    cut = one(world, "SELECT MAX(seq) FROM audit_events WHERE action='dossier.change'")[0]
    r = run_dossier(["show", x.archive_no], env=world.env("li"))       # more events after the change
    assert r.code == 0
    r = run_dossier(["audit", "export-head", "-o", heads], env=world.env())
    assert r.code == 0 and "已导出链头" in r.stdout
    exported = list(heads.glob("链头-*.json"))
    assert len(exported) == 1 and json.loads(exported[0].read_text("utf-8"))["seq"] > cut

    sql(world, ("DELETE FROM versions WHERE dossier=? AND version=5", (x.id,)),
        ("UPDATE dossiers SET head=4 WHERE id=?", (x.id,)),
        ("DELETE FROM audit_events WHERE seq>=?", (cut,)),
        ("DELETE FROM audit_anchors WHERE seq>=?", (cut,)))
    chk, ver = both(run_dossier, world)
    assert chk.code == 0 and ver.code == 0       # nothing inside the archive tells

    chk, ver = both(run_dossier, world, "--head", heads)
    assert chk.code == 20, chk.stdout + chk.stderr
    assert "尾部被截断" in chk.stdout
    assert ver.code == 21, ver.stdout + ver.stderr
    assert "尾部被截断" in ver.stderr

    # with the place configured in archive.toml, the plain commands read it
    cfg = world.path / "archive.toml"
    cfg.write_text(cfg.read_text("utf-8") + f'\n[audit]\nhead_dir = "{heads}"\n', "utf-8")
    chk, ver = both(run_dossier, world)
    assert (chk.code, ver.code) == (20, 21)


def test_export_head_to_several_places_and_missing_place(filled, run_dossier, tmp_path):
    world, _ = filled
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    r = run_dossier(["audit", "export-head", "-o", a, "-o", b / "链头.json"], env=world.env())
    assert r.code == 0, r.stderr
    ha = json.loads(next(a.glob("*.json")).read_text("utf-8"))
    hb = json.loads((b / "链头.json").read_text("utf-8"))
    assert ha == hb and ha["format"] == "dossier-audit-head"
    r = run_dossier(["audit", "export-head", "-o", tmp_path / "未挂载" / "x.json"], env=world.env())
    assert r.code == 1 and "未挂载" in r.stderr
    # a missing head directory is a warning, not a failure
    r = run_dossier(["check", "--head", tmp_path / "没有这个目录"], env=world.env())
    assert r.code == 0 and "不存在" in r.stdout
    ver = run_dossier(["audit", "verify", "--head", a, "--head", b], env=world.env())
    assert ver.code == 0 and "导出的链头 2 个" in ver.stdout


def test_deleted_disclosure_and_reactivated_user_are_found(filled, run_dossier):
    world, d = filled
    with world.open("qian") as ar:
        did = ar.disclosures.request([d["x"].archive_no], purpose="交叉评查", fields=["name"])["id"]
    with world.open("admin") as ar:
        ar.users.revoke("wang")
    sql(world, ("DELETE FROM disclosures WHERE id=?", (did,)),
        ("UPDATE users SET status='active', revoked=NULL WHERE name='wang'",))
    chk, ver = both(run_dossier, world)
    for r in (chk, ver):
        assert r.code == 20, r.stdout + r.stderr
        assert f"披露申请 {did}" in r.stdout and "被删除" in r.stdout
        assert "用户 wang" in r.stdout and "被恢复" in r.stdout


def test_check_warns_when_no_head_was_exported_for_days(filled, tmp_path):
    import datetime as dt

    from dossier import audit_check, audit_heads

    world, _ = filled
    now = dt.datetime.now(dt.timezone.utc)
    with world.open("admin") as ar:
        res = audit_check.verify(ar, now=now + dt.timedelta(days=8))
        assert res.ok and any("从未导出过" in w for w in res.warnings)
        assert not audit_check.verify(ar, now=now + dt.timedelta(days=8), max_head_age_days=10).warnings
        audit_heads.export_head(ar, [tmp_path])
        assert not audit_check.verify(ar, now=now + dt.timedelta(days=6)).warnings
        assert any("上次导出于" in w for w in audit_check.verify(ar, now=now + dt.timedelta(days=8)).warnings)
    cfg = world.path / "archive.toml"
    cfg.write_text(cfg.read_text("utf-8") + "\n[audit]\nhead_max_age_days = 30\n", "utf-8")
    with world.open("admin") as ar:
        assert not audit_check.verify(ar, now=now + dt.timedelta(days=20)).warnings
