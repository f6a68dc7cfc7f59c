"""Normalisation shared by indexing and querying (pure functions).

Everything that goes into the index or into a query passes through here, so
the two sides always agree: NFKC (全角 → 半角, ideographic space → space),
lower case, identifiers stripped of spaces and hyphens.
"""

from __future__ import annotations

import re
import unicodedata

_DOTS = str.maketrans({c: "·" for c in "\u00b7\u2022\u30fb\uff65\u2027\u22c5\u2219."})
_SPACE = re.compile(r"\s+")
_ID_RE = re.compile(r"^(?:\d{17}[\dX]|\d{15})$")
_DIGITS = re.compile(r"\D+")


def nfkc(text: str | None) -> str:
    """NFKC + lower case: ``"１３８ ＡＢ"`` → ``"138 ab"``."""
    if not text:
        return ""
    return unicodedata.normalize("NFKC", str(text)).lower()


def norm_name(name: str | None) -> str:
    """A person's name as compared for exact matches: no spaces, one kind of
    middle dot (买买提·艾力), full-width folded."""
    return _SPACE.sub("", nfkc(name)).translate(_DOTS)


def norm_id(value: str | None) -> str:
    """ID number (公民身份号码): digits and an upper-case X, nothing else."""
    s = _SPACE.sub("", nfkc(value)).replace("-", "").upper()
    return s


def is_id_number(value: str) -> bool:
    return bool(_ID_RE.match(value))


def norm_phone(value: str | None) -> str:
    """Phone: digits only; a leading ``86``/``+86`` country code is dropped."""
    s = _DIGITS.sub("", nfkc(value))
    if len(s) == 13 and s.startswith("86"):
        s = s[2:]
    return s


def is_cjk(ch: str) -> bool:
    o = ord(ch)
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x3134F
            or 0xF900 <= o <= 0xFAFF or o == 0x3007)


def suffixes(digits: str) -> list[str]:
    """The last 4 and 6 characters of an identifier (what clerks hear on the phone)."""
    out = []
    for n in (4, 6):
        if len(digits) > n:
            out.append(digits[-n:])
    return out
