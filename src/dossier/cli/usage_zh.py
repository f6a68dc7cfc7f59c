"""Click's own usage errors, shown in Chinese.

Click words its errors in English (``Missing option '--scope'.``); our users read
Chinese. The messages are matched by pattern and rewritten; one that no pattern
knows is shown as Click wrote it, under a Chinese frame (用法 / 错误), so nothing
is lost. The exit code stays Click's (2: usage error).
"""

from __future__ import annotations

import re

import click

_VALUE = [    # the reason inside "Invalid value for X: <reason>"
    (re.compile(r"^'(.*)' is not one of (.*)\.$", re.S), r"“\1”不是可选值（\2）之一"),
    (re.compile(r"^'(.*)' is not a valid integer( range)?\.$", re.S), r"“\1”不是整数"),
    (re.compile(r"^'(.*)' is not a valid float( range)?\.$", re.S), r"“\1”不是数字"),
    (re.compile(r"^(?:File|Path|Directory) '(.*)' does not exist\.$", re.S), r"文件或目录“\1”不存在"),
    (re.compile(r"^(?:File|Path) '(.*)' is a directory\.$", re.S), r"“\1”是目录，应为文件"),
    (re.compile(r"^Directory '(.*)' is a file\.$", re.S), r"“\1”是文件，应为目录"),
    (re.compile(r"^(?:File|Path|Directory) '(.*)' is not readable\.$", re.S), r"“\1”不可读"),
    (re.compile(r"^'(.*)' does not match the format (.*)\.$", re.S), r"“\1”不符合格式 \2"),
]

_MESSAGE = [
    (re.compile(r"^Missing option '(.+?)'\.?$"), r"缺少选项 \1"),
    (re.compile(r"^Missing argument '(.+?)'\.?$"), r"缺少参数 \1"),
    (re.compile(r"^Missing parameter: (.+)$"), r"缺少参数 \1"),
    (re.compile(r"^No such command '(.+?)'\.?$"), r"没有“\1”这个命令"),
    (re.compile(r"^No such option: (\S+)$"), r"没有 \1 这个选项"),
    (re.compile(r"^No such option: (\S+) Did you mean (.+)\?$"), r"没有 \1 这个选项；是否应为 \2？"),
    (re.compile(r"^No such option: (\S+)\s+\(Possible options: (.+)\)$"), r"没有 \1 这个选项；可能是：\2"),
    (re.compile(r"^Option '(.+?)' requires an argument\.?$"), r"选项 \1 需要一个值"),
    (re.compile(r"^Option '(.+?)' requires (\d+) arguments\.?$"), r"选项 \1 需要 \2 个值"),
    (re.compile(r"^Got unexpected extra arguments? \((.*)\)$", re.S), r"多余的参数：\1（含空格的值请加引号）"),
    (re.compile(r"^Option '(.+?)' does not take a value\.?$"), r"选项 \1 不带值"),
    (re.compile(r"^Could not open file '(.+?)': (.*)$", re.S), r"无法打开文件“\1”：\2"),
]

_INVALID = re.compile(r"^Invalid value for (.+?): (.*)$", re.S)


def translate(message: str) -> str:
    """A Click error message in Chinese (unchanged when no pattern knows it)."""
    m = _INVALID.match(message)
    if m:
        reason = m.group(2)
        for pat, repl in _VALUE:
            if pat.match(reason):
                reason = pat.sub(repl, reason)
                break
        return f"{m.group(1)} 的值无效：{reason}"
    for pat, repl in _MESSAGE:
        if pat.match(message):
            return pat.sub(repl, message)
    return message


def show(e: click.ClickException) -> None:
    """Print a Click error the way ``e.show()`` would, in Chinese."""
    ctx = getattr(e, "ctx", None)
    if isinstance(e, click.UsageError) and ctx is not None:
        usage = ctx.get_usage()
        click.echo(re.sub(r"^Usage: ?", "用法：", usage), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            click.echo(f"运行“{ctx.command_path} -h”查看帮助和示例。", err=True)
        click.echo("", err=True)
    click.echo(f"错误：{translate(e.format_message())}", err=True)


__all__ = ["translate", "show"]
