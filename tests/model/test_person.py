import json
from datetime import date

import pytest

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model.idnumber import make_id_number
from dossier.model.person import PROFILE_FIELDS, normalize_profile

TODAY = date(2024, 6, 1)
ID_M = make_id_number("430405", date(1985, 7, 9), 13)   # 男
ID_F = make_id_number("430405", date(1990, 1, 2), 24)   # 女


def errors_of(data, **kw):
    with pytest.raises(ValidationErrors) as exc:
        normalize_profile(data, today=TODAY, **kw)
    return {e.field: e.reason for e in exc.value.errors}


def test_minimal_profile_derives_birth_and_gender():
    p, warnings = normalize_profile({"name": "测试甲", "id_number": ID_M.lower()}, today=TODAY)
    assert p == {"name": "测试甲", "id_number": ID_M, "birth_date": "1985-07-09", "gender": "男"}
    assert warnings == []


def test_chinese_labels_and_aliases_map_to_english_keys():
    data = {"姓名": "测试乙", "身份证号码": ID_F, "联系电话": "138 0000 1234", "户籍地址": "某省某市某区某社区1号",
            "初次查获日期": "2019年3月5日", "滥用毒品种类": "冰毒、氯胺酮", "成瘾认定": "成瘾", "是否流入": "是",
            "驾驶证": {"准驾车型": "C1", "状态": "正常"}, "政治面貌": "党员"}
    p, _ = normalize_profile(data, today=TODAY)
    assert p["phone"] == "13800001234"
    assert p["first_seized_date"] == "2019-03-05"
    assert p["drug_types"] == ["冰毒", "氯胺酮"]
    assert p["is_inflow"] is True
    assert p["driving_license"] == {"class": "C1", "status": "正常"}
    assert p["political_status"] == "中共党员"
    assert p["gender"] == "女"
    json.dumps(p)   # JSON-serialisable


@pytest.mark.parametrize("key", ["身份证号", "身份证号码", "证件号码", "公民身份号码", "id_number"])
def test_id_number_aliases(key):
    p, _ = normalize_profile({"name": "测试丙", key: ID_M}, today=TODAY)
    assert p["id_number"] == ID_M


def test_all_errors_collected_each_naming_field():
    errs = errors_of({"name": "", "id_number": "530102192005080119", "first_seized_date": "2023-02-30",
                      "phone": "12345", "addiction": "很严重", "favourite_colour": "红", "drug_types": ["冰毒", "咖啡"]})
    assert set(errs) == {"name", "id_number", "first_seized_date", "phone", "addiction", "favourite_colour",
                         "drug_types"}
    assert "校验码" in errs["id_number"]
    assert "不存在" in errs["first_seized_date"]
    assert "未知字段" in errs["favourite_colour"]
    assert "必填" in errs["name"]


def test_fifteen_digit_number_gets_hint():
    errs = errors_of({"name": "测试丁", "id_number": "430405850709131"})
    assert "请换用18位号码" in errs["id_number"]


@pytest.mark.parametrize("given, field", [({"birth_date": "1985-07-10"}, "birth_date"),
                                           ({"gender": "女"}, "gender")])
def test_birth_and_gender_must_agree_with_id(given, field):
    errs = errors_of({"name": "测试戊", "id_number": ID_M, **given})
    assert set(errs) == {field}
    assert "不一致" in errs[field]


def test_agreeing_birth_and_gender_accepted():
    p, _ = normalize_profile({"name": "测试己", "id_number": ID_M, "birth_date": "1985/7/9", "gender": "男"},
                             today=TODAY)
    assert p["birth_date"] == "1985-07-09"


def test_unknown_county_is_only_a_warning():
    number = make_id_number("430499", date(1980, 1, 1), 15)
    p, warnings = normalize_profile({"name": "测试庚", "id_number": number}, today=TODAY)
    assert p["id_number"] == number
    assert len(warnings) == 1 and "430499" in warnings[0]


@pytest.mark.parametrize("region", ["430405", "500151"])
def test_known_counties_no_warning(region):
    _, warnings = normalize_profile({"name": "测试辛", "id_number": make_id_number(region, date(1980, 1, 1), 15)},
                                    today=TODAY)
    assert warnings == []


def test_future_dates_refused():
    errs = errors_of({"name": "测试壬", "id_number": ID_M, "first_seized_date": "2024-06-02"})
    assert set(errs) == {"first_seized_date"}


def test_seized_before_birth_refused():
    errs = errors_of({"name": "测试癸", "id_number": ID_M, "first_seized_date": "1980-01-01"})
    assert "早于出生日期" in errs["first_seized_date"]


def test_duplicate_key_through_alias_refused():
    errs = errors_of({"name": "测试甲", "姓名": "测试乙", "id_number": ID_M})
    assert "重复" in errs["name"]


def test_nested_object_errors_name_the_path():
    errs = errors_of({"name": "测试甲", "id_number": ID_M, "driving_license": {"status": "丢了"}})
    assert "driving_license.status" in errs


@pytest.mark.parametrize("phone, ok", [("13800001234", True), ("+8613800001234", True), ("0734-8123456", True), ("138-0000-1234", True),
                                       ("07348123456", True), ("12800001234", False), ("1380000123", False),
                                       ("电话", False)])
def test_phone_format(phone, ok):
    data = {"name": "测试甲", "id_number": ID_M, "phone": phone}
    if ok:
        got = normalize_profile(data, today=TODAY)[0]["phone"]
        assert got == (phone if phone.startswith("0") else phone.replace("-", "")[-11:])
    else:
        assert "phone" in errors_of(data)


def test_partial_update_validates_only_given_keys():
    p, _ = normalize_profile({"联系电话": "13900001234"}, today=TODAY, partial=True)
    assert p == {"phone": "13900001234"}
    assert normalize_profile({"alias": ""}, today=TODAY, partial=True)[0] == {"alias": None}
    errs = errors_of({"phone": "x"}, partial=True)
    assert set(errs) == {"phone"}
    # derived fields alone are accepted here; the merged profile's full validation cross-checks them
    assert normalize_profile({"gender": "女"}, today=TODAY, partial=True)[0] == {"gender": "女"}
    merged = {"name": "测试", "id_number": ID_M, "gender": "女"}
    assert "gender" in errors_of(merged)


def test_partial_with_id_number_rederives():
    p, _ = normalize_profile({"id_number": ID_F}, today=TODAY, partial=True)
    assert p["gender"] == "女" and p["birth_date"] == "1990-01-02"


def test_not_a_mapping():
    with pytest.raises(InvalidInput):
        normalize_profile(["name"], today=TODAY)


def test_every_field_has_label_and_unique_keys():
    seen = set()
    for f in PROFILE_FIELDS:
        assert f.label
        for k in (f.name, f.label, *f.aliases):
            assert k not in seen, k
            seen.add(k)
    names = {f.name for f in PROFILE_FIELDS}
    for required in ("name", "alias", "gender", "id_number", "birth_date", "ethnicity", "education", "marital",
                     "phone", "employment", "employer", "political_status", "is_public_official", "hukou_address",
                     "hukou_div", "hukou_police", "residence_address", "residence_div", "residence_police",
                     "community_code", "grid", "is_inflow", "inflow_date", "driving_license", "special_diseases",
                     "has_drug_crime_record", "family_hardship", "first_seized_date", "seizing_unit", "drug_types",
                     "use_method", "addiction", "source", "record_flags"):
        assert required in names
    pii = {f.name for f in PROFILE_FIELDS if f.pii}
    assert {"name", "id_number", "phone", "hukou_address", "residence_address", "notes"} <= pii


def test_chinese_ellipsis_kept_as_typed_full_width_still_folded():
    from dossier.model.entries import normalize_entry
    from dossier.model.fields import normalize_text

    assert normalize_text("幸福路１２号……后门‥") == "幸福路12号……后门‥"
    assert normalize_text("ＡＢ栋　３单元") == "AB栋 3单元"
    p, _ = normalize_profile({"name": "测试甲", "id_number": ID_M, "residence_address": "幸福路１２号……后门",
                              "hukou_address": "某村……"}, today=TODAY)
    assert p["residence_address"] == "幸福路12号……后门" and p["hukou_address"] == "某村……"
    e = normalize_entry("measure", {"date": "2024-05-01", "measures": ["每周见面……", "尿检１次"]}, today=TODAY)
    assert e["measures"] == ["每周见面……", "尿检1次"]


def test_canonical_profile_is_normalised_once_and_read_only():
    from dossier.model.person import CanonicalProfile

    c = CanonicalProfile.of({"姓名": "测试丙", "身份证号码": ID_F.lower(), "联系电话": "１３８ 0000 1234",
                             "滥用毒品种类": "冰毒、氯胺酮"}, today=TODAY)
    assert dict(c) == normalize_profile({"name": "测试丙", "id_number": ID_F, "phone": "13800001234",
                                         "drug_types": ["冰毒", "氯胺酮"]}, today=TODAY)[0]
    assert c.today == TODAY and c.warnings == ()
    with pytest.raises(TypeError):
        c["name"] = "别人"                              # read-only
    with pytest.raises(TypeError):
        CanonicalProfile({"name": "未经校验"}, TODAY, [])  # only .of() makes one
    copy = c.profile()
    copy["drug_types"].append("海洛因")                 # the stored copy is its own
    assert c["drug_types"] == ["冰毒", "氯胺酮"]
    with pytest.raises(ValidationErrors):
        CanonicalProfile.of({"name": "测试丁", "id_number": "430405199305050000"}, today=TODAY)
