"""A table of query → expected persons on a handmade corpus (synthetic values)."""

from __future__ import annotations

import pytest

from dossier.crypto.aead import new_key
from dossier.errors import InvalidInput
from dossier.index.documents import clerk_doc, inspect_doc
from dossier.index.query import parse, parse_dates

from index_corpus import SCOPE, TODAY

PEOPLE = {
    "A": {"name": "张三丰", "id_number": "11010519491231002X", "phone": "13800001234",
          "residence_address": "湖南省衡阳市珠晖区粤汉街道苗圃社区幸福路12号3栋", "alias": "阿丰",
          "notes": "在物流公司做搬运，与母亲同住"},
    "B": {"name": "欧阳明月", "id_number": "440524188001010014", "phone": "0734-8123456",
          "residence_address": "湖南省衡阳市珠晖区粤汉街道东风社区建设路8号"},
    "C": {"name": "买买提·艾力", "id_number": "53010219200508011X", "phone": "13912345678",
          "residence_address": "云南省昆明市五华区和平村3组15号"},
    "D": {"name": "李张三", "id_number": "430405199001011233", "phone": "15000005555",
          "residence_address": "湖南省衡阳市珠晖区苗圃社区人民路1号"},
}
ENTRIES = {
    "A": [{"type": "status", "axis": "measure", "status": "社区康复", "start": "2024-02-01", "date": "2024-02-01"},
          {"type": "assessment", "date": "2024-03-05", "proposed_level": "高", "rationale": "多次拒绝检测"},
          {"type": "interview", "date": "2024-03-10", "content": "谈话中称近期在外地务工", "findings": "本人在家"}],
    "B": [{"type": "status", "axis": "measure", "status": "社区戒毒", "start": "2023-05-01", "date": "2023-05-01"},
          {"type": "assessment", "date": "2023-06-01", "proposed_level": "低"}],
    "C": [{"type": "test", "date": "2024-01-15", "sample": "尿液", "result": "阴性"}],
    "D": [],
}

TABLE = [
    ("张三丰", ["A"]),                  # exact name
    ("张三", ["A", "D"]),               # fragment (in 张三丰 and 李张三)
    ("张丰", ["A"]),                    # any two characters, in order
    ("三丰", ["A"]),
    ("欧阳", ["B"]),
    ("明月", ["B"]),
    ("买买提·艾力", ["C"]),
    ("买买提•艾力", ["C"]),             # another middle dot
    ("艾力", ["C"]),
    ("11010519491231002x", ["A"]),      # lower-case x
    ("１１０１０５１９４９１２３１００２Ｘ", ["A"]),  # full-width
    ("31002X", ["A"]),                  # ID last 6
    ("002X", ["A"]),                    # ID last 4
    ("1234", ["A"]),                    # phone last 4
    ("５６７８", ["C"]),                # phone last 4, full-width
    ("138 0000 1234", ["A", ]),         # spaces inside a phone split into terms: still A
    ("phone:13800001234", ["A"]),
    ("0734-8123456", ["B"]),            # landline
    ("苗圃社区", ["A", "B", "C", "D"]),   # all are in the 苗圃社区 scope
    ("建设路", ["B"]),
    ("幸福路12号", ["A"]),
    ('"幸福路 12号"', ["A"]),
    ("12号", ["A"]),
    ("物流", ["A"]),
    ("外地务工", ["A"]),
    ("阿丰", ["A"]),                    # alias
    ("status:社区康复", ["A"]),
    ("状态：社区戒毒", ["B"]),          # Chinese field name, full-width colon
    ("risk:高", ["A"]),
    ("risk:高风险", ["A"]),
    ("risk:低 status:社区戒毒", ["B"]),
    ("date:2024-01-01..2024-03-31", ["A", "C"]),
    ("date:2024-03", ["A"]),
    ("date:..2023-12-31", ["B"]),
    ("张三 date:2024-03-01..2024-03-31", ["A"]),
    ("scope:苗圃社区", ["A", "B", "C", "D"]),
    ("scope:粤汉街道/苗圃社区", ["A", "B", "C", "D"]),
    ("scope:东风社区", []),
    ("张三 苗圃", ["A", "D"]),
    ("张三 物流", ["A"]),
    ("name:张三丰", ["A"]),
    ("id:1234", []),                    # 1234 is A's phone, not an ID suffix
    ("王五", []),
]


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, make_index):
    root = tmp_path_factory.mktemp("table")
    fk, bk = new_key(), new_key()
    clerk = make_index(root, "clerk", fk, ("t", "1"))
    insp = make_index(root, "inspect", fk, ("t", "1"), bk)
    docs, idocs = [], []
    for key, prof in PEOPLE.items():
        state = {"profile": prof, "entries": ENTRIES[key]}
        docs.append(clerk_doc(key, f"AN-{key}", SCOPE, 1, state, TODAY))
        idocs.append(inspect_doc(key, f"AN-{key}", SCOPE, 1, state, TODAY, bk))
    clerk.rebuild(docs)
    insp.rebuild(idocs)
    return clerk, insp


@pytest.mark.parametrize("query,expected", TABLE, ids=[q for q, _ in TABLE])
def test_clerk_table(indexes, query, expected):
    clerk, _ = indexes
    assert sorted(h.id for h in clerk.search(parse(query), limit=50)) == sorted(expected)


INSPECT_TABLE = [
    ("张三丰", ["A"]),
    ("11010519491231002X", ["A"]),
    ("１１０１０５１９４９１２３１００２ｘ", ["A"]),
    ("买买提·艾力", ["C"]),
    ("name:欧阳明月", ["B"]),
    ("id:440524188001010014", ["B"]),
    ("AN-B", ["B"]),                     # exact 档号
    ("status:社区康复", ["A"]),
    ("risk:低", ["B"]),
    ("date:2024-01-01..2024-03-31", ["A", "C"]),
    # no fragments, prefixes, wildcards, suffixes, phones, addresses or text
    ("张三", []), ("张*", []), ("张三*", []), ("张?丰", []), ("*三丰", []), ("name:张*", []),
    ("110105*", []), ("11010519491231002*", []), ("31002X", []), ("002X", []), ("1234", []),
    ("13800001234", []), ("phone:13800001234", []), ("苗圃社区", []), ("物流", []), ("阿丰", []),
    ("id:110105", []), ("张三丰~", []),
]


@pytest.mark.parametrize("query,expected", INSPECT_TABLE, ids=[q for q, _ in INSPECT_TABLE])
def test_inspector_table(indexes, query, expected):
    _, insp = indexes
    hits = insp.search(parse(query), limit=50)
    assert sorted(h.id for h in hits) == sorted(expected)
    for h in hits:
        prof = PEOPLE[h.id]
        blob = repr(h.data)
        for k in ("name", "id_number", "phone", "residence_address"):
            assert prof[k] not in blob


def test_snippet_highlights_the_match(indexes):
    clerk, _ = indexes
    (hit,) = clerk.search(parse("物流"), limit=5)
    assert "【物流】" in hit.snippet and "，" in hit.snippet


@pytest.mark.parametrize("bad", ["date:2024-13-01", "date:yesterday", "date:2024-03-01..2024-01-01", "date:.."])
def test_bad_dates_are_refused(bad):
    with pytest.raises(InvalidInput):
        parse(bad)


def test_date_forms():
    assert parse_dates("2024-02") == (20240201, 20240229)
    assert parse_dates("2024") == (20240101, 20241231)
    assert parse_dates("2024/1/5..") == (20240105, None)


def test_empty_query_is_refused(indexes):
    clerk, _ = indexes
    with pytest.raises(InvalidInput):
        clerk.search(parse("   "), limit=5)
