"""Masking (脱敏) of personal data, DOMAIN §7.

Styles for 公民身份号码: "inspect" (督查检索, keeps region code and last 4:
430405********1234) and "external" (对外文书, hutool style: first 1, last 2).
Every function masks at least one character of any value of two or more
characters, so a full value never survives.
"""

from __future__ import annotations

import re
import unicodedata

from dossier.model.person import PII_FIELDS

STYLES = ("inspect", "external")
# never shown in masked output (照片、检测结果、病种)
DROPPED_FIELDS = frozenset({"photo", "special_diseases", "notes", "test_results", "test_result", "tests",
                            "disease", "diseases", "hair_window_days"})
ADDRESS_FIELDS = frozenset({"hukou_address", "residence_address", "address", "location"})
NAME_FIELDS = frozenset({"name", "alias", "grid_worker", "community_officer", "social_worker",
                         "subject_name", "signer"})
PHONE_FIELDS = frozenset({"phone"})

_COMMUNITY = re.compile(r"(居民委员会|村民委员会|居委会|村委会|社区|村)(?![路街巷道弄里号])")
_TOWN = re.compile(r"(街道办事处|街道|镇|乡)(?![路街巷道弄里号])")
_COUNTY = re.compile(r"(?<![小园])(区|县|市)(?![路街巷道弄里号])")


def _clean(v) -> str:
    return "" if v is None else unicodedata.normalize("NFKC", str(v)).strip()


def mask_name(name) -> str:
    """张* (2 chars), 张*三 (3), first and last kept for ≥ 4 (欧**娜)."""
    s = _clean(name)
    n = len(s)
    if n == 0:
        return ""
    if n == 1:
        return "*"
    if n == 2:
        return s[0] + "*"
    return s[0] + "*" * (n - 2) + s[-1]


def mask_id_number(v, style: str = "inspect") -> str:
    """inspect: 430405********1234 ; external: 4***************34."""
    if style not in STYLES:
        raise ValueError(f"unknown masking style {style!r}")
    s = re.sub(r"\s+", "", _clean(v)).upper()
    n = len(s)
    head, tail = (6, 4) if style == "inspect" else (1, 2)
    if n >= head + tail + 4:
        return s[:head] + "*" * (n - head - tail) + s[-tail:]
    return _mask_middle(s)


def mask_phone(v) -> str:
    """Mobile 138****1234; landline hutool style 0734*****56 (first 4, last 2)."""
    s = re.sub(r"[\s\-()（）]+", "", _clean(v))
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    n = len(s)
    if re.fullmatch(r"1\d{10}", s):
        return s[:3] + "****" + s[-4:]
    if n >= 9:
        return s[:4] + "*" * (n - 6) + s[-2:]
    return _mask_middle(s)


def _mask_middle(s: str) -> str:
    """Short or odd values: keep at most the first and last character, and only when ≥ 5 long."""
    n = len(s)
    if n == 0:
        return ""
    if n < 5:
        return "*" * n
    return s[0] + "*" * (n - 2) + s[-1]


def mask_address(v) -> str:
    """Keep up to the 社区/村 (…社区, …村, …居委会); drop 门牌, 楼栋, 号, 室.

    Without a 社区/村 marker, keep up to the 街道/镇/乡, else up to the 区/县/市.
    """
    s = _clean(v)
    if not s:
        return ""
    for pattern, first in ((_COMMUNITY, True), (_TOWN, True), (_COUNTY, False)):
        end = _marker_end(pattern, s, first)
        if end is not None:
            kept = s[:end]
            return kept if kept == s else kept + "***"
    return _mask_middle(s) if len(s) < 8 else s[:3] + "***"


def _marker_end(pattern: re.Pattern, s: str, first: bool) -> int | None:
    """End of the first (or last) marker, extended over markers that follow at once (江村社区)."""
    matches = list(pattern.finditer(s))
    if not matches:
        return None
    if not first:
        return matches[-1].end()
    end = matches[0].end()
    for m in matches[1:]:
        if m.start() != end:
            break
        end = m.end()
    return end


def mask_value(key: str, value, style: str = "inspect"):
    """Mask one pii value by what it is; nested objects and lists masked field by field."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: mask_value(k, v, style) if k in _NESTED_PII else v for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(key, v, style) for v in value]
    if key == "id_number":
        return mask_id_number(value, style)
    if key in PHONE_FIELDS:
        return mask_phone(value)
    if key in ADDRESS_FIELDS:
        return mask_address(value)
    if key in NAME_FIELDS:
        return mask_name(value)
    if key == "birth_date":
        return _clean(value)[:4] + "年"
    return "***"


_NESTED_PII = NAME_FIELDS | PHONE_FIELDS | ADDRESS_FIELDS | {"id_number", "number", "birth_date"}


def mask_profile(profile: dict, style: str = "inspect", keep: set[str] = frozenset()) -> dict:
    """A copy with every pii field masked (except those in ``keep``) and photo/disease/test fields dropped.

    ``keep`` is the caller's explicit decision and also keeps a dropped field.
    Keys the model does not know are passed through unchanged.
    """
    if style not in STYLES:
        raise ValueError(f"unknown masking style {style!r}")
    out = {}
    for key, value in profile.items():
        if key in keep:
            out[key] = value
        elif key in DROPPED_FIELDS:
            continue
        elif key in PII_FIELDS or key in _NESTED_PII:
            out[key] = mask_value(key, value, style)
        elif isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, dict) for v in value)):
            out[key] = mask_value(key, value, style)   # nested pii (驾驶证号, 亲属姓名/电话)
        else:
            out[key] = value
    return out
