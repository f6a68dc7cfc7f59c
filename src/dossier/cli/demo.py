"""``dossier demo``: the README's main job."""

from __future__ import annotations

import click


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="演示输出目录（其中 archive/ 为演示档案库；已存在时会被重建）")
@click.option("--persons", default=60, show_default=True, type=click.IntRange(3, 100000), help="合成人员数")
@click.option("--seed", default=20240305, show_default=True, type=int, help="随机种子（同一种子得到同样的数据）")
@click.option("--serve", "serve_after", is_flag=True, help="建好后在浏览器中打开：dossier serve（并列出演示用户的口令）")
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535), help="--serve 的端口")
@click.pass_context
def demo(ctx, out, persons, seed, serve_after, port):
    """用合成数据建一个演示档案库并走一遍：建档、录入、查看、历史、校验，以及文书、检索、签批等。

    \b
    示例：
      dossier demo
      dossier demo --out /tmp/demo --persons 200
      dossier demo --serve          # 然后在浏览器打开 http://127.0.0.1:8700/
    """
    from pathlib import Path

    from ..demo import PASSWORDS, Demo, ROLES_SHOWN

    Demo(Path(out), persons=persons, seed=seed, say=click.echo).run()
    if serve_after:
        from .common import Env
        from .serve import serve

        click.echo("\n演示用户（在登录页输入用户名和口令）：")
        for user, label in ROLES_SHOWN.items():
            click.echo(f"  {user:<6} {PASSWORDS[user]:<18} {label}")
        env = Env(archive_option=str(Path(out) / "archive"))
        ctx.obj = env
        ctx.invoke(serve, host="127.0.0.1", port=port, tls_cert=None, tls_key=None, tls_self_signed=False,
                   insecure_http=False)
