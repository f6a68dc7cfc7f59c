"""Attach search to a session (called by ``Session._load_plugins`` on open).

Cheap on purpose: nothing is imported from Whoosh or jieba and no index is
read until the first search or commit.
"""

from __future__ import annotations


def attach(ar) -> None:
    from .service import SearchService

    svc = SearchService(ar)
    ar.search = svc
    # once per transaction with every changed dossier (an import is one batch)
    ar.on_commit_batch.append(svc.on_commit_batch)
    # a large batch (an import into a new scope) builds that scope's indexes beside its writes
    ar.on_batch_begin.append(svc.on_batch_begin)
    ar.on_batch_prepare.append(svc.on_batch_prepare)
    # dossier check reads every sealed index file (issue 16); Whoosh is imported only then
    if not hasattr(ar, "extra_checks"):
        ar.extra_checks = []
    ar.extra_checks.append(_verify_files)


def _verify_files(ar, report, **options) -> None:
    from .verify import verify_files

    verify_files(ar, report, **options)
