"""YAML that users write (person, entry, meeting and campaign files, ``--mapping``): safe and bounded.

PyYAML's SafeLoader already builds no Python objects from tags; on top of it:

- an alias (``*name``) is refused: anchors let a few lines expand exponentially
  (“billion laughs”) once anything walks the data, and nothing we read needs them;
- a tag that names a constructor (``!!python/object/apply:…``) is refused with a
  message naming the tag (SafeLoader's own error reads like a syntax error);
- files over MAX_BYTES are refused before they are read;
- dates stay text (the model validates them and names the field; PyYAML's own
  timestamp parser crashes on 2023-02-30), and a key is never a boolean
  (``no:``, a meeting's 期号, stays "no", not YAML 1.1's False).
"""

from __future__ import annotations

from pathlib import Path

from .errors import InvalidInput

MAX_BYTES = 1024 * 1024


def _where(mark) -> str:
    return f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else "某处"


def _loader(name: str):
    import yaml

    class Loader(yaml.SafeLoader):
        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise InvalidInput(field="file", reason=f"“{name}”{_where(event.start_mark)}用了 YAML 别名（*{event.anchor}），"
                                                        "不受支持（可能被用来构造指数级膨胀的数据）：请直接写出内容")
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            for key, _value in node.value:
                if key.tag == "tag:yaml.org,2002:bool" and isinstance(key, yaml.ScalarNode):
                    key.tag = "tag:yaml.org,2002:str"
            return super().construct_mapping(node, deep)

    def refuse_tag(loader, node):
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        raise InvalidInput(field="file", reason=f"“{name}”{_where(node.start_mark)}有不允许的 YAML 标签 {tag}：请删除标签，只写数据")

    Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    Loader.add_constructor(None, refuse_tag)
    return Loader


def load_yaml(text: str, name: str):
    """Parse ``text`` (from the file called ``name``, for messages); raises InvalidInput."""
    import yaml

    if len(text) > MAX_BYTES:
        raise InvalidInput(field="file", reason=f"“{name}”超过 {MAX_BYTES // 1024} KB，不像一份数据文件")
    try:
        return yaml.load(text, Loader=_loader(name))  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        hint = ("：有制表符（Tab），请改用空格缩进" if "\t" in text and "tab" in str(e).lower()
                else "格式有误（检查缩进、冒号后的空格、括号和引号是否成对）")
        raise InvalidInput(field="file", reason=f"“{name}”不是有效的 YAML：{_where(mark)}{hint}") from None


def read_text_file(path: str | Path, *, encoding: str = "utf-8-sig") -> str:
    """A user's data file as text, refused over MAX_BYTES before it is read."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise InvalidInput(field="file", reason=f"“{path}”有 {size / 1048576:,.1f} MB，超过上限 "
                                                    f"{MAX_BYTES // 1024} KB，不像一份数据文件")
        return p.read_text(encoding=encoding)
    except OSError as e:
        raise InvalidInput(field="file", reason=f"无法读取“{path}”：{e.strerror}") from None
    except UnicodeDecodeError:
        raise InvalidInput(field="file", reason=f"“{path}”不是 UTF-8 文本") from None
