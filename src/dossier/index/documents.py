"""Index documents built from a dossier state (pure: state + date → dict).

A document is backend-neutral: lists of values per logical field. Two kinds:

- :func:`clerk_doc` — everything a clerk may search and see;
- :func:`inspect_doc` — masked display values, and blind tokens (HMAC of the
  normalised exact name / ID number) instead of names and numbers. No
  address, phone, note or finding text goes in, so an inspection index
  cannot answer a fragment, prefix or wildcard query on an identifier:
  there is nothing to match it against.

Status, risk level and labels depend on the date (a status period ends, a
person reaches 戒断三年): they are computed for ``today`` at indexing time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date

from ..disclose import masking
from .normalize import is_id_number, nfkc, norm_id, norm_name, norm_phone, suffixes

# profile fields whose text clerks search (besides name, identifiers, addresses)
PROFILE_TEXT = ("alias", "employer", "occupation", "native_place", "hukou_police", "residence_police",
                "grid", "seizing_unit", "inflow_reason", "residence_registered", "drug_types", "use_method",
                "addiction", "source", "special_diseases", "family_hardship", "record_flags", "notes")
ADDRESS_KEYS = ("residence_address", "hukou_address", "community")
# entry keys that are not text about the person (staff names, bookkeeping, dates)
ENTRY_SKIP = frozenset({"id", "type", "axis", "recorded_at", "author", "version", "staff", "responsibles", "testers",
                        "signer", "parties", "seal", "decision_doc", "report_no", "score", "person_seen",
                        "visit_freq_days", "test_freq_days", "hair_window_days", "community_opinion",
                        "police_check", "street_approval", "district_filing", "meeting", "batch"})
ENTRY_DATE_KEYS = ("date", "start", "end", "signed")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")
BODY_LIMIT = 4000


def blind(key: bytes, purpose: str, value: str) -> str:
    """Blind token of a normalised identifier (hex HMAC-SHA256, 128 bits)."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()[:32]


def blind_name(key: bytes, name: str) -> str:
    return blind(key, "name", norm_name(name))


def blind_id(key: bytes, value: str) -> str:
    return blind(key, "id_number", norm_id(value))


def scope_terms(scope_path: str) -> list[str]:
    """Every component and every prefix of a scope path (珠晖区, 珠晖区/粤汉街道, 苗圃社区 …)."""
    parts = [nfkc(p).replace(",", " ").strip() for p in scope_path.split("/") if p.strip()]
    out = list(parts)
    out += ["/".join(parts[:i]) for i in range(2, len(parts) + 1)]
    return sorted(set(out))


def _strings(value) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        return [value] if value.strip() and not _ISO_DAY.match(value) else []
    if isinstance(value, (int, float)):
        return []
    if isinstance(value, dict):
        return [s for k, v in value.items() if k not in ENTRY_SKIP for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def _day_int(value) -> int | None:
    if isinstance(value, date):
        return int(value.strftime("%Y%m%d"))
    if isinstance(value, str) and _ISO_DAY.match(value):
        return int(value[:10].replace("-", ""))
    return None


def derived(profile: dict, entries: list[dict], today: date) -> dict:
    """Current status (措施/现实), risk level and derived labels for ``today``."""
    from ..model.dossier_rules import status_on
    from ..rules.labels import derive_labels

    status = []
    for axis in ("measure", "presence"):
        try:
            s = status_on(entries, axis, today)
        except Exception:  # a malformed historic entry must not stop indexing
            s = None
        if s:
            status.append(s)
    risk = None
    dated = sorted((e for e in entries if e.get("type") in ("assessment", "measure")),
                   key=lambda e: str(e.get("date") or e.get("start") or ""))
    for e in dated:
        lvl = e.get("final_level") or e.get("proposed_level") or e.get("level")
        if lvl:
            risk = lvl
    try:
        labels = list(derive_labels(profile, entries, today))
    except Exception:
        labels = []
    return {"status": status, "risk": [risk] if risk else [], "labels": labels}


def _common(dossier_id: str, archive_no: str, scope_path: str, version: int, state: dict, today: date) -> dict:
    profile = state.get("profile", {}) or {}
    entries = state.get("entries", []) or []
    d = derived(profile, entries, today)
    dates = sorted({x for e in entries for k in ENTRY_DATE_KEYS if (x := _day_int(e.get(k))) is not None})
    return {"id": dossier_id, "archive_no": archive_no, "scope": scope_path, "version": int(version),
            "scope_terms": scope_terms(scope_path), "status": [nfkc(s) for s in d["status"]],
            "risk": [nfkc(r) for r in d["risk"]], "labels": [nfkc(x) for x in d["labels"]], "dates": dates,
            "_derived": d, "_profile": profile, "_entries": entries}


def clerk_doc(dossier_id: str, archive_no: str, scope_path: str, version: int, state: dict, today: date) -> dict:
    c = _common(dossier_id, archive_no, scope_path, version, state, today)
    profile, entries, d = c.pop("_profile"), c.pop("_entries"), c.pop("_derived")
    name, alias = profile.get("name") or "", profile.get("alias") or ""
    idn = norm_id(profile.get("id_number"))
    phones = [p for p in (norm_phone(profile.get("phone")),) if p]
    addr = [str(profile[k]) for k in ADDRESS_KEYS if profile.get(k)] + scope_path.split("/")
    ptext = [s for k in PROFILE_TEXT for s in _strings(profile.get(k))]
    etext = [s for e in entries for s in _strings(e)]
    body = "；".join(dict.fromkeys(ptext + etext))
    c.update({
        "name_exact": [v for v in (norm_name(name), norm_name(alias)) if v],
        "name": [v for v in (name, alias) if v],
        "id_full": [idn] if idn else [],
        "id_tail": suffixes(idn) if idn else [],
        "phone_full": phones,
        "phone_tail": [s for p in phones for s in suffixes(p)],
        "archive_no": archive_no,
        "archive_key": [norm_id(archive_no)],
        "addr": addr,
        "text": ptext + etext,
        "data": {"name": name, "id_number": profile.get("id_number") or "", "phone": profile.get("phone") or "",
                 "address": profile.get("residence_address") or "", "gender": profile.get("gender") or "",
                 "status": d["status"], "risk": (d["risk"] or [None])[0], "labels": d["labels"],
                 "body": body[:BODY_LIMIT]},
    })
    return c


def inspect_doc(dossier_id: str, archive_no: str, scope_path: str, version: int, state: dict, today: date,
                blind_key: bytes) -> dict:
    c = _common(dossier_id, archive_no, scope_path, version, state, today)
    profile, d = c.pop("_profile"), c.pop("_derived")
    c.pop("_entries")
    name = profile.get("name") or ""
    idn = norm_id(profile.get("id_number"))
    c.update({
        # the real name only (not the alias): the narrowest exact-match surface
        "name_blind": [blind_name(blind_key, name)] if norm_name(name) else [],
        "id_blind": [blind_id(blind_key, idn)] if idn and is_id_number(idn) else [],
        "archive_key": [norm_id(archive_no)],
        "data": {"name": masking.mask_name(name),
                 "id_number": masking.mask_id_number(profile.get("id_number") or "", style="inspect"),
                 "phone": masking.mask_phone(profile.get("phone") or ""),
                 "address": masking.mask_address(profile.get("residence_address") or ""),
                 "gender": profile.get("gender") or "",
                 "status": d["status"], "risk": (d["risk"] or [None])[0], "labels": d["labels"]},
    })
    return c
