"""Find the header row of a sheet and map its columns onto model fields.

Headers are matched, after :func:`~dossier.io.text.header_key` cleaning,
against each field's name, label and aliases (``dossier.model``), then the
header variants offices use (:data:`HEADER_VARIANTS`), then a user mapping
(``--mapping map.yaml``). The header row is the row among the first
:data:`SCAN_ROWS` that names the most fields; titles, notes and merged cells
above it are skipped. A second header row right under it (group headers
such as “户籍地 / 详址”) is merged in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidInput
from .reader import MARKER_SHEET, RawBook, RawSheet
from .text import header_key

SCAN_ROWS = 30

#: Special column targets that are not model fields.
SEQ = "_seq"              # 序号: ignored on import, written on export
STATUS = "_status"        # 当前状态: not a profile field (status is an entry); compared, not imported
IGNORE = "_ignore"
SPECIAL = (SEQ, STATUS)
#: mapping targets that name the status entry's field; on a roster (no such field)
#: they mean the 当前状态 column
_STATUS_TARGETS = (header_key("status"), header_key("状态"))
#: sheets our own workbooks add (template guide, error list, drop-down lists)
SKIP_SHEETS = ("填写说明", "错误清单", "_lists")

#: Header spellings seen in office and platform rosters → field name. Entries
#: whose field does not exist in the model are dropped when the vocabulary is
#: built, so this table may name fields of every entry type.
HEADER_VARIANTS: dict[str, tuple[str, ...]] = {
    SEQ: ("序号", "编号", "行号", "no", "no."),
    "community": ("社区（村）", "社区(村)", "社区", "村（社区）", "村(社区)", "村社", "村社区", "所属社区",
                "所在社区", "社区名称", "村居", "村（居）"),
    "name": ("姓名", "名字", "人员姓名", "吸毒人员姓名", "当事人姓名", "对象姓名"),
    "alias": ("绰号", "别名", "绰号/别名", "绰号别名", "曾用名"),
    "gender": ("性别",),
    "ethnicity": ("民族",),
    "id_number": ("公民身份号码", "身份证号", "身份证号码", "证件号码", "身份证", "公民身份证号码",
                  "公民身份证号", "身份证件号码", "证件号", "身份号码", "居民身份证号码", "身份证编号"),
    "phone": ("联系电话", "手机", "手机号", "手机号码", "电话", "电话号码", "联系方式", "本人电话",
              "本人联系电话"),
    "hukou_address": ("户籍地址", "户籍地", "户籍所在地", "户籍地详址", "户口所在地", "户籍住址",
                      "户籍地址详址", "户籍地详细地址", "户口地址"),
    "residence_address": ("现住址", "现居住地址", "居住地", "现居住地", "居住地址", "现住地址",
                          "实际居住地址", "居住地详址", "现住地", "现居地址", "现居住地详址", "现住地详址"),
    "residence_police": ("列管派出所", "管辖派出所", "居住地派出所", "居住地所属派出所", "现住址派出所",
                         "所属派出所", "列管单位", "管控派出所"),
    "hukou_police": ("户籍地派出所", "户籍派出所", "户籍地所属派出所"),
    "first_seized_date": ("初次查获时间", "首次查获日期", "初次查获日期", "首次查获时间", "初次查获",
                          "首次查获", "查获日期", "查获时间"),
    "seizing_unit": ("查获单位", "初次查获单位", "首次查获单位"),
    "drug_types": ("滥用毒品种类", "毒品种类", "吸食毒品种类", "滥用毒品", "吸食毒品"),
    "use_method": ("吸毒方式", "吸食方式", "使用方式"),
    "addiction": ("成瘾认定", "成瘾认定情况", "成瘾程度"),
    "education": ("文化程度", "学历"),
    "marital": ("婚姻状况", "婚姻"),
    "employment": ("就业情况", "就业", "就业状况"),
    "employer": ("工作单位", "就业单位", "单位"),
    "political_status": ("政治面貌",),
    "birth_date": ("出生日期", "出生年月日", "出生年月"),
    "grid": ("网格", "所属网格", "网格名称"),
    STATUS: ("当前状态", "人员状态", "管控状态", "现状态", "当前管控状况", "管控状况", "人员现状", "管控现状"),
    # entry sheets
    "date": ("日期", "见面日期", "核查日期", "检测日期", "帮扶日期", "变更日期", "开始日期", "排查日期"),
    "method": ("见面方式", "核查方式", "检测方式"),
    "subject": ("谈话对象",),
    "subject_name": ("谈话对象姓名", "对象姓名（谈话）"),
    "relation": ("与本人关系", "关系"),
    "person_seen": ("是否见到本人", "见到本人"),
    "location": ("地点", "见面地点", "检测地点"),
    "content": ("谈话内容", "内容", "帮扶内容"),
    "findings": ("核查情况", "发现情况", "核查结果"),
    "sample": ("样本", "检测样本", "样本类型"),
    "result": ("检测结果", "结果"),
    "report_no": ("报告编号", "检测报告编号", "报告书编号"),
    "institution": ("检测机构", "检测单位"),
    "provider": ("帮扶单位", "救助单位", "提供单位"),
    "outcome": ("帮扶结果", "效果", "救助结果"),
    "notes": ("备注", "说明"),
}


#: Sheet titles of the generated entry templates (Excel forbids “/” in titles).
TEMPLATE_TITLES: dict[str, str] = {
    "interview": "见面核查登记", "test": "检测登记", "assistance": "帮扶救助登记", "status": "状态变更登记",
    "assessment": "风险评估登记", "measure": "管控措施登记", "agreement": "协议登记", "drug_event": "吸毒事件登记",
}


@dataclass
class Schema:
    """What one kind of sheet holds: the person profile or one entry type."""

    kind: str                 # "profile" or an entry type name ("interview", …)
    label: str                # Chinese name (“人员名册”, “见面核查登记” …)
    fields: tuple             # tuple[dossier.model.fields.Field, ...]
    sheet_names: tuple[str, ...] = ()

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None


def profile_schema() -> Schema:
    from ..model.person import PROFILE_FIELDS

    return Schema("profile", "人员名册", tuple(PROFILE_FIELDS),
                  ("名册", "人员名册", "登记通表", "花名册", "人员信息", "吸毒人员排查情况登记通表"))


def entry_schemas() -> list[Schema]:
    """One schema per entry type of the model (ENTRY_TYPES)."""
    from ..model.entries import ENTRY_TYPES

    out = []
    for name, et in ENTRY_TYPES.items():
        fields = tuple(getattr(et, "fields", ()) or ())
        label = getattr(et, "label", None) or name
        aliases = tuple(getattr(et, "aliases", ()) or ())
        titles = (TEMPLATE_TITLES[name],) if name in TEMPLATE_TITLES else ()
        out.append(Schema(name, label, fields, (*titles, label, *aliases)))
    return out


@dataclass
class Column:
    index: int        # 0-based column index
    header: str       # the header text as written in the sheet
    target: str | None  # field name, SEQ, COMMUNITY, or None (not imported)

    @property
    def letter(self) -> str:
        from openpyxl.utils import get_column_letter

        return get_column_letter(self.index + 1)


@dataclass
class Table:
    """A sheet with its header found and columns mapped."""

    sheet: RawSheet
    schema: Schema
    header_row: int                 # Excel row number of the (last) header row
    columns: list[Column]
    rows: list[tuple[int, tuple]]   # data rows: (Excel row number, values)
    unmapped: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.sheet.name

    def column_for(self, target: str) -> Column | None:
        for c in self.columns:
            if c.target == target:
                return c
        return None

    def targets(self) -> set[str]:
        return {c.target for c in self.columns if c.target}


class Vocabulary:
    """Header key → target, for one schema (fields + variants + user mapping)."""

    def __init__(self, schema: Schema, mapping: Mapping[str, str] | None = None, *,
                 person_fields: tuple = ()):
        self.schema = schema
        known = {f.name for f in schema.fields} | {f.name for f in person_fields}
        index: dict[str, str] = {}
        # later sources override earlier ones: variants < model < user mapping
        for target, variants in HEADER_VARIANTS.items():
            if target in known or target in SPECIAL:
                for v in variants:
                    index.setdefault(header_key(v), target)
        for f in (*person_fields, *schema.fields):
            for k in (f.name, f.label, *getattr(f, "aliases", ())):
                index[header_key(k)] = f.name
        for header, target in (mapping or {}).items():
            key = header_key(header)
            if target in (None, "", IGNORE, "ignore", "忽略"):
                index[key] = IGNORE
                continue
            resolved = index.get(header_key(target), target)
            if resolved not in known and header_key(resolved) in _STATUS_TARGETS:
                resolved = STATUS   # a roster's status column: compared, not imported (an entry)
            if resolved in known or resolved in SPECIAL:
                index[key] = resolved
        self.index = index

    def match(self, header) -> str | None:
        key = header_key(header)
        if not key:
            return None
        t = self.index.get(key)
        return None if t == IGNORE else t

    def is_ignored(self, header) -> bool:
        return self.index.get(header_key(header)) == IGNORE


def _row_targets(vocab: Vocabulary, values: tuple) -> dict[int, str]:
    out: dict[int, str] = {}
    seen: set[str] = set()
    for j, v in enumerate(values):
        if not isinstance(v, str):
            continue
        t = vocab.match(v)
        if t and t not in seen:
            out[j] = t
            seen.add(t)
    return out


def locate_header(sheet: RawSheet, vocab: Vocabulary, *, header_row: int | None = None):
    """(index in sheet.rows of the last header row, {col: target}, {col: header text}) or None.

    The chosen row names the most fields (at least two, one of them the ID
    number column); ties go to the upper row.
    """
    best = None
    candidates = sheet.rows[:SCAN_ROWS] if header_row is None else [
        r for r in sheet.rows if r[0] == header_row]
    for i, (rownum, values) in enumerate(candidates):
        targets = _row_targets(vocab, values)
        score = len({t for t in targets.values() if t not in (SEQ,)})
        if "id_number" not in targets.values() or score < 2:
            if header_row is None:
                continue
        if best is None or score > best[0]:
            best = (score, sheet.rows.index((rownum, values)), targets)
    if best is None:
        return None
    _, idx, targets = best
    headers = {j: str(v).strip() for j, v in enumerate(sheet.rows[idx][1])
               if v is not None and str(v).strip()}
    # A second header row right below: sub-headers under merged group headers
    # (户籍地 → 详址 | 派出所). A sub-header is read together with its group
    # (“户籍地”+“派出所” = 户籍地派出所) and then alone.
    if idx + 1 < len(sheet.rows):
        nxt_num, nxt = sheet.rows[idx + 1]
        top = sheet.rows[idx][1]
        key_cols = [j for j, t in targets.items() if t in ("id_number", "name")]
        texts = [(j, str(v).strip()) for j, v in enumerate(nxt) if v is not None and str(v).strip()]
        is_sub = (nxt_num == sheet.rows[idx][0] + 1 and texts
                  and all(j >= len(nxt) or nxt[j] in (None, "") for j in key_cols)
                  and all(isinstance(nxt[j], str) and len(t) <= 12 and not any(ch.isdigit() for ch in t)
                          for j, t in texts))
        if is_sub:
            merged = dict(targets)
            for j, t in texts:
                group = None
                for k in range(min(j, len(top) - 1), -1, -1):
                    if top[k] is not None and str(top[k]).strip():
                        group = str(top[k]).strip()
                        break
                hit = (vocab.match(group + t) if group else None) or vocab.match(t)
                if hit and (hit not in merged.values() or merged.get(j) == hit):
                    merged[j] = hit
                    headers[j] = f"{group}/{t}" if group and j not in targets else t
            if len(merged) > len(targets) or any(merged[j] != targets.get(j) for j in merged):
                targets = merged
                idx += 1
    return idx, targets, headers


def build_table(sheet: RawSheet, schema: Schema, vocab: Vocabulary, *,
                header_row: int | None = None) -> Table | None:
    found = locate_header(sheet, vocab, header_row=header_row)
    if found is None:
        return None
    idx, targets, headers = found
    columns = []
    unmapped = []
    for j in sorted(set(headers) | set(targets)):
        text = headers.get(j, "")
        t = targets.get(j)
        columns.append(Column(j, text, t))
        if t is None and text and not vocab.is_ignored(text):
            unmapped.append(text)
    return Table(sheet, schema, sheet.rows[idx][0], columns, sheet.rows[idx + 1:], unmapped)


def load_mapping(path: str | Path | None) -> dict:
    """Read a ``--mapping`` YAML file.

    Either a flat ``{表头: 字段}`` mapping or::

        columns: {身份证: id_number, 住址: residence_address, 不要的列: null}
        sheet: 名册          # optional
        header_row: 3        # optional, Excel row number
    """
    if path is None:
        return {}
    from ..yamltext import load_yaml, read_text_file

    if not Path(path).is_file():
        raise InvalidInput(f"找不到映射文件：{path}")
    data = load_yaml(read_text_file(path), str(path)) or {}
    if not isinstance(data, dict):
        raise InvalidInput(f"映射文件 {path} 应为“表头: 字段名”的键值对")
    if "columns" in data and isinstance(data["columns"], dict):
        out = {"columns": {str(k): v for k, v in data["columns"].items()}}
        for k in ("sheet", "header_row"):
            if k in data:
                out[k] = data[k]
        return out
    return {"columns": {str(k): v for k, v in data.items()}}


def detect_tables(book: RawBook, *, sheet: str | None = None, mapping: dict | None = None,
                  schemas: list[Schema] | None = None) -> tuple[list[Table], list[str]]:
    """Find every importable table of ``book``.

    Returns (tables, notes); notes say which sheets were skipped and why.
    Raises InvalidInput when nothing importable is found.
    """
    mapping = mapping or {}
    cols = mapping.get("columns") or {}
    sheet = sheet or mapping.get("sheet")
    header_row = mapping.get("header_row")
    if schemas is None:
        schemas = [profile_schema(), *entry_schemas()]
    profile = next((s for s in schemas if s.kind == "profile"), None)
    person_fields = profile.fields if profile else ()
    vocabs = {s.kind: Vocabulary(s, cols, person_fields=() if s.kind == "profile" else
                                 tuple(f for f in person_fields if f.name in ("id_number", "name")))
              for s in schemas}
    _check_mapping(cols, schemas)
    if sheet is not None:
        chosen = [s for s in book.sheets if s.name == sheet]
        if not chosen:
            names = "、".join(s.name for s in book.visible())
            raise InvalidInput(f"工作簿中没有名为“{sheet}”的工作表；现有：{names}")
    else:
        chosen = [s for s in book.visible() if s.name not in SKIP_SHEETS]
    def marked(name: str) -> str | None:
        if f"type:{name}" in book.marker:
            return book.marker[f"type:{name}"]
        return book.marker.get("entry_type") if name == book.marker.get("sheet") else None
    tables, notes = [], []
    for sh in chosen:
        marked_kind = marked(sh.name)
        kinds = _candidate_kinds(sh, schemas, marked_kind)
        best = None
        for kind in kinds:
            schema = next(s for s in schemas if s.kind == kind)
            t = build_table(sh, schema, vocabs[kind], header_row=header_row)
            if t is None:
                continue
            specific = len(t.targets() - {"id_number", "name", *SPECIAL})
            key = (specific, kind == "profile")
            if best is None or key > best[0]:
                best = (key, t)
            if kind == marked_kind or (len(kinds) == 1):
                break
        if best is None:
            notes.append(f"工作表“{sh.name}”：未找到含“公民身份号码”等列的表头行，已跳过")
            continue
        tables.append(best[1])
    if not tables:
        raise InvalidInput(
            f"文件 {book.path.name} 中没有找到表头行：表头须包含“公民身份号码”（或身份证号、证件号码）"
            "和“姓名”等列；表头写法特殊时请用 --mapping 指定列对应关系。")
    return tables, notes


def _check_mapping(cols: Mapping, schemas: list[Schema]) -> None:
    from .text import header_key as hk

    names = {f.name for s in schemas for f in s.fields} | set(SPECIAL)
    spellings = {hk(k): f.name for s in schemas for f in s.fields for k in (f.name, f.label, *f.aliases)}
    for header, target in cols.items():
        if target in (None, "", IGNORE, "ignore", "忽略"):
            continue
        if target not in names and hk(target) not in spellings:
            raise InvalidInput(f"映射文件中“{header}”对应的字段“{target}”不存在；"
                               f"可用字段：{'、'.join(sorted(n for n in names if not n.startswith('_')))}")


def _candidate_kinds(sheet: RawSheet, schemas: list[Schema], marked: str | None) -> list[str]:
    if marked and any(s.kind == marked for s in schemas):
        return [marked]
    name_key = header_key(sheet.name)
    for s in schemas:
        if any(header_key(n) == name_key for n in s.sheet_names) or header_key(s.kind) == name_key:
            return [s.kind]
    return [s.kind for s in schemas]


__all__ = ["Schema", "Column", "Table", "Vocabulary", "HEADER_VARIANTS", "SEQ", "STATUS",
           "detect_tables", "build_table", "locate_header", "load_mapping", "profile_schema",
           "entry_schemas", "MARKER_SHEET"]
