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
    from ..dossiers import DossierRow
    from ..session import Session, User
    from .campaigns import Campaign
    from .population import PersonRecord

APPROVAL_KINDS = ("approval_sign", "approval_meeting", "approval_returned")
PERSON_KINDS = tuple(k for k in KINDS if k not in APPROVAL_KINDS and k != "campaign_action")
#: what each role's 工作台 lists unless ``kinds`` says otherwise
ROLE_KINDS = {"admin": tuple(KINDS), "clerk": tuple(KINDS), "approver": APPROVAL_KINDS}
MAX_WITHIN_DAYS = 366
#: agendas a session's ``ar.agenda_memo`` keeps (windows, scopes), the oldest dropped first
MEMO_ENTRIES = 8


@dataclass
class Agenda:
    as_of: date
    within_days: int
    scope: str                 # the scope asked for, or "*"
    persons: int               # dossiers looked at
    items: list[dict] = field(default_factory=list)
    #: with ``ar.agenda_memo``: a token equal for two agendas of the same memo entry (the same
    #: dossier heads, date, window, configuration, campaigns, user and scopes), else None
    memo_token: object = None

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
    get :class:`PermissionDenied` — their 工作台 is the masked search.

    A long-lived process (the web server) may hang an :class:`AgendaCache` on the session
    as ``ar.agenda_cache``: each dossier's items are then derived once per head version
    (and date, window, configuration and campaigns) and shared by every session that may
    decrypt that dossier.

    With the cache, the session may also carry ``ar.agenda_memo`` (a dict; the web server
    gives each login its own, dropped at logout): this user's last agendas, each kept with
    the dossier rows (id, 档号, scope, head version) it was made from and returned again —
    copied, audited like any other — only while those rows are the same (any save, move, new
    or removed dossier in the scopes makes it stale) and so are the date, window,
    configuration, campaigns, kinds, the user's role, step and scopes. Never used for (nor
    made from) heads received from another archive or touched by a hand-over, nor inside an
    open transaction. ``Agenda.memo_token`` then names the entry, so a caller may keep what
    it made from the items (the web: the rendered list) for as long as the token comes back."""
    from ..model.dossier_rules import periods_memo
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
    want_items = bool(wanted_kinds & set(PERSON_KINDS)) or bool(camps)
    want_approvals = bool(wanted_kinds & set(APPROVAL_KINDS))
    derive = _Deriver(as_of, within_days, horizon, config, camps)
    cache = getattr(ar, "agenda_cache", None)
    items: list[dict] = []

    def emit(row, name, rec, found) -> None:
        # ``found``: the dossier's person and campaign items as dicts (shared with the
        # cache: copied here, so a caller changing its list never changes the cache)
        for d in found:
            if d["kind"] in wanted_kinds:
                items.append(dict(d))
        if want_approvals and rec is not None:
            for it in approval_items_of(rec, ar.user):
                if it.kind in wanted_kinds:
                    items.append(_item_dict(it, row, name, as_of))

    with periods_memo():
        if cache is None:
            # nothing is shown before the pass ends: the heads may be checked, decrypted and
            # derived half on the other core (``derive`` is pure: its results come back pickled)
            done = ar.dossiers.heads_map(sids, lambda row, _, content: derive(row, content["state"], want_items))
            n = len(done)
            for row, (name, rec, found) in done:
                emit(row, name, rec, found)
        else:
            keys = ar.dossiers.head_keys(sids)
            memo = getattr(ar, "agenda_memo", None)
            usable = memo is not None and not keys[1] and not ar.con.in_transaction
            mkey = (ar.archive_id, ar.user.name, ar.user.role, ar.user.step, scope,
                    tuple((s, ar.scopes.path_of(s)) for s in sorted(sids)), derive.key, tuple(sorted(wanted_kinds)))
            hit = memo.get(mkey) if usable else None
            if hit is not None and hit[0] == keys[0]:
                # the same heads (id, 档号, scope, version) as when this user's agenda was made
                n, token = len(keys[0]), hit[2]
                items = [dict(d) for d in hit[1]]
                ar.audit("agenda", scope=scope or "*", count=len(items))
                return Agenda(as_of, within_days, scope or "*", n, items, token)
            rows, special = ar.dossiers.head_rows(sids, keys)
            n = _agenda_cached(ar, cache, sids, derive, want_items, emit, rows, special)
            items.sort(key=lambda i: (i["due"], i["archive_no"], i["kind"]))
            token = None
            if usable:
                token = object()
                memo.pop(mkey, None)
                memo[mkey] = (keys[0], tuple(dict(d) for d in items), token)
                while len(memo) > MEMO_ENTRIES:
                    memo.pop(next(iter(memo)))
            ar.audit("agenda", scope=scope or "*", count=len(items))
            return Agenda(as_of, within_days, scope or "*", n, items, token)
    items.sort(key=lambda i: (i["due"], i["archive_no"], i["kind"]))
    ar.audit("agenda", scope=scope or "*", count=len(items))
    return Agenda(as_of, within_days, scope or "*", n, items)


def _agenda_cached(ar: "Session", cache: "AgendaCache", sids: set[int], derive: "_Deriver", want_items: bool,
                   emit, rows, special) -> int:
    """The agenda pass through the cache: the heads are identified (id, 档号, scope, head
    version) from the dossiers table without reading them; a head whose derived items are
    cached is used only after checking that this user holds the data key of its scope and
    key version (the cache never answers for a dossier the caller could not decrypt); the
    others are decrypted and verified as usual, and cached — except heads received from
    another archive or touched by a hand-over (issue 13), always read through ``heads``."""
    misses: set[str] = set(special)
    if special:         # received, handed over or emptied by a hand-over: never from (nor into) the cache
        cache.drop(ar.archive_id, special)
    plain = [row for row in rows if row.id not in special]
    for row, hit in zip(plain, cache.lookup_many(ar.archive_id, plain, derive.key if want_items else None)):
        if hit is None:
            misses.add(row.id)
            continue
        kv, *derived = hit
        ar.keyring.scope_key(row.scope, "data", kv)        # PermissionDenied, as decrypting would
        emit(row, *derived)
    if misses:
        keep = not ar.con.in_transaction       # never cache what this connection has not committed
        for row, v, content in ar.dossiers.heads(sids, only=misses):
            name, rec, found = derive(row, content["state"], want_items)
            if keep and row.id not in special:
                cache.store(ar.archive_id, row, v.key_version, name, rec, derive.key if want_items else None, found)
            emit(row, name, rec, found)
    return len(rows)


class _Deriver:
    """What one dossier's state gives the agenda for a date, window, configuration and
    campaigns (pure): its name, its current 审批表 (the user's approval items are derived
    from it per call) and its person and campaign items."""

    def __init__(self, as_of: date, within_days: int, horizon: date, config: AgendaConfig, camps: list):
        self.as_of, self.within_days, self.horizon, self.config, self.camps = as_of, within_days, horizon, config, camps
        self.key = (as_of, within_days, _config_key(config), tuple(_campaign_key(c) for c in camps))

    def __call__(self, row, state: dict, want_items: bool) -> tuple[str | None, dict | None, tuple[dict, ...]]:
        profile, entries = state.get("profile", {}), state.get("entries", [])
        found: list[Item] = []
        if want_items:
            found += person_items(profile, entries, self.as_of, self.within_days, self.config)
            if self.camps:
                found += campaign_items(self.camps, _record(row, profile, entries), self.as_of, self.horizon)
        rec = None
        if state.get("approvals"):      # (imported only then: approve.chain pulls in the PDF signer)
            from ..approve.chain import current

            rec = current(state)
        name = profile.get("name")
        return name, rec, tuple(_item_dict(it, row, name, self.as_of) for it in found)


def _config_key(config: AgendaConfig) -> tuple:
    return (tuple(sorted(config.visit_days.items())), config.unassessed_visit_days, config.report_days,
            config.campaign_grace_days)


def _campaign_key(c: "Campaign") -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(c.to_dict(), ensure_ascii=False, sort_keys=True).encode()).hexdigest()


class AgendaCache:
    """Derived agenda items per dossier head, in this process's memory only (never on
    disk), shared by the sessions of a long-lived process (``dossier serve``).

    - Keyed by archive id and dossier id; an entry holds the head version number and
      scope it was derived from, and is used only while the dossier's head is still
      that version in that scope under that 档号 (a new version, or a move to another scope, makes it
      stale: it is replaced the next time that dossier is read). Versions are immutable
      and signed, so a version number identifies one content.
    - The version was decrypted and verified (hash, chain link, signature) when the
      entry was made; a hit skips decrypting it again, as a warm session skips the
      signature check of a version it already verified. (Tampering with a stored
      version is found by ``check`` and by every page that opens it; the 工作台 keeps
      showing what the verified version said.)
    - :func:`agenda` consults it only for heads in the caller's scopes, after checking
      that the caller holds the data key of that scope and key version: a clerk never
      gets another scope's items, even those derived for an admin.
    - Bounded: at most ``max_dossiers`` dossiers (least recently used dropped first),
      ``max_variants`` (date, window, configuration, campaigns) per dossier.
    Items (the agenda's dicts, with 档号, scope and name) hold names and reasons in
    plaintext: memory only, like the keys of the sessions; :meth:`clear` drops everything (the server calls it when it stops).
    """

    def __init__(self, max_dossiers: int = 50_000, max_variants: int = 4):
        import threading
        from collections import OrderedDict

        self.max_dossiers, self.max_variants = max_dossiers, max_variants
        self._lock = threading.Lock()
        self._by_dossier: "OrderedDict[tuple[str, str], list]" = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._by_dossier)

    def lookup_many(self, archive_id: str, rows, key) -> list[tuple | None]:
        """:meth:`lookup` of each row, under one acquisition of the lock."""
        with self._lock:
            return [self._lookup(archive_id, row, key) for row in rows]

    def lookup(self, archive_id: str, row, key) -> tuple | None:
        """(key version, name, current 审批表, items) of ``row``'s head, or None (derive
        it). ``key``: the variant of the items wanted (None: items not wanted). The caller
        checks that its user holds the data key of that key version before using it."""
        with self._lock:
            return self._lookup(archive_id, row, key)

    def _lookup(self, archive_id: str, row, key) -> tuple | None:
        k = (archive_id, row.id)
        e = self._by_dossier.get(k)
        if e is None or e[0] != (row.head, row.scope, row.archive_no):
            self.misses += 1
            return None
        found = () if key is None else e[4].get(key)
        if found is None:
            self.misses += 1
            return None
        self._by_dossier.move_to_end(k)
        self.hits += 1
        return e[1], e[2], e[3], found

    def store(self, archive_id: str, row, key_version: int, name, rec, key, found: tuple) -> None:
        k = (archive_id, row.id)
        with self._lock:
            e = self._by_dossier.get(k)
            if e is None or e[0] != (row.head, row.scope, row.archive_no):
                e = [(row.head, row.scope, row.archive_no), key_version, name, rec, {}]
                self._by_dossier[k] = e
            self._by_dossier.move_to_end(k)
            if key is not None:
                variants = e[4]
                variants.pop(key, None)
                variants[key] = tuple(found)
                while len(variants) > self.max_variants:
                    variants.pop(next(iter(variants)))
            while len(self._by_dossier) > self.max_dossiers:
                self._by_dossier.popitem(last=False)

    def drop(self, archive_id: str, ids) -> None:
        """Forget these dossiers (their derived items leave memory)."""
        with self._lock:
            for i in ids:
                self._by_dossier.pop((archive_id, i), None)

    def clear(self) -> None:
        with self._lock:
            self._by_dossier.clear()


def _kinds(role: str, kinds: Iterable[str] | None) -> set[str]:
    if kinds is None:
        return set(ROLE_KINDS.get(role, ()))
    kinds = {str(k).strip() for k in kinds}
    unknown = sorted(kinds - set(KINDS))
    if unknown:
        raise InvalidInput(field="kind", reason=f"未知待办类别“{'、'.join(unknown)}”；可用：{'、'.join(KINDS)}")
    return kinds


def _item_dict(it: Item, row, name: str | None, as_of: date) -> dict:
    return {"archive_no": row.archive_no, "id": row.id, "scope": row.scope_path,
            "name": name, "kind": it.kind, "kind_label": KINDS[it.kind],
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
    from .campaigns import in_population, person_actions

    out = []
    lost = None
    for c in camps:
        if not in_population(c, record):
            continue
        if lost is None:
            lost = record.presence(as_of) == "失控"
        for a in person_actions(c, record, as_of, lost):
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
    from ..approve.chain import current

    return approval_items_of(current(state), user)


def approval_items_of(rec: dict | None, user: "User") -> list[Item]:
    """:func:`approval_items` of the dossier's current 审批表 record ``rec``."""
    from ..approve.chain import OPEN, RETURNED, SIGNER_ROLES, Approvals, next_step

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
