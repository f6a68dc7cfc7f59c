"""Fixtures for the search tests: synthetic corpora indexed once per session
(see ``index_corpus``)."""

from __future__ import annotations

import pytest

from index_corpus import Corpus, build_corpus


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory):
    """Keep jieba's dictionary cache out of the real HOME for session fixtures."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, _session_cache) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus-500"), 500, seed=5)


@pytest.fixture(scope="session")
def big_corpus(tmp_path_factory, _session_cache) -> Corpus:
    return build_corpus(tmp_path_factory.mktemp("corpus-5000"), 5000, seed=50)
