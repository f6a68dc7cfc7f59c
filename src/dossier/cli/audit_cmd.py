"""dossier audit —— 防篡改审计日志。"""

from __future__ import annotations

import json

import click

from .common import emit_json, table, with_archive, write_output_file


def _attach(ar):
    from ..approve.hooks import ensure_attached

    return ensure_attached(ar)


@click.group()
def audit():
    """审计日志：每次修改、明文查看、检索、导出、授权、签名都是一条事件，
    事件组成哈希链并由操作人签名；链头锚定在每个新档案版本中，可导出。"""


@audit.command("log")
@click.option("--user", "actor", help="只看该用户的事件")
@click.option("--since", help="起始日期 YYYY-MM-DD")
@click.option("--action", help="只看该类动作（如 approve、disclose）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def log(ar, actor, since, action, as_json):
    """列出审计事件（含个人信息的详情仅对持有相应密钥的用户解密显示）。

    \b
    示例：
      dossier audit log --user du --since 2024-03-01
      dossier audit log --action disclose --json
    """
    from ..approve.hooks import audit_events

    rows = audit_events(ar, actor=actor, since=since, action=action)
    if as_json:
        emit_json(rows)
        return
    table([{**r, "details": json.dumps({**r["details"], **(r.get("private") or {})}, ensure_ascii=False)}
           for r in rows],
          [("seq", "序号"), ("ts", "时间"), ("actor", "操作人"), ("action", "动作"), ("details", "详情")])


@audit.command("verify")
@click.option("--head", "head_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="之前导出的链头文件（可多次给出）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def verify(ar, head_files, as_json):
    """校验整条审计链：被修改、删除、重排、插入的事件和被截断的尾部（退出码 21）。

    \b
    示例：
      dossier audit verify
      dossier audit verify --head 链头-2024-03-01.json
    """
    from ..approve.hooks import verify_audit

    rep = verify_audit(ar, [json.loads(open(f, encoding="utf-8").read()) for f in head_files])
    if as_json:
        emit_json(rep.to_dict())
    else:
        click.echo(f"审计链完好：{rep.events} 条事件，核对锚点 {rep.anchors_checked} 个，"
                   f"链头 #{rep.head.seq} {rep.head.hash[:16]}…")


@audit.command("export-head")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="输出文件（默认打印）")
@with_archive
def export_head(ar, output):
    """导出当前链头（保存在档案库之外，日后用 audit verify --head 检查是否被截断）。

    \b
    示例：
      dossier audit export-head > 链头-2024-03-01.json
    """
    _attach(ar)
    head = ar.audit_chain.anchor("export")
    ar.audit("audit.export-head", seq=head.seq)
    text = head.to_json()
    if output:
        write_output_file(output, text.encode())
        click.echo(f"已导出链头 #{head.seq}：{output}")
    else:
        click.echo(text)
