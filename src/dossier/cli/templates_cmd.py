"""dossier template check — validate a (user-edited) Word template."""

from __future__ import annotations

import click

from .common import emit_json


@click.group("template")
def template():
    """模板：检查办公室在 Word/WPS 中修改过的文书模板。"""


@template.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--kind", type=click.Choice(["person", "list", "statistics", "meeting"]),
              help="模板类型（默认按文件名或所用字段判断）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def check(path, kind, as_json):
    """列出模板 PATH 使用的字段；有未知字段时拒绝（退出码 30）并指出字段名。

    \b
    示例：
      dossier template check archive/templates/风险分类评估审批表.docx
      dossier template check 我的附表2.docx --kind list --json
    可用字段见 dossier form list --json（fields）。
    """
    from ..forms import check_template

    res = check_template(path, kind=kind)
    if as_json:
        emit_json(res)
        return
    click.echo(f"模板 {res['template']}：类型 {res['kind']}，使用 {len(res['fields'])} 个字段，全部有效。")
    for f in res["fields"]:
        click.echo(f"  {f}")
