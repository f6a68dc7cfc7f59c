"""Property tests for the cell parsers."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from dossier.io.text import clean, clean_name, header_key
from dossier.io.validate import PRECISION_LOST, date_cell, id_cell

FULLWIDTH = st.text(alphabet=st.sampled_from("０１２３４５６７８９ＡＢＸｘ　 \t张三·()（）-．"), max_size=30)


@given(st.one_of(st.text(max_size=40), FULLWIDTH))
def test_clean_is_idempotent_and_trimmed(s):
    c = clean(s)
    assert clean(c) == c
    assert c == c.strip() and "  " not in c
    assert not any("\uff10" <= ch <= "\uff19" for ch in c)


@given(st.one_of(st.text(max_size=20), FULLWIDTH))
def test_clean_name_and_header_key_idempotent(s):
    assert clean_name(clean_name(s)) == clean_name(s)
    assert header_key(header_key(s)) == header_key(s)


@given(st.integers(min_value=10**15, max_value=10**18 - 1))
def test_long_numbers_are_reported_as_precision_loss(n):
    assert id_cell(float(n)) == (None, PRECISION_LOST)
    assert id_cell(n) == (None, PRECISION_LOST)


@settings(max_examples=50)
@given(st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31)))
def test_date_forms_agree(d):
    from dossier.model.dates import parse_date

    forms = [d.strftime("%Y.%-m.%-d"), f"{d.year}年{d.month}月{d.day}日", int(d.strftime("%Y%m%d")),
             d.strftime("%Y/%m/%d"), dt.datetime(d.year, d.month, d.day)]
    got = {parse_date(date_cell(f), field="x") for f in forms}
    assert got == {d}
