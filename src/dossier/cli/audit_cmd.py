"""dossier audit —— 防篡改审计日志。"""

from __future__ import annotations

import json

import click

from .common import emit_json, table, with_archive


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
@click.option("--head", "head_files", multiple=True, type=click.Path(exists=False),
              help="之前导出的链头文件或目录（可多次给出；默认读 archive.toml 中 [audit] head_dir）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def verify(ar, head_files, as_json):
    """校验整条审计链：被修改、删除、重排、插入的事件和被截断的尾部（退出码 21）；
    再与档案核对：每条修改事件都有同一哈希的版本，每份档案的最新版本都是审计链记录的
    最新版本，审批、披露、用户与审计链一致（不一致时退出码 20）。

    \b
    示例：
      dossier audit verify
      dossier audit verify --head 链头-2024-03-01.json
      dossier audit verify --head /media/u盘/链头        # 目录中所有导出的链头
    """
    from ..audit_check import verify as verify_audit
    from ..errors import IntegrityError

    _attach(ar)
    rep = verify_audit(ar, heads=head_files)
    if as_json:
        emit_json(rep.to_dict())
    else:
        for w in rep.warnings:
            click.secho(f"⚠ {w}", fg="yellow", err=True)
        for p in rep.problems:
            click.secho(f"✗ {p['where']}：{p['problem']}", fg="red")
    if rep.chain_error is not None:
        raise rep.chain_error
    if rep.problems:
        raise IntegrityError(f"审计链与档案不一致：发现 {len(rep.problems)} 处问题，首个在{rep.problems[0]['where']}")
    if not as_json:
        click.echo(f"审计链完好：{rep.chain.events} 条事件，核对锚点 {rep.chain.anchors_checked} 个"
                   f"（其中导出的链头 {rep.heads_checked} 个），链头 #{rep.chain.head.seq} {rep.chain.head.hash[:16]}…；"
                   "与档案版本、审批、披露、用户核对一致")


@audit.command("export-head")
@click.option("-o", "--output", "outputs", multiple=True, type=click.Path(),
              help="输出文件或目录（可多次给出，如另一块磁盘和 U 盘；目录中按时间命名）；不给则打印")
@with_archive
def export_head(ar, outputs):
    """导出当前链头，保存在档案库之外（另一块磁盘、U 盘、打印件），日后用
    audit verify --head 检查档案库是否被整体回退、审计链尾部是否被删除。
    每次导出记入审计链；超过设定天数未导出时 dossier check 会提醒。

    \b
    示例：
      dossier audit export-head -o /media/u盘/链头 -o /mnt/备份盘/链头
      dossier audit export-head > 链头-2024-03-01.json
      dossier audit export-head | lp                      # 打印存档
    """
    from ..audit_heads import export_head as do_export

    _attach(ar)
    head, written = do_export(ar, outputs)
    if not written:
        click.echo(head.to_json())
    for p in written:
        click.echo(f"已导出链头 #{head.seq}：{p}")
