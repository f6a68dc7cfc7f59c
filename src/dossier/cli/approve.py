"""dossier approve —— 风险分类评估审批表的签批链（DOMAIN §4）。"""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, table, with_archive, write_output_file

STEP_CHOICES = click.Choice(["社区初评", "派出所核查", "会商", "街道审批", "区禁毒办备案"])


def _attach(ar):
    from ..approve.hooks import ensure_attached

    return ensure_attached(ar)


def _print_status(st: dict) -> None:
    click.echo(f"档号 {st['archive_no']}：{st['status']}"
               + (f"，待“{st['next']}”" if st.get("next") else "")
               + (f"，等级 {st['level']}" if st.get("level") else ""))
    if st.get("steps"):
        table([{**s, "action": "退回" if s["action"] == "return" else ("已作废" if s.get("superseded") else "签批")}
               for s in st["steps"]],
              [("step", "环节"), ("action", "动作"), ("signer", "签名人"), ("date", "日期"), ("opinion", "意见")])


@click.group()
def approve():
    """审批表签批：社区初评 → 派出所核查 → 会商 → 街道审批 → 区禁毒办备案。

    \b
    每一栏是审批表 PDF 上的一个增量数字签名（PAdES），普通 PDF 阅读器和
    poppler 的 pdfsig 都能验证。无角色、环节或辖区的用户签批时退出码 13；
    verify 发现签名无效或被改动时退出码 20。
    """


@approve.command("submit")
@click.argument("ref")
@click.option("--level", required=True, type=click.Choice(["高", "中", "低"]), help="建议风险等级")
@click.option("--reason", required=True, help="初评理由")
@click.option("--date", "date", help="初评日期 YYYY-MM-DD（默认今天）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def submit(ar, ref, level, reason, date, as_json):
    """社区初评：生成审批表并签第一栏。

    \b
    示例：
      dossier approve submit 430405004-JD·2024-Y-012-0007 --level 中 --reason 正在执行社区康复
    """
    st = _attach(ar).approvals.submit(ref, level=level, reason=reason, date=date)
    emit_json(st) if as_json else _print_status(st)


@approve.command("sign")
@click.argument("ref")
@click.option("--step", required=True, type=STEP_CHOICES, help="签批环节（须是当前用户的环节）")
@click.option("--opinion", required=True, help="意见，例如 同意")
@click.option("--date", "date", help="签批日期 YYYY-MM-DD（默认今天，不得早于上一栏）")
@click.option("--return", "return_", is_flag=True, help="退回上一环节（意见写明理由）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def sign(ar, ref, step, opinion, date, return_, as_json):
    """在本人环节签批（或 --return 退回上一环节）。

    \b
    示例：
      dossier --user wang approve sign 430405199001011233 --step 派出所核查 --opinion 同意
    """
    st = _attach(ar).approvals.sign(ref, step=step, opinion=opinion, date=date, return_=return_)
    emit_json(st) if as_json else _print_status(st)


@approve.command("meeting")
@click.argument("ref")
@click.option("--minutes", "minutes_no", required=True, help="会议纪要编号，例如 〔2024〕第3期")
@click.option("--date", "date", help="会议日期 YYYY-MM-DD")
@click.option("--conclusion", required=True, type=click.Choice(["高", "中", "低"]), help="会商结论（风险等级）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def meeting(ar, ref, minutes_no, date, conclusion, as_json):
    """会商：把会议纪要编号、日期和结论签入审批表的会商一栏。

    \b
    示例：
      dossier approve meeting 430405199001011233 --minutes 〔2024〕第3期 --date 2024-05-10 --conclusion 中
    """
    st = _attach(ar).approvals.record_meeting(ref, minutes_no=minutes_no, date=date, conclusion=conclusion)
    emit_json(st) if as_json else _print_status(st)


@approve.command("status")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def status(ar, ref, as_json):
    """一份审批表的签批进度。

    \b
    示例：
      dossier approve status 430405199001011233
      dossier approve status 430405199001011233 --json
    """
    st = _attach(ar).approvals.status(ref)
    emit_json(st) if as_json else _print_status(st)


@approve.command("pending")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def pending(ar, as_json):
    """等待当前用户签批的审批表。

    \b
    示例：
      dossier --user wang approve pending
      dossier --user wang approve pending --json
    """
    rows = _attach(ar).approvals.pending()
    if as_json:
        emit_json(rows)
    elif not rows:
        click.echo("没有待签批的审批表。")
    else:
        table(rows, [("archive_no", "档号"), ("next", "待签环节"), ("level", "等级"), ("since", "上一栏日期")])


@approve.command("export")
@click.argument("ref")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 PDF 文件")
@with_archive
def export(ar, ref, output):
    """导出当前的审批表 PDF（含全部签名）。

    \b
    示例：
      dossier approve export 430405199001011233 -o 审批表.pdf
    """
    pdf = _attach(ar).approvals.export(ref)
    write_output_file(output, pdf)
    click.echo(f"已导出：{output}")


@approve.command("verify")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def verify(ar, target, as_json):
    """验证审批表（PDF 文件或档号）：签名人、环节、时间、完整性、签批顺序。

    签名无效、被改动或与档案记录不符时退出码 20；给出的文件根本不是 PDF（或不存在）时退出码 1。

    \b
    示例：
      dossier approve verify 审批表.pdf
      dossier approve verify 430405199001011233 --json
    """
    from ..errors import IntegrityError, InvalidInput

    appr = _attach(ar).approvals
    p = Path(target)
    if target.lower().endswith(".pdf") or p.is_file():
        if not p.is_file():
            raise InvalidInput(f"找不到审批表文件：{target}")
        out = appr.verify(pdf=p.read_bytes())
    else:
        out = appr.verify(target)
    if as_json:
        emit_json(out)
    else:
        for s in out["signatures"]:
            mark = "有效" if s["ok"] else "无效"
            who = "，".join(v for v in (s.get("signer_full_name"), s.get("signer_unit")) if v)
            click.echo(f"{s['step'] or s['field']}：{s['signer']}（{who + '；' if who else ''}{s['signer_role']}）"
                       f" {s['time']}  {mark}")
    if not out["ok"]:
        raise IntegrityError("审批表验证失败：" + "；".join(out["problems"]))
    if not as_json:
        for note in out.get("notes", []):
            click.echo(f"注意：{note}")
        click.echo("审批表验证通过。")


@approve.command("ca-cert")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 PEM 文件")
@with_archive
def ca_cert(ar, output):
    """导出档案库 CA 证书，供办公室的 PDF 阅读器信任。

    \b
    示例：
      dossier approve ca-cert -o 档案库CA.pem
    """
    from ..approve.hooks import ca_cert_pem

    write_output_file(output, ca_cert_pem(_attach(ar)))
    click.echo(f"已导出 CA 证书：{output}")


@approve.command("issue-cert")
@click.argument("user")
@with_archive
def issue_cert(ar, user):
    """（管理员）为用户签发签名证书（旧用户补发）。

    \b
    示例：
      dossier --user admin approve issue-cert wang
    """
    from ..approve.hooks import reissue_identity

    reissue_identity(_attach(ar), user)
    click.echo(f"已为 {user} 签发签名证书。")
