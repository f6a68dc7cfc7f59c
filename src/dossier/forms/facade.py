"""``ar.forms`` and ``ar.meetings``: the forms capabilities hung off a session
(CONVENTIONS: ``archive.forms.fill(...)``). Thin: each call is one function of
:mod:`dossier.forms.service`."""

from __future__ import annotations


class Forms:
    def __init__(self, ar):
        self.ar = ar

    def list(self, templates=None) -> list:
        from .service import registry_for

        return registry_for(self.ar, templates).forms()

    def fill(self, code: str, **kwargs):
        from .service import fill

        return fill(self.ar, code, **kwargs)

    def fill_batch(self, jobs, **kwargs):
        from .service import fill_batch

        return fill_batch(self.ar, jobs, **kwargs)

    def attach(self, ref: str, data: bytes, filename: str, **kwargs):
        from .service import attach

        return attach(self.ar, ref, data, filename, **kwargs)

    def bind(self, ref: str, **kwargs):
        from .service import bind_dossier

        return bind_dossier(self.ar, ref, **kwargs)


class Meetings:
    def __init__(self, ar):
        self.ar = ar

    def add(self, data, **kwargs) -> dict:
        from .service import add_meeting

        return add_meeting(self.ar, data, **kwargs)

    def list(self) -> list[dict]:
        from .service import list_meetings

        return list_meetings(self.ar)

    def get(self, key: str) -> dict:
        from .service import get_meeting

        return get_meeting(self.ar, key)
