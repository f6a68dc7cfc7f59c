"""Fictitious sample dossiers and a meeting (synthetic data only).

Used to derive the field catalogue (the shape of a context), to check
templates, and by tests and benchmarks. All names, numbers and addresses are
invented; ID numbers are checksum-valid but synthetic.
"""

from __future__ import annotations

from datetime import date

from dossier.model.idnumber import make_id_number

SCOPE = "珠晖区/粤汉街道/苗圃社区"


def sample_dossier(full: bool = True, *, n: int = 7, name: str = "林晓峰", scope: str = SCOPE) -> dict:
    idn = make_id_number("430405", date(1986, 4, 12), 100 + 2 * (n % 400) + 1)
    if not full:
        return {"archive_no": f"430405004-JD·2024-Y-012-{n:04d}", "scope": scope, "version": 1,
                "profile": {"name": name, "id_number": idn, "gender": "男"},
                "entries": [], "attachments": [], "documents": [], "labels": []}
    staff = [{"role": "禁毒专干", "name": "周敏"}, {"role": "社区民警", "name": "陈立新"}]
    return {
        "archive_no": f"430405004-JD·2024-Y-012-{n:04d}", "scope": scope, "version": 3,
        "profile": {
            "name": name, "alias": "阿峰", "gender": "男", "id_number": idn, "birth_date": "1986-04-12",
            "ethnicity": "汉族", "native_place": "湖南衡阳", "education": "初中", "marital": "离异",
            "phone": "13907340001", "employment": "灵活就业", "employer": "东风路某汽修店",
            "occupation": "汽修工", "political_status": "群众", "is_public_official": False,
            "hukou_address": "衡阳市珠晖区粤汉街道苗圃社区3栋201", "hukou_police": "粤汉派出所",
            "residence_address": "衡阳市珠晖区粤汉街道苗圃社区3栋201", "residence_police": "粤汉派出所",
            "community": "苗圃社区", "grid": "苗圃社区第2网格", "grid_worker": "刘芳",
            "community_officer": "陈立新", "social_worker": "周敏",
            "is_inflow": False,
            "driving_license": {"class": "C1", "issued": "2008-05-20", "status": "已注销"},
            "special_diseases": ["精神病史"], "has_drug_crime_record": True,
            "family_hardship": ["父母年迈无人照顾"],
            "family_members": [{"name": "林秀英", "relation": "母亲", "gender": "女", "age": 68,
                                "address": "同住", "phone": "13907340002"}],
            "first_seized_date": "2012-07-03", "seizing_unit": "珠晖分局禁毒大队",
            "drug_types": ["冰毒", "氯胺酮"], "use_method": "烫吸", "addiction": "成瘾",
            "relapse_count": 1, "source": "登记在册", "record_flags": [], "notes": "本人配合",
        },
        "entries": [
            {"id": "e1", "type": "status", "date": "2021-03-01", "axis": "measure", "status": "社区康复",
             "start": "2021-03-01", "place": "苗圃社区"},
            {"id": "e2", "type": "drug_event", "date": "2020-11-15", "event_type": "查获", "drugs": ["冰毒"]},
            {"id": "e3", "type": "interview", "date": "2024-02-20", "method": "敲门见人", "subject": "本人",
             "subject_name": name, "person_seen": True, "staff": staff, "location": "住所",
             "content": "询问近期生活、就业及家庭情况。", "findings": "本人在家，精神状态良好。"},
            {"id": "e4", "type": "interview", "date": "2024-02-21", "method": "走访亲友", "subject": "亲属",
             "subject_name": "林秀英", "relation": "母亲", "person_seen": False, "staff": staff,
             "location": "住所", "content": "了解其近期表现。", "findings": "母亲称其按时回家。"},
            {"id": "e5", "type": "test", "date": "2024-02-20", "sample": "尿液", "method": "现场快检",
             "items": ["甲基苯丙胺", "氯胺酮"], "result": "阴性", "report_no": "粤汉检〔2024〕15号",
             "testers": ["陈立新", "王强"], "institution": "粤汉派出所"},
            {"id": "e6", "type": "assessment", "date": "2024-02-25", "criteria_hits": ["M1 正在执行社区康复"],
             "suggested_level": "中", "proposed_level": "中", "final_level": "中",
             "rationale": "正在执行社区康复，无高风险情形。",
             "community_opinion": {"opinion": "建议评为中风险", "signer": "周敏", "date": "2024-02-25",
                                   "seal": "苗圃社区居委会"},
             "police_check": {"opinion": "经核查属实", "signer": "陈立新", "date": "2024-02-27"},
             "meeting": "〔2024〕第3期",
             "street_approval": {"opinion": "同意", "signer": "黄志远", "date": "2024-03-01"},
             "district_filing": {"opinion": "予以备案", "signer": "李红", "date": "2024-03-05"},
             "state": "已备案", "next_review": "2024-06-01"},
            {"id": "e7", "type": "measure", "date": "2024-03-01", "level": "中",
             "responsibles": [{"role": "社区民警", "name": "陈立新", "phone": "13907340003"},
                              {"role": "禁毒社工", "name": "周敏", "phone": "13907340004"}],
             "visit_freq_days": 90, "test_freq_days": 90, "measures": ["每季度见面核查", "每季度尿检"],
             "filed_with": "街道", "start": "2024-03-01"},
            {"id": "e8", "type": "assistance", "date": "2024-03-02", "assistance_type": "技能培训",
             "provider": "珠晖区人社局", "content": "汽修技能培训", "outcome": "已结业"},
        ],
        "attachments": [
            {"id": "a1", "title": "社区康复协议书", "category": "协议", "category_order": 4,
             "date": "2021-03-02", "pages": 2, "author": "苗圃社区"},
        ],
        "documents": [],
        "labels": [],
    }


def sample_meeting(dossier_ids: list[str] | None = None) -> dict:
    ids = dossier_ids or ["d-sample"]
    return {
        "id": "m-sample", "no": "〔2024〕第3期", "date": "2024-02-28", "time": "上午9时",
        "place": "粤汉街道办事处三楼会议室", "host": "黄志远", "recorder": "周敏", "scope": SCOPE,
        "agenda": "苗圃社区社会面吸毒人员风险分类评估",
        "attendees": [{"unit": "粤汉街道", "name": "黄志远", "role": "主任"},
                      {"unit": "粤汉派出所", "name": "陈立新", "role": "社区民警"}],
        "observers": [{"unit": "苗圃社区", "name": "刘芳", "role": "网格员"}],
        "absentees": [{"unit": "珠晖区禁毒办", "name": "李红", "role": "干事"}],
        "persons": [{"dossier_id": i, "level": "中", "community_level": "中",
                     "reasons": "正在执行社区康复", "measures": "每季度见面、检测",
                     "responsible": "陈立新", "next_review": "2024-06-01"} for i in ids],
        "decisions": ["阳性人员依法处置。", "高风险人员落实“一人一策”，报区禁毒办备案。"],
        "distribution": "区禁毒办，街道各社区", "overview": "",
    }
