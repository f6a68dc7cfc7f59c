"""Dates as clerks type them: 2024-03-05, 2024/3/5, 2024.3.5, 2024年3月5日, 20240305.

Pure functions; ``today`` is always passed in, never read from the clock.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date, datetime

from dossier.errors import InvalidInput

MIN_DATE = date(1900, 1, 1)

_SEPARATED = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TIME_SUFFIX = re.compile(r"^(.+?)(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)$")


def parse_date(value, *, field: str, today: date | None = None, allow_future: bool = False) -> date:
    """Parse ``value`` into a real calendar date or raise InvalidInput naming ``field``.

    With ``today`` given and ``allow_future`` false, dates after today are refused.
    """
    if isinstance(value, datetime):
        result = value.date()
    elif isinstance(value, date):
        result = value
    else:
        result = _parse_text(value, field)
    if result < MIN_DATE:
        raise InvalidInput(field=field, reason=f"日期 {result.isoformat()} 早于1900年，请核对")
    if today is not None and not allow_future and result > today:
        raise InvalidInput(field=field, reason=f"日期 {result.isoformat()} 晚于今天（{today.isoformat()}），不能是将来的日期")
    return result


def _parse_text(value, field: str) -> date:
    if isinstance(value, bool) or value is None:
        raise InvalidInput(field=field, reason="应为日期，例如 2024-03-05")
    text = unicodedata.normalize("NFKC", str(value)).strip()
    timed = _TIME_SUFFIX.match(text)
    if timed and not _COMPACT.match(text):
        text = timed.group(1).strip()
    m = _SEPARATED.match(text) or _COMPACT.match(text)
    if not m:
        raise InvalidInput(field=field, reason=f"无法识别的日期“{value}”，请写成 2024-03-05 或 2024年3月5日")
    y, mo, d = (int(g) for g in m.groups())
    try:
        return date(y, mo, d)
    except ValueError:
        raise InvalidInput(field=field, reason=f"日期“{value}”不存在（{y}年{mo}月没有{d}日）") from None


def add_years(d: date, years: int) -> date:
    """Same month and day ``years`` later; 29 Feb falls back to 28 Feb."""
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


def add_months(d: date, months: int) -> date:
    """Same day ``months`` later; clipped to the month's last day (1-31 + 1 month = 2-28/29)."""
    total = d.year * 12 + (d.month - 1) + months
    y, m = divmod(total, 12)
    last = calendar.monthrange(y, m + 1)[1]
    return date(y, m + 1, min(d.day, last))


def iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def as_date(value) -> date | None:
    """A stored ISO string (or date) back to a date; None stays None. For rules on normalised data."""
    if type(value) is str and len(value) == 10:      # the stored form, by far the most frequent
        return date.fromisoformat(value)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
