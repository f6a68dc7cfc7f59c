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
    """记录一次会商会议（加密保存）。

    被会商人员的审批表若正等待“会商”一栏，同时以纪要期号（no）和会议日期签入该栏；
    会议日期不得早于审批表上一栏的日期。每位这样的人员输出一行：会商一栏已签入，
    或未签入及原因（会议照样记录，退出码 0）。

    \b
    示例：
      dossier meeting add --file 会商.yaml
    会商.yaml（带 * 的必填；其余可省略）：
      no: 〔2024〕第3期            # 期号，form fill --meeting 和审批表会商一栏用它
      date: 2024-05-10            # *
      place: 街道综治中心会议室     # *
      host: 陈志刚                 # * 主持人
      recorder: 李娜               # 记录人
      persons:                     # * 每位被会商人员
        - ref: "430405199001011233"   # 档号或身份证号
          level: 中                    # * 会商结论 高/中/低
          community_level: 中          # 社区初评等级（纪要“社区初评”列）
          reasons: 正在执行社区康复
          measures: 每月见面两次、每月尿检一次
          responsible: 李四
          next_review: 2024-08-10
      attendees:                   # 出席；observers 列席；absentees 请假（同样写法）
        - {unit: 粤汉派出所, name: 王五, role: 社区民警}
      decisions: [阳性人员依法处置。]   # 议定事项（每项一条）
      distribution: 区禁毒办，街道各社区  # 分送
    """
    from ..forms.service import add_meeting

    m = add_meeting(ar, load_data_file(path))
    click.echo(f"已记录会商会议 {m['id'][:8]}（{m['no'] or m['date']}），"
               f"{len(m['persons'])} 人的档案各追加一条风险评估记录。")
    _print_meeting_approvals(m["approvals"])


def _print_meeting_approvals(results: list[dict]) -> None:
    """One line per person whose 审批表 waited at 会商: signed, or why not (a refusal
    does not undo the meeting, so the exit code stays 0, but it must be seen)."""
    for r in results:
        who = r.get("archive_no") or "（未知档号）"
        if r.get("ok"):
            st = r.get("status") or {}
            nxt = f"，待“{st['next']}”" if st.get("next") else ""
            level = f"，评定为{st['level']}风险" if st.get("level") else ""
            click.echo(f"  {who}：审批表会商一栏已签入{level}{nxt}")
        else:
            click.secho(f"  {who}：审批表会商一栏未签入：{r.get('error') or '原因不明'}"
                        f"（会议已记录；该审批表仍待会商，可用 dossier approve meeting 签入）", fg="yellow", err=True)


@meeting.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def list_cmd(ar, as_json):
    """列出会商会议。

    \b
    示例：
      dossier meeting list
      dossier meeting list --json
    """
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
