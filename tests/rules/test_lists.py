"""List selectors (附表4 … 附表14): who each list prints, on small hand-built dossiers."""

from datetime import date

import pytest

from dossier.model.idnumber import make_id_number
from dossier.rules.lists import (SELECTORS, TAG_SELECTORS, current_status, entries_of, list_codes,
                                 risk_level)

ID = make_id_number("430405", date(1990, 1, 1), 123)


def dossier(profile=None, entries=(), labels=()):
    return {"archive_no": "A-1", "scope": "珠晖区/粤汉街道/苗圃社区", "version": 1,
            "profile": {"name": "测试", "id_number": ID, **(profile or {})},
            "entries": list(entries), "labels": list(labels)}


def assessment(day, **levels):
    return {"type": "assessment", "date": day, **levels}


def status(day, st, **kw):
    return {"type": "status", "date": day, "status": st, **kw}


PLAIN = dossier()


@pytest.mark.parametrize("select, d, expected", [
    # 附表4: level of the newest assessment, 最终 before 初评
    ("risk_high_mid", dossier(entries=[assessment("2024-01-05", proposed_level="高")]), True),
    ("risk_high_mid", dossier(entries=[assessment("2024-01-05", proposed_level="中", final_level="低")]), False),
    ("risk_high_mid", dossier(entries=[assessment("2024-06-01", proposed_level="低"),
                                       assessment("2023-01-01", final_level="高")]), False),
    ("risk_high_mid", dossier(entries=[{"type": "风险评估", "date": "2024-02-01", "data": {"level": "中"}}]), True),
    ("risk_high_mid", PLAIN, False),
    ("assessed", dossier(entries=[assessment("2024-01-05", proposed_level="低")]), True),
    ("assessed", PLAIN, False),
    # 附表5 … 附表11: profile facts
    ("special_disease", dossier({"special_diseases": ["艾滋病"]}), True),
    ("special_disease", dossier({"special_diseases": []}), False),
    ("drug_crime", dossier({"has_drug_crime_record": True}), True),
    ("drug_crime", dossier({"has_drug_crime_record": False}), False),
    ("driving_license", dossier({"driving_license": {"class": "C1", "status": "正常"}}), True),
    ("driving_license", PLAIN, False),
    ("inflow", dossier({"is_inflow": True}), True),
    ("inflow", dossier({"is_inflow": False}), False),
    ("family_hardship", dossier({"family_hardship": "低保户"}), True),
    ("family_hardship", PLAIN, False),
    ("official_or_party", dossier({"is_public_official": True}), True),
    ("official_or_party", dossier({"political_status": "预备党员"}), True),
    ("official_or_party", dossier({"political_status": "群众"}), False),
    ("hidden", dossier({"source": "隐性新发现"}), True),
    ("hidden", dossier({"source": "公安查获"}), False),
    # 附表12: from the labels the caller derived on its date
    ("abstinent_5y", dossier(labels=["戒断三年未复吸", "戒断5年"]), True),
    ("abstinent_5y", dossier(labels=["戒断十年"]), True),
    ("abstinent_5y", dossier(labels=["戒断三年未复吸"]), False),
    # 附表13: 现实状况 死亡, the newest status entry overriding the profile
    ("dead", dossier(entries=[status("2024-03-01", "死亡")]), True),
    ("dead", dossier({"presence": "死亡"}), True),
    ("dead", dossier({"presence": "死亡"}, [status("2024-03-01", "在控")]), False),
    ("dead", dossier(entries=[status("2024-03-01", "死亡", axis="measure")]), False),
    # 附表14: 错录 / 迁出 flags, as a list or a single value
    ("wrong_or_moved", dossier({"record_flags": ["错录"]}), True),
    ("wrong_or_moved", dossier({"record_flags": "迁出"}), True),
    ("wrong_or_moved", dossier({"record_flags": ["重点关注"]}), False),
    ("all", PLAIN, True),
])
def test_selector(select, d, expected):
    assert SELECTORS[select](d) is expected


def test_every_list_form_has_a_selector():
    assert list(TAG_SELECTORS) == [f"附表{n}" for n in range(4, 15)]
    assert set(TAG_SELECTORS.values()) <= set(SELECTORS)


def test_list_codes_in_form_order():
    d = dossier({"is_inflow": True, "political_status": "中共党员", "record_flags": ["迁出"]},
                [assessment("2024-01-05", final_level="高")], ["戒断5年"])
    assert list_codes(d) == ["附表4", "附表8", "附表10", "附表12", "附表14"]
    assert list_codes(PLAIN) == []


def test_current_status_follows_entries_in_date_order():
    d = dossier({"measure_status": "社区戒毒", "presence": "在控"},
                [status("2024-05-01", "服刑"), status("2024-01-01", "失控"), status("2024-02-01", "社区康复")])
    assert current_status(d) == ("社区康复", "服刑")
    assert current_status(PLAIN) == (None, None)


def test_entries_of_accepts_chinese_type_names_and_sorts():
    d = dossier(entries=[{"type": "检测", "date": "2024-03-02"}, {"type": "test", "date": "2024-01-09"},
                         {"type": "interview", "date": "2024-02-01"}])
    assert [e["date"] for e in entries_of(d, "test")] == ["2024-01-09", "2024-03-02"]
    assert risk_level(d) is None
