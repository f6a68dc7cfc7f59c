"""Chinese formatting of values for official forms (pure functions).

Dates are printed as ``2024年3月5日``; enumerations as ☑/☐ check lists;
booleans as 是/否; lists joined with 、. Every value that reaches a template
goes through :func:`text`, which also removes characters that XML 1.0 forbids
(a value is data, never markup or structure).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime

CHECKED = "☑"
UNCHECKED = "☐"

# XML 1.0 allows \t \n \r and everything from U+0020 except surrogates, FFFE/FFFF.
# docxtpl turns \t, \a (BEL) and \f into tabs/paragraphs/page breaks after
# rendering, so those are removed from values too; \n becomes a line break.
_XML_BAD = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff\ufffe\uffff]")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


def cn_date(value) -> str:
    """``date(2024, 3, 5)`` or ``"2024-03-05"`` → ``2024年3月5日``; empty → ``""``."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return f"{value.year}年{value.month}月{value.day}日"
    m = _ISO.match(str(value).strip())
    if m:
        return f"{int(m.group(1))}年{int(m.group(2))}月{int(m.group(3))}日"
    return clean(str(value))


def clean(s: str) -> str:
    return _XML_BAD.sub("", s.replace("\r\n", "\n").replace("\r", "\n"))


def text(value) -> str:
    """Any value → the string printed on a form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, (date, datetime)):
        return cn_date(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, Mapping):
        return "；".join(f"{k}：{text(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple, set, frozenset)):
        return "、".join(text(v) for v in value if v not in (None, ""))
    s = str(value)
    if _ISO.match(s.strip()) and len(s.strip()) == 10:
        return cn_date(s)
    return clean(s)


def checks(value, choices: Iterable[str]) -> str:
    """``checks("中", ["高", "中", "低"])`` → ``☐高 ☑中 ☐低`` (value may be a list)."""
    chosen = set(value) if isinstance(value, (list, tuple, set)) else {value}
    return " ".join(f"{CHECKED if c in chosen else UNCHECKED}{c}" for c in choices)


def box(flag) -> str:
    return CHECKED if flag else UNCHECKED


def yes_no(value) -> str:
    if value is None or value == "":
        return ""
    return "是" if value else "否"


def percent(num: int, den: int) -> str:
    return f"{(100.0 * num / den):.1f}%" if den else ""
