"""The search service's side of large batches (see ``stream`` for the workers).

- :func:`prepare` starts index workers before an import reads its file;
- :func:`begin` gives the session a watcher that streams every change of the
  batch to them (:class:`_StreamWatcher`);
- :func:`stream_specs` decides, per scope, whether its indexes are streamed
  (made new, or added to) and where they go;
- :func:`finish` puts the workers' segments into the indexes after the data
  commit; :func:`rebuild` is ``index rebuild`` with the same workers;
- :func:`sweep_leftovers` removes what killed builds left beside the indexes.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from datetime import date
from pathlib import Path

from ..errors import DossierError, IntegrityError
from . import parallel
from .stream import IndexStream, Spec

log = logging.getLogger("dossier.index")
REBUILD_STREAM_MIN = 1000     # dossiers: below this a rebuild in one process is as fast


def begin(svc, size_hint: int):
    """When a batch of about ``size_hint`` changes begins: a watcher streaming its
    changes to index workers, or None for a small batch or one core."""
    if size_hint < parallel.PARALLEL_MIN_DOCS or parallel.workers() < 2:
        return None
    svc._stream, svc._prepared = svc._prepared or IndexStream(parallel.workers(), date.today()), None
    return _StreamWatcher(svc, svc._stream)


def prepare(svc, size_hint: int):
    """Before a large batch (an import still reading its file): start the index
    workers now, so that they load jieba's dictionary while a core is idle. The
    batch takes them over; the handle closes them when it did not."""
    if size_hint < parallel.PARALLEL_MIN_DOCS or parallel.workers() < 2 or svc._prepared is not None:
        return None
    st = IndexStream(parallel.workers(), date.today())
    st.start(preload=True)
    svc._prepared = st
    return _Prepared(svc, st)


def stream_specs(svc, sid: int, version: int):
    """Specs to stream a scope's indexes: to make them when none exists and
    the scope had no dossier before (its first change is a creation, and the
    only dossier), or to add to them when all exist; None otherwise."""
    ar = svc.ar
    if not ar.keyring.holds(sid, "data"):
        return None
    kinds = svc._kinds_held(sid)
    if not kinds:
        return None
    exist = [svc.index(sid, k).exists() for k in kinds]
    if all(exist):
        update = True
    elif any(exist) or version != 1:
        return None
    elif ar.con.execute("SELECT count(*) FROM dossiers WHERE scope=?", (sid,)).fetchone()[0] != 1:
        return None
    else:
        update = False
    return _specs(svc, sid, kinds, update)


def _specs(svc, sid: int, kinds, update: bool = False) -> list[Spec]:
    """Where each index of a scope goes and what seals it (sent to the workers)."""
    path = svc.ar.scopes.path_of(sid)
    out = []
    for kind in kinds:
        ix = svc.index(sid, kind)
        out.append(Spec(kind, ix.path, ix._key, ix._context, ix._blind_key, path, update))
    return out


def finish(svc, stream, items) -> set[tuple[int, str]]:
    """After the commit: swap in the indexes the workers built; returns the
    (scope id, kind) pairs done. A failure leaves them to the usual path,
    which rebuilds a missing index from the store. Whatever happens, no
    worker and no share directory is left behind."""
    try:
        parts, failed = stream.finish()
        if failed is not None:
            log.warning("检索索引未能在写入时并行建立（%s），改为提交后建立", failed)
            return set()
        last = {row.id: row.scope for row, _, _ in items}
        done = set()
        for sid, specs in stream.specs.items():
            # a dossier streamed here whose last change put it in another scope
            gone = [i for i in stream.changed_again(sid) if last.get(i, sid) != sid]
            for spec in specs or ():
                ix = svc.index(sid, spec.kind)
                got = parts.pop((sid, spec.kind), [])
                try:
                    if spec.update:
                        taken = ix.add_segments(got, stream.streamed_into(sid))
                    else:
                        taken = ix.adopt(got)
                    if not taken:
                        continue      # built or removed by another process meanwhile: the usual path
                    if gone:
                        ix.delete(gone)
                except IntegrityError:
                    continue          # unreadable: the usual path rebuilds it from the store
                except (DossierError, OSError) as e:
                    svc._failed([it for it in items if it[0].scope == sid], e)
                    continue
                done.add((sid, spec.kind))
        return done
    finally:
        stream.close()


def rebuild(svc, sids, today: date, progress) -> list[dict] | None:
    """The rebuild with the indexing in worker processes while this process
    decrypts the dossiers (see ``stream``); None when not worth it (one core,
    few dossiers) or when a worker failed (the serial rebuild then runs)."""
    ar = svc.ar
    total = sum(ar.con.execute("SELECT count(*) FROM dossiers WHERE scope=?", (s,)).fetchone()[0]
                for s in sids)
    if total < REBUILD_STREAM_MIN or parallel.workers() < 2:
        return None
    st = IndexStream(parallel.workers(), today)
    counts: dict[int, int] = {}          # scope id → dossiers streamed
    try:
        for sid in sids:
            st.open_scope(sid, _specs(svc, sid, svc._kinds_held(sid)))
            counts[sid] = 0
            for dossier_id, archive_no, head, state in svc._iter_sources(sid, None, progress):
                st.add(sid, dossier_id, archive_no, head, state)
                counts[sid] += 1
        parts, failed = st.finish() if st.streaming else ({}, st.broken or "未能启动索引写入进程")
        if failed is not None:
            log.warning("检索索引未能并行重建（%s），改为逐个重建", failed)
            return None
        out = []
        for sid, n in counts.items():
            for spec in st.specs[sid]:
                svc.index(sid, spec.kind).adopt(parts.pop((sid, spec.kind), []), replace=True)
                out.append({"scope": spec.scope_path, "kind": spec.kind, "documents": n})
        return out
    finally:
        st.close()          # reaps the workers, removes every share no index took


_LEFTOVER = re.compile(r"^\.[a-z]+-k\d+\.(?:new|old|part)-(\d+)(?:-\d+)?$")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:       # another user's process
        return True
    return True


def sweep_leftovers(root: Path) -> list[Path]:
    """Remove what builds of processes that no longer run left beside the
    indexes (``.clerk-k1.new-<pid>``, ``.part-<pid>-<n>``, ``.old-<pid>``: a
    kill at the wrong moment). Sealed files only, but dead weight."""
    gone = []
    if not root.is_dir():
        return gone
    for d in root.glob("*/.*"):
        m = _LEFTOVER.match(d.name)
        if not m or not d.is_dir():
            continue
        if _running(int(m.group(1))):
            continue                      # (or the pid was reused): leave it
        shutil.rmtree(d, ignore_errors=True)
        gone.append(d)
    return gone


class _StreamWatcher:
    """Streams a batch's changes to the index workers (see ``stream``)."""

    def __init__(self, svc, stream):
        self.svc, self.stream = svc, stream

    def change(self, row, version: int, state: dict) -> None:
        """Called for every write of the batch. The index is derived data: nothing
        here may fail the write (a problem makes the stream fail at the commit,
        and the indexes are then built the usual way)."""
        st = self.stream
        sid = row.scope
        try:
            if sid not in st.specs:
                try:
                    specs = stream_specs(self.svc, sid, version)
                except (DossierError, OSError):
                    specs = None
                st.open_scope(sid, specs)
            if st.specs[sid]:
                st.add(sid, row.id, row.archive_no, version, state)
        except Exception as e:  # noqa: BLE001 - see above
            st.broken = st.broken or f"{type(e).__name__}: {e}"

    def close(self) -> None:
        self.stream.close()
        if self.svc._stream is self.stream:
            self.svc._stream = None


class _Prepared:
    """Closes a stream started ahead of a batch that did not take it."""

    def __init__(self, svc, stream):
        self.svc, self.stream = svc, stream

    def close(self) -> None:
        if self.svc._prepared is self.stream:
            self.svc._prepared = None
            self.stream.close()
