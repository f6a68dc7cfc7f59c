"""Forms on an open archive: fill (and keep), meetings, attachments, binding.

Every function takes an open :class:`dossier.session.Session` and does one thing;
the CLI commands are thin wrappers around these.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from dossier.clock import now_iso
from dossier.errors import InvalidInput, NotFound
from dossier.forms import Registry, context_for
from dossier.forms import render_form as render
from dossier.forms.fmt import text

MEETING_KIND = "meeting"


def dossier_dict(view) -> dict:
    """A :class:`DossierView` as the plain dict the context builders take."""
    st = view.state
    return {"id": view.id, "archive_no": view.archive_no, "scope": view.scope, "version": view.version,
            "profile": st.get("profile", {}), "entries": st.get("entries", []),
            "attachments": st.get("attachments", []), "documents": st.get("documents", []),
            "labels": list(view.labels or [])}


def _root_fingerprint(ar) -> str:
    from dossier.transfer.keys import root_fingerprint

    return root_fingerprint(bytes.fromhex(ar.config.get("root_admin_key") or ""))


def registry_for(ar, templates: str | Path | None = None) -> Registry:
    return Registry.for_archive(ar.path, templates)


def scope_dossiers(ar, scope: str | None, today: date) -> list[dict]:
    return [dossier_dict(ar.dossiers.show(p["id"], as_of=today)) for p in ar.persons.list(scope)]


@dataclass
class FillResult:
    code: str
    title: str
    fmt: str
    data: bytes
    docx: bytes | None = None           # the Word file as printed (QR code + short code in the footer)
    kept: list[dict] = field(default_factory=list)
    signature_places: dict = field(default_factory=dict)
    targets: list = field(default_factory=list)      # (dossier id, title, basis version) to keep in
    category: int | None = None
    today: date | None = None
    paper_ref: tuple | None = None      # (dossier id, version) for the paper token when nothing is kept
    paper: object | None = None         # the PaperToken stamped on every page of the PDF


def _stamp_paper(ar, result: FillResult) -> None:
    """Stamp the paper token (QR + short code + text) on every page of a PDF result, or
    the QR code and short code in the footer of every page of a docx result.

    A kept document's token names the version that filed it (so the token says
    "unchanged" until the dossier changes again) and its ``paper_doc`` id; the
    stored PDF stays unstamped — the token is a pure function of (doc id,
    version, issuer), and a bound volume carries its own. Minutes filed in
    several dossiers carry the token of the first person discussed."""
    from dossier import paper
    from dossier.paper_stamp import stamp_docx, stamp_pdf

    if result.fmt not in ("pdf", "docx"):
        return
    if result.kept:
        k = result.kept[0]
        tok = paper.issue(ar, k["archive_no"], version=k["version"], doc_id=k["paper_doc"])
    elif result.paper_ref:
        tok = paper.issue(ar, result.paper_ref[0], version=result.paper_ref[1])
    else:
        return                          # lists and statistics: no single dossier version to name
    if result.fmt == "pdf":
        result.data = stamp_pdf(result.data, tok)
    if result.docx is not None:
        # the printed Word file: QR code and short code in every page's footer. ``data`` of a docx
        # result stays the document exactly as kept in the dossier (unstamped, like the kept PDF);
        # the printed one is reproducible: stamp_docx(kept, paper.issue(…same doc id, version…)).
        result.docx = stamp_docx(result.docx, tok)
    result.paper = tok


def _keep_result(ar, result: FillResult, pdf: bytes | None) -> None:
    if not result.targets:
        return
    from dossier.forms.bind import page_count

    from dossier.paper import new_doc_id

    pages = page_count(pdf) if pdf else None
    paper_doc = new_doc_id()            # one paper id for the document, in every dossier it is filed in
    for pid, title, basis in result.targets:
        result.kept.append(_keep(ar, pid, result.code, title, result.category, result.today, result.docx, pdf,
                                 basis, pages, paper_doc))


def _keep(ar, ref: str, code: str, title: str, category, today: date, docx: bytes | None, pdf: bytes | None,
          basis_version: int | None, pages: int | None, paper_doc: str | None = None) -> dict:
    """Store a generated document encrypted in the person's dossier (a new version)."""
    row = ar.dossiers.resolve(ref)
    doc = {"id": str(uuid.uuid4()), "code": code, "title": title, "date": today.isoformat(),
           "category_order": category if category is not None else 11, "generated_at": now_iso(),
           "generated_by": ar.user.name, "basis_version": basis_version}
    if paper_doc:
        doc["paper_doc"] = paper_doc
    with ar.transaction():
        if docx is not None:
            doc["blob"] = ar.blobs.put(docx, scope=row.scope, dossier_id=row.id, kind="document")
            doc["sha256"] = hashlib.sha256(docx).hexdigest()
        if pdf is not None:
            doc["pdf_blob"] = ar.blobs.put(pdf, scope=row.scope, dossier_id=row.id, kind="document")
            doc["pages"] = pages
        version = ar.dossiers.commit(row, lambda s: s.setdefault("documents", []).append(doc),
                                     f"生成文书：{title}", what="生成文书")
    return {"archive_no": row.archive_no, "version": version, "document": doc["id"], "paper_doc": paper_doc}


def fill(ar, code: str, *, ref: str | None = None, scope: str | None = None, meeting: str | None = None,
         today: date | None = None, fmt: str = "docx", templates: str | Path | None = None, keep: bool = True,
         doc_no: str = "", interview: str | None = None, converter=None, defer_keep: bool = False,
         since: date | None = None) -> FillResult:
    """Fill one form. ``fmt`` is docx, pdf or (list forms) xlsx. Person forms and
    minutes are kept, encrypted, in the dossier(s) concerned. ``since``: start of
    the counting period of statistics forms (附表1; default 1 January)."""
    today = today or date.today()
    reg = registry_for(ar, templates)
    spec = reg.get(code)
    if fmt not in ("docx", "pdf", "xlsx"):
        raise InvalidInput(f"不支持的输出格式：{fmt}")
    if fmt == "pdf":
        from dossier.forms.pdf import require_soffice
        require_soffice()                      # fail before any work, exit 1 with the install hint
    reg.prepared(spec.code) if fmt != "xlsx" else None   # template errors (exit 30) before anything else
    view = None
    if spec.kind == "person":
        if not ref:
            raise InvalidInput(f"“{spec.title}”是个人文书：请给出档号或身份证号")
        view = ar.dossiers.show(ref, as_of=today)
        dd = dossier_dict(view)
        if view.received or view.sent:      # the 移交函 (issue 13)
            dd.update(received_from=view.received, archive_name=ar.name,
                      root_fingerprint=_root_fingerprint(ar))
        ctx = context_for(spec, today, dossier=dd, doc_no=doc_no, interview_id=interview)
    elif spec.kind in ("list", "statistics"):
        if since and since > today:
            raise InvalidInput(field="since", reason="统计起始日期不能晚于填表日期")
        ctx = context_for(spec, today, dossiers=scope_dossiers(ar, scope, today), scope=scope or "", since=since)
    else:
        m = get_meeting(ar, meeting)
        dossiers = {}
        for p in m.get("persons") or ():
            try:
                dossiers[p["dossier_id"]] = dossier_dict(ar.dossiers.show(p["dossier_id"], as_of=today))
            except NotFound:
                continue
        ctx = context_for(spec, today, meeting=m, meeting_dossiers=dossiers)
    data = render(reg, spec.code, ctx, fmt="xlsx" if fmt == "xlsx" else "docx")
    docx = data if fmt != "xlsx" else None
    pdf = None
    places = {}
    if fmt == "pdf":
        from dossier.forms.pdf import PdfConverter, signature_places
        pdf = (converter.convert_one(docx) if converter else PdfConverter().convert_one(docx))
        places = signature_places(pdf) if spec.signature_blocks else {}
        data = pdf
    result = FillResult(spec.code, spec.title, fmt, data, docx=docx, signature_places=places)
    if keep and spec.kind == "person" and not view.sent:   # a file handed over is read-only here
        result.targets.append((view.id, spec.title, view.version))
    elif keep and spec.kind == "meeting" and spec.code == "minutes":
        result.targets.extend((pid, f"{spec.title}{text(m.get('no'))}", None) for pid in dossiers)
    result.category, result.today = spec.category, today
    if spec.kind == "person":
        result.paper_ref = (view.id, view.version)
    elif spec.kind == "meeting" and dossiers:
        result.paper_ref = (next(iter(dossiers)), None)
    if not defer_keep:          # fill_batch keeps after its one conversion
        _keep_result(ar, result, pdf)
        _stamp_paper(ar, result)
    ar.audit("form_fill", form=spec.code, fmt=fmt, dossier=view.id if view else None,
             scope=scope, meeting=meeting)
    return result


def fill_batch(ar, jobs: list[Mapping], *, pdf: bool = True, converter=None, today: date | None = None,
               templates: str | Path | None = None) -> list[FillResult]:
    """Fill several forms (each job: the keyword arguments of :func:`fill`, with ``code``)
    and, with ``pdf``, convert all of them in ONE LibreOffice call; person forms and
    minutes are kept with their PDF. ``result.data`` is the PDF (or the docx/xlsx)."""
    from dossier.forms.pdf import PdfConverter, require_soffice, signature_places

    if pdf and converter is None:
        require_soffice()
    results = []
    for job in jobs:
        job = dict(job)
        code = job.pop("code")
        fmt = job.pop("fmt", "docx")
        keep = job.pop("keep", True)
        r = fill(ar, code, today=job.pop("today", today), templates=job.pop("templates", templates),
                 fmt=fmt, keep=keep, defer_keep=True, **job)
        results.append(r)
    todo = [r for r in results if pdf and r.docx is not None]
    pdfs: list[bytes] = []
    if todo:
        if converter is not None:
            pdfs = converter.convert([r.docx for r in todo])
        else:
            with PdfConverter() as conv:
                pdfs = conv.convert([r.docx for r in todo])
    by_id = {id(r): p for r, p in zip(todo, pdfs)}
    reg = registry_for(ar, templates)
    for r in results:
        p = by_id.get(id(r))
        if p is not None:
            r.data, r.fmt = p, "pdf"
            if reg.get(r.code).signature_blocks:
                r.signature_places = signature_places(p)
        _keep_result(ar, r, p)
        _stamp_paper(ar, r)
    return results


# ------------------------------------------------------------------ meetings

LEVELS = ("高", "中", "低")


def _common_scope(paths: list[str]) -> str:
    parts = [p.split("/") for p in paths]
    out = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        out.append(level[0])
    return "/".join(out)


#: the keys of a 会商 record (Chinese spellings after their English name) and of each person
MEETING_KEYS = ("no", "date", "日期", "time", "place", "地点", "host", "主持人", "recorder", "title", "agenda",
                "scope", "unit", "attendees", "observers", "absentees", "decisions", "distribution", "overview",
                "persons", "人员")
MEETING_PERSON_KEYS = ("ref", "archive_no", "id_number", "档号", "level", "结论", "community_level", "reasons",
                       "measures", "responsible", "next_review")


def add_meeting(ar, data: Mapping, *, today: date | None = None) -> dict:
    """Record a 会商 meeting (stored encrypted) and append an assessment entry to each person discussed.

    The result's ``approvals``: for each person whose 审批表 waited at “会商”, whether
    its 会商 block was signed in (``ok``, ``status``) or why not (``error``)."""
    from dossier.model.dates import parse_date

    today = today or date.today()
    from dossier.model.fields import unknown_keys

    if not isinstance(data, Mapping):
        raise InvalidInput("会议记录应为键值对象")
    # an unknown key (期号:, number:, attendee:) would be dropped silently: refused
    errors = [e.message for e in unknown_keys(data, MEETING_KEYS, where="会议记录")]
    try:
        mdate = parse_date(data.get("date") or data.get("日期"), field="date", today=today)
    except InvalidInput as e:
        errors.append(e.message)
        mdate = None
    for k, label in (("place", "地点"), ("host", "主持人")):
        if not (data.get(k) or data.get(label)):
            errors.append(f"缺少“{k}”（{label}）")
    persons_in = data.get("persons") or data.get("人员") or []
    if not isinstance(persons_in, list) or not persons_in:
        errors.append("缺少 persons（会商人员及结论）")
        persons_in = []
    persons, rows = [], []
    for i, p in enumerate(persons_in, 1):
        if not isinstance(p, Mapping):
            errors.append(f"persons 第 {i} 项应为键值对象")
            continue
        errors += [e.message for e in unknown_keys(p, MEETING_PERSON_KEYS, where=f"persons 第 {i} 项",
                                                   path=f"persons[{i}].")]
        ref = p.get("ref") or p.get("archive_no") or p.get("id_number") or p.get("档号")
        level = text(p.get("level") or p.get("结论") or "").replace("风险", "")
        if level not in LEVELS:
            errors.append(f"persons 第 {i} 项：会商结论 level 应为 高/中/低，而不是“{p.get('level')}”")
        try:
            row = ar.dossiers.resolve(str(ref or ""))
        except (InvalidInput, NotFound) as e:
            errors.append(f"persons 第 {i} 项：{e.message}（{ref}）")
            continue
        next_review = p.get("next_review")
        if next_review:
            try:
                next_review = parse_date(next_review, field="next_review", allow_future=True).isoformat()
            except InvalidInput as e:
                errors.append(f"persons 第 {i} 项：{e.message}")
        rows.append(row)
        persons.append({"dossier_id": row.id, "archive_no": row.archive_no, "level": level,
                        "community_level": text(p.get("community_level") or ""),
                        "reasons": text(p.get("reasons") or ""), "measures": text(p.get("measures") or ""),
                        "responsible": text(p.get("responsible") or ""), "next_review": next_review or ""})
    if errors:
        raise InvalidInput("会议记录有误，未保存：\n" + "\n".join(f"  - {e}" for e in errors))
    scope = data.get("scope") or _common_scope([r.scope_path for r in rows])
    meeting = {"id": str(uuid.uuid4()), "no": text(data.get("no") or ""), "date": mdate.isoformat(),
               "time": text(data.get("time") or ""), "place": text(data.get("place") or data.get("地点")),
               "host": text(data.get("host") or data.get("主持人")), "recorder": text(data.get("recorder") or ""),
               "title": text(data.get("title") or ""), "agenda": text(data.get("agenda") or ""),
               "scope": scope, "unit": text(data.get("unit") or ""),
               "attendees": list(data.get("attendees") or []), "observers": list(data.get("observers") or []),
               "absentees": list(data.get("absentees") or []), "decisions": list(data.get("decisions") or []),
               "distribution": text(data.get("distribution") or ""), "overview": text(data.get("overview") or ""),
               "persons": persons, "recorded_at": now_iso(), "recorded_by": ar.user.name}
    ar.require_role("admin", "clerk", what="记录会商会议")
    if meeting["no"] and any(m.get("no") == meeting["no"] for m in list_meetings(ar)):
        raise InvalidInput(f"会议记录有误，未保存：期号“{meeting['no']}”已有会议记录（见 dossier meeting list）")
    label = meeting["no"] or meeting["date"]
    with ar.transaction():
        meeting["blob"] = ar.blobs.put(json.dumps(meeting, ensure_ascii=False).encode("utf-8"),
                                       scope=scope, dossier_id=None, kind=MEETING_KIND)
        for p in persons:
            notes = "；".join(x for x in (f"管控措施：{p['measures']}" if p["measures"] else "",
                                          f"责任人：{p['responsible']}" if p["responsible"] else "",
                                          f"会商：{meeting['place']}，主持人 {meeting['host']}") if x)
            entry = {"date": meeting["date"], "final_level": p["level"], "meeting": label, "notes": notes}
            if p["community_level"] in LEVELS:
                entry["proposed_level"] = p["community_level"]
            if p["reasons"]:
                entry["rationale"] = p["reasons"]
            if p["next_review"]:
                entry["next_review"] = p["next_review"]
            ar.entries.add(p["dossier_id"], "assessment", entry, message=f"会商{label}：评定为{p['level']}风险",
                           today=today)
    ar.meeting_approvals = []   # filled by the approval hooks on the audit event below
    ar.audit("meeting_add", meeting=meeting["id"], persons=len(persons))
    # per person whose 审批表 waited at 会商: signed in, or why not (the meeting stands either way)
    return {**meeting, "approvals": list(getattr(ar, "meeting_approvals", None) or [])}


def list_meetings(ar) -> list[dict]:
    covered = ar.scopes.covered()
    out = []
    for r in ar.con.execute("SELECT id, scope FROM blobs WHERE kind=? ORDER BY created", (MEETING_KIND,)):
        if r["scope"] not in covered:
            continue
        m = json.loads(ar.blobs.get(r["id"], kind=MEETING_KIND, dossier_id=None).decode("utf-8"))
        m["blob"] = r["id"]
        out.append(m)
    out.sort(key=lambda m: (m.get("date", ""), m.get("recorded_at", "")))
    return out


def get_meeting(ar, key: str | None) -> dict:
    if not key:
        raise InvalidInput("请用 --meeting 指定会议（会议编号或期号，见 dossier meeting list）")
    ms = list_meetings(ar)
    hits = [m for m in ms if m["id"] == key or m["id"].startswith(key) or m.get("no") == key]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise NotFound(f"找不到会议“{key}”")
    raise InvalidInput(f"“{key}”对应多次会议，请给出更长的编号")


# ------------------------------------------------------------------ attachments

def attach(ar, ref: str, data: bytes, filename: str, *, title: str, category: str | None = None,
           on: date | None = None, today: date | None = None, max_bytes: int | None = None) -> dict:
    """Validate and store an attachment, encrypted, in a new version of the dossier."""
    from dossier import attachments as att

    today = today or date.today()
    title = att.check_title(title)
    clean = att.validate(data, filename, **({"max_bytes": max_bytes} if max_bytes else {}))
    order = att.category_order(category)
    row = ar.dossiers.resolve(ref)
    ar.require_role("admin", "clerk", what="添加附件")
    ar.scopes.require(row.scope, "添加附件")
    item = {"id": str(uuid.uuid4()), "title": str(title).strip(), "category": category or "",
            "category_order": order, "date": (on or today).isoformat(), "pages": clean.pages,
            "mime": clean.mime, "kind": clean.kind, "size": clean.size, "sha256": clean.sha256,
            "added_at": now_iso(), "added_by": ar.user.name}
    with ar.transaction():
        item["blob"] = ar.blobs.put(clean.data, scope=row.scope, dossier_id=row.id, kind="attachment")
        version = ar.dossiers.commit(row, lambda s: s.setdefault("attachments", []).append(item),
                                     f"添加附件：{item['title']}", what="添加附件")
    ar.audit("attach", dossier=row.id, attachment=item["id"])
    return {**item, "archive_no": row.archive_no, "version": version}


# ------------------------------------------------------------------ binding

# Pages a generated form usually takes, to lay out the 目录 before the form is converted
# (a wrong guess costs one more LibreOffice call for the frame, never a wrong number).
_USUAL_PAGES = {"basic-info": 1, "risk-approval": 2, "control-plan": 1, "interview": 1, "minutes": 2}


def bind_dossier(ar, ref: str, *, today: date | None = None, watermark: str | None = None,
                 password: str | None = None, templates: str | Path | None = None, converter=None,
                 stats: dict | None = None) -> bytes:
    """The 一人一档 PDF of one person (DOMAIN §5 order).

    LibreOffice is called once: the 封面, 卷内文件目录 and 卷内备考表 are rendered
    for a layout computed with the stored page counts (and the usual length of
    any stored document kept without a PDF), and converted in the same call as
    those documents. Only if a guess was wrong (or the 目录 runs over a page) is
    the frame converted again. ``converter``: a :class:`PdfConverter` to reuse
    (e.g. a warm one across a batch of binds). ``stats`` receives the number of
    converter calls and ``paper``, the volume's paper token (stamped on every
    page: the version bound, a fresh document id).
    """
    from dossier import paper
    from dossier.forms import contexts
    from dossier.forms.bind import BindItem, bind, image_to_pdf, layout, page_count, sort_items
    from dossier.forms.pdf import PdfConverter, require_soffice

    if converter is None:
        require_soffice()
    today = today or date.today()
    reg = registry_for(ar, templates)
    for code in ("cover", "file-index", "remarks"):
        reg.prepared(code)
    view = ar.dossiers.show(ref, as_of=today)
    d = dossier_dict(view)
    sid = ar.dossiers.resolve(view.id).scope
    author = contexts.scope_parts(d["scope"])["community"]
    items: list[BindItem] = []
    pending: list[tuple[BindItem, bytes]] = []      # (item, docx) still to convert
    docs = d["documents"]
    if not any(x.get("code") == "basic-info" for x in docs):
        spec = reg.get("basic-info")
        fresh = render(reg, "basic-info", context_for(spec, today, dossier=d))
        it = BindItem(spec.title, b"", spec.category or 1, today.isoformat(), author=author)
        it.pages = _USUAL_PAGES["basic-info"]
        pending.append((it, fresh))
    for x in docs:
        it = BindItem(text(x.get("title")), b"", int(x.get("category_order", 11)), str(x.get("date") or ""),
                      author=author)
        if x.get("pdf_blob"):
            it.pdf = ar.blobs.get(x["pdf_blob"], scope=sid, dossier_id=view.id, kind="document")
            it.pages = int(x.get("pages") or 0) or page_count(it.pdf)
        elif x.get("blob"):
            it.pages = int(x.get("pages") or 0) or _USUAL_PAGES.get(x.get("code"), 1)
            pending.append((it, ar.blobs.get(x["blob"], scope=sid, dossier_id=view.id, kind="document")))
            continue
        else:
            continue
        items.append(it)
    for a in d["attachments"]:
        raw = ar.blobs.get(a["blob"], scope=sid, dossier_id=view.id, kind="attachment")
        pdf = raw if a.get("kind") == "pdf" else image_to_pdf(raw)
        items.append(BindItem(text(a.get("title")), pdf, int(a.get("category_order", 11)), str(a.get("date") or ""),
                              author=text(a.get("author") or ""), remarks=text(a.get("category") or ""),
                              pages=int(a.get("pages") or 0) or page_count(pdf)))

    def frame_docx(rows, total):
        base = contexts.person_context(d, today, items=rows)
        base["volume"]["pages"] = str(total)
        base["volume"]["count"] = str(len(rows))
        return [reg.prepared(c).render(base) for c in ("cover", "file-index", "remarks")]

    calls = 0
    conv = converter or PdfConverter(warm=True)    # warm: a re-rendered frame costs ~0.3 s, not a new office
    own = converter is None
    if own:
        conv.__enter__()
    try:
        # one converter call: the frame for the guessed layout, and the documents lacking a PDF
        guess_rows, guess_total = layout(sort_items(items + [it for it, _ in pending]))
        pdfs = conv.convert([b for _, b in pending] + frame_docx(guess_rows, guess_total))
        calls += 1
        for (it, _), pdf in zip(pending, pdfs):
            it.pdf = pdf
            items.append(it)
        ready = {(repr(guess_rows), guess_total): tuple(pdfs[len(pending):])}

        def frame(rows, total, _index_pages):
            nonlocal calls
            key = (repr(rows), total)
            if key not in ready:
                ready[key] = tuple(conv.convert(frame_docx(rows, total)))
                calls += 1
            return ready[key]

        token = paper.issue(ar, view.id, version=view.version)
        out = bind(items, render_frame=frame, watermark=watermark, password=password,
                   title=f"一人一档 {view.archive_no}", paper=token)
    finally:
        if own:
            conv.__exit__(None, None, None)
    if stats is not None:
        stats["converter_calls"] = calls
        stats["paper"] = token
    ar.audit("bind", dossier=view.id, watermark=bool(watermark), password=bool(password))
    return out


# ------------------------------------------------------------------ reading stored files

_EXT = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def stored_file(ar, ref: str, item_id: str, *, pdf: bool = False) -> tuple[str, str, bytes]:
    """(file name, MIME type, bytes) of an attachment or a generated document of a
    dossier (``pdf``: the document's PDF instead of its .docx). Audited as an export."""
    row = ar.dossiers._readable(ref, "下载档案文件")
    _, content = ar.dossiers.load(row)
    state = content["state"]
    for it in state.get("attachments") or []:
        if it.get("id") == item_id:
            data = ar.blobs.get(it["blob"], scope=row.scope, dossier_id=row.id, kind="attachment")
            ar.audit("export", dossier=row.id, kind="attachment", item=item_id)
            return f"{_safe_name(it.get('title'))}.{_EXT.get(it.get('mime'), 'bin')}", it.get("mime", ""), data
    for doc in state.get("documents") or []:
        if doc.get("id") == item_id:
            key = "pdf_blob" if pdf else "blob"
            if not doc.get(key):
                key = "pdf_blob" if doc.get("pdf_blob") else "blob"
            data = ar.blobs.get(doc[key], scope=row.scope, dossier_id=row.id, kind="document")
            ar.audit("export", dossier=row.id, kind="document", item=item_id)
            is_pdf = key == "pdf_blob"
            return (f"{_safe_name(doc.get('title'))}.{'pdf' if is_pdf else 'docx'}",
                    "application/pdf" if is_pdf else DOCX_MIME, data)
    raise NotFound("档案中没有这个附件或文书")


def _safe_name(title) -> str:
    """A title as a download's file name: no path separators or control characters."""
    import re

    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]+", "_", str(title or "文件")).strip(" .") or "文件"
    return name[:80]
