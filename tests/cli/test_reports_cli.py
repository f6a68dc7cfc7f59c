"""CLI of issue 7 through CliRunner: campaign add/list/progress (-o docx/xlsx),
report stats/eligibility, inspect (--json, -o docx, inspector), verify-paper."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parents[1] / "reports"))

import seedkit  # noqa: E402
from dossier.cli.main import cli  # noqa: E402


@pytest.fixture(scope="module")
def master(tmp_path_factory):
    return seedkit.build(tmp_path_factory.mktemp("cli") / "archive")


@pytest.fixture
def arch(master, tmp_path):
    dst = tmp_path / "archive"
    shutil.copytree(master.path, dst)
    return seedkit.Seeded(dst, master.control, master.anomalies)


def run(arch, user, *args):
    env = {"DOSSIER_ARCHIVE": str(arch.path), "DOSSIER_USER": user, "DOSSIER_PASSWORD": seedkit.PASSWORDS[user],
           "DOSSIER_KDF": "weak-for-tests"}

    r = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=True)
    if r.exception and not isinstance(r.exception, SystemExit):
        # library errors reach main(); emulate its mapping for the exit code
        from dossier.errors import DossierError
        if isinstance(r.exception, DossierError):
            r.exit_code = int(r.exception.exit_code)
    return r


def test_campaign_add_list_and_sealed(arch, tmp_path):
    f = tmp_path / "c.yaml"
    plan = dict(seedkit.CAMPAIGN, name="2025秋季排查")
    f.write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    r = run(arch, "admin", "campaign", "add", "--file", str(f))
    assert r.exit_code == 0, r.output
    r = run(arch, "qian", "campaign", "list", "--json")          # inspectors read campaign definitions
    assert r.exit_code == 0, r.output
    assert {c["name"] for c in json.loads(r.output)} == {"2025秋季排查", seedkit.CAMPAIGN["name"]}
    raw = b"".join(p.read_bytes() for p in (arch.path / "objects").rglob("*") if p.is_file())
    assert "2025秋季排查".encode() not in raw                      # stored sealed
    r = run(arch, "admin", "campaign", "add", "--file", str(f))
    assert r.exit_code == 1 and "已存在" in str(r.exception)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**plan, "actions": [{"action": "interview", "by": "无此步骤"}]},
                                  allow_unicode=True), encoding="utf-8")
    r = run(arch, "admin", "campaign", "add", "--file", str(bad), "--replace")
    assert r.exit_code == 1 and "无此步骤" in str(r.exception)


def test_progress_json_docx_xlsx(arch, tmp_path):
    name = seedkit.CAMPAIGN["name"]
    r = run(arch, "admin", "campaign", "progress", name, "--as-of", "2025-06-01", "--json")
    assert r.exit_code == 0, r.output
    p = json.loads(r.output)
    assert p["population"] == sum(c["population"] for c in p["communities"])
    assert {c["community"] for c in p["communities"]} == {"苗圃社区", "东风社区", "和平社区"}
    r = run(arch, "li", "campaign", "progress", name, "--by", "苗圃社区", "--as-of", "2025-06-01", "--json")
    assert {c["community"] for c in json.loads(r.output)["communities"]} == {"苗圃社区"}
    for by in ("scope", "社区"):    # `--by scope` as issue 7 writes it: the default per-社区 table
        r = run(arch, "admin", "campaign", "progress", name, "--by", by, "--as-of", "2025-06-01", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["communities"] == p["communities"]

    docx_path = tmp_path / "周报.docx"
    r = run(arch, "admin", "campaign", "progress", name, "--as-of", "2025-06-01", "-o", str(docx_path))
    assert r.exit_code == 0, r.output
    from docx import Document

    d = Document(str(docx_path))
    text = "\n".join(par.text for par in d.paragraphs)
    assert name in text and "各社区进展" in text
    cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
    assert "和平社区" in cells and "合计" in cells
    assert len(d.inline_shapes) == 3                        # 见面率, 风险分布, 逐周趋势

    xlsx_path = tmp_path / "周报.xlsx"
    r = run(arch, "admin", "campaign", "progress", name, "--as-of", "2025-06-01", "-o", str(xlsx_path))
    from openpyxl import load_workbook

    wb = load_workbook(xlsx_path)
    assert wb.sheetnames == ["各社区进展", "各步骤", "逾期名单", "图表"]
    assert len(wb["图表"]._images) == 3
    total = [row for row in wb["各社区进展"].iter_rows(values_only=True) if row[0] == "合计"][0]
    assert total[1] == p["total"]["population"] and total[2] == p["total"]["met"]


def test_report_stats_and_eligibility(arch, tmp_path):
    out = tmp_path / "附表1.xlsx"
    r = run(arch, "admin", "report", "stats", "--scope", "珠晖区/粤汉街道", "--as-of", "2025-06-01",
            "-o", str(out), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    rows = {x["community"]: x for x in s["rows"]}
    assert rows["和平社区"]["lost"] == 1 and rows["和平社区"]["lost_flag"] and s["flagged"] == ["和平社区"]
    from openpyxl import load_workbook

    ws = load_workbook(out)["附表1"]
    heads = [c.value for c in ws[2]]
    assert heads[:3] == ["社区（村）", "登记在册", "服刑"] and "失控率" in heads
    r = run(arch, "admin", "report", "eligibility", "--within", "30d", "--as-of", "2025-06-01", "--json")
    assert r.exit_code == 0 and isinstance(json.loads(r.output), list)
    r = run(arch, "admin", "report", "eligibility", "--within", "soon")
    assert r.exit_code == 1


def test_inspect_json_docx_and_inspector(arch, tmp_path):
    r = run(arch, "admin", "inspect", "--scope", "珠晖区/粤汉街道", "--as-of", "2025-06-01", "--json", "--save",
            "-o", str(tmp_path / "核查报告.docx"))
    assert r.exit_code == 0, r.output
    findings = json.loads(r.output)
    assert {"DUP_NOTES", "LOST_RATIO", "AFTER_DEATH"} <= {f["rule"] for f in findings}
    for f in findings:
        assert {"rule", "severity", "evidence"} <= set(f) and (f.get("archive_no") or f.get("refs"))
    from docx import Document

    cells = [c.text for t in Document(str(tmp_path / "核查报告.docx")).tables for row in t.rows for c in row.cells]
    assert "DUP_NOTES" in cells
    r = run(arch, "qian", "inspect", "--scope", "珠晖区/粤汉街道", "--json")
    assert r.exit_code == 0 and json.loads(r.output) == findings
    thr = tmp_path / "t.yaml"
    thr.write_text("LOST_RATIO: {limit: 0.5}\n", encoding="utf-8")
    r = run(arch, "admin", "inspect", "--as-of", "2025-06-01", "--thresholds", str(thr), "--json")
    assert "LOST_RATIO" not in {f["rule"] for f in json.loads(r.output)}


def test_verify_paper_cli(arch, tmp_path):
    from dossier import paper

    no = sorted(arch.control)[0]
    with arch.open("li") as ar:
        tok = paper.issue(ar, no)
    r = run(arch, "qian", "verify-paper", tok.text, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["archive_no"] == no
    # typed as printed on paper, unquoted: one argument per group
    assert len(tok.text.split()) > 1
    r = run(arch, "qian", "verify-paper", *tok.text.split())
    assert r.exit_code == 0 and "核验通过" in r.output, r.output
    img = tmp_path / "qr.png"
    img.write_bytes(tok.qr_png())
    assert run(arch, "qian", "verify-paper", *tok.text.split(), "--image", str(img)).exit_code == 2
    r = run(arch, "qian", "verify-paper", "--image", str(img))
    assert r.exit_code == 0 and "核验通过" in r.output
    bad = tok.token[:-5] + ("A" if tok.token[-5] != "A" else "B") + tok.token[-4:]
    r = run(arch, "qian", "verify-paper", bad, "--json")
    assert r.exit_code == 20 and json.loads(r.output)["valid"] is False
    assert run(arch, "qian", "verify-paper").exit_code == 2


def test_every_command_has_help():
    for args in (["campaign", "add"], ["campaign", "list"], ["campaign", "progress"], ["report", "stats"],
                 ["report", "eligibility"], ["inspect"], ["verify-paper"]):
        r = CliRunner().invoke(cli, [*args, "--help"])
        assert r.exit_code == 0 and "示例" in r.output or args == ["campaign", "list"], args


def _env(arch, user):
    import os

    return {**os.environ, "DOSSIER_ARCHIVE": str(arch.path), "DOSSIER_USER": user,
            "DOSSIER_PASSWORD": seedkit.PASSWORDS[user]}


def test_inspect_unknown_rule_exits_1_and_lowercase_is_accepted(arch, run_dossier):
    for user in ("admin", "qian"):
        r = run_dossier(["inspect", "--scope", "珠晖区/粤汉街道", "--rule", "NOSUCH"], env=_env(arch, user))
        assert r.code == 1 and "NOSUCH" in r.stderr and "STALE" in r.stderr and "发现" not in r.stdout, r
    r = run_dossier(["inspect", "--scope", "珠晖区/粤汉街道", "--as-of", "2025-06-01", "--rule", "stale", "--json"],
                    env=_env(arch, "admin"))
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) and {f["rule"] for f in json.loads(r.stdout)} == {"STALE"}


def test_campaign_with_unknown_population_key_exits_1(arch, run_dossier, tmp_path):
    for bad, key in (({**seedkit.CAMPAIGN, "name": "甲", "population": {"status": "社区康复"}}, "status"),
                     ({**{k: v for k, v in seedkit.CAMPAIGN.items() if k != "population"}, "name": "乙",
                       "populaton": {"label": "戒断三年未复吸"}}, "populaton")):
        f = tmp_path / "c.yaml"
        f.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
        r = run_dossier(["campaign", "add", "--file", f], env=_env(arch, "admin"))
        assert r.code == 1 and f"“{key}”" in r.stderr and "可用的键" in r.stderr, r
    r = run_dossier(["campaign", "list", "--json"], env=_env(arch, "admin"))
    assert {c["name"] for c in json.loads(r.stdout)} == {seedkit.CAMPAIGN["name"]}
