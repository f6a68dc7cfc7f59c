"""Rules across a dossier's entries (DOMAIN §9 校验规则 4, 5).

- Status periods on one axis do not overlap. A period without an end lasts until
  the next period on the same axis starts (a status change closes it); one with
  an explicit end must end on or before the next start.
- Duration limits per measure (a table, changeable by a local 禁毒办).
- Death is terminal: nothing is dated after it.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model.dates import add_years, as_date
from dossier.model.entries import ENTRY_TYPES

# status → maximum length in years (社区戒毒 3年；社区康复 ≤3年；强制隔离戒毒 2年 + 延长1年)
MAX_YEARS: dict[str, int] = {"社区戒毒": 3, "社区康复": 3, "强制隔离戒毒": 3}


@dataclass(frozen=True)
class Period:
    axis: str
    status: str
    start: date
    end: date | None           # as recorded
    implied_end: date | None   # recorded end, else the next start on the axis
    entry: dict


_PERIODS_MEMO: ContextVar[dict | None] = ContextVar("status_periods_memo", default=None)


@contextmanager
def periods_memo():
    """Within this block :func:`status_periods` is computed once per entries list and axis
    while the same list is asked about again (a pass of read-only rules over many
    dossiers, one after another: the agenda asks ~7 times per person). Only the latest
    list is remembered (nothing else is kept alive); it must not change meanwhile, and
    the result is shared, not copied."""
    token = _PERIODS_MEMO.set({})
    try:
        yield
    finally:
        _PERIODS_MEMO.reset(token)


def rules_memo(entries: list[dict]) -> dict | None:
    """Inside :func:`periods_memo`: a dict for results derived from ``entries`` alone (plus
    what the key names), emptied when another entries list comes; None outside."""
    memo = _PERIODS_MEMO.get()
    if memo is None:
        return None
    if memo.get("of") is not entries:
        memo.clear()
        memo["of"] = entries
    return memo


def entry_days(entries: list[dict]) -> list[date | None]:
    """``as_date(e.get("date"))`` of each entry, in order (inside :func:`periods_memo`: parsed
    once per entries list, however many rules walk it; a shared list, read only)."""
    memo = rules_memo(entries)
    if memo is None:
        return [as_date(e.get("date")) for e in entries]
    out = memo.get("days")
    if out is None:
        out = memo["days"] = [as_date(e.get("date")) for e in entries]
    return out


def status_periods(entries: list[dict], axis: str | None = None) -> list[Period]:
    """Status entries as periods sorted by start, per axis, with implied ends."""
    memo = rules_memo(entries)
    if memo is None:
        return _status_periods(entries, axis)
    key = ("axis", axis)
    out = memo.get(key)
    if out is None:
        if axis is None:
            out = _status_periods(entries, None)
        else:       # one axis's periods are computed on their own: those of all axes, filtered
            out = [p for p in status_periods(entries) if p.axis == axis]
        memo[key] = out
    return out


def _status_periods(entries: list[dict], axis: str | None) -> list[Period]:
    by_axis: dict[str, list[dict]] = {}
    for e in entries:
        if e.get("type") == "status" and (axis is None or e.get("axis") == axis):
            by_axis.setdefault(e.get("axis"), []).append(e)
    out: list[Period] = []
    for ax, items in by_axis.items():
        items.sort(key=lambda e: (as_date(e.get("start") or e.get("date")), as_date(e.get("end")) or date.max))
        for i, e in enumerate(items):
            start = as_date(e.get("start") or e.get("date"))
            end = as_date(e.get("end"))
            nxt = as_date(items[i + 1].get("start") or items[i + 1].get("date")) if i + 1 < len(items) else None
            out.append(Period(ax, e.get("status"), start, end, end or nxt, e))
    out.sort(key=lambda p: (p.start, p.axis))
    return out


def status_on(entries: list[dict], axis: str, day: date) -> str | None:
    """The status on ``axis`` in force on ``day`` (start ≤ day < end; open periods run on)."""
    current = None
    for p in status_periods(entries, axis):
        if p.start <= day and (p.implied_end is None or day < p.implied_end):
            current = p.status
    return current


def death_date(entries: list[dict]) -> date | None:
    memo = rules_memo(entries)
    if memo is not None:
        if "death" not in memo:
            memo["death"] = _death_date(entries)
        return memo["death"]
    return _death_date(entries)


def _death_date(entries: list[dict]) -> date | None:
    days = [p.start for p in status_periods(entries) if p.status == "死亡"]
    return min(days) if days else None


def entry_name(e: dict) -> str:
    t = ENTRY_TYPES.get(e.get("type"))
    label = t.label if t else str(e.get("type"))
    extra = f"“{e['status']}”" if e.get("type") == "status" and e.get("status") else ""
    return f"{label}{extra}（{e.get('date')}）"


def _err(e: dict, reason: str) -> InvalidInput:
    name = entry_name(e)
    return InvalidInput(f"记录 {name} 无效：{reason}", field=f"{e.get('type')}@{e.get('date')}",
                        reason=reason, entry_id=e.get("id"))


def check_dossier(profile: dict, entries: list[dict], *, today: date) -> None:
    errors: list[InvalidInput] = []
    periods = status_periods(entries)
    _check_overlaps(periods, errors)
    _check_durations(periods, errors)
    _check_death(entries, errors)
    _check_before_birth(profile, entries, errors)
    if errors:
        raise ValidationErrors(errors)


def _check_overlaps(periods: list[Period], errors: list) -> None:
    for axis in {p.axis for p in periods}:
        items = [p for p in periods if p.axis == axis]
        for prev, nxt in zip(items, items[1:]):
            if nxt.start == prev.start:
                errors.append(_err(nxt.entry, f"与同类状态“{prev.status}”（{prev.start}起）起始日期相同，时段重叠"))
            elif prev.end is not None and nxt.start < prev.end:
                errors.append(_err(nxt.entry, f"与“{prev.status}”（{prev.start}至{prev.end}）时段重叠"))


def _check_durations(periods: list[Period], errors: list) -> None:
    for p in periods:
        limit = MAX_YEARS.get(p.status)
        if limit and p.implied_end is not None and p.implied_end > add_years(p.start, limit):
            errors.append(_err(p.entry, f"{p.status}期限不得超过{limit}年（{p.start}至{p.implied_end}）"))


def _check_death(entries: list[dict], errors: list) -> None:
    died = death_date(entries)
    if died is None:
        return
    for e in entries:
        d = as_date(e.get("date"))
        if d is not None and d > died:
            errors.append(_err(e, f"人员已于 {died} 死亡，之后不能再有记录"))


def _check_before_birth(profile: dict, entries: list[dict], errors: list) -> None:
    born = as_date(profile.get("birth_date")) if profile else None
    if born is None:
        return
    for e in entries:
        d = as_date(e.get("date"))
        if d is not None and d < born:
            errors.append(_err(e, f"记录日期早于出生日期 {born}"))
