"""The search query language (backend-neutral, pure).

    张三 431234 "幸福路12号" status:社区康复 risk:高 scope:苗圃社区
    label:戒断三年未复吸 date:2024-01-01..2024-03-31 name:张三 id:… phone:… no:…

Free terms are ANDed; each may match a name (exact or fragment), an ID number
or phone (full, last 4 or 6), an 档号, an address or an entry text. Filters
of one field are ORed, different fields ANDed. Chinese field names work too
(状态: 风险: 辖区: 标签: 日期: 姓名: 身份证: 电话: 档号:). Full-width input is
folded first (NFKC), so ``ｓｔａｔｕｓ：社区康复`` is the same query.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from ..errors import InvalidInput
from .normalize import nfkc

FILTERS = {"status": "status", "状态": "status", "risk": "risk", "风险": "risk",
           "scope": "scope", "辖区": "scope", "社区": "scope", "label": "label", "标签": "label",
           "date": "date", "日期": "date"}
TERM_FIELDS = {"name": "name", "姓名": "name", "id": "id", "身份证": "id", "身份证号": "id",
               "phone": "phone", "电话": "phone", "手机": "phone", "no": "no", "档号": "no"}

_TOKEN = re.compile(r'(?:([^\s:"]+):)?("([^"]*)"?|\S+)')


@dataclass(frozen=True)
class Term:
    value: str            # normalised (NFKC, lower case)
    field: str | None = None   # None = any; "name" | "id" | "phone" | "no"
    phrase: bool = False       # came in quotes


@dataclass
class ParsedQuery:
    text: str
    terms: list[Term] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)   # status/risk/scope/label
    dates: list[tuple[int | None, int | None]] = field(default_factory=list)  # YYYYMMDD ranges

    @property
    def empty(self) -> bool:
        return not (self.terms or self.filters or self.dates)


def _day(s: str, end: bool) -> int:
    s = s.strip().replace("/", "-").replace(".", "-")
    try:
        if re.fullmatch(r"\d{8}", s):
            d = date(int(s[:4]), int(s[4:6]), int(s[6:]))
        elif re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", s):
            y, m, dd = (int(x) for x in s.split("-"))
            d = date(y, m, dd)
        elif re.fullmatch(r"\d{4}-\d{1,2}", s):
            y, m = (int(x) for x in s.split("-"))
            if end:
                nxt = date(y + (m == 12), m % 12 + 1, 1)
                return int((date.fromordinal(nxt.toordinal() - 1)).strftime("%Y%m%d"))
            d = date(y, m, 1)
        elif re.fullmatch(r"\d{4}", s):
            d = date(int(s), 12, 31) if end else date(int(s), 1, 1)
        else:
            raise ValueError(s)
    except ValueError:
        raise InvalidInput(field="date", reason=f"无法识别的日期“{s}”（应为 2024-01-31、2024-01 或 2024）") from None
    return int(d.strftime("%Y%m%d"))


def parse_dates(value: str) -> tuple[int | None, int | None]:
    """``2024-01-01..2024-03-31``, ``2024-01-01..``, ``..2024-03-31``, ``2024-03``, ``2024``."""
    if ".." in value:
        lo, hi = value.split("..", 1)
        rng = (_day(lo, False) if lo.strip() else None, _day(hi, True) if hi.strip() else None)
        if rng[0] is None and rng[1] is None:
            raise InvalidInput(field="date", reason="日期范围两端不能都为空")
        if rng[0] is not None and rng[1] is not None and rng[0] > rng[1]:
            raise InvalidInput(field="date", reason=f"起始日期晚于结束日期：{value}")
        return rng
    return (_day(value, False), _day(value, True))


def _norm_filter(kind: str, value: str) -> str:
    v = value.strip()
    if kind == "risk" and v.endswith("风险") and len(v) > 2:
        v = v[:-2]
    return v


def parse(text: str) -> ParsedQuery:
    q = ParsedQuery(text=text)
    norm = nfkc(text)
    for m in _TOKEN.finditer(norm):
        fname, raw, quoted = m.group(1), m.group(2), m.group(3)
        value = quoted if quoted is not None else raw
        if fname is not None and fname in FILTERS:
            kind = FILTERS[fname]
            if not value.strip():
                raise InvalidInput(field=fname, reason="缺少值")
            if kind == "date":
                q.dates.append(parse_dates(value))
            else:
                q.filters.setdefault(kind, []).append(_norm_filter(kind, value))
            continue
        if fname is not None and fname in TERM_FIELDS:
            if value.strip():
                q.terms.append(Term(value.strip(), TERM_FIELDS[fname], quoted is not None))
            continue
        if fname is not None:  # "word:word" that is not a field: plain text
            value = f"{fname}:{value}"
        value = value.strip()
        if value:
            q.terms.append(Term(value, None, quoted is not None))
    q.terms = _join_spaced_numbers(q.terms)
    return q


def _join_spaced_numbers(terms: list[Term]) -> list[Term]:
    """``138 0000 1234`` or ``430405 19900101 1234`` typed with spaces: adjacent
    digit groups that together make a phone (11) or ID number (15/18) are one term."""
    out: list[Term] = []
    i = 0
    while i < len(terms):
        joined = None
        for j in range(min(len(terms), i + 5), i + 1, -1):
            run = terms[i:j]
            if all(t.field in (None, "id", "phone") and not t.phrase and _DIGIT_GROUP.match(t.value)
                   for t in run) and len({t.field for t in run}) == 1:
                s = "".join(t.value for t in run)
                if len(s) in (11, 15, 18) and _NUMBER.match(s):
                    joined = (Term(s, run[0].field), j)
                    break
        if joined:
            out.append(joined[0])
            i = joined[1]
        else:
            out.append(terms[i])
            i += 1
    return out


_DIGIT_GROUP = re.compile(r"^[0-9]{2,8}x?$")
_NUMBER = re.compile(r"^[0-9]{10,17}[0-9x]$")
