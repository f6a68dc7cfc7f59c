"""The 工作台 agenda over the archive: one pass over the dossiers a user may
read, the pure rules of :mod:`dossier.rules.agenda` on each, plus campaign
actions (:mod:`.campaigns`) and 审批表 waiting for this user (approve/chain).

``ar.agenda(scope=None, within_days=14, as_of=None, kinds=None)`` → :class:`Agenda`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Iterable

from ..dossiers import READ_ROLES
from ..errors import InvalidInput, PermissionDenied
from ..rules.agenda import KINDS, AgendaConfig, Item, person_items

if TYPE_CHECKING:
    from ..session import Session, User
    from .campaigns import Campaign
    from .population import PersonRecord

APPROVAL_KINDS = ("approval_sign", "approval_meeting", "approval_returned")
PERSON_KINDS = tuple(k for k in KINDS if k not in APPROVAL_KINDS and k != "campaign_action")
#: what each role's 工作台 lists unless ``kinds`` says otherwise
ROLE_KINDS = {"admin": tuple(KINDS), "clerk": tuple(KINDS), "approver": APPROVAL_KINDS}
MAX_WITHIN_DAYS = 366


@dataclass
class Agenda:
    as_of: date
    within_days: int
    scope: str                 # the scope asked for, or "*"
    persons: int               # dossiers looked at
    items: list[dict] = field(default_factory=list)

    @property
    def horizon(self) -> date:
        return self.as_of + timedelta(days=self.within_days)

    # a sequence of its items, so ``for item in ar.agenda()`` and ``len(...)`` work
    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]

    def to_dict(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "within_days": self.within_days,
                "horizon": self.horizon.isoformat(), "scope": self.scope, "persons": self.persons,
                "overdue": sum(1 for i in self.items if i["overdue"]), "items": self.items}


def agenda(ar: "Session", scope: str | None = None, *, within_days: int = 14, as_of: date | None = None,
           kinds: Iterable[str] | None = None) -> Agenda:
    """What must be done in ``scope`` (default: all the user's scopes) by ``as_of + within_days``,
    overdue items first. Admins, clerks and approvers (they hold the data keys); inspectors
    get :class:`PermissionDenied` — their 工作台 is the masked search."""
    from .population import scope_ids

    if ar.user.role not in READ_ROLES:
        raise PermissionDenied(f"{ar.user.role_label}不能解密档案，没有待办清单（请用 dossier search 检索脱敏结果）")
    if isinstance(within_days, bool) or not isinstance(within_days, int) or not 0 <= within_days <= MAX_WITHIN_DAYS:
        raise InvalidInput(field="within", reason=f"应为 0 到 {MAX_WITHIN_DAYS} 之间的天数")
    wanted_kinds = _kinds(ar.user.role, kinds)
    as_of = as_of or date.today()
    horizon = as_of + timedelta(days=within_days)
    config = AgendaConfig.from_config(ar.config.get("agenda"))
    sids = scope_ids(ar, scope)
    camps = _campaigns(ar, as_of, horizon, config) if "campaign_action" in wanted_kinds else []
    want_person = bool(wanted_kinds & set(PERSON_KINDS))
    want_approvals = bool(wanted_kinds & set(APPROVAL_KINDS))
    items: list[dict] = []
    n = 0
    for row, _, content in ar.dossiers.heads(sids):
        n += 1
        state = content["state"]
        profile, entries = state.get("profile", {}), state.get("entries", [])
        found: list[Item] = []
        if want_person:
            found += person_items(profile, entries, as_of, within_days, config)
        if camps:
            found += campaign_items(camps, _record(row, profile, entries), as_of, horizon)
        if want_approvals and state.get("approvals"):
            found += approval_items(state, ar.user)
        for it in found:
            if it.kind in wanted_kinds:
                items.append(_item_dict(it, row, profile, as_of))
    items.sort(key=lambda i: (i["due"], i["archive_no"], i["kind"]))
    ar.audit("agenda", scope=scope or "*", count=len(items))
    return Agenda(as_of, within_days, scope or "*", n, items)


def _kinds(role: str, kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(ROLE_KINDS.get(role, ()))
    kinds = {str(k).strip() for k in kinds}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise InvalidInput(field="kind", reason=f"未知待办类别“{'、'.join(unknown)}”；可用：{'、'.join(KINDS)}")
    return kinds


def _item_dict(it: Item, row, profile: dict, as_of: date) -> dict:
    return {"archive_no": row.archive_no, "id": row.id, "scope": row.scope_path,
            "name": profile.get("name"), "kind": it.kind, "kind_label": KINDS[it.kind],
            "due": it.due.isoformat(), "overdue": it.overdue(as_of), "days": (it.due - as_of).days,
            "reason": it.reason, **dict(it.extra)}


def _record(row, profile: dict, entries: list[dict]) -> "PersonRecord":
    from .population import PersonRecord

    return PersonRecord(row.id, row.archive_no, row.scope_path, profile, entries, row.head)


# -- campaigns -------------------------------------------------------------------

def _campaigns(ar: "Session", as_of: date, horizon: date, config: AgendaConfig) -> list["Campaign"]:
    """Campaigns with actions due in the window: started by the horizon, ended at most
    ``campaign_grace_days`` ago."""
    from .campaigns import Campaigns

    grace = timedelta(days=config.campaign_grace_days)
    return [c for c in Campaigns(ar).list() if c.start <= horizon and as_of <= c.end + grace and c.actions]


def campaign_items(camps: list["Campaign"], record: "PersonRecord", as_of: date, horizon: date) -> list[Item]:
    """Campaign actions this person still needs, due by ``horizon`` (pure)."""
    from .campaigns import in_population, person_progress

    out = []
    for c in camps:
        if not in_population(c, record):
            continue
        for a in person_progress(c, record, as_of)["actions"]:
            due = date.fromisoformat(a["due"])
            if a["done"] or due > horizon:
                continue
            out.append(Item("campaign_action", due,
                            f"专项行动“{c.name}”：{a['label']}须在“{a['by']}”结束（{a['due']}）前完成"
                            f"（要求 {a['required']} 次，已有 {a['have']} 次）",
                            {"campaign": c.name, "action": a["action"]}))
    return out


# -- approvals -------------------------------------------------------------------

def approval_items(state: dict, user: "User") -> list[Item]:
    """The dossier's 审批表 if its next step is this user's to sign (or it was returned to
    them); due = the day of the last step (pure: the state and the user)."""
    from ..approve.chain import OPEN, RETURNED, SIGNER_ROLES, Approvals, current, next_step

    rec = current(state)
    if not rec:
        return []
    nxt = next_step(rec) if rec["status"] == OPEN else ("社区初评" if rec["status"] == RETURNED else None)
    if nxt is None:
        return []
    if user.role == "approver" and user.step != nxt:
        return []
    if user.role != "approver" and user.role not in SIGNER_ROLES[nxt]:
        return []
    last = rec["steps"][-1]
    since = date.fromisoformat(last["date"])
    level = Approvals._final_level(rec)
    extra = {"approval": rec["id"], "step": nxt}
    if last["action"] == "return":
        return [Item("approval_returned", since,
                     f"审批表（建议{level}风险）于 {last['date']} 被“{last['step']}”退回至“{nxt}”："
                     f"{last.get('opinion') or ''}", extra)]
    if nxt == "会商":
        return [Item("approval_meeting", since, f"审批表（建议{level}风险）待会商（{last['date']} 起），"
                                                "会商后用 dossier meeting add 记录", extra)]
    return [Item("approval_sign", since, f"审批表（建议{level}风险）待“{nxt}”签批（{last['date']} 起）", extra)]
