"""The 一人一策 requirement checked at 街道审批 (``Approvals._check_plan``): which filing
satisfies which level, and a message that gives the real command."""

from __future__ import annotations

import pytest

from dossier.approve.chain import Approvals
from dossier.errors import RefusedOperation


def _state(*filed_with):
    return {"entries": [{"type": "measure", "date": "2024-05-01", "filed_with": f} for f in filed_with]}


@pytest.mark.parametrize("level, filed, ok", [
    ("中", ("街道",), True),
    ("中", ("区禁毒办",), True),      # filed with the district: stricter than the 街道
    ("中", (), False),
    ("高", ("区禁毒办",), True),
    ("高", ("街道",), False),         # 高 still needs the district office
    ("高", (), False),
    ("低", (), True),
])
def test_plan_filing_per_level(level, filed, ok):
    if ok:
        Approvals._check_plan(_state(*filed), level)
    else:
        with pytest.raises(RefusedOperation):
            Approvals._check_plan(_state(*filed), level)


def test_non_measure_entries_do_not_count():
    state = {"entries": [{"type": "interview", "date": "2024-05-01", "filed_with": "街道"}]}
    with pytest.raises(RefusedOperation):
        Approvals._check_plan(state, "中")


@pytest.mark.parametrize("level, office", [("中", "街道"), ("高", "区禁毒办")])
def test_plan_message_gives_real_entry_add_syntax(level, office):
    with pytest.raises(RefusedOperation) as exc:
        Approvals._check_plan(_state(), level)
    msg = exc.value.message
    assert "dossier entry add <档号> --type measure --file plan.yaml" in msg
    assert f"filed_with: {office}" in msg and "filed_with=" not in msg and " measure …" not in msg
