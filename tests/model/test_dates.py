from datetime import date, datetime

import pytest

from dossier.errors import InvalidInput
from dossier.model.dates import add_months, add_years, parse_date

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize("raw", ["2024-03-05", "2024/3/5", "2024.3.5", "2024年3月5日", "20240305", "2024-3-5",
                                 " 2024 年 3 月 5 日 ", "２０２４－０３－０５", date(2024, 3, 5),
                                 datetime(2024, 3, 5, 10, 30), "2024-03-05T10:30:00", 20240305])
def test_accepted_spellings(raw):
    assert parse_date(raw, field="date", today=TODAY) == date(2024, 3, 5)


@pytest.mark.parametrize("raw, part", [("2023-02-30", "不存在"), ("2023-13-01", "不存在"), ("2024/2/30", "不存在"),
                                       ("20230230", "不存在"), ("昨天", "无法识别"), ("2024-03", "无法识别"),
                                       ("", "无法识别"), (None, "应为日期"), ("1899-12-31", "早于1900")])
def test_refused_dates_name_the_field(raw, part):
    with pytest.raises(InvalidInput) as exc:
        parse_date(raw, field="first_seized_date", today=TODAY)
    assert exc.value.field == "first_seized_date"
    assert part in exc.value.reason
    assert "first_seized_date" in exc.value.message


def test_future_refused_unless_allowed():
    with pytest.raises(InvalidInput, match="晚于今天"):
        parse_date("2024-06-02", field="date", today=TODAY)
    assert parse_date("2024-06-01", field="date", today=TODAY) == TODAY
    assert parse_date("2030-01-01", field="end", today=TODAY, allow_future=True) == date(2030, 1, 1)
    assert parse_date("2030-01-01", field="end") == date(2030, 1, 1)   # no today: no future check


@pytest.mark.parametrize("d, n, expected", [(date(2016, 2, 29), 3, date(2019, 2, 28)),
                                            (date(2016, 2, 29), 4, date(2020, 2, 29)),
                                            (date(2020, 5, 1), 10, date(2030, 5, 1))])
def test_add_years(d, n, expected):
    assert add_years(d, n) == expected


@pytest.mark.parametrize("d, n, expected", [(date(2024, 1, 31), 1, date(2024, 2, 29)),
                                            (date(2024, 11, 30), 3, date(2025, 2, 28)),
                                            (date(2024, 1, 15), 3, date(2024, 4, 15))])
def test_add_months(d, n, expected):
    assert add_months(d, n) == expected


from hypothesis import given
from hypothesis import strategies as hst


@given(hst.dates(min_value=date(1900, 1, 1), max_value=TODAY))
def test_every_spelling_round_trips(d):
    for text in (d.isoformat(), f"{d.year}/{d.month}/{d.day}", f"{d.year}.{d.month}.{d.day}",
                 f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y%m%d")):
        assert parse_date(text, field="date", today=TODAY) == d
