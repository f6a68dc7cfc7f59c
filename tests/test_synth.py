import json
import random
from datetime import date

from dossier import synth
from dossier.model.dossier_rules import check_dossier
from dossier.model.entries import normalize_entry
from dossier.model.idnumber import validate_id_number
from dossier.model.person import PROFILE_FIELDS, normalize_profile

TODAY = date(2024, 6, 1)


def test_thousand_persons_are_valid_and_unique():
    rng = random.Random(20240601)
    ids = set()
    for i in range(1000):
        raw = synth.person(rng, today=TODAY, full=(i % 3 == 0), region=("430405", "500151")[i % 2])
        profile, _ = normalize_profile(raw, today=TODAY)
        ids.add(profile["id_number"])
        entries = [normalize_entry(e["type"], e, today=TODAY) for e in synth.entries(rng, profile, today=TODAY, n=6)]
        assert len(entries) == 6
        check_dossier(profile, entries, today=TODAY)
        json.dumps([profile, entries], ensure_ascii=False)
    assert len(ids) == 1000


def test_full_person_fills_every_applicable_field():
    rng = random.Random(3)
    filled = set()
    for _ in range(200):
        profile, _ = normalize_profile(synth.person(rng, today=TODAY, full=True), today=TODAY)
        filled |= set(profile)
    # photo is a blob reference the store adds; record flags (错录/迁出/封存) are set by procedures, not synthesised
    assert {f.name for f in PROFILE_FIELDS} - filled == {"photo", "record_flags"}


def test_region_and_determinism():
    a = synth.person(random.Random(7), today=TODAY, region="500151")
    b = synth.person(random.Random(7), today=TODAY, region="500151")
    assert a == b
    assert a["id_number"].startswith("500151")
    assert validate_id_number(a["id_number"], today=TODAY) == a["id_number"]


def test_names():
    names = synth.names(random.Random(1), 50)
    assert len(names) == 50 and all(2 <= len(n) <= 4 for n in names)


def test_entries_cover_several_types():
    rng = random.Random(11)
    kinds = set()
    for _ in range(50):
        profile, _ = normalize_profile(synth.person(rng, today=TODAY), today=TODAY)
        kinds |= {e["type"] for e in synth.entries(rng, profile, today=TODAY, n=10)}
    assert {"drug_event", "status", "interview", "test", "assessment"} <= kinds


def test_normalisation_is_idempotent_on_synthetic_data():
    rng = random.Random(5)
    for _ in range(100):
        profile, _ = normalize_profile(synth.person(rng, today=TODAY, full=True), today=TODAY)
        assert normalize_profile(profile, today=TODAY)[0] == profile
        for e in synth.entries(rng, profile, today=TODAY, n=8):
            once = normalize_entry(e["type"], e, today=TODAY)
            assert normalize_entry(once["type"], once, today=TODAY) == once
