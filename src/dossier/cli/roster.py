"""Roster commands: import, sheet template, export, compare (issue 3).

Thin: each command parses options, makes one library call (dossier.io.*),
and prints the result. Problems go to stderr; ``--json`` prints one JSON
document on stdout.
"""

from __future__ import annotations

import datetime as _dt
import sys

import click

from .common import emit_json, with_archive


def _today(value):
    if value is None:
        return _dt.date.today()
    from ..model.dates import parse_date

    return parse_date(value, field="today", allow_future=True)


class _Progress:
    """click.progressbar per stage, on stderr; silent for --json or tiny files."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}
        self.last = {}

    def __call__(self, stage, done, total):
        if not self.enabled or total < 50:
            return
        bar = self.bars.get(stage)
        if bar is None:
            for other in self.bars.values():
                other.render_finish()
            bar = click.progressbar(length=total, label=stage, file=sys.stderr, show_pos=True)
            bar.__enter__()
            self.bars[stage] = bar
            self.last[stage] = 0
        bar.update(done - self.last[stage])
        self.last[stage] = done

    def close(self):
        for bar in self.bars.values():
            bar.__exit__(None, None, None)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--scope", help="新增人员登记到的辖区，例如 珠晖区/粤汉街道/苗圃社区；表中有“社区（村）”列时登记到其下对应社区")
@click.option("--sheet", help="只导入该工作表（默认：所有能识别表头的工作表）")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), help="列映射 YAML：表头: 字段名")
@click.option("--dry-run", is_flag=True, help="只校验并显示将做的更改，不写入")
@click.option("--skip-invalid", is_flag=True, help="跳过有错误的行，导入其余各行；未导入的行另存为工作簿")
@click.option("--report", type=click.Path(dir_okay=False), help="错误标注副本的路径（默认：<文件名>_错误标注.xlsx）")
@click.option("--rejected", type=click.Path(dir_okay=False), help="--skip-invalid 时未导入行的工作簿（默认：<文件名>_未导入.xlsx）")
@click.option("--today", metavar="DATE", hidden=True, help="按此日期校验（测试用）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@with_archive
def import_cmd(ar, file, scope, sheet, mapping, dry_run, skip_invalid, report, rejected, today, as_json):
    """导入名册（.xlsx/.xls/.csv）或填好的登记表。

    先校验全部行，再写入：只要有一行有错，就什么也不写（退出码 1），并生成
    标出错误单元格的副本；加 --skip-invalid 则导入正确的行，错误行另存。
    按公民身份号码匹配人员：未变的人员不生成新版本，有变化的生成一个新版本。

    \b
    示例：
      dossier import 名册.xlsx --scope 珠晖区/粤汉街道/苗圃社区
      dossier import 名册.xls --scope 珠晖区/粤汉街道 --dry-run
      dossier import 见面核查登记.xlsx
      dossier import 平台名册.csv --scope 珠晖区/粤汉街道 --mapping map.yaml --skip-invalid
    """
    from ..io.columns import load_mapping
    from ..io.importer import import_file

    progress = _Progress(not as_json)
    try:
        res = import_file(ar, file, scope=scope, sheet=sheet, mapping=load_mapping(mapping), dry_run=dry_run,
                          skip_invalid=skip_invalid, today=_today(today), report=report, rejected=rejected,
                          progress=progress)
    finally:
        progress.close()
    if as_json:
        emit_json(res.to_dict())
    else:
        _print_import(res)
    if not res.ok and not (skip_invalid and res.applied):
        if not (dry_run and skip_invalid):
            sys.exit(1)


def _print_import(res) -> None:
    for note in res.validation.notes:
        click.secho(f"提示：{note}", fg="yellow", err=True)
    errors = res.errors
    for p in res.problems:
        click.secho(str(p), fg="red" if p.level == "error" else "yellow", err=True)
    c = res.counts()
    if errors:
        click.secho(f"共 {len(errors)} 处错误，涉及 {c['rejected']} 行。", fg="red", err=True)
    if res.report_path:
        click.echo(f"已生成错误标注副本：{res.report_path}", err=True)
    if res.rejected_path:
        click.echo(f"未导入的行已另存为：{res.rejected_path}（改正后可再次导入）", err=True)
    if res.applied:
        click.echo(f"导入完成：{res.summary()}")
    elif res.dry_run:
        click.echo(f"试运行（未写入）：若导入将{res.summary()}")
    else:
        click.secho("校验未通过，未写入任何内容。改正后重新导入，或加 --skip-invalid 只导入正确的行。",
                    fg="red", err=True)


@click.group()
def sheet():
    """供填写的登记表模板（见面核查、检测、帮扶、状态变更……）。"""


@sheet.command("template")
@click.argument("entry_types", nargs=-1, required=True, metavar="ENTRY_TYPE...")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 .xlsx 路径")
@click.option("--rows", default=300, show_default=True, help="预设可填写的行数")
def sheet_template(entry_types, output, rows):
    """生成登记表模板（下拉选项、输入提示、冻结并锁定表头），每类记录一个工作表。

    ENTRY_TYPE 可用英文或中文：interview/见面核查、test/检测、assistance/帮扶救助、
    status/状态变更，以及 assessment、measure、agreement、drug_event；
    field（外勤）= 前四类合在一个工作簿里。

    \b
    示例：
      dossier sheet template interview -o 见面核查登记.xlsx
      dossier sheet template 检测 -o 检测登记.xlsx
      dossier sheet template field -o 外勤登记.xlsx
    """
    from ..io.templates import resolve_types, write_template

    path = write_template(list(entry_types), output, rows=rows)
    click.echo(f"已生成模板：{path}（{'、'.join(resolve_types(list(entry_types)))}）")


@click.command("export")
@click.option("--scope", help="辖区（含下级）；默认为当前用户的全部辖区")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 .xlsx 路径")
@click.option("--masked", is_flag=True, help="脱敏导出（姓名、身份证号、电话、地址按对外文书规则脱敏，不含检测结果和备注）")
@click.option("--today", metavar="DATE", hidden=True, help="按此日期计算状态和标签（测试用）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
@with_archive
def export(ar, scope, output, masked, today, as_json):
    """导出辖区人员为附表2《吸毒人员排查情况登记通表》（.xlsx）。

    \b
    示例：
      dossier export --scope 珠晖区/粤汉街道 -o 名册.xlsx
      dossier export --scope 珠晖区/粤汉街道 -o 名册_脱敏.xlsx --masked
    """
    from ..io.export import export_roster

    res = export_roster(ar, scope, output, masked=masked, today=_today(today))
    if as_json:
        emit_json(res)
    else:
        click.echo(f"已导出 {res['count']} 人到 {res['path']}" + ("（已脱敏）" if masked else ""))


@click.command("compare")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--scope", help="比对的辖区（含下级）；默认为当前用户的全部辖区")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="比对结果 .xlsx 路径")
@click.option("--sheet", help="平台导出文件中的工作表")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), help="列映射 YAML：表头: 字段名")
@click.option("--today", metavar="DATE", hidden=True, help="按此日期计算状态（测试用）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出比对结果")
@with_archive
def compare(ar, file, scope, output, sheet, mapping, today, as_json):
    """与公安“一体化”平台导出的名册比对：仅一方有的人员，以及状态、地址、
    列管派出所、电话不一致之处。

    \b
    示例：
      dossier compare 一体化导出.xlsx --scope 珠晖区/粤汉街道 -o 比对结果.xlsx
      dossier compare 一体化导出.xlsx --scope 珠晖区/粤汉街道 --json
    """
    from ..io.columns import load_mapping
    from ..io.compare import KINDS, compare_platform, write_compare

    res = compare_platform(ar, file, scope=scope, sheet=sheet, mapping=load_mapping(mapping),
                           today=_today(today))
    if output:
        write_compare(res, output)
    if as_json:
        emit_json(res.to_dict())
        return
    s = res.summary()
    click.echo(f"平台 {s['platform']} 人，档案 {s['archive']} 人，两边都有 {s['matched']} 人")
    click.echo(f"仅平台有 {s['only_platform']} 人，仅档案有 {s['only_archive']} 人")
    if s["only_platform_elsewhere"]:
        click.secho(f"仅平台有的人员中 {s['only_platform_elsewhere']} 人已在档案的其他辖区建档（不在本次比对范围内）",
                    fg="yellow")
    skipped = res.not_compared()
    for k, (title, fields) in KINDS.items():
        if k in skipped:
            click.echo(f"{title}：未比对（平台文件没有{'、'.join(f'“{label}”' for _, label in fields)}列）")
        else:
            click.echo(f"{title} {s[k]} 处")
    click.echo(f"比对字段：{'、'.join(res.compared_fields) or '无（只比对了人员）'}")
    if res.ignored_columns:
        click.secho(f"平台文件中以下列未识别，未比对：{'、'.join(res.ignored_columns)}；"
                    "如需比对请用 --mapping 指定对应字段", fg="yellow", err=True)
    if s["unreadable"]:
        click.secho(f"平台文件中 {s['unreadable']} 行无法比对（身份证号缺失或无效）", fg="yellow")
    if output:
        click.echo(f"比对结果已写入：{output}")
