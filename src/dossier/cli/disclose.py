"""dossier disclose —— 申请、授权、撤销、导出披露材料（DOMAIN §7）。"""

from __future__ import annotations

import click

from .common import emit_json, table, with_archive, write_output_file


def _d(ar):
    from ..approve.hooks import ensure_attached

    return ensure_attached(ar).disclosures


@click.group()
def disclose():
    """披露：申请（用途、人员、字段、期限）→ 管理员或辖区专干授权 → 申请人导出。

    \b
    导出件只含授权字段的明文，其余脱敏；每页有水印（接收人、用途、日期、编号）；
    文件属性中没有个人信息；可加口令。未授权、已撤销、已过期或检测到泄露时退出码 31。
    """


@disclose.command("request")
@click.argument("refs", nargs=-1, required=True)
@click.option("--purpose", required=True, help="用途，例如 2024年度交叉评查")
@click.option("--fields", required=True, help="逗号分隔的字段：name,id_number,phone,…")
@click.option("--until", help="有效期至 YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def request(ar, refs, purpose, fields, until, as_json):
    """申请披露若干人员的指定字段。REFS 为档号或公民身份号码，可多个。

    \b
    示例：
      dossier --user du disclose request 430405199001011233 --purpose 2024年度交叉评查 --fields name,id_number --until 2024-12-31
    """
    d = _d(ar).request(list(refs), purpose=purpose, fields=[f.strip() for f in fields.split(",") if f.strip()],
                       until=until)
    emit_json(d) if as_json else click.echo(f"已提交披露申请 {d['id']}（{d['persons']} 人），等待授权。")


@disclose.command("grant")
@click.argument("request_id")
@with_archive
def grant(ar, request_id):
    """授权一项披露申请（管理员或覆盖全部人员辖区的社区专干）。

    \b
    示例：
      dossier --user admin disclose grant D20240301-4f1a0c
    """
    d = _d(ar).grant(request_id)
    click.echo(f"已授权 {d['id']}，申请人 {d['requester']}。")


@disclose.command("revoke")
@click.argument("request_id")
@with_archive
def revoke(ar, request_id):
    """撤销披露（之后不能再导出）。

    \b
    示例：
      dossier --user admin disclose revoke D20240301-4f1a0c
    """
    _d(ar).revoke(request_id)
    click.echo(f"已撤销 {request_id}。")


@disclose.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def list_cmd(ar, as_json):
    """列出披露申请。

    \b
    示例：
      dossier disclose list
      dossier disclose list --json
    """
    rows = _d(ar).list()
    emit_json(rows) if as_json else table(rows, [("id", "编号"), ("requester", "申请人"), ("status", "状态"),
                                                 ("persons", "人数"), ("until", "有效期至")])


@disclose.command("export")
@click.argument("request_id")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="输出 PDF")
@click.option("--password-file", type=click.Path(exists=True, dir_okay=False), help="给 PDF 加口令")
@with_archive
def export(ar, request_id, output, password_file):
    """导出披露材料（先经泄露检查，发现问题则不写任何文件）。

    \b
    示例：
      dossier --user du disclose export D20240301-4f1a0c -o 抽查材料.pdf
      dossier --user du disclose export D20240301-4f1a0c -o 抽查材料.pdf --password-file 口令.txt
    """
    pw = None
    if password_file:
        from ..config import read_password_file

        pw = read_password_file(password_file, "PDF 口令文件").reveal().decode()
    pdf = _d(ar).export(request_id, password=pw)
    write_output_file(output, pdf)
    click.echo(f"已导出：{output}")
