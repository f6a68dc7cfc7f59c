"""The layers of DESIGN.md hold: import-linter's contracts in pyproject.toml
(faces → api → features → session → model/rules/crypto/store; Click only in
the CLI, the web framework only in the web face) are kept. Imports inside
functions count."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    assert lint.is_file(), "import-linter is not installed (./dev setup installs it from requirements.lock)"
    p = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 broken" in p.stdout


def test_api_still_exports_what_it_did():
    """The names moved below the features stay importable from the façade, as the same objects."""
    from dossier import api, clock, session
    from dossier.api import (FORMAT_VERSION, ROLE_LABELS, ROLES, Session, User, init_archive,  # noqa: F401
                             now_iso, open_archive, read_config)

    assert api.Session is session.Session and api.User is session.User and api.now_iso is clock.now_iso
    assert api.ROLES is session.ROLES and api.ROLE_LABELS is session.ROLE_LABELS
