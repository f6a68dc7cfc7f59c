"""report stats / eligibility (附表1 统计、戒断3/5/10年到期)."""

from __future__ import annotations

from datetime import date

import click

from .common import emit_json, parse_date_option, table, with_archive, write_output_file


@click.group()
def report():
    """统计报表：附表1、戒断年限到期。"""


@report.command("stats")
@click.option("--scope", help="辖区（含下级），例如 珠晖区/粤汉街道")
@click.option("--as-of", "as_of", help="统计截至日期（默认今天）")
@click.option("--since", "since", help="见面、检测的统计起始日（默认当年1月1日）")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="写出 附表1.xlsx")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def stats(ar, scope, as_of, since, output, as_json):
    """附表1 登记在册吸毒人员排查统计表：各社区人数、见面率、失联率（超5%标出）、失控率、风险等级。

    \b
    示例：
      dossier report stats --scope 珠晖区/粤汉街道 -o 附表1.xlsx
    """
    from ..reports import Reports
    from ..reports.render import pct

    s = Reports(ar).stats(scope, as_of=parse_date_option(as_of) or date.today(),
                          since=parse_date_option(since, "since"))
    if output:
        from ..reports.render import stats_xlsx

        write_output_file(output, stats_xlsx(s))
    if as_json:
        emit_json(s)
        return
    rows = [{**r, **{k: pct(r[k]) for k in ("met_rate", "lost_rate", "out_of_control_rate")},
             "lost_flag": "超5%" if r["lost_flag"] else ""} for r in s["rows"] + [s["total"]]]
    table(rows, [("community", "社区"), ("registered", "在册"), ("met", "已见面"), ("met_rate", "见面率"),
                 ("lost", "失控"), ("lost_rate", "失联率"), ("lost_flag", ""), ("out_of_control_rate", "失控率"),
                 ("dead", "死亡"), ("risk_high", "高"), ("risk_mid", "中"), ("risk_low", "低")])
    if output:
        click.echo(f"已写出 {output}")


@report.command("eligibility")
@click.option("--scope", help="辖区（含下级）")
@click.option("--within", "within", default="30d", show_default=True, help="时间窗：30d、8w、3m、1y")
@click.option("--as-of", "as_of", help="起算日期（默认今天）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def eligibility(ar, scope, within, as_of, as_json):
    """即将满 戒断三年/5年/10年 的人员（按派生标签规则计算）。

    \b
    示例：
      dossier report eligibility --within 30d --json
    """
    from ..reports import Reports
    from ..reports.stats import parse_window

    rows = Reports(ar).eligibility(scope, as_of=parse_date_option(as_of) or date.today(),
                                   within_days=parse_window(within))
    if as_json:
        emit_json(rows)
        return
    table(rows, [("date", "到期日"), ("days_left", "剩余天数"), ("milestone", "标签"), ("archive_no", "档号"),
                 ("name", "姓名"), ("community", "社区")])
    click.echo(f"共 {len(rows)} 人次")
