"""``dossier agenda``: the 工作台 list (the same as the web home page)."""

from __future__ import annotations

import re

import click

from .common import emit_json, parse_date_option, table, with_archive

_WITHIN = re.compile(r"^\s*(\d+)\s*(d|天|日|w|周)?\s*$", re.IGNORECASE)


def parse_within(ctx, param, value) -> int:
    m = _WITHIN.match(str(value))
    if not m:
        raise click.BadParameter(f"“{value}”应为天数，例如 14d、14、2w")
    n = int(m.group(1))
    return n * 7 if (m.group(2) or "").lower() in ("w", "周") else n


def _when(item: dict) -> str:
    d = item["days"]
    if d < 0:
        return f"已逾期 {-d} 天"
    return "今天" if d == 0 else f"{d} 天后"


@click.command()
@click.option("--scope", help="辖区（含下级）；默认为当前用户的全部辖区")
@click.option("--within", "within", default="14d", show_default=True, callback=parse_within,
              help="列出多少天内到期的事项（14d、14、2w）；已逾期的总会列出")
@click.option("--as-of", "as_of", help="按该日期计算（默认今天），例如 2025-06-01")
@click.option("--kind", "kinds", multiple=True,
              help="只列某类事项（可重复）：visit_due、test_due、review_due、report_missing、license_revoke、"
                   "relapse_reassess、high_risk_no_plan、inflow_unsettled、inflow_date_missing、"
                   "abstinence_milestone、campaign_action、approval_sign、approval_meeting、approval_returned")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（items 中每项有 archive_no、kind、due、reason……）")
@with_archive
def agenda(ar, scope, within, as_of, kinds, as_json):
    """工作台：辖区内应办事项——见面、检测、复评、报到、提示、专项行动、待签批审批表、戒断期满。

    已逾期的排在最前。社区专干看到本辖区的全部事项；审批人看到等自己签批的审批表；
    督查人员没有工作台（请用 dossier search）。

    \b
    示例：
      dossier agenda                              # 今天起 14 天内到期及已逾期的事项
      dossier agenda --scope 珠晖区/粤汉街道/苗圃社区 --within 30d
      dossier agenda --as-of 2025-06-01 --kind visit_due --kind test_due
      dossier agenda --json | jq '.items[] | select(.overdue)'
    """
    result = ar.agenda(scope, within_days=within, as_of=parse_date_option(as_of), kinds=kinds or None)
    if as_json:
        emit_json(result.to_dict())
        return
    rows = [{**i, "when": _when(i)} for i in result.items]
    click.echo(f"工作台（{result.as_of} 起 {result.within_days} 天内，辖区 {result.scope}，共查看 {result.persons} 份档案）")
    if rows:
        table(rows, [("due", "到期"), ("when", "状态"), ("kind_label", "类别"), ("archive_no", "档号"),
                     ("name", "姓名"), ("reason", "事由")])
    overdue = sum(1 for i in result.items if i["overdue"])
    click.echo(f"共 {len(rows)} 项（已逾期 {overdue} 项）" if rows else "没有需要办理的事项")
