"""Person and entry commands: person add/list, entry add, show, history, diff."""

from __future__ import annotations

import click

from .common import emit_json, load_data_file, parse_date_option, table, with_archive


@click.group()
def person():
    """登记在册人员（一人一档）。"""


@person.command("add")
@click.option("--scope", required=True, help="所属辖区，例如 珠晖区/粤汉街道/苗圃社区")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False), help="人员信息 JSON/YAML 文件")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出 archive_no 与 id")
@with_archive
def person_add(ar, scope, file, as_json):
    """登记一名人员并建档。字段名用英文键或中文标签（DOMAIN §9）。

    \b
    示例：
      dossier person add --scope 珠晖区/粤汉街道/苗圃社区 --file person.yaml
    person.yaml:
      name: 张三
      id_number: 430405199001011233
      hukou_address: 湖南省衡阳市珠晖区……
    """
    ref = ar.persons.add(scope, load_data_file(file))
    if as_json:
        emit_json(ref.to_dict())
    else:
        click.echo(f"已建档：档号 {ref.archive_no}（第 {ref.version} 版）")
        for w in ref.warnings:
            click.secho(f"  提示：{w}", fg="yellow")


@person.command("list")
@click.option("--scope", help="辖区（含下级）；默认为当前用户的全部辖区")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def person_list(ar, scope, as_json):
    """列出辖区内的人员。

    \b
    示例：
      dossier person list --scope 珠晖区/粤汉街道 --json
    """
    rows = ar.persons.list(scope)
    if as_json:
        emit_json(rows)
    else:
        table(rows, [("archive_no", "档号"), ("name", "姓名"), ("id_number", "公民身份号码"),
                     ("scope", "辖区"), ("version", "版本")])
        click.echo(f"共 {len(rows)} 人")


@person.command("edit")
@click.argument("ref")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False), help="要修改的字段 JSON/YAML")
@click.option("--message", "-m", help="版本说明")
@with_archive
def person_edit(ar, ref, file, message):
    """修改人员基本信息（生成新版本）。

    \b
    示例：
      dossier person edit 430405199001011233 --file changes.yaml -m 更新现住址
    """
    v = ar.persons.update(ref, load_data_file(file), message=message)
    click.echo("无变化，未生成新版本" if v is None else f"已保存为第 {v} 版")


@click.group()
def entry():
    """档案记录（见面核查、检测、评估、状态变更……）。"""


@entry.command("add")
@click.argument("ref")
@click.option("--type", "type_name", required=True,
              help="记录类型：interview 见面核查、test 检测、assessment 风险评估、measure 管控措施、"
                   "assistance 帮扶救助、status 状态、agreement 协议、drug_event 吸毒事件（中文名亦可）")
@click.option("--file", "file", required=True, type=click.Path(dir_okay=False), help="记录内容 JSON/YAML 文件")
@click.option("--message", "-m", help="版本说明")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出新记录")
@with_archive
def entry_add(ar, ref, type_name, file, message, as_json):
    """为某人追加一条带日期的记录（生成新版本）。REF 为档号或公民身份号码。

    \b
    示例：
      dossier entry add 430405199001011233 --type interview --file 见面.yaml
    见面.yaml:
      date: 2024-03-05
      method: 敲门见人
      subject: 本人
      person_seen: true
      staff: [{role: 禁毒专干, name: 李四}, {role: 社区民警, name: 王五}]
      content: 本人在家，精神状态良好……
    """
    e = ar.entries.add(ref, type_name, load_data_file(file), message=message)
    if as_json:
        emit_json(e)
    else:
        click.echo(f"已添加记录（{e['type']} {e.get('date', '')}），档案为第 {e['version']} 版")


@click.command()
@click.argument("ref")
@click.option("--version", "version", type=int, help="查看指定版本（默认最新）")
@click.option("--as-of", "as_of", help="按该日期计算派生标签（默认今天）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def show(ar, ref, version, as_of, as_json):
    """查看一人一档：基本信息、记录、派生标签与提示。

    \b
    示例：
      dossier show 430405199001011233
      dossier show 000000000-JD·2024-Y-001-0001 --version 2 --json
      dossier show 430405199001011233 --as-of 2027-01-01
    """
    view = ar.dossiers.show(ref, version=version, as_of=parse_date_option(as_of))
    if as_json:
        emit_json(view.to_dict())
        return
    from ..model.entries import ENTRY_TYPES
    from ..model.person import PROFILE_FIELDS

    click.secho(f"档号 {view.archive_no}   辖区 {view.scope}   第 {view.version}/{view.head} 版"
                f"（{view.author} {view.time}）", bold=True)
    for f in PROFILE_FIELDS:
        v = view.profile.get(f.name)
        if v not in (None, "", [], {}):
            click.echo(f"  {f.label}：{_text(v)}")
    _provenance(view.received, view.sent)
    click.echo(f"派生标签（{view.as_of}）：{'、'.join(view.labels) or '无'}")
    for a in view.alerts:
        click.secho(f"  提示：{a}", fg="yellow")
    click.echo(f"记录 {len(view.entries)} 条：")
    for e in sorted(view.entries, key=lambda e: (e.get("date", ""), e.get("recorded_at", ""))):
        label = ENTRY_TYPES[e["type"]].label if e.get("type") in ENTRY_TYPES else e.get("type")
        detail = "，".join(f"{k}={_text(v)}" for k, v in e.items()
                          if k not in ("id", "type", "date", "recorded_at", "author", "version") and v not in (None, "", []))
        click.echo(f"  {e.get('date', '')}  {label}  {detail[:120]}")
    for key in ("attachments", "documents"):
        items = view.state.get(key) or []
        if items:
            click.echo(f"{'附件' if key == 'attachments' else '已生成文书'} {len(items)} 件：")
            for it in items:
                click.echo(f"  {it.get('date', '')}  {it.get('title', it.get('code', ''))}")


def _provenance(rec: list, sent: dict | None) -> None:
    """Where a file came from and where it went (issue 13)."""
    for r in rec or ():
        a, b = r["versions"]
        click.secho(f"  接收自“{r['archive_name']}”（档案库 {r['archive_id']}，根密钥指纹 {r['root_fingerprint']}，"
                    f"{r['date'][:10]}）：第 {a}–{b} 版", fg="cyan")
    if sent:
        kept = "只读副本" if sent["keep_copy"] else "脱敏存根"
        click.secho(f"  已于 {sent['time'][:10]} 移交至“{sent['peer_name']}”（档案库 {sent['peer_archive']}），"
                    f"本库为{kept}，不能修改", fg="yellow")


def _text(v) -> str:
    """A stored value as a reader writes it: lists 、-joined, booleans 是/否, objects
    as 键：值 — never a Python repr. (Not forms.fmt.text: that prints dates as
    2024年3月5日 for forms, where a listing keeps ISO dates, and importing the forms
    package would load docxtpl into every ``show``.)"""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, (list, tuple)):
        return "、".join(_text(x) for x in v if x not in (None, "", [], {}))
    if isinstance(v, dict):
        return "（" + "，".join(f"{k}：{_text(x)}" for k, x in v.items() if x not in (None, "", [], {})) + "）"
    return str(v)


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def history(ar, ref, as_json):
    """列出档案的全部版本（作者、时间、说明）。REF 为档号或公民身份号码。

    \b
    示例：
      dossier history 430405199001011233
      dossier history 000000000-JD·2024-Y-001-0001 --json
    """
    rows = ar.dossiers.history(ref)
    if as_json:
        emit_json(rows)
    else:
        table(rows, [("version", "版本"), ("time", "时间"), ("author", "作者"), ("message", "说明")])
        _provenance(*ar.dossiers.provenance(ref))


@click.command()
@click.argument("ref")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def diff(ar, ref, v1, v2, as_json):
    """比较同一档案的两个版本，逐字段列出差异。

    \b
    示例：
      dossier diff 430405199001011233 1 3
    """
    d = ar.dossiers.diff(ref, v1, v2)
    if as_json:
        emit_json(d)
        return
    click.echo(f"档号 {d['archive_no']}：第 {v1} 版 → 第 {v2} 版，{len(d['changes'])} 处变化")
    for c in d["changes"]:
        sign = {"added": "+", "removed": "-", "changed": "~"}[c["kind"]]
        if c["section"] == "profile":
            click.echo(f"  {sign} {c['label']}：{c.get('old', '')} → {c.get('new', '')}")
        else:
            click.echo(f"  {sign} {c['label']}")
