"""dossier attach — add a scan or photo to a dossier."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, parse_date_option, with_archive


@click.command("attach")
@click.argument("ref")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--title", required=True, help="题名，如 社区康复协议书")
@click.option("--category", help="类别（卷内顺序）：基本信息、身份证明、决定、协议、审批表、会商纪要、管控方案、"
                                 "谈话记录、检测报告、帮扶救助、状态变更、解除")
@click.option("--date", "on", help="文件日期（默认今天）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def attach(ar, ref, path, title, category, on, as_json):
    """把扫描件或照片（PDF、JPG、PNG）加入档案 REF；照片的 EXIF/GPS 信息在保存前清除。

    \b
    示例：
      dossier attach 430405199001011233 协议书扫描件.pdf --title 社区康复协议书 --category 协议 --date 2024-03-02
      dossier attach 430405199001011233 照片.jpg --title 本人照片 --category 身份证明
    """
    from ..attachments import read_upload
    from ..forms.service import attach as do_attach

    item = do_attach(ar, ref, read_upload(path), Path(path).name, title=title, category=category,
                     on=parse_date_option(on, "date"))
    if as_json:
        emit_json(item)
    else:
        click.echo(f"已加入附件《{item['title']}》（{item['kind'].upper()}，{item['pages']} 页）"
                   f"到档案 {item['archive_no']}（第 {item['version']} 版）")
