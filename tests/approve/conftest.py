"""Fixtures for the approval tests (helpers live in approvekit.py)."""

from __future__ import annotations

import pytest

from approvekit import make_form_pdf
from dossier.approve import pdfsign
from dossier.crypto.ca import ArchiveCA, generate_signing_identity


@pytest.fixture(scope="session")
def ca() -> ArchiveCA:
    return ArchiveCA.generate("测试街道", "test-archive-0001")


@pytest.fixture(scope="session")
def identities(ca):
    return {
        "社区初评": ("张测试", *generate_signing_identity(ca, "张测试", "clerk", "社区初评")),
        "派出所核查": ("李测试", *generate_signing_identity(ca, "李测试", "approver", "派出所核查")),
        "街道审批": ("王测试", *generate_signing_identity(ca, "王测试", "approver", "街道审批")),
    }


@pytest.fixture(scope="session")
def three_signed(ca, identities) -> bytes:
    pdf = pdfsign.prepare_form(make_form_pdf(), form_ref="dossier:test@v1")
    for step, (name, key, cert) in identities.items():
        pdf = pdfsign.sign_step(pdf, step=step, signer_name=name, opinion="同意", date="2024-05-12",
                                key_pem=key, cert_pem=cert, chain_pems=[ca.cert_pem])
    return pdf
