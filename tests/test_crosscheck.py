"""The cross-check rules as a table of small cases (pure: plain rows and events),
and the export-age warning."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from dossier.audit_heads import head_age_warning
from dossier.crosscheck import Inputs, VersionLink, cross_check


@dataclass
class Ev:
    seq: int
    action: str
    actor: str = "li"
    public: dict = field(default_factory=dict)
    private: dict | None = None
    ts: str = "2025-06-01T08:00:00+00:00"


def change(seq, dossier, version, vhash="h", actor="li"):
    return Ev(seq, "dossier.change", actor, {"version": version},
              {"dossier": dossier, "archive_no": f"NO-{dossier}", "vhash": vhash})


def links(dossier, n, start_seq=1, digest="h"):
    return [VersionLink(dossier, v, "li", start_seq + v - 1, digest) for v in range(1, n + 1)]


def run(links_, dossiers, events, **kw):
    return cross_check(Inputs(links=links_, dossiers=dossiers, events=events,
                              open_private=lambda ev: ev.private, **kw))


def test_consistent_histories_pass():
    evs = [change(1, "a", 1), change(2, "a", 2)]
    assert run(links("a", 2), {"a": ("NO-a", 2)}, evs) == []


@pytest.mark.parametrize("case, expect", [
    ("head set back", "最新版本被删除"),
    ("version replaced", "哈希不符"),
    ("event of another dossier", "另一份档案"),
    ("event of another action", "不是该版本的修改记录"),
    ("dossier deleted", "没有这份档案"),
    ("no key for the orphan event", "无法识别"),
    ("anchored event missing", "截断"),
])
def test_each_inconsistency_is_named(case, expect):
    evs = [change(1, "a", 1), change(2, "a", 2), change(3, "a", 3)]
    ls, dossiers = links("a", 3), {"a": ("NO-a", 3)}
    if case == "head set back":
        ls, dossiers = ls[:2], {"a": ("NO-a", 2)}
    elif case == "version replaced":
        ls[1] = VersionLink("a", 2, "li", 2, "other")
    elif case == "event of another dossier":
        evs[1].private["dossier"] = "b"
        dossiers["b"] = ("NO-b", 0)
    elif case == "event of another action":
        evs[1] = Ev(2, "view", "li", {"version": 2})
    elif case == "dossier deleted":
        evs.append(change(4, "gone", 1))
    elif case == "no key for the orphan event":
        evs.append(Ev(4, "dossier.change", "li", {"version": 9}, None))
    elif case == "anchored event missing":
        evs = evs[:2]
    problems = run(ls, dossiers, evs)
    assert problems and any(expect in p["problem"] for p in problems), problems


def test_legacy_versions_and_events_without_vhash_are_accepted():
    legacy = [VersionLink("a", 1, "li", None, "x")]           # written before the audit chain
    evs = [Ev(1, "dossier.change", "li", {"version": 2}, {"dossier": "a"})]   # no vhash recorded
    assert run([*legacy, VersionLink("a", 2, "li", 1, "y")], {"a": ("NO-a", 2)}, evs) == []


def test_approval_event_must_be_in_its_version():
    evs = [change(1, "a", 1), Ev(2, "approve.sign", "zhao", {"version": 1, "step": "派出所核查", "approval": "p1"},
                                  {"dossier": "a"})]
    ok = {"p1": {("sign", "派出所核查")}}
    assert run(links("a", 1), {"a": ("NO-a", 1)}, evs, approval_steps=lambda d, v: ok) == []
    problems = run(links("a", 1), {"a": ("NO-a", 1)}, evs, approval_steps=lambda d, v: {"p1": set()})
    assert "不在该版本中" in problems[0]["problem"]


def test_disclosure_rows_follow_the_chain():
    evs = [Ev(1, "disclose.request", "qian", {"request": "D1", "fields": ["name"], "until": None}),
           Ev(2, "disclose.grant", "admin", {"request": "D1", "fields": ["name"]})]
    row = {"id": "D1", "requester": "qian", "fields": '["name"]', "until": None, "status": "已授权",
           "granted_by": "admin"}
    assert run([], {}, evs, disclosures=[row]) == []
    assert "被改动" in run([], {}, evs, disclosures=[{**row, "status": "待授权"}])[0]["problem"]
    assert "被插入" in run([], {}, evs, disclosures=[row, {**row, "id": "D2"}])[0]["problem"]


def test_disclosure_status_strings_match_the_package():
    from dossier.crosscheck import DISCLOSURE_STATUS
    from dossier.disclose import grants

    assert list(DISCLOSURE_STATUS.values()) == [grants.REQUESTED, grants.GRANTED, grants.REVOKED]


NOW = dt.datetime(2025, 6, 20, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("events, days, warns", [
    ([Ev(1, "archive.init", ts="2025-06-18T00:00:00+00:00")], 7, False),           # young archive, never exported
    ([Ev(1, "x", ts="2025-06-01T00:00:00+00:00")], 7, True),                         # old archive, never exported
    ([Ev(1, "x", ts="2025-01-01T00:00:00+00:00"),
      Ev(2, "audit.export-head", ts="2025-06-15T00:00:00+00:00")], 7, False),        # exported 5 days ago
    ([Ev(1, "audit.export-head", ts="2025-06-01T00:00:00+00:00")], 30, False),       # within a longer limit
    ([Ev(1, "audit.export-head", ts="2025-06-01T00:00:00+00:00")], 0, False),        # 0 turns it off
])
def test_head_age_warning(events, days, warns):
    w = head_age_warning(events, days, now=NOW)
    assert (w is not None) == warns
    if w:
        assert "dossier audit export-head" in w


@dataclass
class Ev2(Ev):
    event_id: str = ""


def test_version_anchored_by_event_id_matches_that_event():
    """A format-2 event (linked by the store, docs/decisions.md): the version's anchor seq is
    the head its author saw; its own event is found by id, wherever the store placed it."""
    evs = [Ev2(1, "search", event_id="e1"),
           Ev2(2, "dossier.change", "li", {"version": 2}, {"dossier": "a", "archive_no": "NO-a", "vhash": "h2"},
               event_id="e2"),
           Ev2(3, "dossier.change", "li", {"version": 1}, {"dossier": "b", "archive_no": "NO-b", "vhash": "h1"},
               event_id="e3")]
    ls = [VersionLink("a", 2, "li", 1, "h2", "e2"), VersionLink("b", 1, "li", 1, "h1", "e3")]
    dossiers = {"a": ("NO-a", 2), "b": ("NO-b", 1)}
    assert run(ls, dossiers, evs) == []
    # the same seq (the seen head) without the id would point at the search event
    assert any("不是该版本的修改记录" in p["problem"]
               for p in run([VersionLink("b", 1, "li", 1, "h1")], {"b": ("NO-b", 1)}, evs[2:] + evs[:1]))
    # its event gone: named; a version replaced: its hash no longer matches the event's
    out = run(ls, dossiers, evs[:2])
    assert any("没有该版本锚定的事件" in p["problem"] for p in out)
    out = run([ls[0], VersionLink("b", 1, "li", 1, "other", "e3")], dossiers, evs)
    assert any("哈希不符" in p["problem"] for p in out)
    # two versions naming one event
    out = run([ls[0], VersionLink("b", 1, "li", 1, "h1", "e2")], dossiers, evs)
    assert out
