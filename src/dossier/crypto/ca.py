"""The archive's own certificate authority, and users' PDF-signing identities.

Each archive has a CA (an ECDSA P-256 key and a self-signed X.509
certificate). At ``user add`` the CA issues the new user a signing
certificate for a fresh ECDSA P-256 key; that key signs the 审批表 PDFs
(CMS / PAdES). An office that wants its PDF reader to show the signatures as
trusted imports the CA certificate (``export_cert_pem``).

Why ECDSA P-256 and not the users' Ed25519 keys: poppler's ``pdfsig`` (NSS,
22.x) reports an Ed25519 CMS signature as "Document isn't signed or corrupted
data", and neither do common PDF readers accept it, while P-256 with SHA-256
verifies everywhere. The Ed25519 keys keep signing versions and audit events.
The CA key is P-256 too, so the whole path verifies in NSS and Acrobat.

The private keys come out as unencrypted PKCS#8 PEM bytes: the archive seals
them (like the other private keys) before anything touches the disk. The
certificate carries the user's name (CN), role (OU), step (title) and the
archive (O, and ``archive:<id>`` as a second OU), so a verifier can read who
signed at what step without the archive. The person behind the account, when
the admin recorded it (``user add --full-name --unit --title``), is in the
certificate too: the full name as X.520 ``name`` (2.5.4.41), the unit (粤汉派出所)
as a plain OU and the post (副所长) as OU ``title:<post>``. The CN stays the
login name (what ``pdfsig`` lists as the signer).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..errors import IntegrityError, InvalidInput

CA_YEARS = 30
USER_YEARS = 10
# Backdate notBefore a little: clocks of the machines in an office differ.
CLOCK_SKEW = _dt.timedelta(minutes=10)
NAME_OID = x509.ObjectIdentifier("2.5.4.41")     # X.520 name: the signer's full name


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except ValueError as e:
        raise IntegrityError(f"签名私钥格式损坏：{e}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise IntegrityError("签名私钥不是 ECDSA 密钥")
    return key


def load_cert(pem_or_der: bytes) -> x509.Certificate:
    try:
        if pem_or_der.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(pem_or_der)
        return x509.load_der_x509_certificate(pem_or_der)
    except ValueError as e:
        raise IntegrityError(f"证书格式损坏：{e}") from None


@dataclass(frozen=True)
class SignerInfo:
    """What a signing certificate says about its holder."""

    name: str
    role: str | None
    step: str | None
    archive_id: str | None
    serial: int
    not_before: _dt.datetime
    not_after: _dt.datetime
    full_name: str | None = None
    unit: str | None = None
    title: str | None = None

    @property
    def display_name(self) -> str:
        """The full name (with the post) when the certificate carries one, else the login name."""
        if not self.full_name:
            return self.name
        return f"{self.full_name}（{self.title}）" if self.title else self.full_name


def describe_cert(cert: x509.Certificate) -> SignerInfo:
    subj = cert.subject

    def one(oid):
        attrs = subj.get_attributes_for_oid(oid)
        return str(attrs[0].value) if attrs else None

    ous = [str(a.value) for a in subj.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    archive_id = next((o[len("archive:"):] for o in ous if o.startswith("archive:")), None)
    role = next((o[len("role:"):] for o in ous if o.startswith("role:")), None)
    title = next((o[len("title:"):] for o in ous if o.startswith("title:")), None)
    unit = next((o for o in ous if not o.startswith(("role:", "archive:", "title:"))), None)
    return SignerInfo(name=one(NameOID.COMMON_NAME) or "", role=role, step=one(NameOID.TITLE),
                      archive_id=archive_id, serial=cert.serial_number,
                      not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                      full_name=one(NAME_OID), unit=unit, title=title)


class ArchiveCA:
    """An archive's CA: its private key (kept sealed by the archive) and certificate."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate):
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            raise IntegrityError("CA 私钥与 CA 证书不匹配")
        self.key = key
        self.cert = cert

    # -- creation and (de)serialisation -------------------------------------------------
    @classmethod
    def generate(cls, archive_name: str, archive_id: str) -> "ArchiveCA":
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, f"{archive_name} 档案库签名CA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, archive_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"archive:{archive_id}"),
        ])
        now = _now()
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW)
                .not_valid_after(now + _dt.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=True, crl_sign=True,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(key, cert)

    @classmethod
    def from_pem(cls, key_pem: bytes, cert_pem: bytes) -> "ArchiveCA":
        return cls(load_private_key(key_pem), load_cert(cert_pem))

    @property
    def key_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM: seal it before storing."""
        return _pem_key(self.key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def export_cert_pem(self) -> bytes:
        """The certificate an office imports to trust the archive's signatures."""
        return self.cert_pem

    @property
    def archive_id(self) -> str | None:
        return describe_cert(self.cert).archive_id

    @property
    def archive_name(self) -> str:
        attrs = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        return str(attrs[0].value) if attrs else ""

    # -- issuing ----------------------------------------------------------------------
    def issue(self, public_key: ec.EllipticCurvePublicKey, user_name: str, role: str,
              step: str | None = None, *, years: int = USER_YEARS, full_name: str | None = None,
              unit: str | None = None, title: str | None = None) -> x509.Certificate:
        if not user_name or not role:
            raise InvalidInput("签名证书需要用户名和角色")
        attrs = [x509.NameAttribute(NameOID.COMMON_NAME, user_name),
                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.archive_name or "dossier"),
                 x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"role:{role}")]
        if self.archive_id:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"archive:{self.archive_id}"))
        if step:
            attrs.append(x509.NameAttribute(NameOID.TITLE, step))
        if full_name:
            attrs.append(x509.NameAttribute(NAME_OID, full_name))
        if unit:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit))
        if title:
            attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"title:{title}"))
        now = _now()
        not_after = min(now + _dt.timedelta(days=365 * years), self.cert.not_valid_after_utc)
        return (x509.CertificateBuilder()
                .subject_name(x509.Name(attrs)).issuer_name(self.cert.subject)
                .public_key(public_key)
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW).not_valid_after(not_after)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                # digitalSignature + nonRepudiation (contentCommitment): a document signature.
                # No extendedKeyUsage: NSS (pdfsig) checks the e-mail-signer usage, and an EKU
                # without emailProtection would fail there once the CA is trusted.
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                             key_encipherment=False, data_encipherment=False,
                                             key_agreement=False, key_cert_sign=False, crl_sign=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))

    def issue_server(self, hosts: list[str], *, days: int = 397) -> tuple[bytes, bytes]:
        """A TLS server key and certificate for ``dossier serve --tls-self-signed``
        (names and IP addresses in subjectAltName); (key PEM, certificate PEM)."""
        import ipaddress

        key = ec.generate_private_key(ec.SECP256R1())
        alt = []
        for h in dict.fromkeys(hosts):
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        now = _now()
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else "dossier"),
                                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.archive_name or "dossier")]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - CLOCK_SKEW)
                .not_valid_after(min(now + _dt.timedelta(days=days), self.cert.not_valid_after_utc))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)

    def issued(self, cert: x509.Certificate) -> bool:
        """True when ``cert`` carries a valid signature by this CA."""
        try:
            cert.verify_directly_issued_by(self.cert)
            return True
        except (ValueError, TypeError, Exception):  # InvalidSignature and friends
            return False


def generate_signing_identity(ca: ArchiveCA, user_name: str, role: str,
                              step: str | None = None, *, full_name: str | None = None,
                              unit: str | None = None, title: str | None = None) -> tuple[bytes, bytes]:
    """A fresh ECDSA P-256 PDF-signing key and its certificate from ``ca``.

    Returns ``(private_key_pem, cert_pem)``; the caller seals the key with the
    user's passphrase-derived key and stores the certificate in clear.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), user_name, role, step, full_name=full_name, unit=unit, title=title)
    return _pem_key(key), cert.public_bytes(serialization.Encoding.PEM)
