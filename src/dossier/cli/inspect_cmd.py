"""inspect (督查核查) and verify-paper (纸质文件核验)."""

from __future__ import annotations

from datetime import date

import click

from .common import emit_json, load_data_file, parse_date_option, with_archive, write_output_file


@click.command()
@click.option("--scope", help="辖区（含下级），例如 珠晖区/粤汉街道")
@click.option("--as-of", "as_of", help="核查日期（默认今天）")
@click.option("--thresholds", "thresholds_file", type=click.Path(dir_okay=False),
              help="阈值表 YAML/JSON，覆盖默认值（规则代码: {参数: 值}），见下方示例")
@click.option("--rule", "rules", multiple=True,
              help="只运行指定规则（规则代码，大小写均可，可重复），例如 --rule STALE；未知代码退出码 1")
@click.option("--save", is_flag=True, help="把脱敏结果用该辖区的督查密钥加密保存，供督查人员查看")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), help="写出 核查报告.docx")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出问题清单")
@with_archive
def inspect(ar, scope, as_of, thresholds_file, rules, save, output, as_json):
    """督查核查：雷同谈话记录、短时大量录入、倒签补录、死亡后记录、专项行动未达要求、
    未按频次检测、高风险无一人一策、超期未复核、社区失联超5%。

    管理员、社区专干、审批人在解密数据上运行；督查人员只持有督查密钥，
    看到的是最近一次 --save 保存的脱敏结果。

    \b
    示例：
      dossier inspect --scope 珠晖区/粤汉街道 -o 核查报告.docx
      dossier inspect --scope 珠晖区/粤汉街道 --json --save
      dossier inspect --scope 珠晖区/粤汉街道 --rule STALE --rule MISSING_TEST
      dossier inspect --scope 珠晖区/粤汉街道 --thresholds 阈值.yaml
    阈值.yaml（每行一条规则；未写的沿用默认值）：
      BACKDATED: {days: 15}
      STALE: {enabled: false}
      LOST_RATIO: {limit: 0.03}

    
    规则代码（默认阈值）；每条规则都有 enabled、severity（高/中/低）：
      DUP_NOTES            谈话记录雷同（similarity 0.8，min_chars 40）
      BURST_RECORDED       短时大量录入（count 15 条 / minutes 30 分钟）
      BURST_SAME_DAY       同一天见面人数过多（count 20）
      BACKDATED            补录/倒签（days 30）
      AFTER_DEATH          死亡后仍有记录
      CAMPAIGN_INTERVIEWS  见面次数少于专项行动要求
      CAMPAIGN_TESTS       未按专项行动要求检测
      CAMPAIGN_ASSESSMENT  未按专项行动要求评估
      MISSING_TEST         社区戒毒/康复未按频次检测（grace_days 15）
      HIGH_NO_PLAN         高风险无“一人一策”（grace_days 15）
      STALE                超过复核周期（高30/中90/低180天，grace_days 15）
      LOST_RATIO           社区失联超比例（limit 0.05）
    """
    from ..reports import Reports
    from ..reports.inspection import rule_codes

    rule_codes(rules)             # an unknown code is refused before the thresholds file is read
    overrides = load_data_file(thresholds_file) if thresholds_file and ar.user.role != "inspector" else None
    result = Reports(ar).inspection(scope, as_of=parse_date_option(as_of) or date.today(), overrides=overrides,
                                    only=rules or None, save=save)
    if output:
        from ..reports.render import inspection_docx

        write_output_file(output, inspection_docx(result))
    if as_json:
        emit_json(result["findings"])
        return
    s = result["summary"]
    click.echo(f"核查 {result['scope']}（{result['as_of']}，{result['persons']} 人）：发现 {s['total']} 项问题")
    for f in result["findings"]:
        who = f.get("archive_no") or f.get("scope") or "、".join((f.get("refs") or [])[:4])
        click.echo(f"  [{f['severity']}] {f['rule']}  {who}  {f.get('name', '')}  {f['message']}")
    if output:
        click.echo(f"已写出 {output}")


@click.command("verify-paper")
@click.argument("token", nargs=-1)   # as printed on paper: groups separated by spaces
@click.option("--image", "image", type=click.Path(dir_okay=False, exists=True), help="二维码照片或扫描件")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def verify_paper(ar, token, image, as_json):
    """核验纸质文件上的二维码/核验码：是否本档案库生成、对应谁（脱敏）、哪一版、此后是否变更。

    可输入二维码旁印的 16 位短核验码（四组，如 M6BP-BK2K-NZB0-N1A5；大小写、空格和“-”均可，
    O 视为 0，I、L 视为 1），或以 DP1 开头的长码，或用 --image 给出二维码照片。
    短码校验位不符（抄错一个字符）提示抄错，退出码 1；本档案库没有签发过的核验码、
    伪造或改动的核验码退出码为 20。

    \b
    示例：
      dossier verify-paper M6BP-BK2K-NZB0-N1A5        # 照抄二维码旁的短核验码
      dossier verify-paper DP1AEAAA 7BR565KG …      # 或照抄分组的长码（空格可有可无）
      dossier verify-paper --image 照片.jpg --json
    """
    from .. import paper
    from ..errors import IntegrityError, InvalidInput

    token = " ".join(token)
    if bool(token) == bool(image):
        raise click.UsageError("请给出核验码，或用 --image 指定照片（二者选一）")
    try:
        result = paper.verify_paper(ar, token=token or None, image=image)
    except (IntegrityError, InvalidInput) as e:
        if as_json:
            typo = isinstance(e, InvalidInput) and getattr(e, "field", None) == "code"
            emit_json({"valid": False, "reason": e.message, "typo": typo})
        raise
    if as_json:
        emit_json(result)
    else:
        click.echo(result["message"])
        click.echo(f"  文书编号 {result['doc_id']}，签发人 {result['issued_by']}，辖区 {result['scope']}")
