from datetime import date

import pytest

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model.entries import ENTRY_TYPES, normalize_entry, resolve_entry_type

TODAY = date(2024, 6, 1)


def errors_of(type_name, data):
    with pytest.raises(ValidationErrors) as exc:
        normalize_entry(type_name, data, today=TODAY)
    return {e.field: e.reason for e in exc.value.errors}


@pytest.mark.parametrize("name, canonical", [
    ("interview", "interview"), ("见面核查", "interview"), ("谈话", "interview"), ("见面核查/谈话", "interview"),
    ("test", "test"), ("检测", "test"), ("assessment", "assessment"), ("风险评估", "assessment"),
    ("measure", "measure"), ("一人一策", "measure"), ("管控措施", "measure"), ("assistance", "assistance"),
    ("帮扶救助", "assistance"), ("status", "status"), ("状态", "status"), ("agreement", "agreement"),
    ("协议", "agreement"), ("drug_event", "drug_event"), ("吸毒事件", "drug_event"), ("Interview", "interview"),
])
def test_resolve_entry_type(name, canonical):
    assert resolve_entry_type(name) == canonical


@pytest.mark.parametrize("name", ["visit", "", "吃饭", None])
def test_unknown_entry_type_lists_valid_types(name):
    with pytest.raises(InvalidInput) as exc:
        resolve_entry_type(name)
    assert exc.value.field == "type"
    assert "interview" in exc.value.reason and "drug_event" in exc.value.reason


def test_all_canonical_types_present():
    assert set(ENTRY_TYPES) == {"interview", "test", "assessment", "measure", "assistance", "status", "agreement",
                                "drug_event"}


def test_interview_normalised():
    e = normalize_entry("谈话", {"日期": "2024/3/5", "方式": "敲门见人", "谈话对象": "本人", "是否见到本人": "是",
                                "staff": ["社区民警 李某", {"role": "网格员", "name": "王某"}, "赵某"],
                                "content": "了解近况"}, today=TODAY)
    assert e == {"type": "interview", "date": "2024-03-05", "method": "敲门见人", "subject": "本人",
                 "person_seen": True, "staff": [{"role": "社区民警", "name": "李某"}, {"role": "网格员", "name": "王某"},
                                                {"name": "赵某"}], "content": "了解近况"}


@pytest.mark.parametrize("type_name, data, field", [
    ("interview", {"date": "2024-03-05", "method": "飞鸽传书"}, "method"),
    ("interview", {"method": "电话"}, "date"),
    ("interview", {"date": "2024-06-02"}, "date"),
    ("interview", {"date": "2023-02-30"}, "date"),
    ("interview", {"date": "2024-03-05", "person_seen": "也许"}, "person_seen"),
    ("test", {"date": "2024-03-05", "result": "可疑"}, "result"),
    ("test", {"date": "2024-03-05"}, "result"),
    ("assessment", {"date": "2024-03-05", "proposed_level": "极高"}, "proposed_level"),
    ("measure", {"date": "2024-03-05", "filed_with": "市禁毒办"}, "filed_with"),
    ("measure", {"date": "2024-03-05", "visit_freq_days": "每月"}, "visit_freq_days"),
    ("drug_event", {"date": "2024-03-05", "type": "路过"}, "event_type"),
    ("drug_event", {"date": "2024-03-05"}, "event_type"),
    ("status", {"axis": "measure", "status": "在控", "start": "2024-01-01"}, "status"),
    ("status", {"axis": "presence", "status": "社区戒毒", "start": "2024-01-01"}, "status"),
    ("status", {"axis": "心情", "status": "在控", "start": "2024-01-01"}, "axis"),
    ("status", {"status": "度假", "start": "2024-01-01"}, "status"),
    ("status", {"status": "社区戒毒"}, "date"),
    ("status", {"status": "社区戒毒", "date": "2024-01-01", "start": "2024-01-02"}, "date"),
    ("status", {"status": "社区戒毒", "start": "2024-01-01", "end": "2023-12-31"}, "end"),
    ("status", {"status": "死亡", "start": "2024-01-01", "end": "2024-02-01"}, "end"),
    ("interview", {"date": "2024-03-05", "colour": "红"}, "colour"),
])
def test_refusals_name_the_field(type_name, data, field):
    assert field in errors_of(type_name, data)


def test_future_allowed_only_for_planned_dates():
    a = normalize_entry("assessment", {"date": "2024-05-01", "proposed_level": "高", "next_review": "2024-07-01"},
                        today=TODAY)
    assert a["next_review"] == "2024-07-01"
    s = normalize_entry("status", {"axis": "措施", "status": "社区戒毒", "start": "2024-01-01", "end": "2027-01-01"},
                        today=TODAY)
    assert s["end"] == "2027-01-01"
    assert "start" in errors_of("status", {"status": "社区戒毒", "start": "2024-07-01"})


@pytest.mark.parametrize("axis_in, axis_out, status", [("措施", "measure", "社区戒毒"), ("measure", "measure", "社戒"),
                                                        ("现实", "presence", "在控"), ("presence", "presence", "脱失"),
                                                        (None, "presence", "死亡"), (None, "measure", "强制隔离戒毒")])
def test_status_axis(axis_in, axis_out, status):
    data = {"status": status, "start": "2024-01-01"}
    if axis_in:
        data["axis"] = axis_in
    e = normalize_entry("status", data, today=TODAY)
    assert e["axis"] == axis_out and e["date"] == "2024-01-01" and e["start"] == "2024-01-01"
    assert e["status"] in ("社区戒毒", "在控", "失控", "死亡", "强制隔离戒毒")


def test_status_date_gives_start():
    e = normalize_entry("status", {"status": "社区康复", "date": "2023-01-01"}, today=TODAY)
    assert e["start"] == "2023-01-01"


def test_drug_event_inner_type_and_entry_type_key():
    e = normalize_entry("drug_event", {"type": "查获", "date": "2024-01-01", "drugs": "冰毒"}, today=TODAY)
    assert e == {"type": "drug_event", "date": "2024-01-01", "event_type": "查获", "drugs": ["冰毒"]}
    e = normalize_entry("drug_event", {"type": "drug_event", "event_type": "检测阳性", "date": "2024-01-01"},
                        today=TODAY)
    assert e["event_type"] == "检测阳性"
    assert "type" in errors_of("interview", {"type": "test", "date": "2024-01-01"})
    assert normalize_entry("interview", {"type": "interview", "date": "2024-01-01"}, today=TODAY)["type"] == "interview"


def test_passthrough_keys_untouched():
    e = normalize_entry("test", {"date": "2024-01-01", "result": "阴性", "id": "abc", "recorded_at": "x",
                                 "author": "li", "version": 3}, today=TODAY)
    assert (e["id"], e["recorded_at"], e["author"], e["version"]) == ("abc", "x", "li", 3)


def test_measure_and_agreement_dates():
    m = normalize_entry("measure", {"start": "2024-02-01", "level": "高", "filed_with": "区禁毒办",
                                    "responsibles": [{"role": "社区民警", "name": "某某", "phone": "13800001234"}],
                                    "visit_freq_days": "30", "measures": "定期见面、定期检测"}, today=TODAY)
    assert m["date"] == "2024-02-01" and m["visit_freq_days"] == 30 and m["measures"] == ["定期见面", "定期检测"]
    a = normalize_entry("agreement", {"type": "担保书", "signed": "2024-02-01"}, today=TODAY)
    assert a["date"] == "2024-02-01" and a["agreement_type"] == "担保书"


def test_all_errors_collected():
    errs = errors_of("test", {"date": "2024-02-30", "result": "可疑", "sample": "指甲"})
    assert set(errs) == {"date", "result", "sample"}


def test_not_a_mapping():
    with pytest.raises(InvalidInput):
        normalize_entry("test", "阴性", today=TODAY)
