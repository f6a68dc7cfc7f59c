"""Who goes on which list form (附表4 … 附表14): selectors over a dossier dict.

A selector is a pure predicate of one plain dossier dict (the shape the form
contexts take: ``profile``, ``entries``, ``labels`` …; see
:mod:`dossier.forms.contexts`). The same selectors choose the rows of each list
form (manifest key ``select``), the 分类标签 of 附表2 and the 附表5 … 附表14
counts of 附表1 (:mod:`dossier.reports.stats`), so a list and its count agree.

Labels (戒断5年 …) are read from ``dossier["labels"]``: the caller derives them
on its date (:mod:`dossier.rules.labels`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dossier.model.entries import MEASURE_STATUSES, PRESENCE_STATUSES

# Entry type spellings accepted for each kind of record (the model's canonical
# name first; Chinese labels as clerks type them).
ENTRY_KINDS: dict[str, tuple[str, ...]] = {
    "interview": ("interview", "见面核查", "谈话", "见面核查/谈话"),
    "test": ("test", "drug_test", "检测"),
    "assessment": ("assessment", "risk_assessment", "风险评估"),
    "plan": ("measure", "control_plan", "plan", "管控措施", "一人一策"),
    "assistance": ("assistance", "帮扶救助"),
    "status": ("status", "status_change", "status_period", "状态变更"),
    "event": ("drug_event", "event", "吸毒事件"),
    "agreement": ("agreement", "协议"),
}

PARTY_MEMBERS = ("中共党员", "预备党员")
ABSTINENT_5Y_LABELS = ("戒断5年", "戒断10年", "戒断五年", "戒断十年")


# ---------------------------------------------------------------- reading a dossier dict

def field(d: Mapping | None, *keys, default=None):
    """First non-empty value among ``keys`` in ``d`` (or in ``d["data"]``)."""
    if not d:
        return default
    data = d.get("data") if isinstance(d.get("data"), Mapping) else {}
    for k in keys:
        for src in (d, data):
            v = src.get(k)
            if v not in (None, "", [], {}):
                return v
    return default


def iso_day(v) -> str:
    """``"2024-03-05T10:00"`` / ``date(2024, 3, 5)`` → ``"2024-03-05"``; empty → ``""``."""
    return str(v)[:10] if v else ""


def entries_of(dossier: Mapping, kind: str) -> list[dict]:
    """Entries of one kind (any spelling of :data:`ENTRY_KINDS`), oldest first."""
    names = ENTRY_KINDS.get(kind, (kind,))
    out = [e for e in dossier.get("entries") or () if e.get("type") in names]
    return sorted(out, key=lambda e: (iso_day(e.get("date")), iso_day(e.get("recorded_at"))))


def latest(dossier: Mapping, kind: str) -> dict:
    """The newest entry of ``kind``, or ``{}``."""
    es = entries_of(dossier, kind)
    return es[-1] if es else {}


def current_status(dossier: Mapping) -> tuple:
    """(措施状态, 现实状况): the profile's values overridden by each status entry in date order.

    An entry without ``axis`` counts on the axis its status belongs to.
    """
    p = dossier.get("profile") or {}
    measure, presence = field(p, "measure_status"), field(p, "presence")
    for e in entries_of(dossier, "status"):
        st = field(e, "status", "to", "new_status")
        axis = field(e, "axis") or ("measure" if st in MEASURE_STATUSES
                                    else "presence" if st in PRESENCE_STATUSES else "")
        if axis == "measure" and st:
            measure = st
        elif axis == "presence" and st:
            presence = st
    return measure, presence


def risk_level(dossier: Mapping):
    """Level of the newest 风险评估 (最终 before 初评), or None."""
    return field(latest(dossier, "assessment"), "final_level", "level", "proposed_level")


def _has(profile: Mapping, key: str, value=None) -> bool:
    v = profile.get(key)
    if value is None:
        return bool(v)
    return value in v if isinstance(v, (list, tuple)) else v == value


def _profile(d: Mapping) -> Mapping:
    return d.get("profile") or {}


# ---------------------------------------------------------------- selectors

# Which persons each list form covers (manifest key ``select``).
SELECTORS: dict[str, Callable[[Mapping], bool]] = {
    "all": lambda d: True,
    "risk_high_mid": lambda d: risk_level(d) in ("高", "中"),
    "assessed": lambda d: bool(entries_of(d, "assessment")),
    "special_disease": lambda d: _has(_profile(d), "special_diseases"),
    "drug_crime": lambda d: bool(_profile(d).get("has_drug_crime_record")),
    "driving_license": lambda d: bool(_profile(d).get("driving_license")),
    "inflow": lambda d: bool(_profile(d).get("is_inflow")),
    "family_hardship": lambda d: _has(_profile(d), "family_hardship"),
    "official_or_party": lambda d: bool(_profile(d).get("is_public_official"))
    or _profile(d).get("political_status") in PARTY_MEMBERS,
    "hidden": lambda d: _profile(d).get("source") == "隐性新发现",
    "abstinent_5y": lambda d: any(str(l).startswith(ABSTINENT_5Y_LABELS) for l in d.get("labels") or ()),
    "dead": lambda d: current_status(d)[1] == "死亡",
    "wrong_or_moved": lambda d: _has(_profile(d), "record_flags", "错录")
    or _has(_profile(d), "record_flags", "迁出"),
}

# 附表 code → selector, used by ``tags`` (分类标签) in 附表2 and the 附表1 counts.
TAG_SELECTORS = {"附表4": "risk_high_mid", "附表5": "special_disease", "附表6": "drug_crime",
                 "附表7": "driving_license", "附表8": "inflow", "附表9": "family_hardship",
                 "附表10": "official_or_party", "附表11": "hidden", "附表12": "abstinent_5y",
                 "附表13": "dead", "附表14": "wrong_or_moved"}


def list_codes(dossier: Mapping) -> list[str]:
    """The 附表 codes (附表4 … 附表14) whose list prints this person, in form order."""
    return [code for code, sel in TAG_SELECTORS.items() if SELECTORS[sel](dossier)]


__all__ = ["SELECTORS", "TAG_SELECTORS", "ENTRY_KINDS", "list_codes", "entries_of", "latest",
           "field", "iso_day", "current_status", "risk_level"]
