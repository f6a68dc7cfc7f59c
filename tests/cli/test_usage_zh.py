"""Click's usage errors reach users in Chinese, with exit code 2."""

from __future__ import annotations

import pytest

from dossier.cli.usage_zh import translate


@pytest.mark.parametrize("english, chinese", [
    ("Missing option '--scope'.", "缺少选项 --scope"),
    ("Missing argument 'REF'.", "缺少参数 REF"),
    ("No such command 'nosuch'.", "没有“nosuch”这个命令"),
    ("No such option: --bogus", "没有 --bogus 这个选项"),
    ("Option '--name' requires an argument.", "选项 --name 需要一个值"),
    ("Got unexpected extra arguments (b c)", "多余的参数：b c（含空格的值请加引号）"),
    ("Invalid value for '--limit' / '-n': 'abc' is not a valid integer.", "'--limit' / '-n' 的值无效：“abc”不是整数"),
    ("Invalid value for 'FILE': File '/x.xlsx' does not exist.", "'FILE' 的值无效：文件或目录“/x.xlsx”不存在"),
    ("Invalid value for '--step': '乱写' is not one of '会商', '街道审批'.",
     "'--step' 的值无效：“乱写”不是可选值（'会商', '街道审批'）之一"),
    ("something Click says that no pattern knows", "something Click says that no pattern knows"),
])
def test_translate(english, chinese):
    assert translate(english) == chinese


def test_usage_errors_through_the_executable(run_dossier, tmp_path):
    r = run_dossier(["--archive", tmp_path / "archive", "person", "add"])
    assert r.code == 2
    assert "错误：缺少选项 --scope" in r.stderr
    assert "用法：dossier person add" in r.stderr and "运行“dossier person add -h”查看帮助" in r.stderr
    assert "Error:" not in r.stderr and "Usage:" not in r.stderr
    r = run_dossier(["nosuch"])
    assert r.code == 2 and "没有“nosuch”这个命令" in r.stderr
