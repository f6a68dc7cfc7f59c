"""Real PDF signatures: pdfsig (poppler/NSS) and our verify agree."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dossier.approve import pdfsign
from dossier.crypto.ca import ArchiveCA, describe_cert, generate_signing_identity, load_cert
from dossier.errors import InvalidInput

from approvekit import make_form_pdf, needs_pdfsig


def _flip_in_first_revision(pdf: bytes) -> bytes:
    i = pdf.index(b"Risk assessment")          # inside the base revision's content stream
    return pdf[:i] + b"Rusk" + pdf[i + 4:]


@needs_pdfsig
def test_pdfsig_reports_three_valid_signatures(three_signed, tmp_path):
    path = tmp_path / "审批表.pdf"
    path.write_bytes(three_signed)
    sigs = pdfsign.pdfsig_report(str(path))
    assert [s["Signature Field Name"] for s in sigs] == ["Step1Community", "Step2Police", "Step4Street"]
    assert all(s["valid"] for s in sigs), sigs
    assert [s["Signer Certificate Common Name"] for s in sigs] == ["张测试", "李测试", "王测试"]
    assert all(s["Signature Type"] == "ETSI.CAdES.detached" for s in sigs)


def test_verify_reports_three_good_signatures_in_order(three_signed, ca):
    reps = pdfsign.verify_pdf(three_signed, trust_pems=[ca.cert_pem])
    assert [r.step for r in reps] == ["社区初评", "派出所核查", "街道审批"]
    assert all(r.ok and r.trusted for r in reps)
    assert [r.signer_step for r in reps] == [r.step for r in reps]
    assert [r.covers_whole_file for r in reps] == [False, False, True]
    assert reps[1].reason == "派出所核查：同意"
    assert pdfsign.form_ref(three_signed) == "dossier:test@v1"


@needs_pdfsig
def test_flipped_byte_is_invalid_for_pdfsig_and_verify(three_signed, ca, tmp_path):
    bad = _flip_in_first_revision(three_signed)
    path = tmp_path / "bad.pdf"
    path.write_bytes(bad)
    sigs = pdfsign.pdfsig_report(str(path))
    assert len(sigs) == 3 and not any(s["valid"] for s in sigs), sigs
    reps = pdfsign.verify_pdf(bad, trust_pems=[ca.cert_pem])
    assert len(reps) == 3 and not any(r.ok for r in reps)
    assert all(not r.intact for r in reps)


@needs_pdfsig
def test_flip_in_last_revision_only_breaks_last_signature(three_signed, ca, tmp_path):
    # A byte of the third signature's own revision (its widget dictionary, just before
    # /Contents): the two earlier signatures do not cover it.
    rep = pdfsign.verify_pdf(three_signed)[-1]
    sig_start = three_signed.rfind(b"/Contents <")
    i = sig_start - 40
    bad = three_signed[:i] + bytes([three_signed[i] ^ 0x01]) + three_signed[i + 1:]
    reps = pdfsign.verify_pdf(bad, trust_pems=[ca.cert_pem])
    assert [r.ok for r in reps] == [True, True, False], [r.problems for r in reps]
    path = tmp_path / "bad3.pdf"
    path.write_bytes(bad)
    assert [s["valid"] for s in pdfsign.pdfsig_report(str(path))] == [True, True, False]
    assert rep.ok


def test_foreign_ca_is_not_trusted(three_signed):
    other = ArchiveCA.generate("别的街道", "other")
    reps = pdfsign.verify_pdf(three_signed, trust_pems=[other.cert_pem])
    assert all(r.intact and r.valid and not r.trusted and not r.ok for r in reps)


def test_same_step_cannot_be_signed_twice(three_signed, identities, ca):
    name, key, cert = identities["派出所核查"]
    with pytest.raises(InvalidInput):
        pdfsign.sign_step(three_signed, step="派出所核查", signer_name=name, opinion="同意",
                          date="2024-05-13", key_pem=key, cert_pem=cert)
    with pytest.raises(InvalidInput):
        pdfsign.sign_step(three_signed, step="审核", signer_name=name, opinion="同意",
                          date="2024-05-13", key_pem=key, cert_pem=cert)


def test_signing_without_prepared_fields_uses_default_areas(ca, identities):
    name, key, cert = identities["社区初评"]
    pdf = pdfsign.sign_step(make_form_pdf(), step="社区初评", signer_name=name,
                            opinion="建议定为中风险（100%核实）", date="2024-05-12", key_pem=key, cert_pem=cert)
    (rep,) = pdfsign.verify_pdf(pdf, trust_pems=[ca.cert_pem])
    assert rep.ok and rep.step == "社区初评"


def test_signing_identity_is_p256_and_issued_by_ca(ca):
    key_pem, cert_pem = generate_signing_identity(ca, "赵测试", "approver", "区禁毒办备案")
    cert = load_cert(cert_pem)
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert ca.issued(cert)
    assert not ArchiveCA.generate("x", "y").issued(cert)
    info = describe_cert(cert)
    assert (info.name, info.role, info.step, info.archive_id) == ("赵测试", "approver", "区禁毒办备案",
                                                                   "test-archive-0001")
    assert b"PRIVATE KEY" in key_pem and b"ENCRYPTED" not in key_pem
    again = ArchiveCA.from_pem(ca.key_pem, ca.export_cert_pem())
    assert again.issued(cert)


def test_stamp_lines_wrap_long_opinions():
    lines = pdfsign.stamp_lines("街道审批", "同意" * 30, "王测试", "2024-05-12")
    assert lines[0] == "【街道审批】" and lines[-1] == "日期：2024-05-12"
    assert len(lines) > 4


@pytest.mark.parametrize("data", [b"myhost\n", b"", b"PK\x03\x04 not a pdf" * 10])
def test_not_a_pdf_is_invalid_input_not_tampering(data, ca):
    from dossier.errors import IntegrityError

    with pytest.raises(InvalidInput) as exc:
        pdfsign.verify_pdf(data, trust_pems=[ca.cert_pem])
    assert not isinstance(exc.value, IntegrityError) and "不是 PDF" in exc.value.message


def test_unparseable_pdf_is_still_an_integrity_failure(three_signed, ca):
    from dossier.errors import IntegrityError

    broken = three_signed[:9] + b"\x00garbage\x00" * 50   # a PDF header, the rest destroyed
    with pytest.raises(IntegrityError):
        pdfsign.verify_pdf(broken, trust_pems=[ca.cert_pem])
