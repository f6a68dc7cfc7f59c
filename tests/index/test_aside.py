"""The index-writing helper (index/aside.py) on its own: a spec that cannot be
sent to the helper is written in this process, not dropped."""

from __future__ import annotations

from dossier.index.aside import IndexAside, IndexSpec


def _doc(i: str) -> dict:
    return {"id": i}


def test_a_job_that_cannot_be_sent_is_written_here():
    written: list[list[str]] = []

    class Local:          # defined in a function: cannot be pickled for the helper
        def __init__(self, sink):
            self.sink = sink

        def upsert(self, docs):
            self.sink.append([d["id"] for d in docs])

        def close(self):
            pass

    aside = IndexAside()
    try:
        spec = IndexSpec("local-index", Local, (written,))
        aside.submit(spec, _doc, [("a",), ("b",)])
        aside.submit(spec, _doc, [("c",)])
        assert aside.wait(["local-index"], timeout=30)
        assert [i for batch in written for i in batch] == ["a", "b", "c"]     # all of them, in order
        assert aside.stats["repaired"] == 2 and not aside.errors
    finally:
        aside.close()
