"""dossier bind — the bound 一人一档 PDF."""

from __future__ import annotations

from pathlib import Path

import click

from .common import parse_date_option, with_archive, write_output_file


@click.command("bind")
@click.argument("ref")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 PDF")
@click.option("--watermark", help="水印文字（每页）")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False), help="PDF 打开口令所在文件")
@click.option("--templates", type=click.Path(file_okay=False), help="模板目录（封面、目录、备考表）")
@click.option("--date", "on", help="立卷日期（默认今天）")
@with_archive
def bind(ar, ref, output, watermark, password_file, templates, on):
    """装订档案 REF 为一人一档 PDF：封面（档号）、卷内文件目录、各件（含附件，每件一个书签）、卷内备考表。

    \b
    示例：
      dossier bind 430405199001011233 -o 一人一档.pdf --watermark 仅供内部使用
      dossier bind 430405199001011233 -o 一人一档.pdf --password-file 口令.txt
    """
    from ..errors import InvalidInput
    from ..forms.service import bind_dossier

    password = None
    if password_file:
        password = Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        if not password:
            raise InvalidInput(f"口令文件为空：{password_file}")
    pdf = bind_dossier(ar, ref, today=parse_date_option(on, "date"), watermark=watermark, password=password,
                       templates=templates)
    write_output_file(output, pdf)
    click.echo(f"已装订：{output}")
