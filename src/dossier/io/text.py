"""Cell text as clerks type it, made comparable.

Pure functions. Full-width digits and Latin letters (０-９, Ａ-Ｚ, ａ-ｚ) become
ASCII, the ideographic space becomes a space, runs of whitespace collapse and
the ends are trimmed. Chinese punctuation (（）、，) is kept as typed: it is
part of addresses and names the office wants to see unchanged.
"""

from __future__ import annotations

import re
import unicodedata

# U+FF01..U+FF5E mirror ASCII 0x21..0x7E. Only digits and letters are folded;
# full-width punctuation stays (（ ） are normal in Chinese addresses).
_FOLD = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
_FOLD.update({cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)})
_FOLD.update({cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)})
_FOLD[0x3000] = 0x20  # ideographic space
_FOLD[0x00A0] = 0x20  # no-break space (pasted from web pages)
_FOLD[0xFF0D] = 0x2D  # full-width hyphen-minus (phone numbers, dates)
_FOLD[0xFF0E] = 0x2E  # full-width full stop in 2019．5．6
_FOLD[0xFF0F] = 0x2F  # full-width solidus in 2019／05／06
for _zw in (0x200B, 0x200C, 0x200D, 0xFEFF):  # zero-width characters
    _FOLD[_zw] = None

_WS = re.compile(r"\s+")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}·])\s+(?=[{_CJK}·])")


def fold(text: str) -> str:
    """Full-width digits/letters to ASCII; odd spaces to plain spaces."""
    return text.translate(_FOLD)


def clean(text: str) -> str:
    """Fold, collapse whitespace runs to one space, trim the ends."""
    return _WS.sub(" ", fold(text)).strip()


def clean_name(text: str) -> str:
    """A person's name: cleaned, and spaces between Chinese characters removed
    (``"张　三 "`` → ``"张三"``); Latin names keep their single spaces."""
    return _SPACE_BETWEEN_CJK.sub("", clean(text))


def compact(text: str) -> str:
    """Fold and drop every whitespace character (ID and phone numbers)."""
    return _WS.sub("", fold(text))


# Header keys: what is left after removing decoration clerks add to headers.
_HEADER_NOISE = re.compile(r"[\s*＊:：\u00a0★☆※]+")
_HEADER_NOTE = re.compile(r"[（(【\[][^）)】\]]*[）)】\]]$")


def header_key(text: object) -> str:
    """Normalise a column header for matching.

    ``" *公民身份号码（必填）"`` → ``"公民身份号码"``; ``"现 住 址"`` → ``"现住址"``.
    A trailing parenthesised note is removed only when something remains.
    """
    if text is None:
        return ""
    s = unicodedata.normalize("NFKC", str(text))
    s = _HEADER_NOISE.sub("", s)
    while True:
        stripped = _HEADER_NOTE.sub("", s)
        if stripped == s or not stripped:
            break
        s = stripped
    return unicodedata.normalize("NFKC", s.lower())
