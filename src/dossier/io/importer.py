"""Import a roster or a filled entry sheet into an archive.

Three steps, in this order:

1. **validate** every row (:mod:`.validate`): cells, model rules, duplicates;
2. **plan** against the archive without writing: match each person by ID
   number, decide added / updated / unchanged, check entry sheets against
   the dossiers they extend (person exists, name agrees, cross-entry rules);
3. **apply** the plan in one archive transaction — only when no row failed,
   or with ``skip_invalid`` for the rows that passed.

Re-importing the same file changes nothing: an unchanged person gets no new
version and an entry already in the dossier is not added twice. An empty
cell never clears a stored value (rosters rarely carry every field).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..errors import DossierError, InvalidInput, NotFound
from .grid import MemoryFile, source, source_size
from .validate import ERROR, WARNING, Problem, Row, Validation, validate_book

ADDED, UPDATED, UNCHANGED, REJECTED = "added", "updated", "unchanged", "rejected"
ACTION_LABELS = {ADDED: "新增", UPDATED: "更新", UNCHANGED: "未变", REJECTED: "未导入"}
_ENTRY_META = ("id", "recorded_at", "author", "version", "type")


@dataclass
class Planned:
    row: Row
    action: str                     # ADDED / UPDATED / UNCHANGED (entries: ADDED / UNCHANGED)
    scope: str | None = None        # new persons: the scope they are registered in
    dossier: object | None = None   # DossierRow of an existing (or just-added) person
    changes: dict = field(default_factory=dict)
    message: str = ""
    result: dict = field(default_factory=dict)   # archive_no, version … after apply


@dataclass
class ImportResult:
    path: Path | MemoryFile
    dry_run: bool
    validation: Validation
    planned: list[Planned] = field(default_factory=list)
    applied: bool = False
    report_path: Path | None = None     # highlighted copy
    rejected_path: Path | None = None   # rejected rows workbook
    # a MemoryFile's workbooks, kept in memory (the web face): .xlsx bytes
    report_data: bytes | None = None
    rejected_data: bytes | None = None

    @property
    def problems(self) -> list[Problem]:
        return self.validation.problems

    @property
    def errors(self) -> list[Problem]:
        return self.validation.errors

    @property
    def rejected_rows(self) -> list[Row]:
        return self.validation.invalid_rows()

    def counts(self) -> dict:
        c = {ADDED: 0, UPDATED: 0, UNCHANGED: 0, REJECTED: len(self.rejected_rows)}
        e = {ADDED: 0, UNCHANGED: 0}
        for p in self.planned:
            if p.row.kind == "profile":
                c[p.action] += 1
            else:
                e[p.action] += 1
        c["entries_added"] = e[ADDED]
        c["entries_unchanged"] = e[UNCHANGED]
        return c

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        c = self.counts()
        text = (f"新增 {c[ADDED]} 人，更新 {c[UPDATED]} 人，未变 {c[UNCHANGED]} 人，"
                f"未导入 {c[REJECTED]} 行")
        if c["entries_added"] or c["entries_unchanged"]:
            text += f"；记录新增 {c['entries_added']} 条，已存在 {c['entries_unchanged']} 条"
        return text

    def to_dict(self) -> dict:
        c = self.counts()
        return {
            "file": str(self.path), "dry_run": self.dry_run, "applied": self.applied, "ok": self.ok,
            "summary": {"added": c[ADDED], "updated": c[UPDATED], "unchanged": c[UNCHANGED],
                        "rejected": c[REJECTED], "entries_added": c["entries_added"],
                        "entries_unchanged": c["entries_unchanged"]},
            "sheets": [{"sheet": t.name, "kind": t.schema.kind, "header_row": t.header_row,
                        "columns": {c.header: c.target for c in t.columns if c.target}}
                       for t in self.validation.tables],
            "rows": [{"sheet": p.row.sheet, "row": p.row.row, "kind": p.row.kind, "action": p.action,
                      "message": p.message, **p.result} for p in self.planned],
            "problems": [p.to_dict() for p in self.problems],
            "notes": self.validation.notes,
            "report": str(self.report_path) if self.report_path else None,
            "rejected_file": str(self.rejected_path) if self.rejected_path else None,
        }


def _strip_entry(e: dict) -> dict:
    return {k: v for k, v in e.items() if k not in _ENTRY_META and not k.startswith("_")
            and v not in (None, "", [])}


def _label(name: str) -> str:
    from ..model.person import FIELDS_BY_NAME

    f = FIELDS_BY_NAME.get(name)
    return f.label if f else name


class _Planner:
    def __init__(self, ar, scope: str | None, today: _dt.date, source: str):
        self.ar = ar
        self.scope = scope
        self.today = today
        self.source = source
        self.cache: dict[str, tuple] = {}       # id_number → (DossierRow, state) or (None, None)
        self.new_people: dict[str, Planned] = {}
        self.pending_entries: dict[str, list[dict]] = {}
        self._scope_paths = None

    def existing(self, id_number: str):
        if id_number not in self.cache:
            try:
                row = self.ar.dossiers.resolve(id_number)
            except NotFound:
                self.cache[id_number] = (None, None)
            else:
                _, content = self.ar.dossiers.load(row)
                self.cache[id_number] = (row, content["state"])
        return self.cache[id_number]

    def scope_paths(self) -> list[str]:
        if self._scope_paths is None:
            self._scope_paths = [s["path"] for s in self.ar.scopes.list()]
        return self._scope_paths

    def target_scope(self, row: Row) -> str:
        """--scope, or its child named in the 社区（村） column."""
        if not self.scope:
            raise _RowError("community", "新增人员须用 --scope 指定登记辖区")
        base = self.scope
        community = (row.data or {}).get("community")
        if not community:
            return base
        leaf = base.rstrip("/").split("/")[-1]
        if community == leaf:
            return base
        for p in self.scope_paths():
            if p.startswith(base.rstrip("/") + "/") and p.split("/")[-1] == community:
                return p
        raise _RowError("community", f"社区（村）“{community}”不在辖区“{base}”下；"
                                     "请核对社区名称，或用 --scope 指定正确的辖区")

    def plan_profile(self, row: Row) -> Planned:
        data = row.data
        id_number = data["id_number"]
        dossier, state = self.existing(id_number)
        where = f"{self.source} {row.sheet}第{row.row}行"
        if dossier is None:
            scope = self.target_scope(row)
            self.ar.scopes.require(self.ar.scopes.id_of(scope), "在此辖区登记人员")
            p = Planned(row, ADDED, scope=scope, message=f"名册导入建档（{where}）")
            self.new_people[id_number] = p
            return p
        old = state.get("profile", {})
        changes = {}
        for k, v in data.items():
            if old.get(k) == v:
                continue
            if k == "community" and not old.get(k) and v == dossier.scope_path.split("/")[-1]:
                continue   # the export writes the scope's 社区 when the field is empty
            changes[k] = v
        if not changes:
            return Planned(row, UNCHANGED, dossier=dossier, result={"archive_no": dossier.archive_no})
        self.ar.scopes.require(dossier.scope, "修改此人员档案")
        what = "、".join(f"{_label(k)}（{_show(old.get(k))}→{_show(v)}）" for k, v in changes.items())
        return Planned(row, UPDATED, dossier=dossier, changes=changes,
                       message=f"名册导入更新（{where}）：{what}", result={"archive_no": dossier.archive_no})

    def plan_entry(self, row: Row) -> Planned:
        from ..model.dossier_rules import check_dossier
        from ..model.entries import ENTRY_TYPES

        entry = row.data
        id_number = entry["_id_number"]
        dossier, state = self.existing(id_number)
        if dossier is None and id_number in self.new_people:
            profile = self.new_people[id_number].row.data
            entries: list = []
        elif dossier is None:
            raise _RowError("id_number", "档案库中没有此公民身份号码的人员；请先导入名册或登记该人员")
        else:
            self.ar.scopes.require(dossier.scope, "为此人员添加记录")
            profile = state.get("profile", {})
            entries = state.get("entries", [])
        name = entry.get("_name")
        if name and profile.get("name") and name != profile["name"]:
            raise _RowError("name", f"姓名与档案不符（档案中该身份证号为“{profile['name']}”），请核对身份证号")
        clean = _strip_entry(entry)
        if any(_strip_entry(e) == clean for e in entries if e.get("type") == entry["type"]):
            return Planned(row, UNCHANGED, dossier=dossier,
                           result={"archive_no": dossier.archive_no} if dossier else {})
        pending = self.pending_entries.setdefault(id_number, [])
        try:
            check_dossier(profile, [*entries, *pending, entry], today=self.today)
        except InvalidInput as exc:
            errs = getattr(exc, "errors", None) or [exc]
            raise _RowError(None, "；".join(e.reason or e.message for e in errs)) from None
        pending.append(entry)
        label = ENTRY_TYPES[entry["type"]].label
        return Planned(row, ADDED, dossier=dossier,
                       message=f"登记表导入{label}（{self.source} {row.sheet}第{row.row}行）",
                       result={"archive_no": dossier.archive_no} if dossier else {})


class _RowError(Exception):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _show(v) -> str:
    if v is None or v == "":
        return "空"
    if isinstance(v, list):
        return "、".join(map(str, v))
    return str(v)


def _reject(row: Row, err: _RowError) -> None:
    col = row.table.column_for(err.field) if err.field else None
    if col is None and err.field:
        col = row.table.column_for("id_number")
    value = row.values[col.index] if col is not None and col.index < len(row.values) else ""
    row.add(col, value, err.reason)
    row.data = None


def plan_import(ar, validation: Validation, *, scope: str | None, today: _dt.date,
                progress: Callable[[int], None] | None = None) -> list[Planned]:
    """Decide what each valid row does; rows that cannot be imported get a
    problem added (and drop out of the valid rows). Reads, never writes."""
    if scope:
        ar.scopes.id_of(scope)   # NotFound for an unknown scope, before any row
    planner = _Planner(ar, scope, today, validation.book.path.name)
    planned: list[Planned] = []
    # persons first, so that an entry sheet in the same workbook can name them
    rows = sorted(validation.valid_rows(), key=lambda r: r.kind != "profile")
    for row in rows:
        try:
            p = planner.plan_profile(row) if row.kind == "profile" else planner.plan_entry(row)
        except _RowError as e:
            _reject(row, e)
        except DossierError as e:  # permission, integrity: the row names whom it concerns
            _reject(row, _RowError("id_number", e.message))
        else:
            planned.append(p)
        if progress:
            progress(1)
    return planned


def apply_plan(ar, planned: list[Planned], *, today: _dt.date,
               progress: Callable[[int], None] | None = None) -> None:
    """Write the plan in one transaction: all of it or (on any error) none."""
    by_id: dict[str, object] = {}
    # one transaction; the size lets the search index of a new scope be built beside the writes
    with ar.batch(size_hint=len(planned)):
        for p in planned:
            row = p.row
            if row.kind == "profile":
                if p.action == ADDED:
                    # validated for this day already: stored without normalising it again
                    canonical = row.canonical
                    data = canonical if canonical is not None and canonical == row.data else dict(row.data)
                    ref = ar.persons.add(p.scope, data, today=today, message=p.message)
                    by_id[row.data["id_number"]] = ref.id
                    p.result = {"archive_no": ref.archive_no, "version": ref.version, "scope": ref.scope}
                elif p.action == UPDATED:
                    v = ar.persons.update(p.dossier.id, p.changes, message=p.message, today=today)
                    p.result = {"archive_no": p.dossier.archive_no, "version": v}
            elif p.action == ADDED:
                entry = dict(row.data)
                id_number = entry.pop("_id_number")
                entry.pop("_name", None)
                entry.pop("type", None)
                ref = p.dossier.id if p.dossier is not None else by_id[id_number]
                saved = ar.entries.add(ref, row.kind, entry, message=p.message, today=today)
                p.result = {**p.result, "entry_id": saved["id"], "version": saved["version"]}
            if progress:
                progress(1)


def import_file(ar, path: str | Path | MemoryFile, *, scope: str | None = None, sheet: str | None = None,
                mapping: dict | None = None, dry_run: bool = False, skip_invalid: bool = False,
                today: _dt.date | None = None, report: str | Path | None = None,
                rejected: str | Path | None = None,
                progress: Callable[[str, int, int], None] | None = None) -> ImportResult:
    """Validate, plan and (unless ``dry_run`` or invalid rows without
    ``skip_invalid``) apply the import of ``path``.

    ``report``: where to write the highlighted copy when there are problems
    (default ``<name>_错误标注.xlsx`` beside the file; not written on a dry run
    unless given). ``rejected``: where ``skip_invalid`` writes the rejected
    rows (default ``<name>_未导入.xlsx``). ``progress(stage, done, total)``.

    ``path`` may be a :class:`~.grid.MemoryFile` (an upload): nothing is then
    written to disk unless ``report``/``rejected`` name paths; the annotated
    copy (also on a dry run) and the rejected rows are ``report_data`` and
    ``rejected_data`` of the result.
    """
    path = source(path)
    today = today or _dt.date.today()
    # a large file: the index workers start now and load their dictionary while the file is read
    prepare = None if dry_run else getattr(ar, "preparing_batch", None)
    with prepare(estimated_rows(path)) if prepare is not None else contextlib.nullcontext():
        return _import(ar, path, scope, sheet, mapping, dry_run, skip_invalid, today, report, rejected, progress)


def estimated_rows(path) -> int:
    """Rows a roster file holds, roughly, from its size (bytes per row measured on
    synthetic rosters: .xlsx ~90 after ~5 KB of package, .csv ~120, .xls ~150)."""
    try:
        size = source_size(path)
    except OSError:
        return 0
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return max(0, size - 5000) // 90
    return size // (120 if suffix == ".csv" else 150)


def _import(ar, path, scope, sheet, mapping, dry_run, skip_invalid, today, report, rejected, progress):
    def stage(name):
        if progress is None:
            return None
        state = {"done": 0}

        def step(n):
            state["done"] += n
            progress(name, state["done"], total[0])
        return step

    total = [0]
    validation = validate_book(path, today=today, sheet=sheet, mapping=mapping)
    total[0] = len(validation.rows)
    status_cols = [c.header for t in validation.tables if t.schema.kind == "profile"
                   for c in [t.column_for("_status")] if c is not None]
    if status_cols:
        named = "、".join(dict.fromkeys(f"“{h}”" for h in status_cols if h)) or "“当前状态”"
        validation.notes.append(f"{named}列（当前状态）不从名册导入：状态是带起止日期的记录，"
                                "状态变更请用 dossier sheet template status 生成登记表填写后导入；"
                                "与平台比对请用 dossier compare")
    result = ImportResult(path, dry_run, validation)
    if not any(p.level == ERROR for p in validation.problems_global):
        result.planned = plan_import(ar, validation, scope=scope, today=today, progress=stage("校验"))
    failed = not result.ok
    in_memory = isinstance(path, MemoryFile)
    if failed and report is None and in_memory:
        import io

        from .report import write_marked_copy

        result.report_data = write_marked_copy(validation, io.BytesIO()).getvalue()
    elif failed and (report is not None or not dry_run):
        result.report_path = Path(report) if report else path.with_name(f"{path.stem}_错误标注.xlsx")
        from .report import write_marked_copy

        write_marked_copy(validation, result.report_path)
    if dry_run or (failed and not skip_invalid):
        return result
    work = [p for p in result.planned if p.action != UNCHANGED]
    total[0] = len(work)
    apply_plan(ar, work, today=today, progress=stage("写入"))
    result.applied = True
    c = result.counts()
    ar.audit("import", file=path.name, added=c[ADDED], updated=c[UPDATED], unchanged=c[UNCHANGED],
             rejected=c[REJECTED], entries=c["entries_added"])
    if failed and skip_invalid and result.rejected_rows:
        from .report import write_rejected

        if rejected is None and in_memory:
            import io

            result.rejected_data = write_rejected(result.rejected_rows, io.BytesIO()).getvalue()
        else:
            result.rejected_path = Path(rejected) if rejected else path.with_name(f"{path.stem}_未导入.xlsx")
            write_rejected(result.rejected_rows, result.rejected_path)
    return result


__all__ = ["ImportResult", "Planned", "import_file", "plan_import", "apply_plan",
           "ADDED", "UPDATED", "UNCHANGED", "REJECTED", "WARNING"]
