"""``dossier demo``: the README's main job."""

from __future__ import annotations

import click


@click.command()
@click.option("--out", default="demo-out", show_default=True, type=click.Path(file_okay=False),
              help="演示输出目录（其中 archive/ 为演示档案库；已存在时会被重建）")
@click.option("--persons", default=60, show_default=True, type=click.IntRange(3, 100000), help="合成人员数")
@click.option("--seed", default=20240305, show_default=True, type=int, help="随机种子（同一种子得到同样的数据）")
def demo(out, persons, seed):
    """用合成数据建一个演示档案库并走一遍：建档、录入、查看、历史、校验，以及文书、检索、签批等。

    \b
    示例：
      dossier demo
      dossier demo --out /tmp/demo --persons 200
    """
    from pathlib import Path

    from ..demo import Demo

    Demo(Path(out), persons=persons, seed=seed, say=click.echo).run()
