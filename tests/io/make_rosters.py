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
    add(p, cells={"性别": None, "户籍地": "湖南省衡阳市珠晖区　东风路１２号"})
    p["hukou_address"] = "湖南省衡阳市珠晖区 东风路12号"
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


def generate(out: Path = OUT) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    rows, expected = messy_rows(random.Random(20240301))
    write_xlsx(rows, out / "messy_roster.xlsx")
    write_csv(rows, out / "messy_roster_gb18030.csv", "gb18030")
    write_csv(rows, out / "messy_roster_utf8.csv", "utf-8-sig")
    write_xls(rows, out / "messy_roster.xls")
    (out / "messy_roster.expected.json").write_text(
        json.dumps(expected, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return expected


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[1] / "src"))
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
    print(f"written to {OUT}")
