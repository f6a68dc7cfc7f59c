"""Inspection: every seeded anomaly is found; the clean control group flags nothing."""

from __future__ import annotations

import random
import time

import pytest

from dossier.errors import InvalidInput, PermissionDenied
from dossier.reports import Reports
from dossier.reports.inspection import DEFAULT_THRESHOLDS, thresholds
from dossier.reports.neardup import near_duplicate_groups

from seedkit import AS_OF, C, note


def _refs(f):
    return ({f["archive_no"]} if f.get("archive_no") else set()) | set(f.get("refs") or [])


@pytest.fixture(scope="module")
def result(seeded_master):
    with seeded_master.open("admin") as ar:
        return Reports(ar).inspect(None, as_of=AS_OF)


def test_every_seeded_anomaly_is_found(result, seeded_master):
    found: dict[str, set] = {}
    for f in result["findings"]:
        found.setdefault(f["rule"], set()).update(_refs(f))
    assert set(seeded_master.anomalies) == set(DEFAULT_THRESHOLDS)      # every rule has a seeded case
    for rule, expected in seeded_master.anomalies.items():
        assert expected <= found.get(rule, set()), rule


def test_clean_control_group_flags_nothing(result, seeded_master):
    for f in result["findings"]:
        assert not _refs(f) & seeded_master.control, f


def test_findings_shape_and_masking(result):
    for f in result["findings"]:
        assert {"rule", "severity", "evidence", "message"} <= set(f)
        assert f.get("archive_no") or f.get("refs")
        assert f["severity"] in ("高", "中", "低")
        text = str(f)
        assert "content" not in text and "findings" not in f["evidence"]
        if f.get("name"):
            assert "*" in f["name"]
    dup = next(f for f in result["findings"] if f["rule"] == "DUP_NOTES")
    assert len(dup["refs"]) == 3 and dup["evidence"]["similarity"] >= 0.8
    lost = next(f for f in result["findings"] if f["rule"] == "LOST_RATIO")
    assert lost["scope"] == C and lost["evidence"]["lost"] == 1 and lost["evidence"]["registered"] == 13


def test_thresholds_are_configurable(seeded_master):
    with seeded_master.open("admin") as ar:
        r = Reports(ar).inspect(None, as_of=AS_OF, overrides={"LOST_RATIO": {"limit": 0.10},
                                                              "BACKDATED": {"enabled": False}})
    rules = {f["rule"] for f in r["findings"]}
    assert "LOST_RATIO" not in rules and "BACKDATED" not in rules and "DUP_NOTES" in rules
    with pytest.raises(InvalidInput):
        thresholds({"NO_SUCH_RULE": {}})
    with pytest.raises(InvalidInput):
        thresholds({"STALE": {"severity": "严重"}})


def test_inspector_reads_saved_masked_result_only(seeded):
    with seeded.open("qian") as ar:
        with pytest.raises(PermissionDenied):
            Reports(ar).inspect(None, as_of=AS_OF)
        with pytest.raises(PermissionDenied):
            Reports(ar).saved_inspection("珠晖区/粤汉街道")
    with seeded.open("admin") as ar:
        saved = Reports(ar).inspect("珠晖区/粤汉街道", as_of=AS_OF, save=True)
    with seeded.open("qian") as ar:
        got = Reports(ar).saved_inspection("珠晖区/粤汉街道/苗圃社区")
    assert got["findings"] == saved["findings"]


def test_near_duplicates_survive_small_edits_and_ignore_different_notes():
    rng = random.Random(3)
    texts = ["".join(note(rng, "本人")) for _ in range(300)]
    edited = texts[5].replace("，", ",").replace("了解", "询问", 1) + "另附说明"
    texts.append(edited)
    groups = near_duplicate_groups(texts, threshold=0.8)
    assert [sorted(g) for g, _ in groups] == [[5, 300]]


def test_near_duplicate_detection_is_not_quadratic():
    rng = random.Random(4)

    def run(n):
        texts = ["".join(note(rng, "本人")) for _ in range(n)]
        t = time.perf_counter()
        near_duplicate_groups(texts, threshold=0.8)
        return time.perf_counter() - t

    run(200)   # warm up
    small, large = run(1000), run(5000)
    assert large < small * 5 * 2.5      # linear would be 5×; quadratic 25×


def test_near_duplicates_of_no_texts_is_empty():
    from dossier.reports.neardup import near_duplicate_groups

    assert near_duplicate_groups([]) == []
    assert near_duplicate_groups(["", ""]) == []


def test_rule_codes_are_case_insensitive_and_unknown_ones_refused(seeded_master):
    from dossier.reports.inspection import rule_codes, run_checks

    assert rule_codes(["stale", " Lost_Ratio "]) == {"STALE", "LOST_RATIO"}
    assert rule_codes(None) is None and rule_codes(()) is None
    for bad in (["NOSUCH"], ["STALE", "stal"]):
        with pytest.raises(InvalidInput) as ei:
            run_checks([], AS_OF, only=bad)
        assert ei.value.field == "rule" and "STALE" in ei.value.reason and "DUP_NOTES" in ei.value.reason
    with seeded_master.open("admin") as ar:
        r = Reports(ar).inspect(None, as_of=AS_OF, only=["stale"])
        with pytest.raises(InvalidInput):
            Reports(ar).inspect(None, as_of=AS_OF, only=["NOSUCH"])
    assert r["findings"] and {f["rule"] for f in r["findings"]} == {"STALE"}
