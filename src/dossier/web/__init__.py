"""The web face: ``dossier serve``, a clerk's 工作台 and the daily tasks as pages.

A second face over the same library as the CLI (``dossier.api``): pages call
the library, never copies of it. Keys live in server-side sessions held in
memory only (:mod:`.sessions`); every page is rendered on the server (Jinja2,
htmx for partial updates, all assets vendored under ``static/``).
"""

from __future__ import annotations

__all__ = ["create_app"]


def create_app(archive_path, **kwargs):
    from .app import create_app as _create

    return _create(archive_path, **kwargs)
