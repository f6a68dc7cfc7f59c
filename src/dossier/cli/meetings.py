"""dossier meeting add / list — 会商会议记录."""

from __future__ import annotations

import click

from .common import emit_json, load_data_file, table, with_archive


@click.group("meeting")
def meeting():
    """会商会议：记录会议（每位被会商人员的档案追加一条风险评估记录），列出会议。"""


@meeting.command("add")
@click.option("--file", "path", required=True, type=click.Path(dir_okay=False),
              help="会议记录 YAML/JSON：date、place、host、attendees、persons（ref、level、reasons、measures…）")
@with_archive
def add(ar, path):
    """记录一次会商会议（加密保存）。"""
    from ..forms.service import add_meeting

    m = add_meeting(ar, load_data_file(path))
    click.echo(f"已记录会商会议 {m['id'][:8]}（{m['no'] or m['date']}），"
               f"{len(m['persons'])} 人的档案各追加一条风险评估记录。")


@meeting.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def list_cmd(ar, as_json):
    """列出会商会议。"""
    from ..forms.service import list_meetings

    ms = list_meetings(ar)
    rows = [{"id": m["id"], "no": m.get("no", ""), "date": m.get("date", ""), "place": m.get("place", ""),
             "host": m.get("host", ""), "scope": m.get("scope", ""), "persons": len(m.get("persons") or [])}
            for m in ms]
    if as_json:
        emit_json(rows)
    else:
        table([{**r, "id": r["id"][:8]} for r in rows],
              [("id", "编号"), ("no", "期号"), ("date", "日期"), ("place", "地点"), ("host", "主持人"),
               ("persons", "人数")])
