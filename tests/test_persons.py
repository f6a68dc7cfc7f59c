"""Registering persons and listing them: validation (nothing written on a
refusal), duplicates, roles and scopes, profile edits as new versions."""

from __future__ import annotations

import re

import pytest

from dossier.errors import ExitCode, InvalidInput, PermissionDenied
from dossier.model.idnumber import make_id_number
from dossier.persons import make_archive_no

pytestmark = pytest.mark.usefixtures("core_only")


def test_archive_no_format():
    assert make_archive_no("430405004", 2025, "430405004001", 7) == "430405004-JD·2025-Y-001-0007"
    assert make_archive_no(None, 2025, "3", 12) == "000000000-JD·2025-Y-003-0012"


def test_add_person(world):
    p = world.person()
    with world.open("li") as ar:
        ref = ar.persons.add(world.scope_a, p, today=world.today)
        assert ref.version == 1 and ref.scope == world.scope_a
        assert re.fullmatch(r"\d{9}-JD·2025-Y-\d{3}-0001", ref.archive_no)
        assert set(ref.to_dict()) >= {"archive_no", "id"}
        ref2 = ar.persons.add(world.scope_a, world.person(), today=world.today)
        assert ref2.archive_no.endswith("-0002")
        view = ar.dossiers.show(ref.archive_no, as_of=world.today)
        assert view.profile["name"] == p["name"] and view.profile["id_number"] == p["id_number"]
        assert view.entries == [] and view.version == 1


def test_archive_no_uses_scope_codes(world):
    with world.open("admin") as ar:
        ar.scopes.add("珠晖区/粤汉街道", code="430405004")
        ar.scopes.add(world.scope_a, code="430405004001")
        ref = ar.persons.add(world.scope_a, world.person(), today=world.today)
    assert ref.archive_no == "430405004-JD·2025-Y-001-0001"


def test_chinese_aliases_accepted(world):
    p = world.person()
    zh = {"姓名": p["name"], "身份证号": p["id_number"], "联系电话": p["phone"], "户籍地址": p["hukou_address"]}
    with world.open("li") as ar:
        ref = ar.persons.add(world.scope_a, zh, today=world.today)
        prof = ar.dossiers.show(ref.id).profile
    assert prof["name"] == p["name"] and prof["phone"] == p["phone"] and prof["hukou_address"] == p["hukou_address"]


def _valid_id() -> str:
    from datetime import date
    return make_id_number("430405", date(1990, 1, 1), 123)


@pytest.mark.parametrize("change, field, reason", [
    ({"id_number": _valid_id()[:-1] + ("0" if _valid_id()[-1] != "0" else "1")}, "id_number", "校验码"),
    ({"id_number": "430405900101123"}, "id_number", "15位"),
    ({"first_seized_date": "2023-02-30"}, "first_seized_date", "不存在"),
    ({"first_seized_date": "2025-06-02"}, "first_seized_date", "将来"),
    ({"name": ""}, "name", ""),
    ({"phone": "12345"}, "phone", ""),
])
def test_invalid_profile_refused_nothing_written(world, snap, change, field, reason):
    p = world.person(id_number=_valid_id())
    p.update(change)
    before = snap(world.path)
    with world.open("li") as ar:
        with pytest.raises(InvalidInput) as ei:
            ar.persons.add(world.scope_a, p, today=world.today)
    assert ei.value.exit_code == ExitCode.INVALID
    assert ei.value.field == field
    assert field in ei.value.message and reason in ei.value.message
    assert snap(world.path) == before


def test_duplicate_id_number_refused(world, snap):
    ref, p = world.add_person(world.scope_a)
    before = snap(world.path)
    with world.open("wang") as ar:      # even from another scope
        with pytest.raises(InvalidInput) as ei:
            ar.persons.add(world.scope_b, world.person(id_number=p["id_number"]), today=world.today)
    assert ei.value.field == "id_number" and ref.archive_no in ei.value.message
    assert snap(world.path) == before


@pytest.mark.parametrize("user, scope", [("li", "b"), ("wang", "a"), ("zhao", "a"), ("qian", "a")])
def test_add_refused_by_role_or_scope(world, snap, user, scope):
    before = snap(world.path)
    with world.open(user) as ar:
        with pytest.raises(PermissionDenied) as ei:
            ar.persons.add(world.scope_a if scope == "a" else world.scope_b, world.person(), today=world.today)
    assert ei.value.exit_code == ExitCode.PERMISSION == 13
    assert snap(world.path) == before


def test_list_respects_scopes(world):
    ra, pa = world.add_person(world.scope_a)
    rb, pb = world.add_person(world.scope_b)
    with world.open("li") as ar:
        rows = ar.persons.list()
        assert [r["archive_no"] for r in rows] == [ra.archive_no]
        assert rows[0]["name"] == pa["name"] and rows[0]["id_number"] == pa["id_number"]
        assert rows[0]["scope"] == world.scope_a
        with pytest.raises(PermissionDenied):
            ar.persons.list(world.scope_b)
        assert len(ar.persons.list("珠晖区/粤汉街道")) == 1     # the part li covers
    with world.open("zhao") as ar:
        assert {r["archive_no"] for r in ar.persons.list("珠晖区/粤汉街道")} == {ra.archive_no, rb.archive_no}
        assert [r["archive_no"] for r in ar.persons.list(world.scope_b)] == [rb.archive_no]
    with world.open("qian") as ar:
        with pytest.raises(PermissionDenied):
            ar.persons.list()


def test_update_profile(world):
    ref, p = world.add_person(world.scope_a)
    with world.open("li") as ar:
        assert ar.persons.update(ref.archive_no, {"phone": p["phone"]}, today=world.today) is None
        v = ar.persons.update(ref.archive_no, {"phone": "13900001234"}, today=world.today)
        assert v == 2
        hist = ar.dossiers.history(ref.archive_no)
        assert "联系电话" in hist[-1]["message"]
        with pytest.raises(InvalidInput) as ei:
            ar.persons.update(ref.archive_no, {"id_number": _valid_id()}, today=world.today)
        assert ei.value.field == "id_number"
        with pytest.raises(InvalidInput):
            ar.persons.update(ref.archive_no, {"first_seized_date": "2099-01-01"}, today=world.today)
        assert ar.dossiers.show(ref.archive_no).head == 2
    with world.open("wang") as ar:
        with pytest.raises(PermissionDenied):
            ar.persons.update(ref.archive_no, {"phone": "13900004321"}, today=world.today)


def test_a_canonical_profile_is_stored_without_normalising_again(world, monkeypatch):
    """An import validated each row already (CanonicalProfile for that day): add() stores it as it is;
    for another day it is normalised again."""
    from dossier.model import person as person_model

    canonical = person_model.CanonicalProfile.of(world.person(), today=world.today)
    other = person_model.CanonicalProfile.of(world.person(), today=world.today)
    calls = []
    real = person_model.normalize_profile
    monkeypatch.setattr(person_model, "normalize_profile", lambda *a, **k: calls.append(1) or real(*a, **k))
    with world.open("li") as ar:
        ref = ar.persons.add(world.scope_a, canonical, today=world.today)
        assert calls == []
        assert ar.dossiers.show(ref.archive_no, as_of=world.today).profile == dict(canonical)
        ar.persons.add(world.scope_a, other, today=world.today.replace(day=2))
        assert calls == [1]
