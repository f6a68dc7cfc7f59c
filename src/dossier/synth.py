"""Synthetic, fictitious persons and entries — the only personal data allowed in the repo.

ID numbers are checksum-valid and unique per ``random.Random`` instance; names
are random combinations; phones use the 1xx-0000-xxxx style of test numbers;
addresses name invented streets. Everything passes ``normalize_profile``,
``normalize_entry`` and ``check_dossier``.
"""

from __future__ import annotations

import random
import weakref
from datetime import date, timedelta

from dossier.model.dates import add_months, add_years, as_date
from dossier.model.idnumber import make_id_number

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
            "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官", "东方")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力宁云飞鹏志海波春燕雪梅琳晨"
         "浩宇轩然博涵欣怡佳琪子豪嘉俊凯思远梓萱晓东国庆永福德胜建平")
STREETS = ("建设路", "东风路", "解放大道", "人民路", "湘江北路", "青年路", "和平街", "光明巷", "友谊路", "新华街")
COMMUNITIES = ("苗圃社区", "和平社区", "东阳社区", "朝阳社区", "湘江社区", "向阳村", "新华村", "红星社区")
TOWNS = ("粤汉街道", "东风街道", "少云镇", "和平乡", "茶山坳镇")
REGIONS = {"430405": "湖南省衡阳市珠晖区", "500151": "重庆市铜梁区", "430407": "湖南省衡阳市石鼓区",
           "110105": "北京市朝阳区", "440106": "广东省广州市天河区", "530102": "云南省昆明市五华区"}
ETHNICITIES = ("汉族",) * 12 + ("回族", "土家族", "苗族", "壮族", "瑶族", "侗族")
EDUCATION = ("小学", "初中", "高中", "中专", "大专", "本科")
UNITS = ("珠晖分局禁毒大队", "东风派出所", "粤汉派出所", "茶山坳派出所", "铜梁区公安分局")
STAFF_ROLES = ("禁毒专干", "禁毒社工", "社区民警", "网格员", "社区干部")

_issued: "weakref.WeakKeyDictionary[random.Random, set[str]]" = weakref.WeakKeyDictionary()


def names(rng: random.Random, n: int) -> list[str]:
    return [_name(rng) for _ in range(n)]


def _name(rng: random.Random) -> str:
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2, 2))))


def _id_number(rng: random.Random, region: str, birth: date) -> str:
    issued = _issued.setdefault(rng, set())
    for _ in range(1000):
        number = make_id_number(region, birth, rng.randrange(1, 1000))
        if number not in issued:
            issued.add(number)
            return number
        birth = birth + timedelta(days=1)
    raise RuntimeError("could not find an unused synthetic ID number")


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10)}0000{rng.randrange(10000):04d}"


def _div(region: str, rng: random.Random) -> str:
    return f"{region}{rng.randrange(1, 20):03d}{rng.randrange(1, 30):03d}"


def _address(rng: random.Random, region: str) -> str:
    prefix = REGIONS.get(region, "")
    return (f"{prefix}{rng.choice(TOWNS)}{rng.choice(COMMUNITIES)}{rng.choice(STREETS)}"
            f"{rng.randrange(1, 300)}号{rng.randrange(1, 20)}栋{rng.randrange(1, 7)}0{rng.randrange(1, 5)}室")


def _day_between(rng: random.Random, lo: date, hi: date) -> date:
    if hi <= lo:
        return lo
    return lo + timedelta(days=rng.randrange((hi - lo).days + 1))


def person(rng: random.Random, *, today: date, region: str = "430405", full: bool = False) -> dict:
    birth = _day_between(rng, add_years(today, -70), add_years(today, -19))
    number = _id_number(rng, region, birth)
    seized = _day_between(rng, max(add_years(birth, 16), add_years(today, -20)), today - timedelta(days=30))
    p = {
        "name": _name(rng),
        "id_number": number,
        "ethnicity": rng.choice(ETHNICITIES),
        "phone": _phone(rng),
        "hukou_address": _address(rng, region),
        "residence_address": _address(rng, region),
        "first_seized_date": seized.isoformat(),
        "drug_types": rng.sample(("冰毒", "海洛因", "氯胺酮", "大麻", "摇头丸"), rng.choice((1, 1, 2))),
        "addiction": rng.choice(("未成瘾", "成瘾", "成瘾", "成瘾严重")),
    }
    if not full:
        return p
    inflow = rng.random() < 0.2
    home = rng.choice([r for r in REGIONS if r != region]) if inflow else region
    p.update({
        "alias": rng.choice(("阿", "小", "老")) + rng.choice(GIVEN),
        "gender": "男" if int(number[16]) % 2 else "女",
        "birth_date": birth.isoformat(),
        "native_place": REGIONS.get(home, "湖南省衡阳市"),
        "education": rng.choice(EDUCATION),
        "marital": rng.choice(("未婚", "已婚", "离异", "丧偶")),
        "employment": rng.choice(("稳定就业", "灵活就业", "无业", "退休")),
        "employer": rng.choice(("某物流公司", "某餐馆", "个体经营", "某建筑公司")),
        "occupation": rng.choice(("司机", "厨师", "务工", "个体")),
        "position": rng.choice(("职员", "工人", "无")),
        "political_status": rng.choice(("群众",) * 9 + ("中共党员",)),
        "is_public_official": rng.random() < 0.03,
        "hukou_address": _address(rng, home),
        "hukou_div": _div(home, rng),
        "hukou_police": rng.choice(UNITS),
        "residence_div": _div(region, rng),
        "residence_police": rng.choice(UNITS),
        "community": rng.choice(COMMUNITIES),
        "community_code": _div(region, rng),
        "grid": f"第{rng.randrange(1, 12)}网格",
        "grid_worker": _name(rng),
        "community_officer": _name(rng),
        "social_worker": _name(rng),
        "is_inflow": inflow,
        "driving_license": {"class": rng.choice(("C1", "C2", "B2", "A2")),
                            "issued": _day_between(rng, add_years(birth, 18), today).isoformat(),
                            "status": rng.choice(("正常", "已注销", "已吊销"))},
        "special_diseases": rng.sample(("精神病史", "艾滋病", "残疾", "癌症"), rng.choice((0, 0, 0, 1))),
        "has_drug_crime_record": rng.random() < 0.1,
        "family_hardship": rng.sample(("亲属重病", "子女年幼", "父母年迈无人照顾"), rng.choice((0, 0, 1))),
        "family_members": [{"name": _name(rng), "relation": rng.choice(("母亲", "父亲", "配偶", "兄弟")),
                            "phone": _phone(rng)}],
        "seizing_unit": rng.choice(UNITS),
        "use_method": rng.choice(("烫吸", "注射", "口服", "鼻吸")),
        "relapse_count": rng.randrange(0, 3),
        "source": "流入" if inflow else "登记在册",
        "record_flags": [],
        "notes": "合成测试数据",
    })
    if p["political_status"] == "中共党员":
        p["party_branch"] = f"{rng.choice(COMMUNITIES)}党支部"
    if inflow:
        p["residence_registered"] = rng.choice(("已办理居住证", "已登记", "未登记"))
        p["inflow_date"] = _day_between(rng, max(seized, add_years(today, -5)), today).isoformat()
        p["inflow_reason"] = rng.choice(("务工", "投亲", "经商"))
    return p


def entries(rng: random.Random, profile: dict, *, today: date, n: int = 5) -> list[dict]:
    """``n`` entries in a consistent timeline: the 查获, sequential status periods, then visits and tests."""
    seized = as_date(profile.get("first_seized_date")) or add_years(today, -3)
    out: list[dict] = [{"type": "drug_event", "date": seized.isoformat(), "event_type": "查获",
                        "drugs": list(profile.get("drug_types") or ["冰毒"]),
                        "handling": "行政拘留" if profile.get("addiction") == "未成瘾" else "社区戒毒"}]
    cursor = seized
    if profile.get("addiction") != "未成瘾" and n >= 2:
        cursor = _measure_periods(rng, out, seized, today, budget=max(1, min(3, (n - 1) // 2)))
    died = None
    if n >= 3 and rng.random() < 0.02:
        died = _day_between(rng, min(cursor, today), today)
        out.append({"type": "status", "axis": "presence", "status": "死亡", "start": died.isoformat(),
                    "date": died.isoformat()})
    last = died or today
    while len(out) < n:
        d = _day_between(rng, seized, last)
        out.append(_routine(rng, d, today))
    out.sort(key=lambda e: e["date"])
    return out[:n] if len(out) > n else out


def _measure_periods(rng, out, seized, today, budget):
    """Back-to-back measure periods within their legal lengths, starting at the 查获."""
    start = seized + timedelta(days=rng.randrange(0, 30))
    for _ in range(budget):
        if start > today:
            break
        status = rng.choice(("社区戒毒", "社区戒毒", "强制隔离戒毒", "社区康复", "自愿戒毒"))
        years = 2 if status == "强制隔离戒毒" else (1 if status == "自愿戒毒" else 3)
        end = add_years(start, years) - timedelta(days=rng.randrange(0, 60))
        e = {"type": "status", "axis": "measure", "status": status, "date": start.isoformat(),
             "start": start.isoformat(), "place": "珠晖区"}
        if end <= today or status != "社区戒毒":
            e["end"] = end.isoformat()
        out.append(e)
        start = end + timedelta(days=rng.randrange(30, 700))
        if "end" not in e:
            break
    return start


def _routine(rng: random.Random, d: date, today: date) -> dict:
    kind = rng.choice(("interview", "interview", "test", "test", "assessment", "assistance", "measure", "agreement"))
    ds = d.isoformat()
    staff = [{"role": r, "name": _name(rng)} for r in rng.sample(STAFF_ROLES, 2)]
    if kind == "interview":
        seen = rng.random() < 0.85
        return {"type": "interview", "date": ds, "method": rng.choice(("敲门见人", "视频见面", "走访亲友")),
                "subject": "本人" if seen else rng.choice(("亲属", "邻居")), "person_seen": seen, "staff": staff,
                "content": "了解近期生活、就业情况，宣讲禁毒法规。", "findings": "情况稳定。"}
    if kind == "test":
        return {"type": "test", "date": ds, "sample": rng.choice(("尿液", "尿液", "毛发")), "method": "现场快检",
                "result": rng.choice(("阴性",) * 12 + ("阳性",)), "testers": [s["name"] for s in staff],
                "institution": rng.choice(UNITS)}
    if kind == "assessment":
        level = rng.choice(("高", "中", "低", "低"))
        return {"type": "assessment", "date": ds, "proposed_level": level, "rationale": "综合评定。",
                "state": "草稿", "next_review": add_months(d, {"高": 1, "中": 3, "低": 6}[level]).isoformat()}
    if kind == "assistance":
        return {"type": "assistance", "date": ds, "assistance_type": rng.choice(("就业安置", "技能培训", "低保", "心理辅导")),
                "provider": "街道社会事务办", "content": "落实帮扶措施。"}
    if kind == "measure":
        return {"type": "measure", "date": ds, "start": ds, "level": rng.choice(("高", "中", "低")),
                "responsibles": staff, "visit_freq_days": rng.choice((30, 90, 180)),
                "test_freq_days": rng.choice((30, 90, 180)), "measures": ["定期见面", "定期检测"],
                "filed_with": rng.choice(("区禁毒办", "街道"))}
    return {"type": "agreement", "date": ds, "signed": ds, "agreement_type": rng.choice(("社区戒毒协议", "担保书")),
            "parties": ["本人", "街道办事处"]}
