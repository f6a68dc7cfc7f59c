"""The approval chain of the 风险分类评估审批表 (DOMAIN §4).

Steps: 社区初评 → 派出所核查 → 会商 → 街道审批 → 区禁毒办备案.

- 社区初评 (``submit``): a clerk of the dossier's scope (or an approver of
  that step) builds the 审批表 PDF from the current dossier version and signs
  the first block.
- 派出所核查, 街道审批, 区禁毒办备案 (``sign``): an approver whose step is that
  step and whose scopes cover the dossier; anyone else gets
  :class:`PermissionDenied` (exit 13).
- 会商 (``record_meeting``): completed by the 会商 meeting, not by a personal
  opinion: whoever records the meeting (clerk or admin of the scope) signs
  the block with the minutes' number, date and conclusion.
- Dates never go backwards (each ≥ the previous step's date).
- A step may return the form to the previous step with an opinion: the PDF
  goes back to the revision before that step's signature (earlier
  signatures stay valid) and that step signs again.
- 高 needs a 一人一策 measure entry filed with 区禁毒办, 中 one filed with 街道,
  before 街道审批.
- Every change is a new dossier version (``state["approvals"]``) and an
  audit event; every PDF revision is kept as an encrypted blob.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sqlite3
import uuid
from typing import TYPE_CHECKING

from ..clock import now_iso
from ..errors import IntegrityError, InvalidInput, NotFound, PermissionDenied, RefusedOperation
from . import pdfsign
from .pdfsign import STEPS

if TYPE_CHECKING:
    from ..session import Session

LEVELS = ("高", "中", "低")
REVIEW_MONTHS = {"高": 1, "中": 3, "低": 6}     # 下次复评 when the 会商 set no date
PLAN_FILING = {"高": "区禁毒办", "中": "街道"}
# the offices whose filing satisfies each requirement: the district office is stricter than the 街道
PLAN_FILING_ACCEPTED = {"区禁毒办": ("区禁毒办",), "街道": ("街道", "区禁毒办")}
SIGNER_ROLES = {"社区初评": ("clerk", "approver"), "派出所核查": ("approver",), "会商": ("clerk", "admin"),
                "街道审批": ("approver",), "区禁毒办备案": ("approver",)}
DONE = "已备案"
RETURNED = "退回"
OPEN = "进行中"
BLOB_KIND = "approval-form"


def _today() -> _dt.date:
    return _dt.date.today()


def _parse_date(v) -> _dt.date:
    if v is None:
        return _today()
    if isinstance(v, _dt.date):
        return v
    try:
        return _dt.date.fromisoformat(str(v).strip().replace("/", "-").replace(".", "-"))
    except ValueError:
        raise InvalidInput(field="date", reason=f"日期“{v}”应为 YYYY-MM-DD") from None


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def current(state: dict) -> dict | None:
    rounds = state.get("approvals") or []
    return rounds[-1] if rounds else None


def live_steps(rec: dict) -> list[dict]:
    return [s for s in rec["steps"] if s["action"] == "sign" and not s.get("superseded")]


def next_step(rec: dict) -> str | None:
    done = [s["step"] for s in live_steps(rec)]
    for step in STEPS:
        if step not in done:
            return step
    return None


class Approvals:
    def __init__(self, ar: "Session"):
        self.ar = ar

    # ------------------------------------------------------------------ helpers
    def _row_and_state(self, ref: str):
        ar = self.ar
        row = ar.dossiers.resolve(ref)
        if ar.user.role == "inspector":
            raise PermissionDenied("督查人员不能查看或签批审批表")
        ar.scopes.require(row.scope, "查看审批表")
        _, content = ar.dossiers.load(row)
        return row, content["state"]

    def _check_signer(self, row, step: str) -> None:
        ar = self.ar
        u = ar.user
        roles = SIGNER_ROLES[step]
        if u.role not in roles:
            raise PermissionDenied(f"{u.role_label}“{u.name}”无权在“{step}”一栏签批")
        if u.role == "approver" and u.step != step:
            raise PermissionDenied(f"审批人“{u.name}”负责的环节是“{u.step}”，不能在“{step}”一栏签批")
        if row.scope not in ar.scopes.covered():
            raise PermissionDenied(f"用户“{u.name}”的辖区不包括“{row.scope_path}”，不能签批该档案")

    def _blob(self, row, data: bytes) -> str:
        return self.ar.blobs.put(data, scope=row.scope, dossier_id=row.id, kind=BLOB_KIND)

    def _pdf(self, row, blob_id: str) -> bytes:
        return self.ar.blobs.get(blob_id, scope=row.scope, dossier_id=row.id, kind=BLOB_KIND)

    def _commit(self, row, rec: dict, message: str, new_round: bool = False) -> int:
        def mutate(state):
            rounds = state.setdefault("approvals", [])
            if new_round or not rounds:
                rounds.append(rec)
            else:
                rounds[-1] = rec
        return self.ar.dossiers.commit(row, mutate, message, roles=("admin", "clerk", "approver"),
                                       what="签批审批表")

    def _check_date(self, rec: dict, d: _dt.date) -> None:
        prev = live_steps(rec)
        if prev and d < _dt.date.fromisoformat(prev[-1]["date"]):
            raise RefusedOperation(f"日期 {d} 早于上一环节“{prev[-1]['step']}”的日期 {prev[-1]['date']}"
                                   "（各栏日期不得倒退）")
        if d > _today():
            raise RefusedOperation(f"日期 {d} 晚于今天")

    def _stamp_paper(self, row, pdf: bytes, approval_id: str) -> bytes:
        """The paper token (QR + text) on every page of the unsigned 审批表, as an
        incremental update: it names the version the form was filled from (the
        form_ref version; the chain's own versions follow, so the token reports
        later changes) and the approval id as document id. Signatures added
        afterwards cover it; stamping after a signature would invalidate them."""
        from .. import paper
        from ..paper_stamp import stamp_pdf

        tok = paper.issue(self.ar, row, version=row.head, doc_id=approval_id)
        return stamp_pdf(pdf, tok, incremental=True)

    def _sign_pdf(self, pdf: bytes, step: str, opinion: str, d: _dt.date, extra=None,
                  fill: dict[str, str] | None = None) -> bytes:
        """Sign ``step``: the stamp shows the person behind the account as the signing
        certificate states it (full name and post, unit; the login name when not recorded);
        ``fill`` writes the step's conclusions into the form in the same revision. The first
        step certifies the form: later revisions may only fill its fields and sign."""
        from ..crypto.ca import describe_cert, load_cert
        from .hooks import ca_cert_pem, signing_identity

        key_pem, cert_pem = signing_identity(self.ar)
        info = describe_cert(load_cert(cert_pem))
        return pdfsign.sign_step(pdf, step=step, signer_name=info.display_name or self.ar.user.name,
                                 signer_unit=info.unit, opinion=opinion, date=d,
                                 key_pem=key_pem, cert_pem=cert_pem, chain_pems=[ca_cert_pem(self.ar)],
                                 extra_lines=extra, fill=fill, certify=step == STEPS[0],
                                 seal_png=self.ar.users.seal_image())

    def _step_entry(self, step, opinion, d, pdf, blob, action="sign", **more) -> dict:
        from ..users import user_profile

        u = self.ar.user
        prof = user_profile(self.ar.con, u.name)      # the person behind the account, when recorded
        who = {k: prof[k] for k in ("full_name", "unit") if prof.get(k)}
        return {"step": step, "action": action, "signer": u.name, "role": u.role, "opinion": opinion,
                "date": d.isoformat(), "time": now_iso(), "blob": blob, "sha256": _sha(pdf),
                **({"signer_" + k: v for k, v in who.items()}), **more}

    # ------------------------------------------------------------------ the chain
    def submit(self, ref: str, *, level: str, reason: str, date=None, opinion: str | None = None,
               form_pdf: bytes | None = None) -> dict:
        """社区初评: build the 审批表 from the current version and sign its first block."""
        ar = self.ar
        if level not in LEVELS:
            raise InvalidInput(field="level", reason=f"风险等级应为 高、中 或 低，而不是“{level}”")
        if not (reason or "").strip():
            raise InvalidInput(field="reason", reason="须说明初评理由")
        row, state = self._row_and_state(ref)
        self._check_signer(row, "社区初评")
        rec = current(state)
        if rec and rec["status"] == OPEN and next_step(rec) != "社区初评":
            raise RefusedOperation(f"该档案已有进行中的审批（待“{next_step(rec)}”），不能重复提交")
        d = _parse_date(date)
        if d > _today():
            raise RefusedOperation(f"日期 {d} 晚于今天")
        form_ref = f"{row.id}@v{row.head}"
        if form_pdf is None:
            form_pdf = self._build_form(row, state, level, reason, form_ref, d)
        else:
            form_pdf = pdfsign.prepare_form(form_pdf, form_ref=form_ref)
        aid = uuid.uuid4().hex[:12]
        form_pdf = self._stamp_paper(row, form_pdf, aid)     # before the first signature, never after
        base_blob = self._blob(row, form_pdf)
        op = opinion or f"建议定为{level}风险。{reason}"
        signed = self._sign_pdf(form_pdf, "社区初评", op, d)
        blob = self._blob(row, signed)
        new = {"id": aid, "level": level, "reason": reason, "basis_version": row.head,
               "form_ref": form_ref, "created": now_iso(), "status": OPEN, "base_blob": base_blob,
               "base_sha256": _sha(form_pdf), "form": blob, "form_sha256": _sha(signed),
               "steps": [self._step_entry("社区初评", op, d, signed, blob, level=level)]}
        v = self._commit(row, new, f"审批表：社区初评（建议{level}风险）", new_round=True)
        ar.audit("approve.submit", dossier=row.id, version=v, step="社区初评", approval=new["id"], level=level)
        return self._status_of(row, new, v)

    def sign(self, ref: str, *, step: str, opinion: str, date=None, return_: bool = False) -> dict:
        """Sign ``step`` (派出所核查, 街道审批, 区禁毒办备案), or return the form to the previous step."""
        if step not in STEPS:
            raise InvalidInput(field="step", reason=f"未知环节“{step}”，应为：{'、'.join(STEPS)}")
        if step == "社区初评":
            raise InvalidInput(field="step", reason="社区初评用 dossier approve submit 提交")
        if step == "会商" and not return_:
            raise InvalidInput(field="step", reason="会商一栏由会商会议完成：dossier approve meeting")
        if not (opinion or "").strip():
            raise InvalidInput(field="opinion", reason="须填写意见")
        row, state = self._row_and_state(ref)
        self._check_signer(row, step)
        rec = self._open_round(state)
        want = next_step(rec)
        if want != step:
            raise RefusedOperation(f"当前待签环节是“{want}”，不是“{step}”")
        d = _parse_date(date)
        self._check_date(rec, d)
        if return_:
            return self._return(row, rec, step, opinion, d)
        if step == "街道审批":
            self._check_plan(state, self._final_level(rec))
        pdf = self._pdf(row, rec["form"])
        fill = more = None
        if step == STEPS[-1]:     # 区禁毒办备案 closes the chain: the final level and the next review
            final = self._final_level(rec)
            nxt = self._next_review(rec, final, d)
            fill = {"FinalLevel": pdfsign.level_checks(final), "NextReview": nxt}
            more = {"next_review": nxt}
        signed = self._sign_pdf(pdf, step, opinion, d, fill=fill)
        blob = self._blob(row, signed)
        rec = {**rec, "form": blob, "form_sha256": _sha(signed),
               "steps": [*rec["steps"], self._step_entry(step, opinion, d, signed, blob, **(more or {}))]}
        if next_step(rec) is None:
            rec["status"] = DONE
            rec["final_level"] = self._final_level(rec)
        v = self._commit(row, rec, f"审批表：{step}（{self.ar.user.name}）")
        self.ar.audit("approve.sign", dossier=row.id, version=v, step=step, approval=rec["id"])
        return self._status_of(row, rec, v)

    def record_meeting(self, ref: str, *, minutes_no: str, date=None, conclusion: str,
                       opinion: str | None = None, meeting_id: str | None = None,
                       next_review: str | None = None) -> dict:
        """会商: the meeting's minutes number, date and conclusion fill the third block."""
        if conclusion not in LEVELS:
            raise InvalidInput(field="conclusion", reason="会商结论应为 高、中 或 低")
        if not (minutes_no or "").strip():
            raise InvalidInput(field="minutes", reason="须给出会议纪要编号")
        row, state = self._row_and_state(ref)
        self._check_signer(row, "会商")
        rec = self._open_round(state)
        if next_step(rec) != "会商":
            raise RefusedOperation(f"当前待签环节是“{next_step(rec)}”，不是“会商”")
        d = _parse_date(date)
        self._check_date(rec, d)
        op = opinion or f"经会商评定为{conclusion}风险"
        pdf = self._pdf(row, rec["form"])
        signed = self._sign_pdf(pdf, "会商", op, d, extra=[f"会议纪要：{minutes_no}（{d.isoformat()}）"],
                                fill={"MeetingNo": minutes_no, "MeetingDate": d.isoformat(),
                                      "Conclusion": pdfsign.level_checks(conclusion)})
        blob = self._blob(row, signed)
        rec = {**rec, "form": blob, "form_sha256": _sha(signed),
               "steps": [*rec["steps"], self._step_entry("会商", op, d, signed, blob, minutes_no=minutes_no,
                                                          level=conclusion,
                                                          **({"meeting": meeting_id} if meeting_id else {}),
                                                          **({"next_review": str(next_review)} if next_review else {}))]}
        v = self._commit(row, rec, f"审批表：会商（{minutes_no}，{conclusion}风险）")
        self.ar.audit("approve.sign", dossier=row.id, version=v, step="会商", approval=rec["id"],
                      **({"meeting": meeting_id} if meeting_id else {}))
        return self._status_of(row, rec, v)

    def complete_meeting(self, meeting: dict) -> list[dict]:
        """After ``dossier meeting add``: sign the 会商 block of every person the meeting
        concluded whose approval waits at 会商 (minutes number, date, conclusion).

        Returns one ``{"archive_no", "ok", "status"|"error"}`` per such person; a
        refusal for one person (e.g. the meeting date precedes 派出所核查) does not
        undo the meeting or stop the others."""
        from ..errors import DossierError

        out = []
        label = (meeting.get("no") or "").strip() or f"{meeting.get('date', '')}会商会议"
        for p in meeting.get("persons") or ():
            try:
                row = self.ar.dossiers.resolve(p["dossier_id"])
                _, content = self.ar.dossiers.load(row)
                rec = current(content["state"])
                if rec is None or rec["status"] != OPEN or next_step(rec) != "会商":
                    continue
                st = self.record_meeting(row.id, minutes_no=label, date=meeting.get("date"),
                                         conclusion=p.get("level"), meeting_id=meeting.get("id"),
                                         next_review=p.get("next_review"))
                out.append({"archive_no": row.archive_no, "ok": True, "status": st})
            except DossierError as e:
                out.append({"archive_no": p.get("archive_no"), "ok": False, "error": e.message})
        return out

    def _return(self, row, rec: dict, step: str, opinion: str, d: _dt.date) -> dict:
        live = live_steps(rec)
        prev = live[-1]
        back_to = prev["step"]
        idx = live.index(prev)
        # the form goes back to the revision before the previous step's signature
        blob = live[idx - 1]["blob"] if idx > 0 else rec["base_blob"]
        sha = live[idx - 1]["sha256"] if idx > 0 else rec["base_sha256"]
        steps = [({**s, "superseded": True} if s is prev else s) for s in rec["steps"]]
        entry = self._step_entry(step, opinion, d, b"", None, action="return", returned_to=back_to)
        entry["sha256"] = None
        rec = {**rec, "steps": [*steps, entry], "form": blob, "form_sha256": sha}
        if back_to == "社区初评":
            rec["status"] = RETURNED
        v = self._commit(row, rec, f"审批表：{step}退回至{back_to}")
        self.ar.audit("approve.return", dossier=row.id, version=v, step=step, returned_to=back_to,
                      approval=rec["id"])
        return self._status_of(row, rec, v)

    def _open_round(self, state: dict) -> dict:
        rec = current(state)
        if rec is None:
            raise NotFound("该档案没有审批表（先运行 dossier approve submit）")
        if rec["status"] != OPEN:
            raise RefusedOperation(f"该档案的审批已{rec['status']}，没有待签环节")
        return rec

    @staticmethod
    def _next_review(rec: dict, level: str, d: _dt.date) -> str:
        """下次复评日期: the one the 会商 set for this person, else 高 1, 中 3, 低 6 months on."""
        for s in live_steps(rec):
            if s["step"] == "会商" and s.get("next_review"):
                return s["next_review"]
        from ..model.dates import add_months

        return add_months(d, REVIEW_MONTHS[level]).isoformat()

    @staticmethod
    def _final_level(rec: dict) -> str:
        level = rec["level"]
        for s in live_steps(rec):
            if s["step"] == "会商" and s.get("level"):
                level = s["level"]
        return level

    @staticmethod
    def _check_plan(state: dict, level: str) -> None:
        need = PLAN_FILING.get(level)
        if need is None:
            return
        # filing with a higher office satisfies a lower level (中: 街道 or 区禁毒办; 高: 区禁毒办)
        accepted = PLAN_FILING_ACCEPTED[need]
        plans = [e for e in state.get("entries", []) if e.get("type") == "measure" and e.get("filed_with") in accepted]
        if not plans:
            raise RefusedOperation(f"定级为{level}风险，须先有报{'或'.join(accepted)}备案的“一人一策”管控措施"
                                   f"（dossier entry add <档号> --type measure --file plan.yaml，"
                                   f"plan.yaml 中写 filed_with: {need}）")

    def _build_form(self, row, state: dict, level: str, reason: str, form_ref: str, d: _dt.date) -> bytes:
        """The real 审批表 (forms engine template ``risk-approval`` → LibreOffice → PDF).

        Without LibreOffice this raises MissingDependency (exit 1, install hint):
        no home-made substitute for the official form is signed."""
        from .formpdf import render_form

        return render_form(self.ar, row, level=level, reason=reason, date=d, form_ref=form_ref)

    # ------------------------------------------------------------------ reading
    def _status_of(self, row, rec: dict | None, version: int | None = None) -> dict:
        if rec is None:
            return {"archive_no": row.archive_no, "status": "无审批", "next": None, "steps": []}
        return {"archive_no": row.archive_no, "approval": rec["id"], "status": rec["status"],
                "level": self._final_level(rec), "next": next_step(rec) if rec["status"] == OPEN else None,
                "basis_version": rec["basis_version"], "version": version or row.head,
                "steps": [{k: s.get(k) for k in ("step", "action", "signer", "signer_full_name", "signer_unit",
                                                  "opinion", "date", "superseded", "returned_to", "minutes_no",
                                                  "next_review")} for s in rec["steps"]]}

    def status(self, ref: str) -> dict:
        row, state = self._row_and_state(ref)
        out = self._status_of(row, current(state))
        out["rounds"] = len(state.get("approvals") or [])
        return out

    def pending(self) -> list[dict]:
        """Approvals in the user's scopes whose next step this user may sign."""
        ar = self.ar
        u = ar.user
        out = []
        covered = ar.scopes.covered()
        for rid, archive_no, scope in ar.con.execute("SELECT id, archive_no, scope FROM dossiers ORDER BY archive_no"):
            if scope not in covered or not ar.keyring.holds(scope, "data"):
                continue
            row = ar.dossiers.resolve(rid)
            _, content = ar.dossiers.load(row)
            rec = current(content["state"])
            if not rec:
                continue
            nxt = next_step(rec) if rec["status"] == OPEN else ("社区初评" if rec["status"] == RETURNED else None)
            if nxt is None:
                continue
            if u.role == "approver" and u.step != nxt:
                continue
            if u.role != "approver" and u.role not in SIGNER_ROLES[nxt]:
                continue
            out.append({"archive_no": archive_no, "id": rid, "next": nxt, "level": self._final_level(rec),
                        "approval": rec["id"], "since": rec["steps"][-1]["date"]})
        return out

    def export(self, ref: str) -> bytes:
        row, state = self._row_and_state(ref)
        rec = current(state)
        if rec is None:
            raise NotFound("该档案没有审批表")
        pdf = self._pdf(row, rec["form"])
        self.ar.audit("export", dossier=row.id, kind="approval-form", approval=rec["id"])
        return pdf

    def verify(self, ref: str | None = None, pdf: bytes | None = None) -> dict:
        """Signatures, step order, signers' roles/steps, and (with the archive) that the form
        matches the dossier version and the recorded chain. ``ok`` false → caller exits 20."""
        from .hooks import ca_cert_pem

        ar = self.ar
        rec = row = None
        if pdf is None:
            row, state = self._row_and_state(ref)
            rec = current(state)
            if rec is None:
                raise NotFound("该档案没有审批表")
            pdf = self._pdf(row, rec["form"])
        out = verify_form(pdf, trust_pems=[ca_cert_pem(ar)])
        problems = out["problems"]
        out["problems_pdf"] = list(problems)
        fref = out["form_ref"]
        if rec is None and fref and "@v" in fref:
            did = fref.split("@v")[0]
            try:
                row = ar.dossiers.resolve(did)
                _, state = self._row_and_state(did)
                rec = next((r for r in reversed(state.get("approvals") or []) if r.get("form_ref") == fref), None)
            except NotFound:
                problems.append("无法在档案库中核对该审批表对应的档案（找不到）")
            except PermissionDenied:
                # e.g. an inspector checking a printed/exported form: the signatures, step order
                # and signers are checked; the match with the dossier's record is not — said so,
                # and not reported as tampering (exit 20) when nothing is wrong with the PDF.
                row = None
                out["notes"] = ["未与档案记录核对：当前用户无权查看该档案（签名、环节顺序与签名人已核验）"]
        out["archive_checked"] = rec is not None and row is not None
        if rec is not None and row is not None:
            if fref != rec["form_ref"]:
                problems.append("审批表的表单标识与档案记录不符")
            basis = int(rec["form_ref"].split("@v")[1])
            if basis > row.head:
                problems.append(f"审批表所依据的档案第 {basis} 版不存在")
            recorded = {s["sha256"] for s in live_steps(rec)}
            for sig in out["signatures"]:
                if sig["signed_sha256"] and sig["signed_sha256"] not in recorded:
                    problems.append(f"“{sig['step']}”的签名版本不在档案的审批记录中")
            users = {r[0]: (r[1], bytes(r[2]) if r[2] else None)
                     for r in ar.con.execute("SELECT name, role, cert FROM users")}
            cas, foreign = _origin_signers(ar, row.id)
            if cas:
                # a received file: its forms were signed in the archive(s) it came from, by their users,
                # with certificates from their CA (carried in the transfer bundle, signed by the sender)
                again = verify_form(pdf, trust_pems=[ca_cert_pem(ar), *cas])
                problems[:] = [q for q in problems if q not in out["problems_pdf"]] + again["problems"]
                out["signatures"] = again["signatures"]
            for sig in out["signatures"]:
                u = users.get(sig["signer"])
                if u is None and sig["signer"] in foreign:
                    continue
                if u is None:
                    problems.append(f"签名人“{sig['signer']}”不是本档案库的用户")
            out["archive_no"] = row.archive_no
            out["basis_version"] = basis
        out.pop("problems_pdf", None)
        out["ok"] = not problems
        return out


def _origin_signers(ar, dossier: str) -> tuple[list[bytes], set[str]]:
    """For a dossier received from other archives (dossier transfer): those archives' CA
    certificates and user names, as recorded at import. Empty for a file made here."""
    from ..received import has_tables

    if not has_tables(ar.con):           # an archive that never received anything has no such tables
        return [], set()                 # (asked first: on PostgreSQL a failed query spoils the transaction)
    aids = {r[0] for r in ar.con.execute(
        "SELECT DISTINCT origin_archive FROM received_versions WHERE dossier=?"
        " UNION SELECT DISTINCT origin_archive FROM merged_versions WHERE host=?", (dossier, dossier))}
    aids.discard(ar.archive_id)
    cas, names = [], set()
    for aid in sorted(aids):
        row = ar.con.execute("SELECT root_key FROM foreign_archives WHERE archive=?", (aid,)).fetchone()
        pem = json.loads(row[0]).get("ca_cert") if row else None
        if pem:
            cas.append(pem.encode())
            names |= {r[0] for r in ar.con.execute("SELECT name FROM foreign_users WHERE archive=?", (aid,))}
    return cas, names


def verify_form(pdf: bytes, trust_pems: list[bytes] | None = None) -> dict:
    """Verify a 审批表 PDF on its own: every signature, the step order, signers' roles and steps."""
    reps = pdfsign.verify_pdf(pdf, trust_pems=trust_pems)
    problems: list[str] = []
    seen: list[str] = []
    for r in reps:
        label = r.step or r.field
        problems += [f"{label}：{p}" for p in r.problems]
        if r.step is None:
            problems.append(f"签名栏“{r.field}”不是审批表的签批栏")
            continue
        if r.step != "会商":
            if r.signer_role == "approver" and r.signer_step != r.step:
                problems.append(f"{label}：签名人“{r.signer}”的证书环节是“{r.signer_step}”")
            if r.signer_role not in SIGNER_ROLES[r.step]:
                problems.append(f"{label}：签名人“{r.signer}”的角色“{r.signer_role}”不能签这一栏")
        seen.append(r.step)
    expected = list(STEPS[:len(seen)])
    if seen != expected:
        problems.append(f"签批顺序不对：{' → '.join(seen)}（应为 {' → '.join(expected)}）")
    if reps and not reps[-1].covers_whole_file:
        problems.append("最后一个签名之后文件又被追加了内容")
    return {"form_ref": pdfsign.form_ref(pdf) if reps or pdf else None,
            "signatures": [r.to_dict() for r in reps], "problems": problems, "ok": not problems}


__all__ = ["Approvals", "verify_form", "IntegrityError"]
