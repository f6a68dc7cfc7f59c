"""Fixtures for the search tests: synthetic corpora indexed once per session
(see ``index_corpus``)."""

from __future__ import annotations

import pytest

import index_corpus
from index_corpus import Corpus, build_corpus


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    """Keep jieba's dictionary cache out of the real HOME for session fixtures."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, _session_cache, make_index) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus-500"), 500, seed=5, make=make_index)


@pytest.fixture(scope="session")
def big_corpus(tmp_path_factory, _session_cache, make_index) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus-5000"), 5000, seed=50, make=make_index)


@pytest.fixture(scope="session")
def make_index(request):
    """``make_index(root, kind, key, context, blind_key=None)``: the search backend of the lane
    that runs — Whoosh files on SQLite, blind tokens in a PostgreSQL database (its own, on the
    lane's server) on ``DOSSIER_TEST_STORE=postgresql`` — so the recall and query tables run
    on both."""
    from tests.conftest import ON_PG

    if not ON_PG:
        return index_corpus.whoosh_index
    cluster = request.getfixturevalue("pg_cluster")
    return index_corpus.blind_factory(cluster)


@pytest.fixture(scope="session")
def whoosh_corpus(tmp_path_factory, _session_cache) -> Corpus:
    """The 500-person corpus in Whoosh files on every lane (the tests of the files themselves)."""
    return build_corpus(tmp_path_factory.mktemp("corpus-500-whoosh"), 500, seed=5)


@pytest.fixture
def whoosh_world(tmp_path, monkeypatch):
    """The ``world`` archive embedded (SQLite + Whoosh files) on every lane: for the tests of the
    Whoosh files and of their forked workers. An archive on PostgreSQL searches blind tokens in
    its database instead (tests/index/test_blind_backend.py runs that side on both lanes)."""
    from tests.conftest import make_world

    monkeypatch.delenv("DOSSIER_STORE", raising=False)
    return make_world(tmp_path / "archive")
