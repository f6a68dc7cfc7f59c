"""Field descriptions and the one coercion engine shared by persons and entries.

A :class:`Field` says what a key means (English name, Chinese label, aliases),
what kind of value it takes and whether it is personal data. ``normalize_fields``
turns a user's mapping (English keys or Chinese labels) into canonical,
JSON-serialisable values, collecting every error instead of stopping at the first.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model.dates import parse_date

KINDS = ("str", "text", "date", "bool", "int", "float", "enum", "list", "list_enum", "object", "list_object")


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    required: bool = False
    pii: bool = False
    # Extensions (defaulted, so the contract's positional order is unchanged):
    subfields: tuple["Field", ...] = ()   # for object / list_object
    allow_future: bool = False            # for date: planned ends, next review
    pattern: str = ""                     # for str: a regex the value must match (after normalising)
    pattern_hint: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")


# Spellings that clerks use for an enum value → the canonical value (applied only
# when the canonical value is among the field's choices).
VALUE_ALIASES: dict[str, str] = {
    "脱失": "失控", "失控/脱失": "失控", "出国(境)": "出国境", "出国（境）": "出国境", "出境": "出国境",
    "强制戒毒": "强制隔离戒毒", "强戒": "强制隔离戒毒", "社戒": "社区戒毒", "社康": "社区康复",
    "社会面": "无措施", "无措施（社会面）": "无措施", "无措施(社会面)": "无措施",
    "党员": "中共党员", "男性": "男", "女性": "女", "阴": "阴性", "阳": "阳性",
    "高风险": "高", "中风险": "中", "低风险": "低", "羁押": "羁押拘留", "拘留": "羁押拘留",
    "K粉": "氯胺酮", "麻古": "冰毒",
}

_TRUE = {"true", "yes", "y", "1", "是", "有", "对", "√", "已", "t"}
_FALSE = {"false", "no", "n", "0", "否", "无", "没有", "不是", "×", "未", "f"}
_LIST_SPLIT = re.compile(r"[、,，;；/\n]+")


_KEY_INDEXES: dict[int, tuple[tuple, dict]] = {}


def key_index(fields: tuple[Field, ...]) -> dict[str, Field]:
    """Every accepted spelling of a key (name, label, aliases) → its Field.
    Cached per field tuple (they are frozen module constants); callers only read it.
    Looked up by identity: hashing a tuple of ~50 dataclasses on every call cost
    more than the lookup saved (a 10,000-row import makes 20,000 calls)."""
    hit = _KEY_INDEXES.get(id(fields))
    if hit is not None and hit[0] is fields:
        return hit[1]
    index: dict[str, Field] = {}
    for f in fields:
        for k in (f.name, f.label, *f.aliases):
            index[_key(k)] = f
    if len(_KEY_INDEXES) > 256:
        _KEY_INDEXES.clear()
    _KEY_INDEXES[id(fields)] = (fields, index)     # the tuple is kept: its id cannot be reused
    return index


# Kept as typed by normalize_text: NFKC would turn the Chinese ellipsis …… into ASCII dots.
_KEEP_AS_TYPED = re.compile("([\u2025\u2026]+)")


def normalize_text(value) -> str:
    """Text as stored: NFKC (全角数字/字母 → ASCII, ideographic space → space), except the
    ellipsis characters … (U+2026) and ‥ (U+2025), which stay as typed (地址“幸福路……号”)."""
    parts = _KEEP_AS_TYPED.split(str(value))
    return "".join(p if i % 2 else unicodedata.normalize("NFKC", p) for i, p in enumerate(parts))


@functools.lru_cache(maxsize=4096)
def _key(k) -> str:
    return unicodedata.normalize("NFKC", str(k)).strip().lower()


def resolve_keys(fields: tuple[Field, ...], data: Mapping, errors: list[InvalidInput], *,
                 where: str = "") -> dict[str, tuple[Field, object]]:
    """Map the user's keys to fields; unknown and duplicate keys become errors."""
    index = key_index(fields)
    found: dict[str, tuple[Field, object]] = {}
    for raw_key, value in data.items():
        f = index.get(_key(raw_key))
        if f is None:
            known = "、".join(x.name for x in fields)
            errors.append(InvalidInput(field=str(raw_key), reason=f"未知字段{where}；可用字段：{known}"))
            continue
        if f.name in found:
            errors.append(InvalidInput(field=f.name, reason=f"字段重复（“{raw_key}”与已给出的同义字段冲突）"))
            continue
        found[f.name] = (f, value)
    return found


def unknown_keys(data: Mapping, accepted, *, where: str, path: str = "") -> list[InvalidInput]:
    """One error per key of ``data`` not in ``accepted`` (for plain definitions such
    as a campaign or a 会商 record, whose keys are not model Fields): the error
    names the key and lists the accepted ones, so a typo is not silently ignored."""
    accepted = tuple(accepted)
    names = "、".join(accepted)
    return [InvalidInput(f"{where}中有未知的键“{k}”；可用的键：{names}",
                         field=f"{path}{k}", reason=f"未知的键；可用的键：{names}")
            for k in data if str(k).strip() not in accepted]


# C0 and C1 control characters and DEL; text fields keep line breaks and tabs.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def refuse_controls(text: str, name: str, *, multiline: bool = False) -> str:
    """``text`` unchanged, or InvalidInput when it holds a control character (NUL, ESC …):
    invisible in every form and list, and a carrier of terminal and file-name tricks."""
    m = (_CONTROLS_TEXT if multiline else _CONTROLS).search(text)
    if m:
        raise InvalidInput(field=name, reason=f"含有控制字符 U+{ord(m.group()):04X}（第 {m.start() + 1} 个字符），"
                                              "请删除后重新输入")
    return text


def is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == [] or value == {}


def coerce(f: Field, value, *, today: date, path: str | None = None):
    """One value → its canonical JSON form; raises InvalidInput naming the field."""
    name = path or f.name
    k = f.kind
    if k in ("str", "text"):
        if isinstance(value, (dict, list, tuple, set, bool)):
            raise InvalidInput(field=name, reason="应为文字")
        text = normalize_text(value).strip() if k == "str" else str(value).strip()
        refuse_controls(text, name, multiline=k == "text")
        if f.pattern:
            text = re.sub(r"\s+", "", text)   # codes and phone numbers: spaces are never meaningful
        if f.pattern and not re.fullmatch(f.pattern, text):
            raise InvalidInput(field=name, reason=f.pattern_hint or f"格式不正确：“{text}”")
        return text
    if k == "date":
        return parse_date(value, field=name, today=today, allow_future=f.allow_future).isoformat()
    if k == "bool":
        return _bool(value, name)
    if k == "int":
        return _number(value, name, int)
    if k == "float":
        return _number(value, name, float)
    if k == "enum":
        return _enum(f, value, name)
    if k in ("list", "list_enum"):
        items = _as_list(value, name)
        out = []
        for i, item in enumerate(items):
            if is_empty(item):
                continue
            if k == "list_enum":
                out.append(_enum(f, item, name))
            else:
                if isinstance(item, (dict, list)):
                    raise InvalidInput(field=f"{name}[{i}]", reason="列表项应为文字")
                out.append(refuse_controls(normalize_text(item).strip(), f"{name}[{i}]"))
        return out
    if k == "object":
        if not isinstance(value, Mapping):
            raise InvalidInput(field=name, reason="应为一组字段（键值对）")
        return _object(f, value, today=today, path=name)
    if k == "list_object":
        items = [value] if isinstance(value, Mapping) else _as_list(value, name)
        out = []
        for i, item in enumerate(items):
            if is_empty(item):
                continue
            if not isinstance(item, Mapping):
                item = _object_from_text(f, item)
            out.append(_object(f, item, today=today, path=f"{name}[{i}]"))
        return out
    raise AssertionError(k)


def _bool(value, name):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()   # not _key: a value may be unhashable
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(field=name, reason=f"应为“是”或“否”，收到“{value}”")


def _number(value, name, typ):
    kind = "整数" if typ is int else "数字"
    if isinstance(value, bool):
        raise InvalidInput(field=name, reason=f"应为{kind}")
    if isinstance(value, float) and typ is int and not value.is_integer():
        raise InvalidInput(field=name, reason=f"应为{kind}，收到“{value}”")
    try:
        return typ(value if isinstance(value, (int, float)) else unicodedata.normalize("NFKC", str(value)).strip())
    except (ValueError, TypeError):
        raise InvalidInput(field=name, reason=f"应为{kind}，收到“{value}”") from None


def _enum(f: Field, value, name):
    if isinstance(value, (dict, list, bool)) or value is None:
        raise InvalidInput(field=name, reason=f"应为以下之一：{'、'.join(f.choices)}")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    for cand in (text, VALUE_ALIASES.get(text), VALUE_ALIASES.get(str(value).strip())):
        if cand in f.choices:
            return cand
    # NFKC turns full-width brackets into ASCII; compare choices the same way
    for c in f.choices:
        if unicodedata.normalize("NFKC", c) == text:
            return c
    raise InvalidInput(field=name, reason=f"“{value}”不是有效取值；应为以下之一：{'、'.join(f.choices)}")


def _as_list(value, name):
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, str):
        return [p for p in _LIST_SPLIT.split(value) if p.strip()]
    if isinstance(value, set):
        return sorted(value)
    raise InvalidInput(field=name, reason="应为列表")


def _object_from_text(f: Field, item):
    """'社区民警 李四' / '社区民警:李四' / '李四' → {'role': …, 'name': …} for role+name objects."""
    names = {s.name for s in f.subfields}
    if not isinstance(item, str) or "name" not in names:
        raise InvalidInput(field=f.name, reason="列表项应为一组字段（键值对）")
    text = normalize_text(item).strip()
    role_field = next((s for s in f.subfields if s.name == "role"), None)
    parts = [p for p in re.split(r"[\s:：]+", text, maxsplit=1) if p]
    if role_field and len(parts) == 2:
        try:
            role = _enum(role_field, parts[0], f.name)
            return {"role": role, "name": parts[1]}
        except InvalidInput:
            pass
    return {"name": text}


def _object(f: Field, data: Mapping, *, today: date, path: str) -> dict:
    errors: list[InvalidInput] = []
    out = normalize_fields(f.subfields, data, today=today, errors=errors, partial=False, prefix=path)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationErrors(errors)
    return out


def normalize_fields(fields: tuple[Field, ...], data: Mapping, *, today: date, errors: list[InvalidInput],
                     partial: bool = False, prefix: str = "") -> dict:
    """Canonical dict for ``data`` against ``fields``; appends every problem to ``errors``.

    Empty values are dropped (in ``partial`` mode they are kept as None: "clear this field").
    Required fields are checked unless ``partial``.
    """
    out: dict = {}
    failed: set[str] = set()      # given but invalid: already reported, not “必填” again
    where = f"（{prefix}）" if prefix else ""
    for name, (f, value) in resolve_keys(fields, data, errors, where=where).items():
        path = f"{prefix}.{name}" if prefix else name
        if is_empty(value):
            if partial:
                out[name] = None
            continue
        try:
            out[name] = coerce(f, value, today=today, path=path)
        except InvalidInput as e:
            failed.add(name)
            errors.extend(getattr(e, "errors", None) or [e])
    if not partial:
        for f in fields:
            if f.required and f.name not in failed and out.get(f.name) in (None, "", []):
                path = f"{prefix}.{f.name}" if prefix else f.name
                errors.append(InvalidInput(field=path, reason=f"必填（{f.label}）"))
    return out
