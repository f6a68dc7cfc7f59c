"""dossier form list / form fill — official forms (thin commands over dossier.forms)."""

from __future__ import annotations

from pathlib import Path

import click

from .common import emit_json, parse_date_option, table, with_archive, write_output_file


@click.group("form")
def form():
    """文书：列出可用文书，填写个人/清单/会议文书（docx、xlsx、pdf）。"""


@form.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出（code、title、kind、fields）")
@click.option("--templates", type=click.Path(file_okay=False), help="模板目录（覆盖内置模板）")
@click.pass_obj
def list_cmd(env, as_json, templates):
    """列出文书：代码、标题、类型（person 个人 / list 清单 / meeting 会议 / statistics 统计）。

    \b
    示例：
      dossier form list
      dossier form list --json        # 含每种文书模板可用的字段（fields）
    """
    from ..forms import Registry

    dirs = [templates] if templates else []
    try:
        ap = env.archive_path
        if (Path(ap) / "templates").is_dir():
            dirs.append(Path(ap) / "templates")
    except Exception:  # noqa: BLE001 - listing works without an archive
        pass
    reg = Registry(dirs)
    rows = []
    for s in reg.forms():
        d = s.to_dict()
        d["fields"] = reg.fields_of(s.code)
        rows.append(d)
    if as_json:
        emit_json(rows)
    else:
        table([{**r, "aliases": "、".join(r["aliases"])} for r in rows],
              [("code", "代码"), ("kind", "类型"), ("title", "标题"), ("aliases", "别名")])


@form.command("fill")
@click.argument("code")
@click.argument("ref", required=False)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="输出文件（.docx；清单类可 .xlsx；.pdf 仅输出 PDF）")
@click.option("--pdf", "also_pdf", is_flag=True, help="同时生成 PDF（与输出文件同名，扩展名 .pdf）")
@click.option("--scope", help="清单/统计类文书的范围，如 珠晖区/粤汉街道")
@click.option("--meeting", help="会议文书的会议编号或期号（见 dossier meeting list）")
@click.option("--interview", help="谈话记录：记录编号（默认最近一次）")
@click.option("--doc-no", default="", help="文书编号")
@click.option("--date", "on", help="填表日期（默认今天）")
@click.option("--since", help="统计类文书（附表1）见面、检测的起算日期（默认当年 1 月 1 日），与 report stats --since 相同")
@click.option("--templates", type=click.Path(file_okay=False), help="模板目录（覆盖档案库和内置模板）")
@click.option("--no-keep", is_flag=True, help="不在档案中保存本次生成的文书")
@with_archive
def fill_cmd(ar, code, ref, output, also_pdf, scope, meeting, interview, doc_no, on, since, templates, no_keep):
    """填写文书 CODE（个人文书需给出档号或身份证号 REF）。

    \b
    例：dossier form fill risk-approval 430405004-JD·2024-Y-012-0007 -o 审批表.docx --pdf
        dossier form fill fb02 --scope 珠晖区/粤汉街道 -o 附表2.xlsx
        dossier form fill minutes --meeting 〔2024〕第3期 -o 会议纪要.docx
    """
    from ..forms.service import fill

    out = Path(output)
    suffix = out.suffix.lower()
    fmt = {".xlsx": "xlsx", ".pdf": "pdf"}.get(suffix, "docx")
    if also_pdf and fmt == "xlsx":
        raise click.UsageError("xlsx 输出不能同时生成 PDF")
    today = parse_date_option(on, "date")
    res = fill(ar, code, ref=ref, scope=scope, meeting=meeting, today=today,
               fmt="pdf" if (also_pdf or fmt == "pdf") else fmt, templates=templates, keep=not no_keep,
               doc_no=doc_no, interview=interview, since=parse_date_option(since, "since"))
    written = []
    if fmt == "pdf":
        write_output_file(str(out), res.data)
        written.append(str(out))
    else:
        write_output_file(str(out), res.docx if fmt == "docx" else res.data)
        written.append(str(out))
        if also_pdf:
            write_output_file(str(out.with_suffix(".pdf")), res.data)
            written.append(str(out.with_suffix(".pdf")))
    click.echo(f"已生成《{res.title}》：{'、'.join(written)}")
    for k in res.kept:
        click.echo(f"  已存入档案 {k['archive_no']}（第 {k['version']} 版）")
