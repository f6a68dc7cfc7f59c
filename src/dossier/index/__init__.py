"""Search: an encrypted full-text index in Chinese with role-aware masking.

- :mod:`.normalize`, :mod:`.analysis` — NFKC folding, character bigrams, jieba words;
- :mod:`.storage` — the encrypting Whoosh storage (memory inside, sealed files on disk);
- :mod:`.documents` — index documents from a dossier state (clerk / inspection);
- :mod:`.query` — the query language; :mod:`.backend` — the backend interface;
- :mod:`.whoosh_backend` — the embedded Whoosh backend;
- :mod:`.service` — ``ar.search(...)``, ``ar.search.status()``, ``ar.search.rebuild()``;
- :mod:`.hooks` — attaches the service and its commit hook to a session.
"""
