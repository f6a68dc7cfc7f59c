"""Form contexts: pure functions of (dossier state, today) → dict of strings.

Every builder returns the *same keys* whatever the person's data (missing
values are ``""``, missing lists ``[]``), so the set of fields a template may
use is the flattened shape of a sample context (:mod:`dossier.forms.fields`),
and a fully populated and a minimal person render the same template.

A *dossier* here is a plain dict::

    {"archive_no": str, "scope": "珠晖区/粤汉街道/苗圃社区", "version": int,
     "profile": {...}, "entries": [...], "attachments": [...],
     "documents": [...], "labels": [...]}

(the state kept per dossier version plus a few row attributes). Entries are
dicts with at least ``type`` and ``date``; their fields are read at the top
level or under ``data``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from dossier.forms.fmt import box, checks, cn_date, text
from dossier.rules.lists import SELECTORS, current_status, entries_of, list_codes
from dossier.rules.lists import field as _get
from dossier.rules.lists import iso_day as _iso
from dossier.rules.lists import latest as _last

LEVELS = ("高", "中", "低")
MEASURES = ("社区戒毒", "社区康复", "强制隔离戒毒", "自愿戒毒", "药物维持治疗", "无措施")
PRESENCE = ("在控", "失控", "羁押拘留", "服刑", "出国境", "死亡")
INTERVIEW_METHODS = ("敲门见人", "视频见面", "电话", "走访亲友", "单位走访")
ADDICTION = ("未成瘾", "成瘾", "成瘾严重")

# The five signature blocks of the 审批表 (DOMAIN §4), in chain order.
SIGNATURE_BLOCKS = (
    ("community", "社区（村）初评", ("community_opinion", "community")),
    ("police", "派出所核查", ("police_check", "police")),
    ("meeting", "会商评估", ("meeting_opinion", "meeting_review")),
    ("street", "街道（乡镇）审批", ("street_approval", "street")),
    ("district", "区（县）禁毒办备案", ("district_filing", "district")),
)


# ---------------------------------------------------------------- helpers

def _t(d, *keys) -> str:
    return text(_get(d, *keys))


def _d(d, *keys) -> str:
    return cn_date(_get(d, *keys))


def scope_parts(scope: str | None) -> dict:
    parts = [p for p in (scope or "").split("/") if p]
    return {"scope": "/".join(parts),
            "district": parts[0] if len(parts) > 0 else "",
            "street": parts[1] if len(parts) > 1 else "",
            "community": parts[-1] if len(parts) > 2 else ""}


def _people_text(items) -> str:
    if not items:
        return ""
    out = []
    for it in items if isinstance(items, (list, tuple)) else [items]:
        if isinstance(it, Mapping):
            role, name = it.get("role") or it.get("unit") or "", it.get("name") or ""
            out.append(f"{text(role)} {text(name)}".strip() if role else text(name))
        else:
            out.append(text(it))
    return "、".join(x for x in out if x)


def _years_between(a, b: date) -> str:
    if not a:
        return ""
    try:
        a = date.fromisoformat(_iso(a))
    except ValueError:
        return ""
    y = b.year - a.year - ((b.month, b.day) < (a.month, a.day))
    return str(max(y, 0))


# ---------------------------------------------------------------- person

def person_fields(profile: Mapping) -> dict:
    p = profile or {}
    dl = p.get("driving_license") if isinstance(p.get("driving_license"), Mapping) else {}
    return {
        "name": _t(p, "name"), "alias": _t(p, "alias"), "gender": _t(p, "gender"),
        "ethnicity": _t(p, "ethnicity"), "birth_date": _d(p, "birth_date"),
        "id_number": _t(p, "id_number"), "education": _t(p, "education"),
        "marital": _t(p, "marital"), "employment": _t(p, "employment"),
        "employer": _t(p, "employer"), "phone": _t(p, "phone"),
        "political_status": _t(p, "political_status"),
        "is_public_official": text(p.get("is_public_official")) if p.get("is_public_official") is not None else "",
        "hukou_address": _t(p, "hukou_address"), "hukou_police": _t(p, "hukou_police"),
        "residence_address": _t(p, "residence_address"),
        "residence_police": _t(p, "residence_police"), "grid": _t(p, "grid"),
        "is_inflow": text(p.get("is_inflow")) if p.get("is_inflow") is not None else "",
        "inflow_date": _d(p, "inflow_date"),
        "first_seized_date": _d(p, "first_seized_date"), "seizing_unit": _t(p, "seizing_unit"),
        "drug_types": _t(p, "drug_types"), "use_method": _t(p, "use_method"),
        "addiction": _t(p, "addiction"), "addiction_checks": checks(p.get("addiction"), ADDICTION),
        "source": _t(p, "source"), "record_flags": _t(p, "record_flags"),
        "special_diseases": _t(p, "special_diseases"),
        "family_hardship": _t(p, "family_hardship"),
        "has_drug_crime_record": text(p.get("has_drug_crime_record")) if p.get("has_drug_crime_record") is not None else "",
        "license_class": _t(dl, "class", "license_class"), "license_issued": _d(dl, "issued"),
        "license_status": _t(dl, "status"),
        "height": _t(p, "height"), "native_place": _t(p, "native_place"),
        "religion": _t(p, "religion"), "occupation": _t(p, "occupation"),
        "note": _t(p, "notes", "note", "remarks"),
        "party_branch": _t(p, "party_branch"), "relapse_count": _t(p, "relapse_count"),
        "grid_worker": _t(p, "grid_worker"), "community_officer": _t(p, "community_officer"),
        "social_worker": _t(p, "social_worker"),
    }


def _status(dossier: Mapping) -> dict:
    measure, presence = current_status(dossier)
    history = []
    for e in entries_of(dossier, "status"):
        st = _get(e, "status", "to", "new_status")
        history.append({"status": text(st), "start": _d(e, "start", "date"), "end": _d(e, "end"),
                        "place": _t(e, "place")})
    return {"measure": text(measure), "presence": text(presence),
            "measure_checks": checks(measure, MEASURES), "presence_checks": checks(presence, PRESENCE),
            "text": "、".join(x for x in (text(measure), text(presence)) if x),
            "history": history,
            "history_text": "；".join(f"{h['status']}（{h['start']}—{h['end']}）" for h in history if h["status"])}


def _interview(e: Mapping) -> dict:
    staff = _get(e, "staff") or []
    method = _get(e, "method")
    return {"date": _d(e, "date"), "method": text(method),
            "method_checks": checks(method, INTERVIEW_METHODS),
            "subject": _t(e, "subject"), "subject_name": _t(e, "subject_name"),
            "relation": _t(e, "relation"),
            "person_seen": text(_get(e, "person_seen")) if _get(e, "person_seen") is not None else "",
            "staff": _people_text(staff), "location": _t(e, "location"),
            "content": _t(e, "content"), "findings": _t(e, "findings"),
            "clue": _t(e, "whereabouts_clue", "clue")}


def _test(e: Mapping) -> dict:
    return {"date": _d(e, "date"), "sample": _t(e, "sample"), "method": _t(e, "method"),
            "items": _t(e, "items"), "result": _t(e, "result"), "report_no": _t(e, "report_no"),
            "institution": _t(e, "institution"), "testers": _t(e, "testers")}


def _block(e: Mapping, keys: tuple[str, ...]) -> dict:
    b = _get(e, *keys) or {}
    if not isinstance(b, Mapping):
        b = {"opinion": b}
    signer = b.get("signer") or b.get("signers") or ""
    return {"opinion": _t(b, "opinion", "conclusion"), "signer": text(signer),
            "signer2": _t(b, "signer2", "leader"), "role": _t(b, "role"),
            "date": _d(b, "date"), "seal": _t(b, "seal"),
            "level_checks": checks(_get(b, "level"), LEVELS) if _get(b, "level") else checks(None, LEVELS)}


def _assessment(dossier: Mapping) -> dict:
    e = _last(dossier, "assessment")
    level = _get(e, "final_level", "level", "proposed_level")
    out = {"date": _d(e, "date"), "proposed_level": _t(e, "proposed_level", "suggested_level"),
           "suggested_level": _t(e, "suggested_level"),
           "final_level": _t(e, "final_level"), "level": text(level),
           "level_checks": checks(level, LEVELS),
           "proposed_checks": checks(_get(e, "proposed_level", "suggested_level"), LEVELS),
           "level_detail": _t(e, "level_detail"), "score": _t(e, "score"),
           "criteria": _t(e, "criteria_hits", "reasons"), "rationale": _t(e, "rationale", "reasons"),
           "other": _t(e, "other_circumstances", "other"),
           "meeting_no": _t(e, "meeting_no", "meeting"), "meeting_date": _d(e, "meeting_date"),
           "next_review": _d(e, "next_review"), "state": _t(e, "state"),
           "remarks": _t(e, "notes", "remarks")}
    for key, _label, keys in SIGNATURE_BLOCKS:
        out[key] = _block(e, keys)
    if not out["meeting"]["opinion"] and out["meeting_no"]:
        out["meeting"]["opinion"] = f"经{out['meeting_no']}会商，评定为{out['level']}风险。" if out["level"] else ""
    if not out["meeting"]["date"]:
        # an assessment recorded by a 会商 meeting is dated on the meeting day
        out["meeting"]["date"] = out["meeting_date"] or (out["date"] if out["meeting_no"] else "")
    return out


def _plan(dossier: Mapping) -> dict:
    e = _last(dossier, "plan")
    resp = _get(e, "responsibles") or []
    rows = [{"role": _t(r, "role"), "name": _t(r, "name"), "phone": _t(r, "phone")}
            for r in resp if isinstance(r, Mapping)]
    vf, tf = _get(e, "visit_freq_days"), _get(e, "test_freq_days")
    return {"level": _t(e, "level"), "start": _d(e, "start", "date"), "end": _d(e, "end"),
            "filed_with": _t(e, "filed_with"),
            "visit_freq": f"每{vf}天一次" if vf else "", "test_freq": f"每{tf}天一次" if tf else "",
            "measures": _t(e, "measures"),
            "measure_list": [text(m) for m in (_get(e, "measures") or []) if isinstance(_get(e, "measures"), list)],
            "responsibles": rows, "responsibles_text": _people_text(resp),
            "goals": _t(e, "goals"), "assistance": _t(e, "assistance_plan", "assistance")}


def _assistance(e: Mapping) -> dict:
    return {"date": _d(e, "date"), "type": _t(e, "assistance_type", "kind"),
            "provider": _t(e, "provider"), "content": _t(e, "content"), "outcome": _t(e, "outcome")}


def _volume(dossier: Mapping, today: date, items: list[dict]) -> dict:
    dates = sorted(_iso(e.get("date")) for e in dossier.get("entries") or () if e.get("date"))
    pages = sum(int(i["pages"] or 0) for i in items)
    p = dossier.get("profile") or {}
    return {"title": f"{text(p.get('name'))}吸毒人员档案（一人一档）",
            "date_from": cn_date(dates[0]) if dates else "", "date_to": cn_date(dates[-1]) if dates else "",
            "pages": str(pages) if pages else "", "count": str(len(items)),
            "retention": text(dossier.get("retention") or "30年"),
            "fonds": text(dossier.get("fonds") or ""), "secrecy": text(dossier.get("secrecy") or "内部"),
            "note": text(dossier.get("volume_note") or ""),
            "maker": text(dossier.get("maker") or ""), "checker": text(dossier.get("checker") or ""),
            "made_date": cn_date(today)}


def file_items(dossier: Mapping) -> list[dict]:
    """卷内文件目录 rows from the kept documents and attachments, in DOMAIN §5 order.

    ``page_start`` is filled from each item's ``pages`` assuming the volume
    starts with the cover (1 page) and a 1-page 目录; :mod:`dossier.forms.bind`
    passes the real numbers instead.
    """
    raw = []
    for d in dossier.get("documents") or ():
        raw.append(d)
    for a in dossier.get("attachments") or ():
        raw.append(a)
    raw.sort(key=lambda i: (int(i.get("category_order", 99) or 99), _iso(i.get("date")), str(i.get("title", ""))))
    page = 3
    items = []
    for n, i in enumerate(raw, 1):
        pages = int(i.get("pages") or 0)
        items.append({"seq": str(n), "doc_no": text(i.get("doc_no")), "author": text(i.get("author") or i.get("unit")),
                      "title": text(i.get("title")), "date": _iso(i.get("date")).replace("-", ""),
                      "pages": str(pages) if pages else "", "page_start": str(page) if pages else "",
                      "remarks": text(i.get("remarks"))})
        page += pages
    return items


def person_context(dossier: Mapping, today: date, *, doc_no: str = "",
                   items: list[dict] | None = None, interview_id: str | None = None) -> dict:
    """Context for every per-person form (审批表, 一人一策, 谈话记录, 登记表, 封面, 目录, 备考表)."""
    profile = dossier.get("profile") or {}
    interviews = entries_of(dossier, "interview")
    cur = next((e for e in interviews if interview_id and e.get("id") == interview_id), None)
    cur = cur or (interviews[-1] if interviews else {})
    tests = entries_of(dossier, "test")
    items = file_items(dossier) if items is None else items
    sp = scope_parts(dossier.get("scope"))
    return {
        "today": cn_date(today), "year": str(today.year),
        **sp, "unit": sp["street"] or sp["district"],
        "archive_no": text(dossier.get("archive_no")), "doc_no": text(doc_no),
        "version": text(dossier.get("version")),
        "person": person_fields(profile),
        "labels": text(list(dossier.get("labels") or [])),
        "status": _status(dossier),
        "assessment": _assessment(dossier),
        "plan": _plan(dossier),
        "interviews": [_interview(e) for e in interviews],
        "interview": _interview(cur),
        "tests": [_test(e) for e in tests],
        "last_test": _test(tests[-1] if tests else {}),
        "assistance": [_assistance(e) for e in entries_of(dossier, "assistance")],
        "family": [{"name": _t(m, "name"), "gender": _t(m, "gender"), "age": _t(m, "age"),
                    "relation": _t(m, "relation"), "address": _t(m, "address"), "phone": _t(m, "phone")}
                   for m in (profile.get("family_members") or []) if isinstance(m, Mapping)],
        "items": items,
        "volume": _volume(dossier, today, items),
        "transfer": _transfer(dossier),
    }


def _transfer(dossier: Mapping) -> dict:
    """The 移交函 (issue 13): on the sending side from the 迁出 entry the transfer wrote, on
    the receiving side from the transfer that brought the file (``received_from``)."""
    out = {k: "" for k in ("bundle_id", "from_office", "to_office", "reason", "date", "received_date",
                           "from_fingerprint", "to_fingerprint", "original_archive_no", "kept", "versions")}
    sent = [e for e in entries_of(dossier, "status") if isinstance(e.get("transfer"), Mapping)]
    rec = list(dossier.get("received_from") or [])
    if sent:
        e, t = sent[-1], sent[-1]["transfer"]
        out.update(bundle_id=_t(t, "bundle"), from_office=text(dossier.get("archive_name")), to_office=_t(t, "to"),
                   reason=_t(t, "reason"), date=_d(e, "date"), to_fingerprint=_t(t, "to_root"),
                   from_fingerprint=text(dossier.get("root_fingerprint")),
                   original_archive_no=text(dossier.get("archive_no")),
                   kept="保留只读副本" if t.get("keep_copy") else "只保留脱敏存根",
                   versions=text(t.get("versions") or max(int(dossier.get("version") or 1) - 1, 1)))
    elif rec:
        r = rec[-1]
        out.update(bundle_id=_t(r, "transfer"), from_office=_t(r, "archive_name"),
                   to_office=text(dossier.get("archive_name")), reason=_t(r, "reason"),
                   date=_t(r, "sent_date"), received_date=cn_date(date.fromisoformat(str(r["date"])[:10])),
                   from_fingerprint=_t(r, "root_fingerprint"), to_fingerprint=text(dossier.get("root_fingerprint")),
                   original_archive_no=_t(r, "original_archive_no"), kept="",
                   versions=text((r.get("versions") or [0, 0])[-1]))
    return out


# ---------------------------------------------------------------- lists
# Which persons each list prints (manifest key ``select``) and the 分类标签 of 附表2 are
# domain rules: dossier.rules.lists (SELECTORS, list_codes).


def person_row(dossier: Mapping, today: date, seq: int = 0) -> dict:
    """One flat row of strings: every column any 附表 may print."""
    p = dossier.get("profile") or {}
    pf = person_fields(p)
    st = _status(dossier)
    a = _assessment(dossier)
    plan = _plan(dossier)
    ivs = entries_of(dossier, "interview")
    iv = ivs[-1] if ivs else {}
    tests = entries_of(dossier, "test")
    t = tests[-1] if tests else {}
    events = entries_of(dossier, "event")
    last_use = _get(events[-1], "date") if events else None
    anchor = _get(p, "abstinence_anchor_date", "anchor_date")
    labels = [str(x) for x in dossier.get("labels") or ()]
    sp = scope_parts(dossier.get("scope"))
    row = {
        "seq": str(seq), "community": sp["community"] or sp["street"],
        **{k: pf[k] for k in ("name", "gender", "id_number", "hukou_address", "residence_address", "phone",
                              "first_seized_date", "seizing_unit", "drug_types", "use_method", "addiction",
                              "employment", "employer", "marital", "special_diseases", "family_hardship",
                              "license_class", "license_issued", "license_status", "inflow_date",
                              "political_status", "source", "record_flags", "alias", "ethnicity")},
        "police": pf["residence_police"] or pf["hukou_police"],
        "status": st["text"], "measures_history": st["history_text"],
        "screeners": _people_text(_get(iv, "staff")), "screen_date": _d(iv, "date"),
        "interview_method": _t(iv, "method"),
        "talk_subjects": "、".join(x for x in {_t(e, "subject_name") or _t(e, "subject"): 1 for e in ivs[-2:]} if x),
        "test_method": " ".join(x for x in (_t(t, "sample"), _t(t, "method")) if x),
        "test_date": _d(t, "date"), "test_result": _t(t, "result"),
        "last_use_date": cn_date(last_use) if last_use else "",
        "abstinence_years": _years_between(anchor or last_use, today),
        "risk_level": a["level"], "criteria": a["criteria"], "assess_date": a["date"],
        "approve_date": a["street"]["date"], "proposed_level": a["proposed_level"],
        "police_date": a["police"]["date"], "meeting_no": a["meeting_no"], "filing_date": a["district"]["date"],
        "next_review": a["next_review"], "assess_state": a["state"], "filed_with": plan["filed_with"],
        "plan_points": plan["measures"], "responsibles": plan["responsibles_text"],
        "visit_freq": plan["visit_freq"], "test_freq": plan["test_freq"],
        "last_visit_date": _d(iv, "date"), "last_test_date": _d(t, "date"),
        "assistance_measures": "、".join(x["type"] for x in (_assistance(e) for e in entries_of(dossier, "assistance")) if x["type"]),
        "diagnosis": _t(p, "diagnosis"), "disability_cert": _t(p, "disability_cert"),
        "hard_to_detain": _t(p, "hard_to_detain"), "treatment": _t(p, "treatment"),
        "guardian": _t(p, "guardian"), "relief": _t(p, "relief"),
        "crime": _t(p, "crime"), "judgement": _t(p, "judgement"), "sentence": _t(p, "sentence"),
        "release_date": _d(p, "release_date"), "helping": _t(p, "helping"),
        "commercial_driver": _t(p, "commercial_driver"), "traffic_notified": _d(p, "traffic_notified"),
        "license_result": _t(p, "license_result"),
        "hukou_region": _t(p, "hukou_region"), "resided_3m": _t(p, "resided_3m"),
        "residence_reason": _t(p, "inflow_reason", "residence_reason"),
        "residence_registration": _t(p, "residence_registered"), "origin_control_unit": _t(p, "origin_control_unit"),
        "two_way_letter": _t(p, "two_way_letter"),
        "relative_name": _t(p, "relative_name"), "relative_relation": _t(p, "relative_relation"),
        "relative_age": _t(p, "relative_age"), "relief_received": _t(p, "relief_received"),
        "help_plan": _t(p, "help_plan"), "help_unit": _t(p, "help_unit"),
        "official_identity": _t(p, "official_identity") or ("公职人员" if p.get("is_public_official") else ""),
        "position": _t(p, "position"), "party_org": _t(p, "party_branch", "party_org"),
        "discipline_notified": _t(p, "discipline_notified"), "official_result": _t(p, "official_result"),
        "clue_no": _t(p, "clue_no"), "clue_source": _t(p, "clue_source"), "found_date": _d(p, "found_date"),
        "verification": _t(p, "verification"), "disposal": _t(p, "disposal"),
        "handover_date": _d(p, "handover_date"),
        "anchor_case": _t(p, "anchor_case"), "anchor_date": cn_date(anchor) if anchor else "",
        "five_years": "是" if any(l.startswith(("戒断5年", "戒断10年")) for l in labels) else "",
        "ten_years": "是" if any(l.startswith("戒断10年") for l in labels) else "",
        "suggestion": _t(p, "suggestion"),
        "death_date": _d(p, "death_date"), "death_cause": _t(p, "death_cause"),
        "death_proof": _t(p, "death_proof"), "hukou_cancel_date": _d(p, "hukou_cancel_date"),
        "platform_update_date": _d(p, "platform_update_date"),
        "error_type": _t(p, "error_type"), "original": _t(p, "original_record"),
        "moved_to": _t(p, "moved_to"), "moved_date": _d(p, "moved_date"), "basis": _t(p, "correction_basis"),
        "police_opinion": _t(p, "police_opinion"), "corrected_date": _d(p, "corrected_date"),
        "labels": text(labels),
        "tags": "、".join(list_codes(dossier)),
        "remarks": pf["note"],
    }
    return row


def list_context(dossiers: Iterable[Mapping], today: date, *, scope: str = "", select: str = "all",
                 unit: str = "") -> dict:
    chosen = [d for d in dossiers if SELECTORS.get(select, SELECTORS["all"])(d)]
    chosen.sort(key=lambda d: (str(d.get("scope", "")), str(d.get("archive_no", ""))))
    sp = scope_parts(scope)
    return {"today": cn_date(today), "year": str(today.year), **sp,
            "unit": unit or sp["street"] or sp["district"] or sp["scope"],
            "rows": [person_row(d, today, i) for i, d in enumerate(chosen, 1)],
            "count": str(len(chosen))}


# 附表1 takes every number from dossier.reports.stats (one definition for the form and
# ``dossier report stats``). Field names of templates made before that are kept as aliases
# (old field → stats key), so an office's edited template still fills.
STAT_ALIASES = {"total": "registered", "met": "met", "met_rate": "met_rate",
                "unreachable": "lost", "unreachable_rate": "lost_rate",
                "high": "risk_high", "mid": "risk_mid", "low": "risk_low",
                "urine": "urine_tests", "hair": "hair_tests", "positive": "positive", "hidden": "hidden_new",
                **{f"c{n:02d}": f"annex{n:02d}" for n in range(5, 15)},
                "s_prison": "in_prison", "s_forced": "compulsory", "s_mmt": "maintenance",
                "s_detained": "detained", "s_3y": "abstinent3", "s_detox": "community_detox",
                "s_rehab": "community_rehab", "s_lost": "lost", "s_dead": "dead"}
STAT_KEYS = tuple(STAT_ALIASES)
# Columns of the real 排查汇总 the archive holds no data for (households, 外出, suspicions):
# always blank, written in by the 社区 (DOMAIN §3 item 1).
HAND_FILLED = ("households", "households_visited", "out_of_province", "in_province",
               "suspect_trafficking", "suspect_use")


def _stat_fields(row: Mapping) -> dict:
    """A reports.stats row as strings: counts as digits, rates as 12.5%, 失联超5% as 是."""
    out = {}
    for k, v in row.items():
        if isinstance(v, bool):
            out[k] = "是" if v else ""
        elif k.endswith("_rate"):
            out[k] = "" if v is None else f"{v * 100:.1f}%"
        else:
            out[k] = text(v)
    out.update({old: out[new] for old, new in STAT_ALIASES.items()})
    out.update(dict.fromkeys(HAND_FILLED, ""))
    return out


def statistics_context(dossiers: Iterable[Mapping], today: date, *, scope: str = "",
                       since: date | None = None, unit: str = "") -> dict:
    """附表1 登记在册吸毒人员排查统计表: one row per 社区 plus a total, every number
    from :func:`dossier.reports.stats.statistics` on ``today`` (见面/检测 counted
    from ``since``, default 1 January of that year)."""
    from dossier.reports.population import PersonRecord
    from dossier.reports.stats import statistics

    ds = list(dossiers)
    records = [PersonRecord(str(d.get("id") or d.get("archive_no") or i), str(d.get("archive_no") or ""),
                            str(d.get("scope") or ""), dict(d.get("profile") or {}), list(d.get("entries") or []),
                            int(d.get("version") or 1))
               for i, d in enumerate(ds)]
    s = statistics(records, today, since)
    sp = scope_parts(scope)
    return {"today": cn_date(today), "year": str(today.year), **sp,
            "unit": unit or sp["street"] or sp["district"] or sp["scope"],
            "as_of": cn_date(s["as_of"]), "since": cn_date(s["since"]),
            "rows": [{"seq": str(i), **_stat_fields(r)} for i, r in enumerate(s["rows"], 1)],
            "total": {"seq": "", **_stat_fields(s["total"])},
            "count": str(len(ds))}


# ---------------------------------------------------------------- meetings

def meeting_context(meeting: Mapping, dossiers: Mapping[str, Mapping], today: date, *,
                    masked: bool = True) -> dict:
    """会商会议纪要 / 签到表. ``dossiers`` maps each discussed person's dossier id to its dossier.

    Names and ID numbers are masked (DOMAIN §7, 对外文书) unless ``masked`` is false.
    """
    from dossier.disclose import masking  # the one masking policy (issue: disclosure)

    def people(key):
        rows = []
        for i, a in enumerate(meeting.get(key) or (), 1):
            a = a if isinstance(a, Mapping) else {"name": a}
            rows.append({"seq": str(i), "unit": _t(a, "unit"), "name": _t(a, "name"), "role": _t(a, "role"),
                         "phone": _t(a, "phone")})
        return rows

    def people_text(rows):
        by_unit: dict[str, list[str]] = {}
        for r in rows:
            by_unit.setdefault(r["unit"], []).append(r["name"])
        return "；".join(f"{u}{'：' if u else ''}{'、'.join(n)}" for u, n in by_unit.items())

    conclusions, counts = [], dict.fromkeys(LEVELS, 0)
    tested = positive = met = 0
    for i, c in enumerate(meeting.get("persons") or (), 1):
        d = dossiers.get(c.get("dossier_id")) or {}
        p = d.get("profile") or {}
        name, idn = text(p.get("name")), text(p.get("id_number"))
        if masked:
            name = masking.mask_name(name) if name else ""
            idn = masking.mask_id_number(idn, style="external") if idn else ""
        level = text(c.get("level"))
        if level in counts:
            counts[level] += 1
        ivs, ts = entries_of(d, "interview"), entries_of(d, "test")
        met += any(_get(e, "person_seen") for e in ivs)
        tested += bool(ts)
        positive += any(_get(t, "result") == "阳性" for t in ts)
        conclusions.append({
            "seq": str(i), "name": name, "id_number": idn, "status": _status(d)["text"] if d else "",
            "basis": text(c.get("reasons") or c.get("basis")),
            "community_level": text(c.get("community_level") or c.get("proposed_level")),
            "level": level, "level_checks": checks(c.get("level"), LEVELS),
            "measures": text(c.get("measures")), "responsible": text(c.get("responsible")),
            "next_review": cn_date(c.get("next_review"))})
    attendees, observers, absentees = people("attendees"), people("observers"), people("absentees")
    n = len(conclusions)
    sp = scope_parts(meeting.get("scope"))
    date_s = cn_date(meeting.get("date"))
    host = text(meeting.get("host"))
    place = text(meeting.get("place"))
    unit = text(meeting.get("unit")) or sp["street"] or sp["district"]
    intro = (f"{date_s}，{host}在{place}主持召开会议，对{sp['community'] or unit}{n}名社会面吸毒人员"
             f"逐人进行风险分类评估会商。现将议定事项纪要如下：") if date_s else ""
    return {
        "today": cn_date(today), "year": str(today.year), **sp, "unit": unit,
        "meeting": {"id": text(meeting.get("id")), "no": text(meeting.get("no")),
                    "title": text(meeting.get("title")) or f"{unit}社会面吸毒人员风险分类评估会商会议纪要",
                    "date": date_s, "time": text(meeting.get("time")), "place": place, "host": host,
                    "recorder": text(meeting.get("recorder")), "agenda": text(meeting.get("agenda")),
                    "intro": intro, "distribution": text(meeting.get("distribution")),
                    "printed_date": cn_date(meeting.get("printed_date") or meeting.get("date")),
                    "overview": text(meeting.get("overview")),
                    "attendees_text": people_text(attendees), "observers_text": people_text(observers),
                    "absentees_text": people_text(absentees),
                    "attendee_count": str(len(attendees))},
        "summary": {"persons": str(n), "met": str(met), "tested": str(tested), "positive": str(positive),
                    "high": str(counts["高"]), "mid": str(counts["中"]), "low": str(counts["低"])},
        "decisions": [{"seq": str(i), "text": text(x)} for i, x in enumerate(meeting.get("decisions") or (), 1)],
        "conclusions": conclusions, "attendees": attendees, "observers": observers, "absentees": absentees,
        "signin": [{**r, "seq": str(i)} for i, r in enumerate(attendees + observers, 1)],
    }


__all__ = ["person_context", "list_context", "statistics_context", "meeting_context", "person_row",
           "file_items", "SIGNATURE_BLOCKS", "box"]
