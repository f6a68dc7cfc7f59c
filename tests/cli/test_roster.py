"""The roster commands through the real executable: exit codes, --json,
--dry-run, --skip-invalid, templates, export, compare."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import openpyxl
import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rosters"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "io"))

from make_rosters import write_table  # noqa: E402
STREET = "珠晖区/粤汉街道"


@pytest.fixture
def cworld(world):
    with world.open("admin") as ar:
        for c in ("粤汉社区", "东阳渡社区"):
            ar.scopes.add(f"{STREET}/{c}")
    return world


@pytest.fixture
def files(tmp_path):
    dst = tmp_path / "in"
    shutil.copytree(FIXTURES, dst)
    return dst


def test_import_invalid_exits_1_and_writes_nothing(cworld, files, run_dossier, snap):
    before = snap(cworld.path)
    r = run_dossier(["import", files / "messy_roster.xlsx", "--scope", STREET, "--today", "2024-06-01"],
                    env=cworld.env("admin"))
    assert r.code == 1
    assert "第11行" in r.stderr and "文本" in r.stderr and "未写入任何内容" in r.stderr
    assert snap(cworld.path) == before
    assert (files / "messy_roster_错误标注.xlsx").is_file()


def test_import_json_skip_invalid_then_idempotent(cworld, files, run_dossier):
    args = ["import", files / "messy_roster.xls", "--scope", STREET, "--today", "2024-06-01", "--skip-invalid",
            "--json"]
    r = run_dossier(args, env=cworld.env("admin"))
    assert r.code == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["summary"] == {"added": 6, "updated": 0, "unchanged": 0, "rejected": 9, "entries_added": 0,
                            "entries_unchanged": 0}
    assert {p["cell"] for p in d["problems"]} >= {"D11", "I13"}
    assert Path(d["rejected_file"]).is_file()
    r = run_dossier(args, env=cworld.env("admin"))
    assert json.loads(r.stdout)["summary"]["unchanged"] == 6


def test_import_dry_run(cworld, files, run_dossier, snap):
    before = snap(cworld.path)
    r = run_dossier(["import", files / "pair_roster.xlsx", "--scope", STREET, "--dry-run"], env=cworld.env("admin"))
    assert r.code == 0, r.stderr
    assert "试运行" in r.stdout and "新增 12 人" in r.stdout
    assert snap(cworld.path) == before


def test_template_export_compare(cworld, files, run_dossier, tmp_path):
    env = cworld.env("admin")
    tpl = tmp_path / "见面核查登记.xlsx"
    r = run_dossier(["sheet", "template", "见面核查", "-o", tpl], env=env)
    assert r.code == 0, r.stderr
    wb = openpyxl.load_workbook(tpl)
    ws = wb.worksheets[0]
    assert ws.protection.sheet and ws.freeze_panes == "C2"
    assert ws["A2"].protection.locked is False and ws["A1"].protection.locked is not False
    lists = wb["_lists"]
    values = {c.value for row in lists.iter_rows() for c in row if c.value}
    assert {"敲门见人", "视频见面", "走访亲友", "本人", "亲属"} <= values
    assert any(dv.prompt for dv in ws.data_validations.dataValidation)

    assert run_dossier(["import", files / "pair_roster.xlsx", "--scope", STREET, "--today", "2024-06-15"],
                       env=env).code == 0
    assert run_dossier(["import", files / "pair_status.xlsx", "--today", "2024-06-15"], env=env).code == 0
    out = tmp_path / "名册.xlsx"
    r = run_dossier(["export", "--scope", STREET, "-o", out, "--today", "2024-06-15"], env=env)
    assert r.code == 0 and out.is_file()
    r = run_dossier(["import", out, "--scope", STREET, "--json"], env=env)
    assert json.loads(r.stdout)["summary"]["unchanged"] == 12
    r = run_dossier(["compare", files / "pair_platform.xlsx", "--scope", STREET, "--today", "2024-06-15",
                     "-o", tmp_path / "cmp.xlsx", "--json"], env=env)
    assert r.code == 0, r.stderr
    s = json.loads(r.stdout)["summary"]
    assert (s["only_platform"], s["only_archive"], s["status"], s["address"], s["police"], s["phone"]) == \
        (1, 1, 1, 2, 1, 2)
    assert (tmp_path / "cmp.xlsx").is_file()


def test_unknown_entry_type_is_exit_1(run_dossier, tmp_path):
    r = run_dossier(["sheet", "template", "飞鸽", "-o", tmp_path / "x.xlsx"])
    assert r.code == 1 and "未知记录类型" in r.stderr


def test_commands_have_help(run_dossier):
    for cmd in (["import"], ["sheet", "template"], ["export"], ["compare"]):
        r = run_dossier([*cmd, "--help"])
        assert r.code == 0 and "示例" in r.stdout


def test_compare_names_unrecognised_columns_and_what_was_not_compared(world, run_dossier, tmp_path):
    """An unrecognised status column is named; “状态不一致 0 处” is not claimed."""
    _, p = world.add_person(world.scope_a)
    f = write_table(tmp_path / "平台.xlsx", ["姓名", "身份证号", "联系电话", "人员管控级别"],
                  [[p["name"], p["id_number"], p.get("phone"), "一级"]])
    args = ["compare", f, "--scope", world.scope_a]
    r = run_dossier(args, env=world.env("admin"))
    assert r.code == 0, r.stderr
    assert "状态不一致 0 处" not in r.stdout
    assert "状态不一致：未比对" in r.stdout and "比对字段：联系电话" in r.stdout
    assert "人员管控级别" in r.stderr and "未比对" in r.stderr
    r = run_dossier([*args, "--json"], env=world.env("admin"))
    d = json.loads(r.stdout)
    assert d["ignored_columns"] == ["人员管控级别"] and d["compared_fields"] == ["联系电话"]
    assert d["summary"]["status"] == 0     # existing keys unchanged


def test_import_with_status_mapped_says_status_is_an_entry(world, run_dossier, tmp_path):
    """--mapping 管控现状: status does not produce “不是档案字段…请用 --mapping”: status is
    not imported from rosters, and the note says where it goes instead."""
    p = world.person()
    f = write_table(tmp_path / "名册.xlsx", ["姓名", "民族", "身份证号", "户籍地址", "平台状态"],
                  [[p["name"], p["ethnicity"], p["id_number"], p["hukou_address"], "社区康复"]])
    m = tmp_path / "map.yaml"
    m.write_text("columns: {平台状态: status}\n", encoding="utf-8")
    r = run_dossier(["import", f, "--scope", world.scope_a, "--mapping", m, "--dry-run"], env=world.env("admin"))
    assert r.code == 0, r.stderr
    assert "不是档案字段" not in r.stderr and "请用 --mapping" not in r.stderr
    assert "平台状态" in r.stderr and "dossier sheet template status" in r.stderr
