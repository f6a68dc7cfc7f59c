"""``dossier search`` and ``dossier index status|rebuild``."""

from __future__ import annotations

import click

from .common import emit_json, table, with_archive


@click.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", "-n", type=click.IntRange(1, 1000), default=20, show_default=True, help="最多显示多少条")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果列表")
@with_archive
def search(ar, query, limit, as_json):
    """检索档案：姓名（全名或任意两个字）、身份证号或手机号（全号或后4/6位）、
    地址、谈话与核查记录。督查人员只能按完整姓名或完整身份证号查找，结果脱敏。

    \b
    条件：status:社区康复  risk:高  scope:苗圃社区  label:戒断三年未复吸
          date:2024-01-01..2024-03-31（记录日期）  name: id: phone: no:（档号）
    用引号查找连续的一段文字："幸福路12号"。

    \b
    示例：
      dossier search 张三
      dossier search 431234
      dossier search 'status:社区康复 risk:高 scope:苗圃社区 date:2024-01-01..2024-03-31'
      dossier search 张三 --json --limit 5
    """
    out = ar.search.search(" ".join(query), limit=limit)
    for w in out["warnings"]:
        click.secho(f"提示：{w}", fg="yellow", err=True)
    rows = out["results"]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("没有找到匹配的档案。")
        return
    cols = [("archive_no", "档号"), ("name", "姓名"), ("id_number", "公民身份号码"), ("scope", "辖区"),
            ("score", "得分")]
    if any("snippet" in r for r in rows):
        cols.append(("snippet", "摘要"))
    table([{**r, "scope": r["scope"].split("/")[-1], "snippet": r.get("snippet") or ""} for r in rows], cols)
    click.echo(f"共 {len(rows)} 条" + ("（已脱敏）" if rows and rows[0].get("masked") else ""))


@click.group()
def index():
    """检索索引的维护（查看状态、重建）。

    \b
    示例：
      dossier index status
      dossier index rebuild
    """


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def index_status(ar, as_json):
    """查看检索索引是否与档案一致（崩溃后未更新的档案会显示为过期）。

    退出码 0 表示全部一致，1 表示有过期、缺失或损坏的索引（用 dossier index rebuild 修复）。

    \b
    示例：
      dossier index status
      dossier index status --json
    """
    rows = ar.search.status()
    if as_json:
        emit_json(rows)
    else:
        names = {"ok": "一致", "stale": "过期", "missing": "缺失", "empty": "无档案", "corrupt": "损坏"}
        kinds = {"clerk": "业务索引", "inspect": "督查索引"}
        table([{"scope": r["scope"], "kind": kinds.get(r["kind"], r["kind"]), "dossiers": r["dossiers"],
                "indexed": "" if r["indexed"] is None else r["indexed"], "state": names.get(r["state"], r["state"]),
                "behind": len(r["stale"]) + len(r["missing"])} for r in rows],
              [("scope", "辖区"), ("kind", "索引"), ("dossiers", "档案数"), ("indexed", "已索引"),
               ("state", "状态"), ("behind", "待更新")])
        for r in rows:
            if r["archive_nos"]:
                more = "…" if len(r["archive_nos"]) > 10 else ""
                click.echo(f"  {r['scope']}（{kinds.get(r['kind'], r['kind'])}）待更新：{'、'.join(r['archive_nos'][:10])}{more}")
    bad = [r for r in rows if r["state"] not in ("ok", "empty")]
    if bad:
        if not as_json:
            click.secho("检索索引与档案不一致，请运行 dossier index rebuild", fg="yellow", err=True)
        raise click.exceptions.Exit(1)


@index.command("rebuild")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def index_rebuild(ar, as_json):
    """从档案重建当前用户可读辖区的全部检索索引（新索引建好后整体替换旧索引）。

    \b
    示例：
      dossier index rebuild
    """
    total = ar.con.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0]
    with click.progressbar(length=total, label="重建检索索引", file=click.get_text_stream("stderr")) as bar:
        rows = ar.search.rebuild(progress=bar.update)
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            click.echo(f"{r['scope']}（{'业务索引' if r['kind'] == 'clerk' else '督查索引'}）：{r['documents']} 份档案")
        click.echo("重建完成。")
