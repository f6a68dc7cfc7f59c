"""``ar.agenda`` (the 工作台) on a fixture that covers every kind, against due dates
computed by hand here (issue 11: "agenda equals hand-computed due dates"), plus the
roles, the scopes and the CLI (CliRunner and the real executable)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "approve"))

from approvekit import make_form_pdf  # noqa: E402


def _top_conftest():
    """tests/conftest.py by path (a bare ``import conftest`` may find another directory's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_top_conftest", Path(__file__).parents[1] / "conftest.py")
    mod = sys.modules["_top_conftest"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_top = _top_conftest()
APPROVER, CLERK_A, INSPECTOR, SCOPE_A, SCOPE_B = _top.APPROVER, _top.CLERK_A, _top.INSPECTOR, _top.SCOPE_A, _top.SCOPE_B
make_world, World = _top.make_world, _top.World

from dossier.errors import InvalidInput, PermissionDenied  # noqa: E402
from dossier.rules.agenda import KINDS  # noqa: E402

AS_OF = date(2025, 6, 1)          # within 14 days: the horizon is 2025-06-15
QUIET = {"addiction": "成瘾", "is_inflow": False, "inflow_date": None, "driving_license": None,
         "political_status": "群众", "is_public_official": False, "special_diseases": [], "record_flags": []}
SEEN = {"method": "敲门见人", "subject": "本人", "person_seen": True}
CAMPAIGN = {"name": "2025失控人员查找", "scope": SCOPE_A, "population": {"presence": ["失控"]},
            "steps": [{"name": "全面排查", "start": "2025-05-01", "end": "2025-05-31"},
                      {"name": "风险评估", "start": "2025-06-01", "end": "2025-06-10"}],
            "actions": [{"action": "interview", "count": 2, "by": "全面排查"},
                        {"action": "assessment", "count": 1, "by": "风险评估"}]}

# person → its entries (type, data); every person not meant to be due for a 见面 was seen on 05-20,
# so their 见面 falls due after the window (unassessed: 90 days → 08-18; 低 180; 高 30 → 06-19)
PEOPLE = {
    "visit_plan": ({}, [("measure", {"date": "2025-01-01", "visit_freq_days": 20}),
                        ("interview", {"date": "2025-05-10", **SEEN}),
                        ("interview", {"date": "2025-05-25", "method": "走访亲友", "subject": "亲属",
                                       "person_seen": False})]),
    "visit_level": ({}, [("assessment", {"date": "2025-01-15", "proposed_level": "高"}),
                         ("measure", {"date": "2025-01-20", "level": "高", "filed_with": "区禁毒办"}),
                         ("interview", {"date": "2025-05-05", **SEEN})]),
    "test_schedule": ({}, [("status", {"status": "社区戒毒", "start": "2024-03-10", "report_date": "2024-03-15"}),
                           ("test", {"date": "2025-04-10", "result": "阴性"}),
                           ("interview", {"date": "2025-05-20", **SEEN})]),
    "test_plan": ({}, [("measure", {"date": "2025-03-01", "test_freq_days": 30}),
                       ("test", {"date": "2025-05-01", "result": "拒检"}),
                       ("interview", {"date": "2025-05-20", **SEEN})]),
    "review": ({}, [("assessment", {"date": "2025-02-01", "proposed_level": "低", "next_review": "2025-06-10"}),
                    ("interview", {"date": "2025-05-20", **SEEN})]),
    "report": ({}, [("interview", {"date": "2025-05-20", **SEEN}),
                    ("status", {"status": "社区康复", "start": "2025-05-25"})]),
    "report_by_agreement": ({}, [("status", {"status": "社区戒毒", "start": "2025-05-01"}),
                                 ("agreement", {"agreement_type": "社区戒毒协议", "signed": "2025-05-10"}),
                                 ("interview", {"date": "2025-05-20", **SEEN})]),
    "license": ({"driving_license": {"class": "C1", "status": "正常"}},
                [("status", {"status": "社区戒毒", "start": "2024-09-01", "report_date": "2024-09-05"}),
                 ("test", {"date": "2025-05-15", "result": "阴性"}),
                 ("interview", {"date": "2025-05-20", **SEEN})]),
    "relapse": ({}, [("status", {"status": "强制隔离戒毒", "start": "2021-01-01", "end": "2023-01-01"}),
                     ("test", {"date": "2025-05-01", "result": "阳性"}),
                     ("interview", {"date": "2025-05-20", **SEEN})]),
    "high_risk": ({}, [("assessment", {"date": "2025-04-01", "proposed_level": "高"}),
                       ("interview", {"date": "2025-05-20", **SEEN})]),
    "inflow": ({"is_inflow": True, "inflow_date": "2025-04-01"}, [("interview", {"date": "2025-05-20", **SEEN})]),
    "inflow_no_date": ({"is_inflow": True}, [("interview", {"date": "2025-05-20", **SEEN})]),
    "milestone": ({}, [("status", {"status": "强制隔离戒毒", "start": "2020-01-01", "end": "2022-06-05"}),
                       ("interview", {"date": "2025-05-20", **SEEN})]),
    "lost": ({}, [("status", {"status": "失控", "start": "2025-03-01"})]),
    "approval_sign": ({}, [("interview", {"date": "2025-05-20", **SEEN})]),
    "approval_returned": ({}, [("interview", {"date": "2025-05-20", **SEEN})]),
    "approval_meeting": ({}, [("interview", {"date": "2025-05-20", **SEEN})]),
}

# the agenda of the 社区 clerk li on 2025-06-01, by hand: (person, kind, due)
EXPECTED_CLERK = {
    ("visit_plan", "visit_due", "2025-05-30"),             # seen 05-10 + plan 20 days
    ("visit_level", "visit_due", "2025-06-04"),            # seen 05-05 + 高 30 days
    ("test_schedule", "test_due", "2025-06-10"),           # 报到 2024-03-15: 2nd year, every 2 months from 04-10
    ("test_plan", "test_due", "2025-03-31"),               # plan 03-01 + 30 days (拒检 is no test)
    ("review", "review_due", "2025-06-10"),                # next_review
    ("report", "report_missing", "2025-06-09"),            # 社区康复 05-25 + 15 days, no 报到
    ("report_by_agreement", "test_due", "2025-06-10"),     # 报到 (协议) 05-10 + 1 month
    ("license", "license_revoke", "2024-09-01"),           # 社区戒毒 since 2024-09-01, licence 正常
    ("license", "test_due", "2025-06-15"),                 # 1st year: monthly from 05-15
    ("relapse", "relapse_reassess", "2025-05-01"),         # 阳性 after 出所 2023-01-01
    ("high_risk", "high_risk_no_plan", "2025-04-01"),      # 高 without a plan filed with 区禁毒办
    ("inflow", "inflow_unsettled", "2025-07-01"),          # 流入 04-01 + 3 months
    ("inflow_no_date", "inflow_date_missing", "2025-06-01"),
    ("milestone", "abstinence_milestone", "2025-06-05"),   # 出所 2022-06-05 + 3 years
    ("lost", "visit_due", "2025-06-01"),                   # never seen
    ("lost", "campaign_action", "2025-05-31"),             # 2 interviews by 全面排查's end
    ("lost", "campaign_action", "2025-06-10"),             # 1 assessment by 风险评估's end
    ("approval_returned", "approval_returned", "2025-05-12"),   # 派出所核查 returned it on 05-12
    ("approval_meeting", "approval_meeting", "2025-05-05"),     # 派出所核查 signed 05-05, 会商 next
}
EXPECTED_APPROVER = {("approval_sign", "approval_sign", "2025-05-20")}   # submitted 05-20, 派出所核查 next
EXPECTED_OTHER_SCOPE = {("other_scope", "visit_due", "2025-06-01")}


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DOSSIER_KDF", "weak-for-tests")
        w = make_world(tmp_path_factory.mktemp("agenda") / "archive")
        refs = {}
        with w.open(CLERK_A) as ar:
            for key, (profile, entries) in PEOPLE.items():
                ref = ar.persons.add(SCOPE_A, w.person(**{**QUIET, **profile}), today=w.today)
                for t, data in entries:
                    ar.entries.add(ref.archive_no, t, data, today=w.today)
                refs[key] = ref.archive_no
            ar.reports.campaigns.add(CAMPAIGN)
            for key, day in (("approval_sign", "2025-05-20"), ("approval_returned", "2025-05-10"),
                             ("approval_meeting", "2025-05-01")):
                ar.approvals.submit(refs[key], level="中", reason="正在执行社区康复", date=day,
                                    form_pdf=make_form_pdf())
        with w.open(APPROVER) as ar:
            ar.approvals.sign(refs["approval_returned"], step="派出所核查", opinion="材料不全", date="2025-05-12",
                              return_=True)
            ar.approvals.sign(refs["approval_meeting"], step="派出所核查", opinion="同意", date="2025-05-05")
        with w.open("wang") as ar:
            refs["other_scope"] = ar.persons.add(SCOPE_B, w.person(**QUIET), today=w.today).archive_no
        w.refs = refs
        yield w


def got(fixture, agenda):
    names = {v: k for k, v in fixture.refs.items()}
    return {(names[i["archive_no"]], i["kind"], i["due"]) for i in agenda.items}


def test_clerk_agenda_equals_hand_computed_dates(fixture):
    with fixture.open(CLERK_A) as ar:
        a = ar.agenda(as_of=AS_OF)
    assert got(fixture, a) == EXPECTED_CLERK
    assert a.persons == len(PEOPLE)
    # every kind of the contract appears in the fixture (approval_sign: the approver's, below)
    assert {k for _, k, _ in EXPECTED_CLERK | EXPECTED_APPROVER} == set(KINDS)


def test_items_carry_the_contract_fields(fixture):
    with fixture.open(CLERK_A) as ar:
        a = ar.agenda(as_of=AS_OF)
        people = ar.persons.list()
        names = {r["archive_no"]: r["name"] for r in people}
        ids = {r["archive_no"]: r["id"] for r in people}
    dues = [i["due"] for i in a.items]
    assert dues == sorted(dues)
    for i in a.items:
        assert {"archive_no", "kind", "due", "reason", "scope", "name", "overdue", "days", "kind_label"} <= set(i)
        assert i["overdue"] == (i["due"] < AS_OF.isoformat())
        assert i["days"] == (date.fromisoformat(i["due"]) - AS_OF).days
        assert i["scope"] == SCOPE_A and i["name"] == names[i["archive_no"]] and i["reason"]
        assert i["id"] == ids[i["archive_no"]]
    assert list(a) == a.items and len(a) == len(a.items) and a[0] is a.items[0]   # a sequence of its items
    assert {i["id"] for i in a} <= set(ids.values())
    d = a.to_dict()
    assert d["horizon"] == "2025-06-15" and d["overdue"] == sum(i["overdue"] for i in a.items)
    camp = [i for i in a.items if i["kind"] == "campaign_action"]
    assert {i["action"] for i in camp} == {"interview", "assessment"} and all(i["campaign"] == CAMPAIGN["name"]
                                                                           for i in camp)


def test_window_and_kinds(fixture):
    with fixture.open(CLERK_A) as ar:
        narrow = got(fixture, ar.agenda(as_of=AS_OF, within_days=0))
        only = got(fixture, ar.agenda(as_of=AS_OF, kinds=["test_due"]))
        with pytest.raises(InvalidInput):
            ar.agenda(as_of=AS_OF, kinds=["visits"])
        with pytest.raises(InvalidInput):
            ar.agenda(as_of=AS_OF, within_days=-1)
    # within 0: what is due today or overdue, and the alerts (listed whatever the window)
    assert narrow == {x for x in EXPECTED_CLERK if x[2] <= "2025-06-01" or x[1] == "inflow_unsettled"}
    assert only == {x for x in EXPECTED_CLERK if x[1] == "test_due"}


def test_approver_sees_what_waits_for_their_signature(fixture):
    with fixture.open(APPROVER) as ar:
        assert got(fixture, ar.agenda(as_of=AS_OF)) == EXPECTED_APPROVER


def test_admin_sees_every_scope_and_the_meetings(fixture):
    with fixture.open("admin") as ar:
        a = got(fixture, ar.agenda(as_of=AS_OF))
        scoped = got(fixture, ar.agenda(SCOPE_B, as_of=AS_OF))
    # the admin records 会商 meetings too, but neither signs for 派出所核查 nor resubmits a returned form
    assert a == {x for x in EXPECTED_CLERK if x[1] != "approval_returned"} | EXPECTED_OTHER_SCOPE
    assert scoped == EXPECTED_OTHER_SCOPE


def test_scopes_and_inspectors_are_refused(fixture):
    with fixture.open(CLERK_A) as ar, pytest.raises(PermissionDenied):
        ar.agenda(SCOPE_B, as_of=AS_OF)
    with fixture.open(INSPECTOR) as ar, pytest.raises(PermissionDenied):
        ar.agenda(as_of=AS_OF)


def test_recording_the_visit_takes_it_off(fixture, tmp_path):
    import shutil

    w = World(tmp_path / "copy")
    shutil.copytree(fixture.path, w.path)
    with w.open(CLERK_A) as ar:
        ar.entries.add(fixture.refs["visit_plan"], "interview", {"date": "2025-06-01", **SEEN}, today=AS_OF)
        a = ar.agenda(as_of=AS_OF)
    assert ("visit_plan", "visit_due", "2025-05-30") not in got(fixture, a)


# -- the shared cache of the web server (AgendaCache) -------------------------------

def _cached(ar, cache):
    ar.agenda_cache = cache
    return ar


def test_the_cache_gives_the_same_agenda_and_is_shared_across_sessions(fixture):
    from dossier.reports.agenda import AgendaCache

    cache = AgendaCache()
    with fixture.open(CLERK_A) as ar:
        plain = ar.agenda(as_of=AS_OF).items
    with fixture.open(CLERK_A) as ar:
        first = _cached(ar, cache).agenda(as_of=AS_OF).items
        filled = cache.misses
        second = ar.agenda(as_of=AS_OF).items
    with fixture.open(CLERK_A) as ar:                 # another session of the same scope: all hits
        hits = cache.hits
        third = _cached(ar, cache).agenda(as_of=AS_OF).items
        assert cache.hits - hits == len(PEOPLE) and cache.misses == filled
        other_window = _cached(ar, cache).agenda(as_of=AS_OF, within_days=0).items    # another variant
    assert first == plain and second == plain and third == plain
    with fixture.open(CLERK_A) as ar:
        assert other_window == ar.agenda(as_of=AS_OF, within_days=0).items
    with fixture.open(APPROVER) as ar:                # approval items are per user, from the cached 审批表
        assert got(fixture, _cached(ar, cache).agenda(as_of=AS_OF)) == EXPECTED_APPROVER


def test_the_cache_never_answers_across_scopes(fixture):
    """The admin's pass fills the cache with every scope's items; a clerk of another
    scope still gets only their own, and asking for a scope they may not read is refused
    exactly as without the cache."""
    from dossier.reports.agenda import AgendaCache

    cache = AgendaCache()
    with fixture.open("admin") as ar:
        _cached(ar, cache).agenda(as_of=AS_OF)
    assert len(cache) == len(PEOPLE) + 1
    with fixture.open("wang") as ar:
        assert got(fixture, _cached(ar, cache).agenda(as_of=AS_OF)) == EXPECTED_OTHER_SCOPE
    with fixture.open(CLERK_A) as ar:
        _cached(ar, cache)
        with pytest.raises(PermissionDenied):
            ar.agenda(SCOPE_B, as_of=AS_OF)
        assert got(fixture, ar.agenda(as_of=AS_OF)) == EXPECTED_CLERK
    with fixture.open(INSPECTOR) as ar, pytest.raises(PermissionDenied):
        _cached(ar, cache).agenda(as_of=AS_OF)


def test_a_cached_item_needs_the_callers_key(fixture, monkeypatch):
    """A hit is used only after the caller's keyring yields the data key of that scope and
    key version: without it, PermissionDenied — as decrypting the dossier would give."""
    from dossier.reports.agenda import AgendaCache

    cache = AgendaCache()
    with fixture.open(CLERK_A) as ar:
        _cached(ar, cache).agenda(as_of=AS_OF)
    with fixture.open(CLERK_A) as ar:
        _cached(ar, cache)

        def no_key(scope, kind="data", key_version=None):
            raise PermissionDenied("当前用户没有该辖区的数据密钥，无法解密")

        monkeypatch.setattr(ar.keyring, "scope_key", no_key)
        with pytest.raises(PermissionDenied):
            ar.agenda(as_of=AS_OF)


def test_a_new_version_replaces_the_cached_items(fixture, tmp_path):
    import shutil

    from dossier.reports.agenda import AgendaCache

    w = World(tmp_path / "copy")
    shutil.copytree(fixture.path, w.path)
    cache = AgendaCache()
    with w.open(CLERK_A) as ar:
        assert ("visit_plan", "visit_due", "2025-05-30") in got(fixture, _cached(ar, cache).agenda(as_of=AS_OF))
    with w.open(CLERK_A) as ar:       # another session writes: the head moves
        ar.entries.add(fixture.refs["visit_plan"], "interview", {"date": "2025-06-01", **SEEN}, today=AS_OF)
    with w.open(CLERK_A) as ar:
        misses = cache.misses
        a = _cached(ar, cache).agenda(as_of=AS_OF)
        assert cache.misses == misses + 1          # only the changed dossier was read again
        del ar.agenda_cache                        # the same session without the cache
        assert a.items == ar.agenda(as_of=AS_OF).items
        later = _cached(ar, cache).agenda(as_of=AS_OF, within_days=30)
    assert ("visit_plan", "visit_due", "2025-05-30") not in got(fixture, a)
    assert ("visit_plan", "visit_due", "2025-06-21") in got(fixture, later)     # 06-01 + 20 days


# -- CLI -------------------------------------------------------------------------

def test_cli_table_and_json(fixture, monkeypatch):
    from click.testing import CliRunner

    from dossier.cli.main import cli

    for k, v in fixture.env(CLERK_A).items():
        if k.startswith("DOSSIER_"):
            monkeypatch.setenv(k, v)
    r = CliRunner().invoke(cli, ["agenda", "--as-of", "2025-06-01", "--within", "14d"])
    assert r.exit_code == 0, r.output
    assert "到期" in r.output and "已逾期" in r.output and fixture.refs["visit_plan"] in r.output
    assert "报到" in r.output and f"共 {len(EXPECTED_CLERK)} 项" in r.output
    r = CliRunner().invoke(cli, ["agenda", "--as-of", "2025-06-01", "--json", "--kind", "visit_due"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert {(i["kind"], i["due"]) for i in data["items"]} == {(k, d) for _, k, d in EXPECTED_CLERK
                                                              if k == "visit_due"}
    r = CliRunner().invoke(cli, ["agenda", "--within", "two weeks"])
    assert r.exit_code == 2


def test_real_executable_json(fixture, run_dossier):
    r = run_dossier(["agenda", "--as-of", "2025-06-01", "--json"], env=fixture.env(CLERK_A))
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout)
    names = {v: k for k, v in fixture.refs.items()}
    assert {(names[i["archive_no"]], i["kind"], i["due"]) for i in data["items"]} == EXPECTED_CLERK
    assert data["as_of"] == "2025-06-01" and data["within_days"] == 14
    r = run_dossier(["agenda", "--json"], env=fixture.env(INSPECTOR))
    assert r.code == 13 and "search" in r.stderr


# -- a fresh pass shared with a forked child on the other core (crypto/shared_pass.py) --

@pytest.fixture
def shared_always(monkeypatch):
    """Every agenda pass shared with a child, one head per chunk; the child starts once this
    process has opened a head, and this process lingers over each head it opens, so the
    child takes most of them. Yields the ids of the dossiers opened here."""
    import os
    import time

    from dossier import dossiers
    from dossier.crypto import shared_pass

    monkeypatch.setattr(shared_pass, "MIN_ITEMS", 1)
    monkeypatch.setattr(shared_pass, "CHUNK", 1)
    monkeypatch.setattr(shared_pass, "_single_threaded", lambda: True)
    monkeypatch.setattr(shared_pass, "_cores", lambda: 2)
    import select

    parent, here = os.getpid(), []
    real = dossiers.open_content
    go_r, go_w = os.pipe()          # the child waits until this process has opened a head

    def lingering(archive_id, scope, v, key):
        if os.getpid() == parent:
            if not here:
                os.write(go_w, b"go")
            here.append(v.dossier)
            time.sleep(0.1)
        else:
            select.select([go_r], [], [], 10)
        return real(archive_id, scope, v, key)

    monkeypatch.setattr(dossiers, "open_content", lingering)
    yield here
    os.close(go_r)
    os.close(go_w)
    with pytest.raises(ChildProcessError):          # no child left behind
        os.waitpid(-1, os.WNOHANG)


def _head_signatures(ar) -> set[tuple[bytes, bytes]]:
    return {(bytes(s), bytes(h)) for s, h in ar.con.execute(
        "SELECT v.signature, v.hash FROM dossiers d JOIN versions v ON v.dossier=d.id AND v.version=d.head")}


def test_a_pass_shared_with_a_child_gives_the_same_agenda(fixture, shared_always):
    with fixture.open(CLERK_A) as ar:
        a = ar.agenda(as_of=AS_OF)
        assert got(fixture, a) == EXPECTED_CLERK
        assert 0 < len(shared_always) < a.persons          # the child opened the others
        # the heads checked in the child count as checked in this session, as those checked here
        mine = {(s, h) for _, s, h in ar.dossiers._verified}
        theirs = {(s, h) for s, h in _head_signatures(ar)}
        assert len(theirs & mine) == a.persons
    shared_always.clear()
    with fixture.open(APPROVER) as ar:
        assert got(fixture, ar.agenda(as_of=AS_OF)) == EXPECTED_APPROVER


@pytest.mark.parametrize("which", [0, -1])
def test_a_forged_signature_fails_a_shared_pass_whoever_meets_it(tmp_path, monkeypatch, shared_always, which):
    from dossier.errors import IntegrityError

    monkeypatch.setenv("DOSSIER_KDF", "weak-for-tests")
    w = make_world(tmp_path / "archive")
    with w.open(CLERK_A) as ar:
        for _ in range(5):
            ar.persons.add(SCOPE_A, w.person(**QUIET), today=w.today)
        did, archive_no, head = ar.con.execute("SELECT id, archive_no, head FROM dossiers ORDER BY archive_no"
                                               ).fetchall()[which]
        sig = bytearray(ar.con.execute("SELECT signature FROM versions WHERE dossier=? AND version=?",
                                       (did, head)).fetchone()[0])
        sig[5] ^= 0x01
        ar.con.execute("UPDATE versions SET signature=? WHERE dossier=? AND version=?", (bytes(sig), did, head))
    shared_always.clear()
    with w.open(CLERK_A) as ar, pytest.raises(IntegrityError, match=f"{archive_no}.*签名无效"):
        ar.agenda(as_of=AS_OF)


# -- reports verify the signatures on the other core (crypto/verify_aside.py) ---------

@pytest.fixture
def aside_always(monkeypatch):
    from dossier.crypto import verify_aside

    monkeypatch.setattr(verify_aside, "MIN_TRIPLES", 1)
    monkeypatch.setattr(verify_aside, "_single_threaded", lambda: True)
    monkeypatch.setattr(verify_aside, "_cores", lambda: 2)
    started = []
    real = verify_aside.start
    monkeypatch.setattr(verify_aside, "start", lambda triples: started.append(len(triples)) or real(triples))
    return started


def test_signatures_checked_aside_give_the_same_report(fixture, aside_always, monkeypatch):
    with fixture.open(CLERK_A) as ar:
        aside = ar.reports.campaigns.progress(CAMPAIGN["name"], as_of=AS_OF)
    assert aside_always == [len(PEOPLE)]
    from dossier.crypto import verify_aside

    monkeypatch.setattr(verify_aside, "MIN_TRIPLES", 10 ** 9)       # all checked here
    with fixture.open(CLERK_A) as ar:
        assert ar.reports.campaigns.progress(CAMPAIGN["name"], as_of=AS_OF) == aside


def test_a_forged_signature_found_aside_fails_the_whole_report(tmp_path, monkeypatch, aside_always):
    from dossier.errors import IntegrityError

    monkeypatch.setenv("DOSSIER_KDF", "weak-for-tests")
    w = make_world(tmp_path / "archive")
    with w.open(CLERK_A) as ar:
        for _ in range(3):
            ar.persons.add(SCOPE_A, w.person(**QUIET), today=w.today)
        ar.reports.campaigns.add(CAMPAIGN)
        did, archive_no, head = ar.con.execute("SELECT id, archive_no, head FROM dossiers ORDER BY archive_no"
                                               ).fetchone()
        ar.con.execute("UPDATE versions SET signature=? WHERE dossier=? AND version=?", (b"\0" * 64, did, head))
    with w.open(CLERK_A) as ar, pytest.raises(IntegrityError, match=f"{archive_no}.*签名无效"):
        ar.reports.campaigns.progress(CAMPAIGN["name"], as_of=AS_OF)
    assert aside_always == [3]
