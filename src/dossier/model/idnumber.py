"""公民身份号码 (GB 11643-1999): 6-digit region + 8-digit birth date + 3-digit sequence
+ ISO 7064 MOD 11-2 check character.

Region codes change (districts merge and split), so an unknown county code is only
a warning; an unknown province code is refused.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from dossier.errors import InvalidInput

FIELD = "id_number"
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# GB/T 2260 province-level codes (first two digits).
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}

# A small table of county-level codes the project meets; anything else only warns.
COUNTIES: dict[str, str] = {
    "110101": "北京市东城区", "110102": "北京市西城区", "110105": "北京市朝阳区", "110108": "北京市海淀区",
    "310101": "上海市黄浦区", "310104": "上海市徐汇区", "320102": "南京市玄武区", "330106": "杭州市西湖区",
    "330302": "温州市鹿城区", "430102": "长沙市芙蓉区", "430103": "长沙市天心区", "430104": "长沙市岳麓区",
    "430405": "衡阳市珠晖区", "430406": "衡阳市雁峰区", "430407": "衡阳市石鼓区", "430408": "衡阳市蒸湘区",
    "430412": "衡阳市南岳区", "430421": "衡阳县", "430422": "衡南县", "431202": "怀化市鹤城区",
    "440103": "广州市荔湾区", "440106": "广州市天河区", "440304": "深圳市福田区", "440524": "汕头市潮阳县（旧）",
    "450102": "南宁市兴宁区", "500101": "重庆市万州区", "500103": "重庆市渝中区", "500151": "重庆市铜梁区",
    "510104": "成都市锦江区", "520102": "贵阳市南明区", "530102": "昆明市五华区", "530103": "昆明市盘龙区",
    "640104": "银川市兴庆区", "650102": "乌鲁木齐市天山区",
}

# GB 11643's own test vector 440524188001010014 is born 1880, so the hard floor is 1800;
# births before 1900 (DOMAIN §9 rule 1) are only a warning in normalize_profile.
MIN_BIRTH = date(1800, 1, 1)
PLAUSIBLE_BIRTH = date(1900, 1, 1)

_SHAPE = re.compile(r"^\d{17}[\dX]$")


def normalize(value) -> str:
    """Full-width → half-width, whitespace and hyphens removed, x → X."""
    text = unicodedata.normalize("NFKC", str(value))
    return re.sub(r"[\s\-]+", "", text).upper()


def check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def province_code(number: str) -> str:
    # 2023 外国人永久居留身份证: leading 9, then the province code
    return number[1:3] if number.startswith("9") else number[:2]


def validate_id_number(value: str, *, today: date) -> str:
    """The normalised number, or InvalidInput(field="id_number") saying what is wrong."""
    if value is None or isinstance(value, (bool, dict, list)):
        raise InvalidInput(field=FIELD, reason="必填，应为18位公民身份号码")
    number = normalize(value)
    if re.fullmatch(r"\d{15}", number):
        raise InvalidInput(field=FIELD, reason="15位旧身份证号码已停用，请换用18位号码")
    if len(number) != 18:
        raise InvalidInput(field=FIELD, reason=f"应为18位，实际{len(number)}位")
    if not _SHAPE.match(number):
        raise InvalidInput(field=FIELD, reason="前17位应为数字，末位为数字或X")
    if province_code(number) not in PROVINCES:
        raise InvalidInput(field=FIELD, reason=f"地址码前两位“{province_code(number)}”不是有效的省级代码")
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise InvalidInput(field=FIELD, reason=f"出生日期码“{number[6:14]}”不是真实日期") from None
    if born < MIN_BIRTH:
        raise InvalidInput(field=FIELD, reason=f"出生日期 {born.isoformat()} 早于{MIN_BIRTH.year}年")
    if born > today:
        raise InvalidInput(field=FIELD, reason=f"出生日期 {born.isoformat()} 晚于今天")
    expected = check_char(number[:17])
    if number[17] != expected:
        raise InvalidInput(field=FIELD, reason="校验码不符（GB 11643 MOD 11-2），请核对号码是否抄错")
    return number


def birth_date(id_number) -> date:
    n = normalize(id_number)
    return date(int(n[6:10]), int(n[10:12]), int(n[12:14]))


def gender(id_number) -> str:
    """Sequence code odd → 男, even → 女."""
    return "男" if int(normalize(id_number)[16]) % 2 else "女"


def region_code(id_number) -> str:
    return normalize(id_number)[:6]


def county_known(code6) -> bool:
    return str(code6)[:6] in COUNTIES


def county_name(code6) -> str | None:
    return COUNTIES.get(str(code6)[:6])


def make_id_number(region6: str, birth: date, seq3: int) -> str:
    """A checksum-valid number (for synthetic data only)."""
    if not re.fullmatch(r"\d{6}", region6):
        raise ValueError(f"region must be 6 digits: {region6!r}")
    if not 0 <= seq3 <= 999:
        raise ValueError(f"sequence must be 0..999: {seq3}")
    first17 = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return first17 + check_char(first17)
