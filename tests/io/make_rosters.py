"""Generate the synthetic roster fixtures in tests/fixtures/rosters/.

    python tests/io/make_rosters.py

Everything here is invented: names from short lists, ID numbers built with
the GB 11643 check character (``make_id_number``), addresses in a made-up
numbering. The messy roster carries every problem issue 3 lists; the bad
cells it seeds are written to ``messy_roster.expected.json`` so the tests
compare against the generator's own record, not a hand-kept copy.

The .xls copy needs ``xlwt`` (not a project dependency); it is written only
when xlwt is importable, and the committed file is used otherwise.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "fixtures" / "rosters"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕鹏飞文俊"
STREETS = ("东风路", "建设路", "解放路", "人民路", "衡州大道", "江东路", "湘江路", "苗圃路")
COMMUNITIES = ("苗圃社区", "粤汉社区", "东阳渡社区")
POLICE = ("粤汉派出所", "苗圃派出所", "东阳派出所")
FW = str.maketrans("0123456789", "０１２３４５６７８９")


def make_id(rng: random.Random, *, female: bool | None = None) -> str:
    from dossier.model.idnumber import make_id_number

    born = dt.date(1965, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 35))
    seq = rng.randrange(0, 500) * 2 + (0 if female else 1) if female is not None else rng.randrange(0, 999)
    return make_id_number("430405", born, seq)


def person(rng: random.Random, i: int) -> dict:
    idn = make_id(rng)
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))),
        "id_number": idn,
        "gender": "男" if int(idn[16]) % 2 else "女",
        "hukou_address": f"湖南省衡阳市珠晖区{rng.choice(STREETS)}{rng.randrange(1, 300)}号",
        "residence_address": f"珠晖区粤汉街道{rng.choice(COMMUNITIES)}{rng.choice(STREETS)}"
                             f"{rng.randrange(1, 300)}号{rng.randrange(1, 8)}栋{rng.randrange(101, 702)}室",
        "phone": f"1{rng.choice('3589')}{rng.randrange(0, 10**9):09d}",
        "residence_police": rng.choice(POLICE),
        "first_seized_date": dt.date(2005, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 15)),
        "community": rng.choice(COMMUNITIES),
    }


HEADERS = ["序号", "姓　名", "性别", "身份证号码*", "户籍地", "现居住地址", "手机", "列管派出所",
           "首次查获日期", "当前状态", "备注", "社区（村）"]
COL = {h: chr(ord("A") + i) for i, h in enumerate(HEADERS)}
TITLE = "珠晖区粤汉街道登记在册吸毒人员名册（虚构测试数据）"
NOTE = "填报说明：身份证号一列请设为文本格式；日期写作 2019-05-06。　填报单位：苗圃社区"
HEADER_ROW = 4


def messy_rows(rng: random.Random):
    """(rows, expected): rows are dicts of header → cell value (Python types as
    openpyxl writes them); expected lists the seeded bad cells and the good
    rows' cleaned values."""
    rows, bad, good = [], [], []

    def add(p, *, cells=None, ok=True, bad_cols=(), status="社区康复", note=""):
        cells = cells or {}
        row = {
            "姓　名": p["name"], "性别": p["gender"], "身份证号码*": p["id_number"],
            "户籍地": p["hukou_address"], "现居住地址": p["residence_address"], "手机": p["phone"],
            "列管派出所": p["residence_police"], "首次查获日期": p["first_seized_date"].isoformat(),
            "当前状态": status, "备注": note, "社区（村）": p["community"],
        }
        row.update(cells)
        rows.append(row)
        excel_row = HEADER_ROW + len(rows)
        row["序号"] = len(rows)
        for h in bad_cols:
            bad.append({"row": excel_row, "column": h, "cell": f"{COL[h]}{excel_row}"})
        if ok:
            good.append({"row": excel_row, **{k: (v.isoformat() if isinstance(v, dt.date) else v)
                                              for k, v in p.items()}})
        return excel_row

    seized = dt.date(2019, 5, 6)
    # ---- good rows, each with one of the messy-but-valid forms
    p = person(rng, 1); p["first_seized_date"] = seized
    add(p, cells={"姓　名": f" {p['name'][0]} {p['name'][1:]}　", "身份证号码*": p["id_number"].translate(FW),
                  "首次查获日期": "2019.5.6", "手机": f"{p['phone'][:3]} {p['phone'][3:7]} {p['phone'][7:]}"})
    p = person(rng, 2); p["first_seized_date"] = seized
    while not p["id_number"].endswith("X"):
        p = person(rng, 2); p["first_seized_date"] = seized
    dup_of = p
    add(p, cells={"身份证号码*": p["id_number"].lower(), "首次查获日期": "2019年5月6日"})
    p = person(rng, 3); p["first_seized_date"] = seized
    add(p, cells={"首次查获日期": 20190506, "手机": p["phone"].translate(FW)})
    p = person(rng, 4); p["first_seized_date"] = seized
    add(p, cells={"首次查获日期": "2019/05/06", "列管派出所": f" {p['residence_police']} "})
    p = person(rng, 5); p["first_seized_date"] = seized
    add(p, cells={"首次查获日期": dt.datetime(2019, 5, 6)})
    p = person(rng, 6)
    p["hukou_address"] = "湖南省衡阳市珠晖区 东风路12号"
    add(p, cells={"性别": None, "户籍地": "湖南省衡阳市珠晖区　东风路１２号"})
    # ---- bad rows, one seeded problem each
    p = person(rng, 7)
    add(p, cells={"身份证号码*": float(int(p["id_number"][:17] + "0"))}, ok=False, bad_cols=["身份证号码*"])
    p = person(rng, 8)
    wrong = p["id_number"][:17] + ("1" if p["id_number"][17] != "1" else "2")
    add(p, cells={"身份证号码*": wrong}, ok=False, bad_cols=["身份证号码*"])
    p = person(rng, 9)
    add(p, cells={"首次查获日期": "2019.13.45"}, ok=False, bad_cols=["首次查获日期"])
    p = person(rng, 10)
    add(p, cells={"手机": "12345"}, ok=False, bad_cols=["手机"])
    p = person(rng, 11)
    add(p, cells={"性别": "女" if p["gender"] == "男" else "男"}, ok=False, bad_cols=["性别"])
    p = person(rng, 12)
    add(p, cells={"姓　名": "  "}, ok=False, bad_cols=["姓　名"])
    add(dup_of, cells={"身份证号码*": dup_of["id_number"].lower(), "首次查获日期": "2019年5月6日"},
        ok=False, bad_cols=["身份证号码*"])
    p = person(rng, 13)
    add(p, cells={"身份证号码*": "4.30405E+17"}, ok=False, bad_cols=["身份证号码*"])
    p = person(rng, 14)
    add(p, cells={"首次查获日期": "2099-01-01"}, ok=False, bad_cols=["首次查获日期"])
    return rows, {"header_row": HEADER_ROW, "bad": bad, "good": good}


def write_xlsx(rows, path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "名册"
    ws["A1"] = TITLE
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADERS))
    ws["A2"] = NOTE
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(HEADERS))
    for j, h in enumerate(HEADERS, start=1):
        ws.cell(HEADER_ROW, j, h)
    for i, row in enumerate(rows, start=HEADER_ROW + 1):
        for j, h in enumerate(HEADERS, start=1):
            v = row.get(h)
            if v is None or v == "":
                continue
            c = ws.cell(i, j, v)
            if isinstance(v, dt.datetime):
                c.number_format = "yyyy-mm-dd"
    notes = wb.create_sheet("说明")
    notes["A1"] = "本工作簿为虚构测试数据"
    wb.save(path)


def write_csv(rows, path: Path, encoding: str) -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow([TITLE])
        w.writerow([NOTE])
        w.writerow([])
        w.writerow(HEADERS)
        for row in rows:
            out = []
            for h in HEADERS:
                v = row.get(h)
                if isinstance(v, dt.datetime):
                    v = v.strftime("%Y/%m/%d")
                elif isinstance(v, float):
                    v = f"{v:.5E}".replace("E+", "E+")   # what Excel shows for a long number
                out.append("" if v is None else v)
            w.writerow(out)


def write_xls(rows, path: Path) -> bool:
    try:
        import xlwt
    except ImportError:
        return False
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("名册")
    ws.write_merge(0, 0, 0, len(HEADERS) - 1, TITLE)
    ws.write_merge(1, 1, 0, len(HEADERS) - 1, NOTE)
    date_style = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for j, h in enumerate(HEADERS):
        ws.write(HEADER_ROW - 1, j, h)
    for i, row in enumerate(rows, start=HEADER_ROW):
        for j, h in enumerate(HEADERS):
            v = row.get(h)
            if v is None or v == "":
                continue
            if isinstance(v, dt.datetime):
                ws.write(i, j, v, date_style)
            else:
                ws.write(i, j, v)
    wb.save(str(path))
    return True


# ---------------------------------------------------------------- compare pair

PAIR_SCOPE = "珠晖区/粤汉街道"
PLATFORM_HEADERS = ["序号", "姓名", "身份证号", "性别", "户籍地址", "现居住地址", "联系电话", "列管单位",
                    "人员状态", "管控地区"]


def compare_pair(rng: random.Random, n: int = 12):
    """A roster to import, a filled 状态变更 sheet for it, and a platform export
    that differs from them in exactly the seeded ways (plus harmless cosmetic
    differences that must not be reported)."""
    people = [person(rng, i) for i in range(n)]
    for p in people:
        p["community"] = "苗圃社区"
    statuses = {p["id_number"]: ("社区康复" if i % 2 else "社区戒毒") for i, p in enumerate(people)}
    starts = {p["id_number"]: dt.date(2023, 1 + i % 12, 10) for i, p in enumerate(people)}
    roster = [{"姓名": p["name"], "公民身份号码": p["id_number"], "户籍地址": p["hukou_address"],
               "现住址": p["residence_address"], "联系电话": p["phone"], "列管派出所": p["residence_police"],
               "社区（村）": p["community"]} for p in people]
    status_rows = [{"*公民身份号码": p["id_number"], "姓名": p["name"], "*状态": statuses[p["id_number"]],
                    "开始日期": starts[p["id_number"]]} for p in people]
    platform, seeded = [], {"only_platform": [], "only_archive": [], "status": [], "address": [],
                            "police": [], "phone": []}
    for i, p in enumerate(people):
        row = {"姓名": p["name"], "身份证号": p["id_number"], "性别": p["gender"],
               "户籍地址": p["hukou_address"], "现居住地址": p["residence_address"], "联系电话": p["phone"],
               "列管单位": p["residence_police"], "人员状态": statuses[p["id_number"]] + "中",
               "管控地区": "珠晖区"}
        idn = p["id_number"]
        if i == 0:
            seeded["only_archive"].append(idn)
            continue
        if i == 1:
            row["人员状态"] = "强制隔离戒毒"
            seeded["status"].append(idn)
        if i == 2:
            row["现居住地址"] = "珠晖区粤汉街道粤汉社区新村路9号"
            seeded["address"].append(idn)
        if i == 3:
            row["列管单位"] = "茶山坳派出所"
            seeded["police"].append(idn)
        if i == 4:
            row["联系电话"] = "13900000000" if p["phone"] != "13900000000" else "13900000001"
            seeded["phone"].append(idn)
        if i == 5:   # cosmetic only: full-width digits, spaces, a status without 中
            row["联系电话"] = p["phone"].translate(FW)
            row["户籍地址"] = " " + p["hukou_address"].replace("区", "区 ", 1)
            row["人员状态"] = statuses[idn]
        if i == 6:   # cosmetic: the platform's alias for the status
            row["人员状态"] = {"社区康复": "社康", "社区戒毒": "社戒"}[statuses[idn]]
        if i == 7:   # two seeded differences on one person
            row["户籍地址"] = "湖南省衡阳市珠晖区衡州大道1号"
            row["联系电话"] = "0734-8123456"
            seeded["address"].append(idn)
            seeded["phone"].append(idn)
        platform.append(row)
    extra = person(rng, 99)
    platform.append({"姓名": extra["name"], "身份证号": extra["id_number"], "性别": extra["gender"],
                     "户籍地址": extra["hukou_address"], "现居住地址": extra["residence_address"],
                     "联系电话": extra["phone"], "列管单位": extra["residence_police"],
                     "人员状态": "社区戒毒中", "管控地区": "珠晖区"})
    seeded["only_platform"].append(extra["id_number"])
    return roster, status_rows, platform, seeded


def write_table(path: Path, headers, rows) -> Path:
    """A plain sheet: one header row, then ``rows`` (lists, in header order)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(headers))
    for r in rows:
        ws.append(list(r))
    wb.save(path)
    return path


def _simple_xlsx(rows, headers, path: Path, title: str | None = None, sheet: str = "Sheet1",
                 text_cols=()) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    start = 1
    if title:
        ws["A1"] = title
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        start = 2
    for j, h in enumerate(headers, start=1):
        ws.cell(start, j, h)
    for i, row in enumerate(rows, start=start + 1):
        for j, h in enumerate(headers, start=1):
            v = row.get(h)
            if v is not None:
                c = ws.cell(i, j, v)
                if h in text_cols:
                    c.number_format = "@"
                if isinstance(v, dt.date):
                    c.number_format = "yyyy-mm-dd"
    wb.save(path)


def write_pair(out: Path) -> dict:
    roster, status_rows, platform, seeded = compare_pair(random.Random(20240615))
    _simple_xlsx(roster, list(roster[0]), out / "pair_roster.xlsx", title="苗圃社区名册（虚构）", sheet="名册")
    _simple_xlsx(status_rows, list(status_rows[0]), out / "pair_status.xlsx", sheet="状态变更登记")
    _simple_xlsx([{**r, "序号": i} for i, r in enumerate(platform, start=1)], PLATFORM_HEADERS,
                 out / "pair_platform.xlsx", title="一体化平台导出（虚构）", sheet="导出数据",
                 text_cols=("身份证号",))
    (out / "pair.expected.json").write_text(json.dumps(seeded, ensure_ascii=False, indent=1), encoding="utf-8")
    return seeded


def generate(out: Path = OUT) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rows, expected = messy_rows(random.Random(20240301))
    write_xlsx(rows, out / "messy_roster.xlsx")
    write_csv(rows, out / "messy_roster_gb18030.csv", "gb18030")
    write_csv(rows, out / "messy_roster_utf8.csv", "utf-8-sig")
    write_xls(rows, out / "messy_roster.xls")
    write_pair(out)
    (out / "messy_roster.expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return expected


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"written to {OUT}")
