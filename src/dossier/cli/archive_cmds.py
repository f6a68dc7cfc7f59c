"""Commands that manage the archive itself: init, scope, user, passwd, check."""

from __future__ import annotations

import click

from .common import emit_json, table, with_archive


@click.command()
@click.option("--name", required=True, help="档案库名称，例如 粤汉街道")
@click.option("--admin", required=True, help="首个管理员的用户名")
@click.option("--store", default=None, metavar="URL",
              help="把档案数据放在 PostgreSQL 中（区级服务器），如 postgresql://dossier@db.example/dossier；"
                   "口令不写在地址里（用 PGPASSFILE / ~/.pgpass），TLS 用 PGSSLMODE 等 libpq 变量")
@click.pass_obj
def init(env, name, admin, store):
    """新建档案库及其管理员。管理员口令按通常的口令来源读取。

    默认档案数据放在档案库目录下（meta.db 与 objects/）；给出 --store 时放在
    PostgreSQL 数据库中，目录下只有指明该数据库的 archive.toml（不含口令）和检索索引。

    \b
    示例：
      DOSSIER_PASSWORD_FILE=admin.pw dossier init --name 粤汉街道 --admin admin
      dossier init --name 珠晖区 --admin admin --store postgresql://dossier@db.example/dossier
    """
    from ..api import init_archive

    pw = env.password(f"管理员 {admin} 的新口令")
    if len(pw) < 8:
        from ..errors import InvalidInput

        raise InvalidInput(field="password", reason="口令至少 8 个字符")
    archive_id = init_archive(env.archive_path, name=name, admin=admin, password=pw, store=store)
    where = "（数据在 PostgreSQL）" if store else ""
    click.echo(f"已创建档案库“{name}”：{env.archive_path}{where}（编号 {archive_id}），管理员 {admin}")


@click.group()
def scope():
    """辖区树（区 › 街道 › 社区）。"""


@scope.command("add")
@click.argument("path")
@click.option("--code", help="区划代码（街道 9 位、社区 3 位或 12 位统计码），用于生成档号")
@with_archive
def scope_add(ar, path, code):
    """新增辖区，缺少的上级节点一并创建。

    \b
    示例：
      dossier scope add 珠晖区/粤汉街道/苗圃社区
      dossier scope add 珠晖区/粤汉街道 --code 430405004
    """
    created = ar.scopes.add(path, code=code)
    if created:
        for p in created:
            click.echo(f"已新增辖区：{p}")
    else:
        click.echo(f"辖区已存在：{path}")


@scope.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def scope_list(ar, as_json):
    """列出辖区及各辖区建档人数。

    \b
    示例：
      dossier --user admin scope list
      dossier --user admin scope list --json
    """
    rows = ar.scopes.list()
    if as_json:
        emit_json(rows)
    else:
        table(rows, [("path", "辖区"), ("code", "代码"), ("persons", "人数")])


@click.group()
def user():
    """用户与授权（管理员操作）。"""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "clerk", "approver", "inspector"]),
              help="角色：admin 管理员、clerk 社区专干、approver 审批人、inspector 督查人员")
@click.option("--scope", "scopes", multiple=True, help="授权辖区（含其下级），可多次给出")
@click.option("--step", help="审批环节（审批人）：社区初评、派出所核查、会商、街道审批、区禁毒办备案")
@click.option("--password-file", "password_file", required=True, type=click.Path(dir_okay=False),
              help="新用户口令所在文件")
@click.option("--full-name", "full_name", help="使用人的真实姓名（签批时显示在审批表上），如 王五")
@click.option("--unit", help="所在单位，如 粤汉派出所、粤汉街道办事处、珠晖区禁毒办")
@click.option("--title", help="职务（可选），如 副所长")
@click.option("--seal", "seal", type=click.Path(dir_okay=False, exists=True),
              help="单位印章或手写签名图片（PNG/JPG，可选），签批时印在签章上")
@with_archive
def user_add(ar, name, role, scopes, step, password_file, full_name, unit, title, seal):
    """新增用户并授予辖区密钥。

    --full-name 与 --unit 写入该用户的签名证书，签批审批表时签章显示“姓名（职务）、单位、意见、日期”；
    未填写的用户照常可用，但 user list 标为“信息不全”，签章只显示用户名。

    \b
    示例：
      dossier user add li --role clerk --scope 珠晖区/粤汉街道/苗圃社区 --password-file li.pw
      dossier user add wang --role approver --step 派出所核查 --scope 珠晖区/粤汉街道 --password-file wang.pw \\
          --full-name 王五 --unit 粤汉派出所 --title 副所长
    """
    from ..config import read_password_file

    pw = read_password_file(password_file, "新用户口令文件")
    from pathlib import Path

    info = ar.users.add(name, role=role, scopes=list(scopes), step=step, password=pw, full_name=full_name,
                        unit=unit, title=title, seal=Path(seal).read_bytes() if seal else None)
    who = "、".join(v for v in (info["full_name"], info["unit"], info["title"]) if v)
    click.echo(f"已新增用户 {info['name']}（{role}）" + (f"，{who}" if who else "")
               + (f"，辖区：{'、'.join(info['scopes'])}" if info["scopes"] else ""))
    if not info["complete"]:
        click.echo("提示：未填写姓名和单位，签章只显示用户名（可用 dossier user edit 补填）", err=True)


@user.command("edit")
@click.argument("name")
@click.option("--full-name", "full_name", help="真实姓名（空字符串表示清除）")
@click.option("--unit", help="所在单位（空字符串表示清除）")
@click.option("--title", help="职务（空字符串表示清除）")
@click.option("--seal", "seal", type=click.Path(dir_okay=False, exists=True),
              help="单位印章或手写签名图片（PNG/JPG），签批时印在签章上（只有本人能解密使用）")
@click.option("--no-seal", "no_seal", is_flag=True, help="删除印章/签名图片")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def user_edit(ar, name, full_name, unit, title, seal, no_seal, as_json):
    """补填或修改用户的姓名、单位、职务（管理员）。

    重新签发该用户的签名证书：此后的签批显示新信息，已有签名不受影响。

    \b
    示例：
      dossier --user admin user edit wang --full-name 王五 --unit 粤汉派出所 --title 副所长
      dossier --user admin user edit wang --title ""
      dossier --user admin user edit wang --seal 粤汉派出所公章.png
    """
    from pathlib import Path

    if seal and no_seal:
        raise click.UsageError("--seal 与 --no-seal 不能同时给出")
    info = ar.users.edit(name, full_name=full_name, unit=unit, title=title,
                         seal=Path(seal).read_bytes() if seal else None, clear_seal=no_seal)
    if as_json:
        emit_json(info)
        return
    who = "、".join(v for v in (info["full_name"], info["unit"], info["title"]) if v) or "（无）"
    click.echo(f"已更新用户 {name}：{who}" + ("" if info["changed"] else "（没有变化）"))
    if not info["complete"]:
        click.echo("提示：姓名或单位仍未填写，user list 中标为信息不全", err=True)


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def user_list(ar, as_json):
    """列出用户、角色、辖区、状态，以及姓名/单位（未填写的标为“信息不全”）。

    \b
    示例：
      dossier --user admin user list
      dossier --user admin user list --json
    """
    from ..users import STATUS_LABELS

    rows = ar.users.list()
    if as_json:
        emit_json(rows)
    else:
        for r in rows:
            r["scopes_text"] = "、".join(r["scopes"])
            r["status_text"] = STATUS_LABELS.get(r["status"], r["status"])
            r["person_text"] = ("、".join(v for v in (r["full_name"], r["unit"], r["title"]) if v)
                                if r["complete"] else "信息不全（缺姓名或单位）")
        table(rows, [("name", "用户"), ("role", "角色"), ("step", "环节"), ("status_text", "状态"),
                     ("person_text", "姓名/单位"), ("scopes_text", "辖区")])


@user.command("revoke")
@click.argument("name")
@with_archive
def user_revoke(ar, name):
    """停用用户：删除其密钥并轮换其持有的辖区密钥。

    \b
    示例：
      dossier --user admin user revoke li
    """
    info = ar.users.revoke(name)
    click.echo(f"已停用用户 {name}，轮换了 {info['rotated_scopes']} 个辖区的密钥")


@click.command()
@click.option("--new-password-file", type=click.Path(dir_okay=False), help="新口令所在文件（否则在终端输入）")
@with_archive
def passwd(ar, new_password_file):
    """修改当前用户的口令。

    \b
    示例：
      dossier --user li passwd --new-password-file new.pw
    """
    from ..config import Password, read_password_file

    if new_password_file:
        pw = read_password_file(new_password_file, "新口令文件")
    else:
        pw = Password(click.prompt("新口令", hide_input=True, confirmation_prompt="再次输入新口令"))
    ar.users.passwd(pw)
    click.echo(f"用户 {ar.user.name} 的口令已修改")


@click.command()
@click.option("--head", "heads", multiple=True, type=click.Path(exists=False),
              help="导出的链头文件或目录（可多次给出；默认读 archive.toml 中 [audit] head_dir）")
@click.option("--head-max-age", type=click.IntRange(min=0), default=None,
              help="超过该天数未导出链头时提醒（默认 archive.toml 中 head_max_age_days，未设为 7；0 不提醒）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def check(ar, heads, head_max_age, as_json):
    """校验档案库：每个版本的哈希链与签名、每个数据块和检索索引文件的认证标签、
    审计链，以及档案版本与审计链是否一一对应（最新版本被删除、链头被回退都会发现）。
    损坏或不一致时退出码 20。

    \b
    示例：
      dossier --user admin check
      dossier --user admin check --head /media/u盘/链头
    """
    from ..errors import IntegrityError

    import sys
    bar = None
    if not as_json and sys.stderr.isatty():
        bar = click.progressbar(length=1, label="校验中", file=sys.stderr)

    def progress(done, total):
        if bar is not None:
            if bar.length != total:
                bar.length = max(total, 1)
            bar.update(done)

    rep = ar.check(progress, heads=heads, max_head_age_days=head_max_age)
    if bar is not None:
        bar.render_finish()
    if as_json:
        emit_json(rep.to_dict())
    else:
        click.echo(f"档案 {rep.dossiers} 份，版本 {rep.versions} 个，数据块 {rep.blobs} 个，已解密校验 {rep.decrypted} 项")
        for p in rep.problems:
            click.secho(f"  ✗ {p['where']}：{p['problem']}", fg="red")
        for w in rep.warnings:
            click.secho(f"  ⚠ {w}", fg="yellow")
        if rep.ok:
            click.secho("校验通过：未发现改动或损坏", fg="green")
    if not rep.ok:
        raise IntegrityError(f"校验失败：发现 {len(rep.problems)} 处问题，首个在{rep.problems[0]['where']}")


@click.command()
@click.option("--dry-run", is_flag=True, help="只列出，不删除")
@click.option("--min-age", default=600, show_default=True, type=int, help="只清理早于该秒数的文件")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def gc(ar, dry_run, min_age, as_json):
    """清理崩溃遗留的孤立数据块和临时文件（管理员）。

    \b
    示例：
      dossier --user admin gc --dry-run
    """
    res = ar.gc(dry_run=dry_run, min_age_s=min_age)
    if as_json:
        emit_json(res)
    else:
        verb = "将删除" if dry_run else "已删除"
        click.echo(f"{verb} {len(res['removed'])} 个孤立文件" + (f"（{res['young_kept']} 个较新的暂留）" if res["young_kept"] else ""))


@click.command()
@click.option("--to", "to", required=True, metavar="URL|目录",
              help="postgresql://…（把本档案库迁入该空数据库）或新目录（导出一份完整副本）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@with_archive
def migrate(ar, to, as_json):
    """在两种存储之间迁移档案库（管理员），复制后逐项校验：各表行数与数据块数一致、
    副本 check 通过、抽样检索结果相同；任何不一致时退出码 20，源档案库不变。

    \b
    --to postgresql://…  迁入 PostgreSQL：校验通过后 archive.toml 改为指向该数据库，
                         原 meta.db 与 objects/ 移到 pre-migrate-<时间>/（确认无误后可删除）
    --to ./目录          导出为独立目录（备份、移交，或从 PostgreSQL 迁回单机）；源不变

    迁移期间档案库只读（其他写入等待）；迁入 PostgreSQL 前请先停止 dossier serve。

    \b
    示例：
      dossier --user admin migrate --to postgresql://dossier@db.example/dossier
      dossier --user admin migrate --to ./archive-copy
    """
    from ..migrate import migrate as run

    rep = run(ar, to)
    if as_json:
        emit_json(rep)
        return
    n = sum(rep["tables"].values())
    click.echo(f"已复制 {len(rep['tables'])} 张表共 {n} 行、数据块 {rep['blobs']} 个到 {rep['to']}")
    c = rep.get("check", {})
    click.echo(f"校验通过：档案 {c.get('dossiers', 0)} 份、版本 {c.get('versions', 0)} 个，"
               f"抽样检索 {rep.get('searches_equal', 0)}/{rep['queries']} 个结果相同")
    if rep.get("moved_aside"):
        click.echo(f"原 meta.db 与 objects/ 已移到 {rep['moved_aside']}（确认无误后可删除）")
