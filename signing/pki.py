"""A small X.509 authority for the gateway's mTLS: a member CA, the server certificate, member client certificates.

>>> ca = CertificateAuthority.create("zzgw 成员 CA")                      # doctest: +SKIP
>>> server = ca.issue_server(["localhost", "127.0.0.1"])                  # doctest: +SKIP
>>> client = ca.issue_client(code="11370100993701011T", name="济南市市场监督管理局")  # doctest: +SKIP

In production mode the gateway accepts only clients whose certificate chains to this CA (checked in the TLS
handshake) and whose fingerprint is registered for a member (checked per call). The seal-maker CA for electronic
seals is a different authority.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = dt.timedelta(days=825)


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate with its private key, both PEM."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def cert_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.cert_pem).public_bytes(serialization.Encoding.DER)

    def write(self, directory: Path, stem: str) -> None:
        make_private_directory(directory)
        write_public(directory / f"{stem}.pem", self.cert_pem)
        write_private(directory / f"{stem}.key", self.key_pem)

    @classmethod
    def read(cls, directory: Path, stem: str) -> Issued:
        return cls((directory / f"{stem}.pem").read_bytes(), (directory / f"{stem}.key").read_bytes())


PRIVATE_DIRECTORY_MODE = 0o700
"""The mode of each directory the gateway makes for its data (the data directory, ``pki/``, ``keys/``, ``secrets/``,
``seal-ca/`` …), whatever the umask (``make_private_directory``)."""
PUBLIC_FILE_MODE = 0o644
"""The mode of a certificate (or another file that holds no secret) the gateway writes, whatever the umask."""


def make_private_directory(path: Path) -> None:
    """Make the directory ``path``, and each missing one above it, readable, writable and searchable by the gateway's
    user alone (``PRIVATE_DIRECTORY_MODE``), whatever the umask; one that exists is left as it is (`zzgw init` and
    `zzgw serve` warn of one others may write). ``mkdir`` had taken the umask: under ``umask 000`` the data
    directory, ``keys/``, ``pki/`` and ``secrets/`` were world-writable, and any local user could rename or replace
    the keys and certificates in them (a reviewer, security R3)."""
    if path.is_dir():
        return
    if path.parent != path:
        make_private_directory(path.parent)
    try:
        path.mkdir(mode=PRIVATE_DIRECTORY_MODE)
    except FileExistsError:
        if path.is_dir():  # another process made it meanwhile
            return
        raise
    os.chmod(path, PRIVATE_DIRECTORY_MODE)  # mkdir's mode is less the umask's bits: a umask of 0222 leaves 0500


def write_public(path: Path, data: bytes) -> None:
    """Write ``data`` (a certificate) to ``path``, mode ``PUBLIC_FILE_MODE`` whatever the umask and whether the file
    is new or was there: readable by all, writable by the gateway's user alone (under ``umask 000`` the CA's, the
    server's and the members' certificates had been written 0666: a reviewer, security R3). A file the gateway's user
    may write but does not own (a data directory shared with a group), whose mode it may not set, is written all the
    same, its mode as it was (`zzgw init` and `zzgw serve` warn of one others may write): truncated first, it had been
    left empty (a review of the fix, fixrevstore R2)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, PUBLIC_FILE_MODE)
    with os.fdopen(fd, "wb") as out:
        with contextlib.suppress(PermissionError):
            os.fchmod(out.fileno(), PUBLIC_FILE_MODE)
        out.truncate(0)
        out.write(data)


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, readable and writable by the gateway's user alone, whether the file is new or was
    there: O_CREAT's mode applies only to a file it makes, so a key or token file restored from a copy readable by
    everyone had stayed so when written again."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # before the secret is in it
        out.write(data)


class CertificateAuthority:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey):
        self.cert = cert
        self._key = key

    @classmethod
    def create(cls, name: str, now: dt.datetime | None = None) -> CertificateAuthority:
        now = now or dt.datetime.now(dt.UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "zzgw"), x509.NameAttribute(NameOID.COMMON_NAME, name)]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + 4 * _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def as_issued(self) -> Issued:
        return Issued(self.cert_pem, _key_pem(self._key))

    @classmethod
    def from_issued(cls, issued: Issued) -> CertificateAuthority:
        key = serialization.load_pem_private_key(issued.key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the CA key must be an EC key")
        return cls(x509.load_pem_x509_certificate(issued.cert_pem), key)

    def issue_server(self, hosts: list[str]) -> Issued:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        return self._issue(hosts[0], [], names, ExtendedKeyUsageOID.SERVER_AUTH)

    def issue_client(self, *, code: str, name: str) -> Issued:
        """A client certificate for member ``code`` with a key made here (the key goes to the department)."""
        key = ec.generate_private_key(ec.SECP256R1())
        return Issued(self.certify_client(code=code, name=name, public_key=key.public_key()), _key_pem(key))

    def certify_client(self, *, code: str, name: str, public_key: ClientPublicKey) -> bytes:
        """A client certificate (PEM) for member ``code`` on ``public_key``, a key the department made itself
        (``csr_public_key``): its private key never leaves the department."""
        extra: list[x509.NameAttribute[str]] = [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
        ]
        return self._certify(public_key, code, extra, [], ExtendedKeyUsageOID.CLIENT_AUTH)

    def _issue(
        self,
        common_name: str,
        extra: list[x509.NameAttribute[str]],
        names: list[x509.GeneralName],
        usage: x509.ObjectIdentifier,
    ) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        return Issued(self._certify(key.public_key(), common_name, extra, names, usage), _key_pem(key))

    def _certify(
        self,
        public_key: ClientPublicKey,
        common_name: str,
        extra: list[x509.NameAttribute[str]],
        names: list[x509.GeneralName],
        usage: x509.ObjectIdentifier,
    ) -> bytes:
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name), *extra]))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(  # which CA's key signed it, for a peer whose trust bundle holds several
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self._key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


ClientPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
"""The keys a department's own client key may be (``csr_public_key``): those gRPC's TLS takes from a client."""
_CURVES = {"secp256r1": "P-256", "secp384r1": "P-384"}
_MIN_RSA_BITS = 2048


def csr_public_key(request: bytes) -> ClientPublicKey:
    """The public key of a certificate signing request (PEM or DER) a department made with its own key, once its
    signature shows the department holds that key. Only the key is taken: the gateway names the member in the
    certificate itself, whatever the request's subject says. ValueError says what will not do: an EC key on P-256
    or P-384, or RSA of at least 2048 bits, is needed."""
    try:
        csr = (
            x509.load_pem_x509_csr(request)
            if request.lstrip().startswith(b"-----BEGIN")
            else x509.load_der_x509_csr(request)
        )
    except ValueError:
        raise ValueError(
            "not a certificate signing request (PEM `-----BEGIN CERTIFICATE REQUEST-----`, or DER): make one with "
            "`openssl req -new -key USCC.key -subj /CN=USCC -out USCC.csr`"
        ) from None
    if not csr.is_signature_valid:
        raise ValueError("the request's signature does not verify: it was not signed with the key it carries")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _CURVES:
        return key
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= _MIN_RSA_BITS:
        return key
    raise ValueError(
        f"the request's key is {_key_kind(key)}: a client key is an EC key on P-256 or P-384 (`openssl ecparam "
        f"-name prime256v1 -genkey -noout -out USCC.key`), or RSA of at least {_MIN_RSA_BITS} bits"
    )


def _key_kind(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"an EC key on {key.curve.name}"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA of {key.key_size} bits"
    return f"a key of another kind ({type(key).__name__.removesuffix('PublicKey')})"


def member_code(certificate: x509.Certificate) -> str:
    """The member a client certificate names: its subject's serialNumber, the member's 统一社会信用代码, as
    ``issue_client`` writes it; "" when it names none."""
    named = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(named[0].value) if named else ""


def issued_by(certificate: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca``'s key signed ``certificate`` under ``ca``'s name."""
    try:
        certificate.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
