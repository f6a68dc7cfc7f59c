"""Person (吸毒人员) profile fields (DOMAIN §9) and their validation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model import idnumber
from dossier.model.fields import Field, normalize_fields

MOBILE = r"1[3-9]\d-?\d{4}-?\d{4}"
LANDLINE = r"0\d{2,3}-?\d{7,8}(-\d{1,6})?"
PHONE_PATTERN = rf"(\+?86)?{MOBILE}|{LANDLINE}"
DIV_PATTERN = r"\d{6}(\d{3}(\d{3})?)?"   # 6-digit county, 9-digit 街道, 12-digit 村/社区

GENDERS = ("男", "女", "未知", "未说明")
MARITAL = ("未婚", "已婚", "离异", "丧偶", "其他")
EMPLOYMENT = ("稳定就业", "灵活就业", "无业", "在校", "退休")
POLITICAL = ("群众", "中共党员", "预备党员", "共青团员", "民主党派", "其他")
DISEASES = ("精神病史", "艾滋病", "残疾", "癌症", "其他")
HARDSHIPS = ("亲属重病", "子女年幼", "父母年迈无人照顾", "无父母配偶子女")
DRUG_TYPES = ("海洛因", "冰毒", "氯胺酮", "大麻", "摇头丸", "可卡因", "新精神活性物质", "其他")
USE_METHODS = ("烫吸", "注射", "口服", "鼻吸", "其他")
ADDICTION = ("未认定", "未成瘾", "成瘾", "成瘾严重")
SOURCES = ("登记在册", "隐性新发现", "流入")
RECORD_FLAGS = ("错录", "迁出", "封存")
LICENSE_STATUS = ("正常", "已注销", "已吊销")
STAFF_ROLES = ("社区干部", "禁毒专干", "禁毒社工", "社区民警", "网格员", "家属", "领导", "其他")

_phone_hint = "应为11位手机号（1开头）或座机号（如 0734-8123456）"
_div_hint = "区划代码应为6、9或12位数字"

DRIVING_LICENSE = (
    Field("class", "准驾车型", "str", aliases=("车型",)),
    Field("issued", "初领日期", "date", aliases=("领证日期",)),
    Field("status", "驾驶证状态", "enum", LICENSE_STATUS, aliases=("状态",), required=True),
    Field("commercial", "营运或校车驾驶", "bool", aliases=("是否营运或校车驾驶", "营运")),
    Field("number", "驾驶证号", "str", pii=True),
    Field("reported_date", "通报交警日期", "date"),
    Field("outcome", "处理结果", "str"),
)

FAMILY_MEMBER = (
    Field("name", "姓名", "str", required=True, pii=True),
    Field("relation", "关系", "str", aliases=("与本人关系",)),
    Field("gender", "性别", "enum", GENDERS),
    Field("age", "年龄", "int"),
    Field("phone", "联系电话", "str", aliases=("电话",), pii=True, pattern=PHONE_PATTERN, pattern_hint=_phone_hint),
    Field("address", "住址", "str", pii=True),
)

PROFILE_FIELDS: tuple[Field, ...] = (
    # 身份
    Field("name", "姓名", "str", required=True, pii=True),
    Field("alias", "绰号/别名", "str", aliases=("绰号", "别名", "曾用名"), pii=True),
    Field("gender", "性别", "enum", GENDERS),
    Field("id_number", "公民身份号码", "str", aliases=("身份证号", "身份证号码", "证件号码", "身份证"),
          required=True, pii=True),
    Field("birth_date", "出生日期", "date", aliases=("出生年月日",), pii=True),
    Field("ethnicity", "民族", "str"),
    Field("native_place", "籍贯", "str"),
    Field("photo", "照片", "str", pii=True),
    # 社会属性
    Field("education", "文化程度", "str", aliases=("学历",)),
    Field("marital", "婚姻状况", "enum", MARITAL, aliases=("婚姻",)),
    Field("phone", "联系电话", "str", aliases=("电话", "手机", "手机号", "联系方式"), pii=True,
          pattern=PHONE_PATTERN, pattern_hint=_phone_hint),
    Field("employment", "就业情况", "enum", EMPLOYMENT, aliases=("就业",)),
    Field("employer", "工作单位", "str", aliases=("单位", "就业单位"), pii=True),
    Field("occupation", "职业", "str"),
    Field("position", "职务", "str"),
    Field("political_status", "政治面貌", "enum", POLITICAL),
    Field("party_branch", "所在党组织", "str"),
    Field("is_public_official", "公职人员", "bool", aliases=("是否公职人员",)),
    # 户籍与居住
    Field("hukou_address", "户籍地址", "str", aliases=("户籍地", "户籍地详址", "户籍所在地"), pii=True),
    Field("hukou_div", "户籍地区划代码", "str", aliases=("户籍区划",), pattern=DIV_PATTERN, pattern_hint=_div_hint),
    Field("hukou_police", "户籍地派出所", "str", aliases=("户籍派出所",)),
    Field("residence_address", "现住址", "str", aliases=("居住地", "居住地详址", "现居住地址", "实际居住地"), pii=True),
    Field("residence_div", "居住地区划代码", "str", aliases=("居住区划",), pattern=DIV_PATTERN, pattern_hint=_div_hint),
    Field("residence_police", "居住地派出所", "str", aliases=("列管派出所", "居住派出所")),
    Field("community", "所属社区（村）", "str", aliases=("社区", "社区（村）", "村社", "所属社区")),
    Field("community_code", "社区区划代码", "str", aliases=("社区代码",), pattern=DIV_PATTERN, pattern_hint=_div_hint),
    Field("grid", "网格", "str", aliases=("所属网格",)),
    Field("grid_worker", "网格员", "str", pii=True),
    Field("community_officer", "社区民警", "str", aliases=("责任民警",), pii=True),
    Field("social_worker", "禁毒社工", "str", aliases=("禁毒专干",), pii=True),
    Field("is_inflow", "流入人员", "bool", aliases=("是否流入",)),
    Field("inflow_date", "流入日期", "date", aliases=("来本地日期",)),
    Field("inflow_reason", "居住事由", "str", aliases=("流入事由",)),
    Field("residence_registered", "居住登记情况", "str", aliases=("居住登记",)),
    # 驾驶证
    Field("driving_license", "驾驶证", "object", aliases=("驾驶证情况",), subfields=DRIVING_LICENSE),
    # 特殊情况
    Field("special_diseases", "特殊病种", "list_enum", DISEASES, aliases=("病种", "特殊病")),
    Field("has_drug_crime_record", "涉毒犯罪前科", "bool", aliases=("有涉毒犯罪前科",)),
    Field("family_hardship", "直系亲属特殊困难", "list_enum", HARDSHIPS, aliases=("家庭困难",)),
    Field("family_members", "家庭社会关系", "list_object", aliases=("家庭成员",), subfields=FAMILY_MEMBER),
    # 吸毒史
    Field("first_seized_date", "初次查获日期", "date", aliases=("查获日期", "首次查获日期")),
    Field("seizing_unit", "查获单位", "str"),
    Field("drug_types", "滥用毒品种类", "list_enum", DRUG_TYPES, aliases=("毒品种类",)),
    Field("use_method", "吸毒方式", "enum", USE_METHODS),
    Field("addiction", "成瘾认定", "enum", ADDICTION, aliases=("成瘾情况",)),
    Field("relapse_count", "脱失次数", "int"),
    # 来源与标志
    Field("source", "人员来源", "enum", SOURCES, aliases=("来源",)),
    Field("record_flags", "记录标志", "list_enum", RECORD_FLAGS, aliases=("标志",)),
    Field("notes", "备注", "text", pii=True),
)

FIELDS_BY_NAME: dict[str, Field] = {f.name: f for f in PROFILE_FIELDS}
PII_FIELDS: frozenset[str] = frozenset(f.name for f in PROFILE_FIELDS if f.pii)


class CanonicalProfile(Mapping):
    """A profile as :func:`normalize_profile` returned it for ``today``, with its
    warnings, read-only: ``Persons.add`` stores it without normalising it again
    (an import validates every row before it writes; normalising twice was a
    quarter of the cost of adding a person). Made only by :meth:`of`."""

    __slots__ = ("_data", "today", "warnings")

    def __init__(self, data: dict, today: date, warnings: list[str], _token: object = None):
        if _token is not _MADE_BY_OF:
            raise TypeError("CanonicalProfile.of(...) makes one")
        self._data, self.today, self.warnings = dict(data), today, tuple(warnings)

    @classmethod
    def of(cls, data: Mapping, *, today: date) -> "CanonicalProfile":
        """Normalise ``data`` (ValidationErrors as :func:`normalize_profile`)."""
        profile, warnings = normalize_profile(data, today=today)
        return cls(profile, today, warnings, _MADE_BY_OF)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def profile(self) -> dict:
        """A copy to store (nested lists copied too: the stored state is its own)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self._data.items()}


_MADE_BY_OF = object()


def normalize_profile(data: Mapping, *, today: date, partial: bool = False) -> tuple[dict, list[str]]:
    """(canonical profile, warnings) or ValidationErrors listing every bad field."""
    if not isinstance(data, Mapping):
        raise InvalidInput(field="person", reason="人员信息应为一组字段（键值对）")
    errors: list[InvalidInput] = []
    warnings: list[str] = []
    profile = normalize_fields(PROFILE_FIELDS, data, today=today, errors=errors, partial=partial)
    failed = {e.field for e in errors}

    raw_id = profile.get("id_number")
    if raw_id is not None and "id_number" not in failed:
        try:
            number = idnumber.validate_id_number(raw_id, today=today)
        except InvalidInput as e:
            errors.append(e)
            failed.add("id_number")
        else:
            profile["id_number"] = number
            _cross_check(profile, number, errors, failed)
            if idnumber.birth_date(number) < idnumber.PLAUSIBLE_BIRTH:
                warnings.append(f"公民身份号码中的出生日期 {idnumber.birth_date(number)} 早于1900年，请核对")
            region = idnumber.region_code(number)
            if not idnumber.county_known(region):
                warnings.append(f"公民身份号码地址码 {region} 不在本地区划表中（区划可能已调整），请核对")
    # partial without id_number: birth_date/gender are checked when the caller validates the merged profile

    if profile.get("phone") and "phone" not in failed:
        profile["phone"] = canonical_phone(profile["phone"])
    _check_related(profile, errors, warnings, failed)
    if errors:
        raise ValidationErrors(errors)
    return profile, warnings


def _cross_check(profile: dict, number: str, errors: list, failed: set) -> None:
    born = idnumber.birth_date(number).isoformat()
    sex = idnumber.gender(number)
    if profile.get("birth_date") is not None and "birth_date" not in failed and profile["birth_date"] != born:
        errors.append(InvalidInput(field="birth_date",
                                   reason=f"与公民身份号码不一致（号码中为 {born}，填写为 {profile['birth_date']}）"))
    if profile.get("gender") is not None and "gender" not in failed and profile["gender"] != sex:
        errors.append(InvalidInput(field="gender", reason=f"与公民身份号码不一致（顺序码为{sex}性，填写为“{profile['gender']}”）"))
    profile["birth_date"] = born
    profile["gender"] = sex


def canonical_phone(value: str) -> str:
    """Mobile numbers as 11 digits (no +86, no dashes); landlines as given."""
    compact = value.replace("-", "")
    m = re.fullmatch(r"(?:\+?86)?(1[3-9]\d{9})", compact)
    return m.group(1) if m else value


def _check_related(profile: dict, errors: list, warnings: list, failed: set) -> None:
    born = profile.get("birth_date")
    for f in ("first_seized_date", "inflow_date"):
        v = profile.get(f)
        if v and born and f not in failed and v < born:
            errors.append(InvalidInput(field=f, reason=f"{FIELDS_BY_NAME[f].label} {v} 早于出生日期 {born}"))
    lic = profile.get("driving_license") or {}
    if lic.get("issued") and born and lic["issued"] < born:
        errors.append(InvalidInput(field="driving_license.issued", reason="初领日期早于出生日期"))
    if profile.get("inflow_date") and profile.get("is_inflow") is False:
        warnings.append("填写了流入日期，但“流入人员”为否，请核对")
