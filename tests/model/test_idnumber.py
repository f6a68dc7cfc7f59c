from datetime import date

import pytest

from dossier.errors import InvalidInput
from dossier.model.idnumber import (birth_date, check_char, county_known, gender, make_id_number, region_code,
                                    validate_id_number)

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize("number", ["11010519491231002X", "440524188001010014", "53010219200508011X"])
def test_known_valid_numbers(number):
    assert validate_id_number(number, today=TODAY) == number


@pytest.mark.parametrize("raw, reason_part", [
    ("530102192005080119", "校验码"),
    ("530102200508011", "请换用18位号码"),          # 15-digit old number
    ("5301021920050801", "应为18位"),
    ("53010219200508011Y", "末位"),
    ("99010219200508011X", "省级代码"),              # 99 no province
    ("00010219200508011X", "省级代码"),
    ("530102192302300115", "不是真实日期"),          # 1923-02-30
    ("530102179912310015", "早于1800"),
    ("", "应为18位"),
])
def test_invalid_numbers_name_the_field(raw, reason_part):
    with pytest.raises(InvalidInput) as exc:
        validate_id_number(raw, today=TODAY)
    assert exc.value.field == "id_number"
    assert reason_part in exc.value.reason


def test_future_birth_refused():
    future = make_id_number("430405", date(2024, 6, 2), 11)
    with pytest.raises(InvalidInput, match="晚于今天"):
        validate_id_number(future, today=TODAY)
    today_born = make_id_number("430405", TODAY, 11)
    assert validate_id_number(today_born, today=TODAY) == today_born


@pytest.mark.parametrize("raw", ["11010519491231002x", "１１０１０５１９４９１２３１００２Ｘ", " 110105 19491231 002x ",
                                 "110105-19491231-002X", "１１０１０５１９４９１２３１００２ｘ"])
def test_normalisation(raw):
    assert validate_id_number(raw, today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize("number, born, sex, region", [
    ("11010519491231002X", date(1949, 12, 31), "女", "110105"),
    ("440524188001010014", date(1880, 1, 1), "男", "440524"),
    ("53010219200508011X", date(1920, 5, 8), "男", "530102"),
])
def test_derived_values(number, born, sex, region):
    assert birth_date(number) == born
    assert gender(number) == sex
    assert region_code(number) == region


@pytest.mark.parametrize("code, known", [("430405", True), ("500151", True), ("110105", True), ("440524", True),
                                         ("530102", True), ("430499", False), ("431299", False)])
def test_county_table(code, known):
    assert county_known(code) is known


@pytest.mark.parametrize("region, born, seq", [("430405", date(1985, 1, 1), 1), ("500151", date(2000, 2, 29), 998),
                                               ("110105", date(1949, 12, 31), 2)])
def test_make_id_number_roundtrip(region, born, seq):
    n = make_id_number(region, born, seq)
    assert validate_id_number(n, today=TODAY) == n
    assert birth_date(n) == born and region_code(n) == region
    assert n[17] == check_char(n[:17])


def test_make_id_number_reproduces_known_sample():
    assert make_id_number("110105", date(1949, 12, 31), 2) == "11010519491231002X"


def test_every_wrong_check_char_is_refused():
    good = "53010219200508011X"
    for c in "0123456789":
        with pytest.raises(InvalidInput):
            validate_id_number(good[:17] + c, today=TODAY)


from hypothesis import given
from hypothesis import strategies as hst


@given(hst.sampled_from(["430405", "500151", "110105", "440524", "530102", "650102"]),
       hst.dates(min_value=date(1900, 1, 1), max_value=TODAY), hst.integers(0, 999),
       hst.integers(0, 16), hst.integers(1, 9))
def test_any_single_digit_change_is_detected(region, born, seq, pos, delta):
    n = make_id_number(region, born, seq)
    assert validate_id_number(n, today=TODAY) == n
    changed = n[:pos] + str((int(n[pos]) + delta) % 10) + n[pos + 1:]
    with pytest.raises(InvalidInput):
        validate_id_number(changed, today=TODAY)
