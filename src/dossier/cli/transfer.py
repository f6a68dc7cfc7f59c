"""dossier transfer — hand files to another office (异地服务管理、出所必接、迁出) and receive them."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, table, with_archive, write_output_file


@click.group("transfer")
def transfer():
    """档案移交：把人员档案（全部版本、签名、附件、文书、审批）加密移交给另一档案库，或接收对方的移交包。

    \b
    流程：
      1. 接收方管理员：dossier transfer key -o 本库接收公钥.txt，把文件交给发送方，电话核对指纹
      2. 发送方管理员：dossier transfer export 档号 --to 对方接收公钥.txt --reason 执行地变更 -o 移交包.dtb
      3. 接收方管理员：dossier transfer show 移交包.dtb（核对发送方指纹），
         dossier transfer import 移交包.dtb --scope 区/街道/社区 --trust-fingerprint 发送方指纹
      4. 双方：dossier form fill 移交函 档号 -o 移交函.docx --pdf
    """


@transfer.command("key")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="把接收公钥写入文件（交给发送方）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def key(ar, output, as_json):
    """显示本库的移交接收公钥及指纹（首次由首位管理员运行时生成）。

    \b
    示例：
      dossier transfer key -o 本库接收公钥.txt
    """
    from ..transfer import ensure

    pk = ensure(ar)
    if output:
        write_output_file(output, pk.to_text().encode("utf-8"))
    if as_json:
        emit_json({"archive_id": pk.archive_id, "name": pk.name, "root_fingerprint": pk.root_fingerprint,
                   "key_fingerprint": pk.key_fingerprint, "fingerprint": pk.key_fingerprint, "public_key": pk.to_dict(), "output": output})
        return
    click.echo(f"档案库：{pk.name}（{pk.archive_id}）")
    click.echo(f"接收公钥指纹：{pk.key_fingerprint}")
    click.echo(f"根密钥指纹：{pk.root_fingerprint}")
    click.echo("（两者都可用于对方的 --trust-fingerprint 或 transfer trust add）")
    if output:
        click.echo(f"已写入 {output}；请把它交给发送方，并电话核对以上两个指纹")
    else:
        click.echo(pk.to_text())


@transfer.command("export")
@click.argument("refs", nargs=-1, required=True)
@click.option("--to", "to", required=True, type=click.Path(exists=True, dir_okay=False), help="对方的接收公钥文件")
@click.option("--reason", required=True, help="移交原因，如 执行地变更、出所必接")
@click.option("--keep-copy", is_flag=True, help="本库保留只读副本（默认只保留脱敏存根）")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="移交包文件（.dtb）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def export(ar, refs, to, reason, keep_copy, output, as_json):
    """把档案 REFS 加密移交给对方档案库；本库档案加“迁出”状态记录。

    \b
    示例：
      dossier transfer export 430405004-JD·2026-Y-001-0001 --to 对方接收公钥.txt --reason 执行地变更 -o 移交包.dtb
      dossier transfer export 档号1 档号2 --to 对方接收公钥.txt --reason 出所必接 --keep-copy -o 移交包.dtb
    """
    from ..transfer import export as do_export

    res = do_export(ar, list(refs), Path(to).read_text(encoding="utf-8"), reason=reason, keep_copy=keep_copy,
                    write=lambda data: write_output_file(output, data))
    res.pop("bundle")
    res["output"] = output
    if as_json:
        emit_json(res)
        return
    click.echo(f"已生成移交包 {output}（{res['size']} 字节，{len(res['persons'])} 人）")
    click.echo(f"接收方：{res['to']['name']}，根密钥指纹 {res['to']['root_fingerprint']}，"
               f"接收公钥指纹 {res['to']['key_fingerprint']}")
    click.echo(f"本库根密钥指纹（请告知对方核对）：{res['from']['root_fingerprint']}")
    click.echo("本库" + ("保留只读副本" if keep_copy else "只保留脱敏存根") + "；各档案已加“迁出”记录")


@transfer.command("show")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def show(ar, bundle, as_json):
    """导入前查看移交包：发送方、接收方、人数（脱敏）、指纹。

    \b
    示例：
      dossier transfer show 移交包.dtb
    """
    from ..transfer import show as do_show

    res = do_show(ar, Path(bundle).read_bytes())
    if as_json:
        emit_json(res)
        return
    s, r = res["sender"], res["recipient"]
    click.echo(f"移交包 {res['bundle_id']}（{res['created']}，{res['size']} 字节，签名有效）")
    click.echo(f"发送方：{s['name']}（{s['archive_id']}），根密钥指纹 {s['root_fingerprint']}"
               + ("（已信任）" if res["sender_trusted"] else "（未信任：请电话核对）" if res["for_this_archive"] else ""))
    click.echo(f"接收方：{r['name']}（{r['archive_id']}）" + ("" if res["for_this_archive"] else "——不是本库"))
    click.echo(f"人数：{res['persons_count']}" + (f"；原因：{res['reason']}" if res.get("reason") else ""))
    if res.get("already_imported"):
        click.echo("本库已导入过该移交包")
    if res.get("persons"):
        table(res["persons"], [("name", "姓名"), ("id_number", "身份证号"), ("sender_archive_no", "原档号"),
                               ("versions", "版本数"), ("attachments", "附件")])


@transfer.command("import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--scope", required=True, help="接收到哪个辖区（区/街道/社区）")
@click.option("--trust-fingerprint", help="已电话核对的发送方根密钥指纹（同时加入信任列表）")
@click.option("--merge", is_flag=True, help="本库已有同一身份证号的人员时，把移交来的历史并入该档案（两份历史都保留）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def import_(ar, bundle, scope, trust_fingerprint, merge, as_json):
    """验证并导入移交包：先校验签名、发送方和每一版本的签名链，全部通过才写入。

    \b
    示例：
      dossier transfer import 移交包.dtb --scope 珠晖区/粤汉街道/苗圃社区 --trust-fingerprint ABCD-EFGH-IJKL-MNOP
      dossier transfer import 移交包.dtb --scope 珠晖区/粤汉街道/苗圃社区 --merge
    """
    from ..transfer import import_bundle

    res = import_bundle(ar, Path(bundle).read_bytes(), scope, trust_fingerprint=trust_fingerprint, merge=merge)
    if as_json:
        emit_json(res)
        return
    if res["already_imported"]:
        click.echo(f"该移交包已于 {res['imported_at']} 导入，未作改动")
        return
    click.echo(f"已从“{res['sender']['name']}”接收 {len(res['persons'])} 份档案到 {res['scope']}：")
    table([{**p, "how": "并入已有档案" if p.get("merged") else "新建"} for p in res["persons"]],
          [("archive_no", "本库档号"), ("sender_archive_no", "原档号"), ("versions", "版本数"), ("how", "方式")])


@transfer.command("merged")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def merged(ar, ref, as_json):
    """查看并入档案 REF 的移交历史（transfer import --merge），逐版校验。

    \b
    示例：
      dossier transfer merged 430405199001011233 --json
    """
    from ..transfer.service import merged_history

    rows = merged_history(ar, ref)
    if as_json:
        emit_json(rows)
        return
    for m in rows:
        click.echo(f"并入的档案 {m['dossier']}：")
        table(m["versions"], [("version", "版本"), ("time", "时间"), ("author", "作者"), ("message", "说明")])


@transfer.group("trust")
def trust():
    """信任的发送方（按根密钥指纹）。"""


@trust.command("add")
@click.argument("fingerprint")
@click.option("--name", default="", help="对方单位名称（备忘）")
@with_archive
def trust_add(ar, fingerprint, name):
    """把已电话核对的发送方根密钥指纹加入信任列表。

    \b
    示例：
      dossier transfer trust add ABCD-EFGH-IJKL-MNOP --name 蒸湘区禁毒办
    """
    from ..transfer import trust_add as do

    t = do(ar, fingerprint, name)
    click.echo(f"已信任 {t['fingerprint']} {t['name']}")


@trust.command("remove")
@click.argument("fingerprint")
@with_archive
def trust_remove(ar, fingerprint):
    """从信任列表删除一个指纹。

    \b
    示例：
      dossier transfer trust remove ABCD-EFGH-IJKL-MNOP
    """
    from ..transfer import trust_remove as do

    do(ar, fingerprint)
    click.echo("已删除")


@trust.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def trust_list(ar, as_json):
    """列出信任的发送方。

    \b
    示例：
      dossier transfer trust list --json
    """
    from ..transfer import trusted

    rows = trusted(ar)
    if as_json:
        emit_json(rows)
    else:
        table(rows, [("fingerprint", "根密钥指纹"), ("name", "单位"), ("added_by", "添加人"), ("added", "时间")])


@transfer.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def list_(ar, as_json):
    """列出本库发出和接收的移交包。

    \b
    示例：
      dossier transfer list --json
    """
    from ..transfer import transfers

    rows = transfers(ar)
    if as_json:
        emit_json(rows)
    else:
        table(rows, [("time", "时间"), ("direction", "方向"), ("peer_name", "对方"), ("persons", "人数"),
                     ("id", "移交包")])
