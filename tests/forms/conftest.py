"""Fixtures for the forms tests: an archive with one fully recorded person."""

from __future__ import annotations

import pytest
from formkit import full_entries, full_profile


@pytest.fixture
def person_world(world):
    """(world, archive_no, profile): a person in 苗圃社区 with every kind of entry."""
    prof = full_profile()
    with world.open("li") as ar:
        ref = ar.persons.add(world.scope_a, prof, today=world.today)
        for e in full_entries():
            e = dict(e)
            ar.entries.add(ref.archive_no, e.pop("type"), e, today=world.today)
    return world, ref.archive_no, prof
