"""Dated entries of a dossier (见面核查, 检测, 评估, 措施, 帮扶, 状态, 协议, 吸毒事件).

Every entry normalises to ``{"type": <canonical>, "date": "YYYY-MM-DD", ...}``.
Because ``type`` is the entry type, the kind *within* a type (查获/检测阳性 of a
drug event, 低保/就业安置 of an assistance, 担保书 of an agreement) lives under
``event_type`` / ``assistance_type`` / ``agreement_type``; a ``type`` key in the
data that is not an entry type is accepted as that inner kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from dossier.errors import InvalidInput, ValidationErrors
from dossier.model.fields import VALUE_ALIASES, Field, key_index, normalize_fields
from dossier.model.person import DRUG_TYPES, PHONE_PATTERN, STAFF_ROLES

PASSTHROUGH = ("id", "recorded_at", "author", "version")

MEASURE_STATUSES = ("社区戒毒", "社区康复", "强制隔离戒毒", "自愿戒毒", "药物维持治疗", "无措施")
PRESENCE_STATUSES = ("在控", "失控", "羁押拘留", "服刑", "出国境", "死亡", "迁出")   # 迁出: handed to another office (issue 13)
AXES = {"measure": MEASURE_STATUSES, "presence": PRESENCE_STATUSES}
AXIS_ALIASES = {"measure": "measure", "措施": "measure", "措施状态": "measure", "戒毒措施": "measure",
                "presence": "presence", "现实": "presence", "现实状况": "presence", "现状": "presence"}
SUB_STATUSES = ("请假中", "中止", "双向管控中")
LEVELS = ("高", "中", "低")
TEST_RESULTS = ("阴性", "阳性", "无效", "拒检", "逃检")
DRUG_EVENT_TYPES = ("查获", "检测阳性", "自述", "举报核实")
HANDLINGS = ("行政拘留", "社区戒毒", "强制隔离戒毒", "不予处罚(自愿戒毒)", "其他")
ASSESSMENT_STATES = ("草稿", "社区初评", "派出所核查", "会商", "街道审批", "已备案", "退回")


@dataclass(frozen=True)
class EntryType:
    name: str
    label: str
    aliases: tuple[str, ...]
    fields: tuple[Field, ...]


def _date(required=True):
    return Field("date", "日期", "date", required=required, aliases=("时间", "记录日期"))


_NOTE = Field("notes", "备注", "text", pii=True)
_STAFF = Field("staff", "工作人员", "list_object", aliases=("排查人", "参与人员"), subfields=(
    Field("role", "职务", "enum", STAFF_ROLES, aliases=("角色",)),
    Field("name", "姓名", "str", required=True, pii=True),
    Field("phone", "联系电话", "str", pii=True, pattern=PHONE_PATTERN, pattern_hint="电话格式不正确"),
    Field("unit", "单位", "str"),
))
_SIGNOFF = (
    Field("opinion", "意见", "text"), Field("signer", "签名", "str", pii=True), Field("role", "职务", "str"),
    Field("date", "日期", "date"), Field("seal", "盖章", "str"),
)

INTERVIEW = EntryType("interview", "见面核查/谈话", ("见面核查", "谈话", "见面", "走访", "谈话记录", "见面核查/谈话"), (
    _date(),
    Field("campaign", "专项行动", "str"),
    Field("method", "见面方式", "enum", ("敲门见人", "视频见面", "电话", "走访亲友", "单位走访"), aliases=("方式",)),
    Field("subject", "谈话对象", "enum", ("本人", "亲属", "邻居", "单位", "其他"), aliases=("对象",)),
    Field("subject_name", "谈话对象姓名", "str", pii=True),
    Field("relation", "与本人关系", "str", aliases=("关系",)),
    Field("person_seen", "见到本人", "bool", aliases=("是否见到本人",)),
    _STAFF,
    Field("location", "地点", "str", pii=True),
    Field("content", "谈话内容", "text", aliases=("内容",), pii=True),
    Field("findings", "核查情况", "text", aliases=("发现情况",), pii=True),
    Field("whereabouts_clue", "下落线索", "text", pii=True),
    _NOTE,
))

TEST = EntryType("test", "检测", ("检测", "吸毒检测", "尿检", "毛发检测", "检测记录"), (
    _date(),
    Field("sample", "样本", "enum", ("尿液", "毛发", "血液", "唾液"), aliases=("检材",)),
    Field("method", "检测方式", "enum", ("现场快检", "实验室"), aliases=("方式",)),
    Field("items", "检测项目", "list"),
    Field("result", "检测结果", "enum", TEST_RESULTS, aliases=("结果",), required=True),
    Field("report_no", "报告书编号", "str", aliases=("报告编号",)),
    Field("testers", "检测人", "list", pii=True),
    Field("institution", "检测机构", "str", aliases=("检测地点",)),
    Field("hair_window_days", "毛发检测窗口（天）", "int"),
    _NOTE,
))

ASSESSMENT = EntryType("assessment", "风险评估", ("风险评估", "评估", "风险分类评估"), (
    _date(),
    Field("batch", "评估批次", "str"),
    Field("criteria_hits", "命中情形", "list", aliases=("命中条款",)),
    Field("suggested_level", "建议等级", "enum", LEVELS),
    Field("proposed_level", "初评等级", "enum", LEVELS, aliases=("等级", "风险等级")),
    Field("level_detail", "等级细分", "str"),
    Field("score", "评分", "float"),
    Field("rationale", "理由", "text", aliases=("评估理由",), pii=True),
    Field("community_opinion", "社区初评", "object", subfields=_SIGNOFF),
    Field("police_check", "派出所核查", "object", subfields=_SIGNOFF),
    Field("street_approval", "街道审批", "object", subfields=_SIGNOFF),
    Field("district_filing", "区禁毒办备案", "object", subfields=_SIGNOFF),
    Field("meeting", "会商会议", "str", aliases=("会议纪要",)),
    Field("final_level", "最终等级", "enum", LEVELS, aliases=("会商结论",)),
    Field("state", "审批状态", "enum", ASSESSMENT_STATES),
    Field("next_review", "下次复评日期", "date", allow_future=True, aliases=("复评日期",)),
    _NOTE,
))

MEASURE = EntryType("measure", "管控措施/一人一策", ("管控措施", "一人一策", "管控方案", "措施"), (
    _date(required=False),
    Field("level", "风险等级", "enum", LEVELS, aliases=("等级",)),
    Field("responsibles", "包保责任人", "list_object", aliases=("责任人",), subfields=_STAFF.subfields),
    Field("visit_freq_days", "见面频次（天）", "int", aliases=("见面频次",)),
    Field("test_freq_days", "检测频次（天）", "int", aliases=("检测频次",)),
    Field("measures", "措施", "list", aliases=("管控措施内容",)),
    Field("filed_with", "备案单位", "enum", ("区禁毒办", "街道")),
    Field("start", "开始日期", "date", aliases=("起始日期",)),
    Field("end", "结束日期", "date", allow_future=True, aliases=("截止日期",)),
    _NOTE,
))

ASSISTANCE = EntryType("assistance", "帮扶救助", ("帮扶救助", "帮扶", "救助"), (
    _date(),
    Field("assistance_type", "帮扶类型", "enum",
          ("就业安置", "技能培训", "低保", "特困供养", "临时救助", "医疗救助", "心理辅导", "法律援助", "就学"),
          aliases=("类型", "救助类型", "type")),
    Field("provider", "帮扶单位", "str", aliases=("责任单位",)),
    Field("content", "帮扶内容", "text", aliases=("内容",), pii=True),
    Field("outcome", "效果", "text", aliases=("结果",)),
    _NOTE,
))

AGREEMENT = EntryType("agreement", "协议", ("协议", "协议书", "担保书"), (
    _date(required=False),
    Field("agreement_type", "协议类型", "enum", ("社区戒毒协议", "社区康复协议", "担保书", "自愿戒毒协议"),
          aliases=("类型", "type"), required=True),
    Field("signed", "签订日期", "date", aliases=("签署日期",)),
    Field("period_start", "期限开始", "date", allow_future=True),
    Field("period_end", "期限结束", "date", allow_future=True),
    Field("parties", "签订各方", "list", pii=True),
    _NOTE,
))

STATUS = EntryType("status", "状态", ("状态", "状态变更", "人员状态", "状态时段"), (
    _date(required=False),
    Field("axis", "状态轴", "str", aliases=("类别",)),
    Field("status", "状态", "str", required=True),
    Field("sub_status", "二级状态", "enum", SUB_STATUSES),
    Field("start", "开始日期", "date", aliases=("起始日期", "执行日期")),
    Field("end", "结束日期", "date", allow_future=True, aliases=("出所日期", "解除日期", "截止日期")),
    Field("place", "执行地点", "str", aliases=("地点", "场所")),
    Field("decision_doc", "决定文书", "str", aliases=("决定书",)),
    # 社区戒毒/社区康复: the day the person reported (须 15 日内报到, DOMAIN §1.4); a later
    # 社区戒毒协议/社区康复协议 entry (signed at 报到) records it too
    Field("report_date", "报到日期", "date", aliases=("报到时间",)),
    _NOTE,
))

DRUG_EVENT = EntryType("drug_event", "吸毒事件", ("吸毒事件", "复吸事件", "吸毒/复吸事件", "查获"), (
    _date(),
    Field("event_type", "事件类型", "enum", DRUG_EVENT_TYPES, aliases=("类型", "type"), required=True),
    Field("drugs", "毒品种类", "list_enum", DRUG_TYPES, aliases=("滥用毒品种类",)),
    Field("handling", "处理结果", "enum", HANDLINGS, aliases=("处理",)),
    Field("unit", "查获单位", "str"),
    _NOTE,
))

ENTRY_TYPES: dict[str, EntryType] = {t.name: t for t in (
    INTERVIEW, TEST, ASSESSMENT, MEASURE, ASSISTANCE, STATUS, AGREEMENT, DRUG_EVENT)}

_TYPE_INDEX = {k.lower(): t.name for t in ENTRY_TYPES.values() for k in (t.name, t.label, *t.aliases)}
# an entry's own date comes from these when "date" is not given (status/measure: start; agreement: signed)
_DATE_FROM = {"status": "start", "measure": "start", "agreement": "signed"}


def resolve_entry_type(name: str) -> str:
    key = str(name).strip().lower() if name is not None else ""
    if key in _TYPE_INDEX:
        return _TYPE_INDEX[key]
    valid = "、".join(f"{t.name}（{t.label}）" for t in ENTRY_TYPES.values())
    raise InvalidInput(field="type", reason=f"未知记录类型“{name}”；可用类型：{valid}")


def normalize_entry(type_name: str, data: Mapping, *, today: date) -> dict:
    etype = ENTRY_TYPES[resolve_entry_type(type_name)]
    if not isinstance(data, Mapping):
        raise InvalidInput(field="entry", reason="记录应为一组字段（键值对）")
    data = dict(data)
    passthrough = {k: data.pop(k) for k in PASSTHROUGH if k in data}
    errors: list[InvalidInput] = []
    _take_type_key(etype, data, errors)
    out = normalize_fields(etype.fields, data, today=today, errors=errors)
    failed = {e.field for e in errors}

    source = _DATE_FROM.get(etype.name)
    if source:
        _date_from(etype, out, source, errors, failed)
    if etype.name == "status":
        _check_status(out, errors, failed)
    for a, b in (("start", "end"), ("period_start", "period_end")):
        if out.get(a) and out.get(b) and out[b] < out[a]:
            errors.append(InvalidInput(field=b, reason=f"结束日期 {out[b]} 早于开始日期 {out[a]}"))
    if errors:
        raise ValidationErrors(errors)
    result = {"type": etype.name, "date": out.pop("date")}
    result.update(out)
    result.update(passthrough)
    return result


def _take_type_key(etype: EntryType, data: dict, errors: list) -> None:
    """A ``type`` key naming this entry type is dropped; another entry type is an error;
    anything else (查获, 低保 …) is left for the type's inner-kind field."""
    inner = _inner_choices(etype)
    for k in [k for k in data if str(k).strip().lower() in ("type", "类型", "记录类型")]:
        value = data[k]
        if isinstance(value, str) and value.strip() in inner:
            continue
        try:
            named = resolve_entry_type(value)
        except InvalidInput:
            continue
        if named == etype.name:
            del data[k]
        else:
            errors.append(InvalidInput(field="type", reason=f"记录类型冲突：命令指定为“{etype.label}”，文件中为“{value}”"))


def _inner_choices(etype: EntryType) -> tuple[str, ...]:
    idx = key_index(etype.fields)
    f = idx.get("type")
    return f.choices if f else ()


def _date_from(etype: EntryType, out: dict, source: str, errors: list, failed: set) -> None:
    d, s = out.get("date"), out.get(source)
    if "date" in failed or source in failed:
        return
    if d is None and s is None:
        label = next(f.label for f in etype.fields if f.name == source)
        errors.append(InvalidInput(field="date", reason=f"必填（日期或{label}）"))
    elif d is None:
        out["date"] = s
    elif s is None:
        out[source] = d
    elif d != s:
        errors.append(InvalidInput(field="date", reason=f"记录日期 {d} 与{source} {s} 不一致（记录日期即开始日期）"))


def _check_status(out: dict, errors: list, failed: set) -> None:
    status = out.get("status")
    axis_raw = out.get("axis")
    if "status" in failed:
        return
    status = VALUE_ALIASES.get(status, status)
    if axis_raw is not None:
        axis = AXIS_ALIASES.get(str(axis_raw).strip().lower())
        if axis is None:
            errors.append(InvalidInput(field="axis", reason=f"“{axis_raw}”无效；应为 measure（措施）或 presence（现实）"))
            return
    else:
        axis = next((a for a, values in AXES.items() if status in values), None)
        if axis is None:
            allowed = "、".join(MEASURE_STATUSES + PRESENCE_STATUSES)
            errors.append(InvalidInput(field="status", reason=f"“{status}”不是有效状态；应为：{allowed}"))
            return
    if status not in AXES[axis]:
        label = "措施" if axis == "measure" else "现实"
        errors.append(InvalidInput(field="status", reason=f"“{status}”不是{label}状态；应为：{'、'.join(AXES[axis])}"))
        return
    out["axis"] = axis
    out["status"] = status
    if status == "死亡" and out.get("end"):
        errors.append(InvalidInput(field="end", reason="死亡为终止状态，不能有结束日期"))
