"""``dossier serve``'s garbage collector settings (web/app.py ``tune_collector``)."""

from __future__ import annotations

import gc

import pytest

from dossier.web.app import GC_THRESHOLDS, tune_collector


@pytest.fixture
def collector():
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_serving_freezes_what_is_loaded_and_raises_the_thresholds_cycles_are_still_collected(collector,
                                                                                          monkeypatch):
    monkeypatch.delenv("DOSSIER_SERVE_GC", raising=False)
    assert tune_collector() == GC_THRESHOLDS == gc.get_threshold()
    assert gc.get_freeze_count() > 1000            # the modules loaded so far, out of every scan

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a                        # garbage only the cyclic collector frees
    probe = __import__("weakref").ref(a)
    del a, b
    gc.collect(0)
    assert probe() is None


def test_default_keeps_pythons_settings_and_bad_values_fall_back(collector, monkeypatch, caplog):
    gc.set_threshold(700, 10, 10)
    monkeypatch.setenv("DOSSIER_SERVE_GC", "default")
    assert tune_collector() is None and gc.get_threshold() == (700, 10, 10)
    assert tune_collector("1000,20,30") == (1000, 20, 30) == gc.get_threshold()
    assert tune_collector("many") == GC_THRESHOLDS == gc.get_threshold()
    assert "DOSSIER_SERVE_GC" in caplog.text
