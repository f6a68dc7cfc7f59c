"""campaign add / list / progress (专项行动与每周一报送)."""

from __future__ import annotations

from datetime import date

import click

from .common import emit_json, load_data_file, parse_date_option, table, with_archive, write_output_file


@click.group()
def campaign():
    """专项行动：步骤、目标人群、每人应完成事项与进度。"""


@campaign.command("add")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False), help="专项行动定义 YAML/JSON")
@click.option("--replace", is_flag=True, help="同名专项行动已存在时替换为新定义")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def add(ar, file, replace, as_json):
    """登记一个专项行动（加密保存）。

    \b
    示例：
      dossier campaign add --file 2022毒情大排查.yaml
    2022毒情大排查.yaml:
      name: 2022毒情大排查
      doc_no: 粤汉办〔2022〕5号
      scope: 珠晖区/粤汉街道
      population: {all: true}            # 或 {label: 戒断三年未复吸}
      steps:
        - {name: 动员部署, start: 2022-03-01, end: 2022-03-05}
        - {name: 全面排查, start: 2022-03-06, end: 2022-03-31}
        - {name: 风险评估, start: 2022-03-31, end: 2022-04-10}
      actions:
        - {action: interview, count: 2, by: 全面排查}
        - {action: test, count: 1, by: 全面排查}
        - {action: assessment, count: 1, by: 风险评估}

    \b
    population（目标人群，默认全部在册人员）可用的键：
      all: true                      全部在册人员
      label: 戒断三年未复吸           或 labels: [戒断5年, 戒断10年]（派生标签）
      presence: [在控, 失联]          现实状况
      as_of: 2022-03-01              按哪天判定人群（默认第一个步骤的开始日）
    actions 的 action：interview/见面核查、test/检测、assessment/风险评估；
    by 为须在其结束日前完成的步骤名（默认最后一步）。
    lost_limit: 0.05                 失联率超过该比例的社区在周报中标出
    """
    from ..reports.campaigns import Campaigns

    c = Campaigns(ar).add(load_data_file(file), replace=replace)
    if as_json:
        emit_json(c.to_dict())
    else:
        click.echo(f"已登记专项行动“{c.name}”（{c.start}～{c.end}，{len(c.steps)} 个步骤）")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def list_(ar, as_json):
    """列出专项行动。

    \b
    示例：
      dossier campaign list
      dossier campaign list --json
    """
    from ..reports.campaigns import Campaigns

    items = [c.to_dict() for c in Campaigns(ar).list()]
    if as_json:
        emit_json(items)
        return
    for c in items:
        c["steps_text"] = " → ".join(s["name"] for s in c["steps"])
    table(items, [("name", "名称"), ("doc_no", "文号"), ("scope", "辖区"), ("start", "开始"), ("end", "结束"),
                  ("steps_text", "步骤")])


@campaign.command("progress")
@click.argument("name")
@click.option("--by", "by", metavar="SCOPE", help="只看某个下级辖区（社区）；scope 或 社区 = 按社区列出全部（默认）")
@click.option("--as-of", "as_of", help="统计截至日期（默认今天）")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False),
              help="写出周报：.docx（表格+图表）或 .xlsx")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（含每人进度与逾期名单）")
@with_archive
def progress(ar, name, by, as_of, output, as_json):
    """专项行动进度：每人、每社区、每步骤，及逾期名单（每周一报送）。

    \b
    示例：
      dossier campaign progress 2022毒情大排查 --as-of 2022-04-04 -o 周报.docx
      dossier campaign progress 2022毒情大排查 --by 苗圃社区 --json
    """
    from ..reports.campaigns import Campaigns

    p = Campaigns(ar).progress(name, as_of=parse_date_option(as_of) or date.today(), by=by)
    if output:
        from ..reports import render

        data = render.progress_xlsx(p) if output.lower().endswith(".xlsx") else render.progress_docx(p)
        write_output_file(output, data)
    if as_json:
        emit_json(p)
        return
    from ..reports.render import pct

    click.echo(f"{p['campaign']}（截至 {p['as_of']}）应排查 {p['population']} 人")
    rows = []
    for r in p["communities"] + [p["total"]]:
        rows.append({**r, "met_rate": pct(r["met_rate"]),
                     "lost_rate": pct(r["lost_rate"]) + (" 超5%" if r["lost_flag"] else "")})
    table(rows, [("community", "社区"), ("population", "应排查"), ("met", "已见面"), ("met_rate", "见面率"),
                 ("complete", "全部完成"), ("overdue", "逾期"), ("lost", "联系不上"), ("lost_rate", "失联率")])
    for s in p["steps"]:
        done = "" if s["done"] is None else f"  完成 {s['done']}/{s['total']}，逾期 {s['overdue']}"
        click.echo(f"  {s['name']}（{s['start']}～{s['end']}，{s['state']}）{done}")
    if p["overdue"]:
        click.echo(f"逾期 {len(p['overdue'])} 人：")
        for x in p["overdue"][:50]:
            click.echo(f"  {x['archive_no']}  {x['name']}  {x['community']}  {'、'.join(x['overdue'])}")
    if output:
        click.echo(f"已写出 {output}")
