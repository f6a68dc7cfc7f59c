import json
import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dossier import synth
from dossier.disclose.masking import mask_address, mask_id_number, mask_name, mask_phone, mask_profile
from dossier.model.idnumber import make_id_number
from dossier.model.person import normalize_profile

TODAY = date(2024, 6, 1)


@pytest.mark.parametrize("name, masked", [("张三", "张*"), ("段正淳", "段*淳"), ("欧阳娜娜", "欧**娜"),
                                          ("阿依古丽·买买提", "阿******提"), ("王", "*"), ("", ""), (None, "")])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("v, style, masked", [
    ("430405198501010014", "inspect", "430405********0014"),
    ("51343620000320711X", "external", "5***************1X"),
    ("51343620000320711x", "external", "5***************1X"),
    ("11010519491231002X", "inspect", "110105********002X"),
    ("1234", "inspect", "****"),
])
def test_mask_id_number(v, style, masked):
    assert mask_id_number(v, style) == masked


def test_mask_id_number_unknown_style():
    with pytest.raises(ValueError):
        mask_id_number("11010519491231002X", "loose")


@pytest.mark.parametrize("v, masked", [("18049531999", "180****1999"), ("13800001234", "138****1234"),
                                       ("+8613800001234", "138****1234"), ("138-0000-1234", "138****1234"),
                                       ("09157654379", "0915*****79"), ("0734-8123456", "0734*****56"),
                                       ("110", "***")])
def test_mask_phone(v, masked):
    assert mask_phone(v) == masked


@pytest.mark.parametrize("v, masked", [
    ("湖南省衡阳市珠晖区粤汉街道苗圃社区建设路12号3栋201室", "湖南省衡阳市珠晖区粤汉街道苗圃社区***"),
    ("少云镇新华村3组15号", "少云镇新华村***"),
    ("某镇江村社区5栋", "某镇江村社区***"),
    ("粤汉街道和平居委会东风路5号", "粤汉街道和平居委会***"),
    ("少云镇新村路8号", "少云镇***"),                        # 新村路 is a road, not a 村
    ("衡阳市珠晖区东风路5号", "衡阳市珠晖区***"),
    ("苗圃社区", "苗圃社区"),
    ("", ""),
])
def test_mask_address(v, masked):
    assert mask_address(v) == masked


def full_profile(seed=1):
    raw = synth.person(random.Random(seed), today=TODAY, full=True)
    return normalize_profile(raw, today=TODAY)[0]


def test_mask_profile_masks_pii_and_drops_sensitive():
    p = full_profile()
    p["special_diseases"] = ["艾滋病"]
    p["photo"] = "blob:abc"
    m = mask_profile(p)
    assert m["name"] == mask_name(p["name"])
    assert m["id_number"] == mask_id_number(p["id_number"])
    assert m["phone"] == mask_phone(p["phone"])
    assert m["hukou_address"] == mask_address(p["hukou_address"])
    assert m["birth_date"] == p["birth_date"][:4] + "年"
    assert "special_diseases" not in m and "photo" not in m and "notes" not in m
    assert m["family_members"][0]["name"] == mask_name(p["family_members"][0]["name"])
    assert m["family_members"][0]["relation"] == p["family_members"][0]["relation"]
    assert m["drug_types"] == p["drug_types"] and m["gender"] == p["gender"]
    assert mask_profile(p, "external")["id_number"] == mask_id_number(p["id_number"], "external")
    assert p["name"] != m["name"]   # the input is not modified


def test_keep_leaves_fields_in_clear():
    p = full_profile(2)
    m = mask_profile(p, keep={"name", "notes"})
    assert m["name"] == p["name"] and m["notes"] == p["notes"]
    assert m["id_number"] != p["id_number"]


GIVEN_CHARS = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力宁云飞鹏志海波"
names_st = st.text(alphabet="王李张刘陈杨黄赵吴周欧阳司马" + GIVEN_CHARS, min_size=2, max_size=6)
phones_st = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
ids_st = st.builds(lambda region, days, seq: make_id_number(region, date(1940, 1, 1).fromordinal(
    date(1940, 1, 1).toordinal() + days), seq), st.sampled_from(["430405", "500151", "110105", "530102"]),
    st.integers(0, 25000), st.integers(0, 999))


@settings(max_examples=300, deadline=None)
@given(name=names_st, phone=phones_st, id_number=ids_st, style=st.sampled_from(["inspect", "external"]),
       seed=st.integers(0, 10_000))
def test_masked_profile_never_contains_full_values(name, phone, id_number, style, seed):
    p = full_profile(seed)
    p.update(name=name, phone=phone, id_number=id_number, alias=name, grid_worker=name)
    p["family_members"] = [{"name": name, "phone": phone, "relation": "母亲"}]
    text = json.dumps(mask_profile(p, style), ensure_ascii=False)
    assert name not in text
    assert id_number not in text
    assert phone not in text


# without the mask character itself: "0*" masks to "0*", which reveals only what masking keeps
@given(st.text(alphabet=st.characters(exclude_characters="*"), min_size=2, max_size=30))
def test_mask_functions_never_return_input_of_two_or_more_chars(v):
    v = v.strip()
    if len(v) >= 2:
        assert v not in mask_name(v)
        assert v not in mask_phone(v) or len(v) < 2
        assert v not in mask_id_number(v)
