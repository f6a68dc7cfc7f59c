"""dossier.cli.common.load_data_file: the --file reader of person/entry/campaign/
meeting/inspect commands."""

from __future__ import annotations

import re

import pytest

from dossier.cli.common import load_data_file
from dossier.errors import InvalidInput


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("name", ["阈值.yaml", "阈值.yml", "阈值.YAML"])
def test_flow_style_yaml_is_read_as_yaml(tmp_path, name):
    p = _write(tmp_path, name, "{BACKDATED: {days: 15}, STALE: {days: 60}}\n")
    assert load_data_file(str(p)) == {"BACKDATED": {"days": 15}, "STALE": {"days": 60}}


def test_yaml_accepts_json_text(tmp_path):
    p = _write(tmp_path, "人员.yaml", '{"name": "张三", "date": "2025-01-02"}')
    assert load_data_file(str(p)) == {"name": "张三", "date": "2025-01-02"}


def test_yaml_keys_stay_text_and_dates_stay_text(tmp_path):
    for text in ("no: 〔2025〕第3期\ndate: 2025-05-28\n", "{no: 〔2025〕第3期, date: 2025-05-28}\n"):
        p = _write(tmp_path, "会商.yaml", text)
        assert load_data_file(str(p)) == {"no": "〔2025〕第3期", "date": "2025-05-28"}


def test_json_file_is_json(tmp_path):
    p = _write(tmp_path, "人员.json", '{"name": "张三"}')
    assert load_data_file(str(p)) == {"name": "张三"}


_ENGLISH = re.compile(r"[A-Za-z]{4,}")   # no English parser text ('expected', 'Expecting', 'mapping' …)


@pytest.mark.parametrize("name, text, where", [
    ("阈值.yaml", "{BACKDATED: {days: 15}\n", "第 2 行"),
    ("阈值.yml", "a: [1, 2\nb: 3\n", "第 2 行"),
    ("人员.json", '{"name": "张三",}', "第 1 行第 15 列"),
    ("人员.json", '{"name": "张三" "x": 1}', "第 1 行"),
    ("人员.json", "{name: 1}", "第 1 行第 2 列"),
])
def test_malformed_file_is_refused_in_chinese_with_the_place(tmp_path, name, text, where):
    p = _write(tmp_path, name, text)
    with pytest.raises(InvalidInput) as ei:
        load_data_file(str(p))
    msg = str(ei.value)
    assert where in msg and ("YAML" in msg or "JSON" in msg)
    rest = msg.replace(str(p), "").replace("“file”", "").replace("YAML", "").replace("JSON", "")
    assert not _ENGLISH.findall(rest), msg
