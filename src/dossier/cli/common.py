"""Shared CLI plumbing: the environment object, opening the archive, reading
input files, printing JSON and tables. No domain logic here."""

from __future__ import annotations

import functools
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from ..errors import DossierError, InvalidInput


@dataclass
class Env:
    archive_option: str | None = None
    user_option: str | None = None

    @property
    def archive_path(self) -> Path:
        from ..config import archive_path

        return archive_path(self.archive_option)

    @property
    def user(self) -> str | None:
        from ..config import user_name

        return user_name(self.user_option)

    def password(self, what: str = "口令"):
        from ..config import password

        interactive = sys.stdin.isatty()
        return password(prompt=(lambda: click.prompt(what, hide_input=True)) if interactive else None)

    def open(self):
        from ..api import open_archive, read_config
        from ..config import UsageError

        read_config(self.archive_path)   # exit 10 before asking for a password
        user = self.user
        if not user:
            raise UsageError("请用 --user 或环境变量 DOSSIER_USER 指定用户名")
        return open_archive(self.archive_path, user=user, password=self.password(f"用户 {user} 的口令"))


def with_archive(fn):
    """Open and unlock the archive for the command, close it afterwards (borg style)."""

    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(env: Env, *args, **kwargs):
        with env.open() as ar:
            return fn(ar, *args, **kwargs)

    return wrapper


def print_error(e: DossierError) -> None:
    click.secho(f"错误：{e.message}", fg="red", err=True)


def emit_json(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


#: json's messages, in Chinese (the place is given separately)
_JSON_PROBLEMS = (
    ("Expecting property name enclosed in double quotes", "键名须用英文双引号括起（或末尾多了逗号）"),
    ("Expecting ',' delimiter", "缺少英文逗号"),
    ("Expecting ':' delimiter", "缺少英文冒号"),
    ("Expecting value", "缺少值（或多了逗号、用了中文标点）"),
    ("Extra data", "对象结束后还有多余内容"),
    ("Unterminated string", "字符串缺少结尾的引号"),
    ("Invalid control character", "字符串中有换行等控制字符"),
    ("Invalid \\escape", "无效的反斜杠转义"),
    ("Invalid \\uXXXX escape", "无效的 \\u 转义"),
)


def load_data_file(path: str) -> dict:
    """Read a JSON or YAML mapping; malformed input is refused with the place named.

    ``.json`` is read as JSON; ``.yaml``/``.yml`` (and any other name) as YAML,
    which also reads JSON text, so flow style (``{BACKDATED: {days: 15}}``) works.
    """
    from ..yamltext import load_yaml, read_text_file

    p = Path(path)
    text = read_text_file(p)
    data = _load_json(text, path) if p.suffix.lower() == ".json" else load_yaml(text, path)
    if not isinstance(data, dict):
        raise InvalidInput(field="file", reason=f"“{path}”的内容应为键值对象（字段名: 值）")
    return data


def _load_json(text: str, path: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        problem = next((zh for en, zh in _JSON_PROBLEMS if e.msg.startswith(en)), "格式有误")
        raise InvalidInput(field="file", reason=f"“{path}”不是有效的 JSON：第 {e.lineno} 行第 {e.colno} 列"
                                                f"{problem}") from None


def write_output_file(path: str, data: bytes) -> None:
    """Write a file the user asked for (-o), atomically."""
    import errno

    from ..store.atomic import atomic_write

    try:
        atomic_write(Path(path), data, mode=0o600)
    except OSError as e:
        why = {errno.ENOENT: "目录不存在或不能在那里建文件", errno.ENOTDIR: "路径中有一段不是目录",
               errno.EACCES: "没有写入权限", errno.EPERM: "没有写入权限", errno.EISDIR: "这是一个目录",
               errno.ENOSPC: "磁盘空间不足", errno.EROFS: "只读文件系统"}.get(e.errno, e.strerror or str(e))
        raise InvalidInput(field="output", reason=f"无法写入“{path}”：{why}") from None


def parse_date_option(value: str | None, field: str = "as_of"):
    if value is None:
        return None
    from ..model.dates import parse_date

    return parse_date(value, field=field, allow_future=True)


def table(rows: list[dict], columns: list[tuple[str, str]]) -> None:
    """Print a simple aligned table (CJK characters counted as two columns)."""
    import unicodedata

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)

    cells = [[str(r.get(k, "") if r.get(k) is not None else "") for k, _ in columns] for r in rows]
    heads = [h for _, h in columns]
    widths = [max([width(h)] + [width(c[i]) for c in cells]) for i, h in enumerate(heads)]

    def line(vals):
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(vals, widths)).rstrip()

    click.echo(line(heads))
    click.echo("  ".join("-" * w for w in widths))
    for c in cells:
        click.echo(line(c))


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")
