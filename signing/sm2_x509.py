"""X.509 certificates and CRLs signed with SM3withSM2, which ``cryptography``'s builders cannot sign.

>>> cert = build_certificate(subject=name, issuer=name, public_key_der=key.public_key_der, serial=1,
...     not_before=now, not_after=later, extensions=[(x509.BasicConstraints(True, 0), True)],
...     signing_key=key)                                                                   # doctest: +SKIP
>>> signed_by(cert, cert)                                                               # doctest: +SKIP
True

The to-be-signed structures are built with asn1crypto from ``cryptography`` names and extension values (their
``public_bytes()``), signed by an ``Sm2Key`` (default id ``1234567812345678``, as GM/T 0015 certificates use), and
loaded back as ``cryptography`` certificates: those parse an SM2 certificate and give its names, extensions and
dates, but not its public key nor its signature check, which live here. The signature algorithm identifier is
SM3withSM2 (1.2.156.10197.1.501) with no parameters. Read algorithm OIDs directly (``signature_algorithm_oid``,
``['algorithm'].dotted``): asn1crypto's ``signature_algo`` and ``cryptography``'s ``signature_hash_algorithm``
raise for this OID.

``Sm2SignatureValidator`` plugs SM3withSM2 into pyhanko-certvalidator, for certificate paths and CRLs; other
algorithms go to its default validator.

OpenSSL 3.0's own X.509 verifier hashes an empty id into Z for SM2 certificate signatures: ``openssl verify``
accepts these certificates one link at a time with ``-vfyopt distid:1234567812345678`` (which applies to the
certificate being verified only), and rejects a whole chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from asn1crypto.algos import SignedDigestAlgorithm
from asn1crypto.keys import PublicKeyInfo
from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator.errors import AlgorithmNotSupported
from pyhanko_certvalidator.sig_validate import (
    DEFAULT_VALIDATION_CONTEXT,
    DefaultSignatureValidator,
    SignatureValidationContext,
)

from signing.errors import InvalidSignature
from signing.sm2 import Sm2Key, verify_sm2

__all__ = [
    "SM3_OID",
    "SM3_WITH_SM2_OID",
    "Sm2SignatureValidator",
    "build_certificate",
    "build_crl",
    "is_sm2_signed",
    "public_key_der",
    "signed_by",
    "subject_key_identifier",
]

SM3_WITH_SM2_OID = "1.2.156.10197.1.501"
"""SM3withSM2 signatures (GM/T 0006)."""
SM3_OID = "1.2.156.10197.1.401"
"""The SM3 hash (GB/T 32905)."""

_UTC_TIME_UNTIL = dt.datetime(2050, 1, 1, tzinfo=dt.UTC)  # RFC 5280 4.1.2.5: GeneralizedTime from 2050 on

Extensions = Sequence[tuple[x509.ExtensionType, bool]]
"""Extension values with their criticality, in the order they are written."""


def build_certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key_der: bytes,
    serial: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Extensions,
    signing_key: Sm2Key,
) -> x509.Certificate:
    """A v3 certificate for the SubjectPublicKeyInfo ``public_key_der``, signed SM3withSM2 by ``signing_key``."""
    algorithm = _algorithm()
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": serial,
            "signature": algorithm,
            "issuer": asn1_x509.Name.load(issuer.public_bytes()),
            "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
            "subject": asn1_x509.Name.load(subject.public_bytes()),
            "subject_public_key_info": PublicKeyInfo.load(public_key_der),
            "extensions": [_extension(asn1_x509.Extension, value, critical) for value, critical in extensions],
        }
    )
    signature = signing_key.sign(tbs.dump())
    certificate = asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(certificate.dump())


def build_crl(
    *,
    issuer: x509.Name,
    this_update: dt.datetime,
    next_update: dt.datetime,
    revoked: Sequence[tuple[int, dt.datetime, x509.ReasonFlags | None]],
    extensions: Extensions,
    signing_key: Sm2Key,
) -> bytes:
    """A v2 CRL (DER) listing ``revoked`` (serial, revocation date, reason or None), signed SM3withSM2."""
    algorithm = _algorithm()
    entries = []
    for serial, revoked_at, reason in revoked:
        entry: dict[str, object] = {"user_certificate": serial, "revocation_date": _time(revoked_at)}
        if reason is not None:
            entry["crl_entry_extensions"] = [_extension(asn1_crl.CRLEntryExtension, x509.CRLReason(reason), False)]
        entries.append(entry)
    fields: dict[str, object] = {
        "version": "v2",
        "signature": algorithm,
        "issuer": asn1_x509.Name.load(issuer.public_bytes()),
        "this_update": _time(this_update),
        "next_update": _time(next_update),
        "crl_extensions": [_extension(asn1_crl.TBSCertListExtension, v, c) for v, c in extensions],
    }
    if entries:  # RFC 5280 5.1.2.6: absent, not empty, when nothing is revoked
        fields["revoked_certificates"] = entries
    tbs = asn1_crl.TbsCertList(fields)
    signature = signing_key.sign(tbs.dump())
    certificate_list = asn1_crl.CertificateList(
        {"tbs_cert_list": tbs, "signature_algorithm": algorithm, "signature": signature}
    )
    dumped: bytes = certificate_list.dump()
    return dumped


def is_sm2_signed(cert: x509.Certificate) -> bool:
    """Whether ``cert`` carries an SM3withSM2 signature."""
    return cert.signature_algorithm_oid.dotted_string == SM3_WITH_SM2_OID


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``cert`` names ``issuer`` as its issuer and its SM3withSM2 signature verifies with issuer's key."""
    if not is_sm2_signed(cert) or cert.issuer != issuer.subject:
        return False
    try:
        verify_sm2(public_key_der(issuer), cert.tbs_certificate_bytes, cert.signature)
    except InvalidSignature:
        return False
    return True


def public_key_der(cert: x509.Certificate) -> bytes:
    """The certificate's SubjectPublicKeyInfo (DER), for any key type, SM2 included."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    dumped: bytes = parsed["tbs_certificate"]["subject_public_key_info"].dump()
    return dumped


def subject_key_identifier(public_key_der: bytes) -> x509.SubjectKeyIdentifier:
    """SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2, method 1), as ``from_public_key`` computes it."""
    bits = PublicKeyInfo.load(public_key_der)["public_key"]
    return x509.SubjectKeyIdentifier(hashlib.sha1(bits.contents[1:]).digest())  # skip the unused-bits octet


class Sm2SignatureValidator(DefaultSignatureValidator):
    """pyhanko-certvalidator's signature check, with SM3withSM2 (default id) added."""

    def validate_signature(
        self,
        signature: bytes,
        signed_data: bytes,
        public_key_info: PublicKeyInfo,
        signature_algorithm: SignedDigestAlgorithm,
        context: SignatureValidationContext = DEFAULT_VALIDATION_CONTEXT,
    ) -> None:
        if signature_algorithm["algorithm"].dotted != SM3_WITH_SM2_OID:
            try:
                super().validate_signature(signature, signed_data, public_key_info, signature_algorithm, context)
            except UnsupportedAlgorithm as exc:  # e.g. an SM2 key under another algorithm: cryptography cannot load it
                raise AlgorithmNotSupported(f"{signature_algorithm['algorithm'].dotted} with this key: {exc}") from exc
            except ValueError as exc:  # a key cryptography cannot parse; the validator lets this through
                raise _CryptoInvalidSignature(f"the public key cannot be read: {exc}") from exc
            return
        if context.prehashed:
            raise AlgorithmNotSupported("SM3withSM2 hashes the signer's Z with the data: it cannot be prehashed")
        try:
            verify_sm2(public_key_info.dump(), signed_data, signature)
        except InvalidSignature as exc:
            raise _CryptoInvalidSignature(str(exc)) from exc


def _algorithm() -> SignedDigestAlgorithm:
    return SignedDigestAlgorithm({"algorithm": SM3_WITH_SM2_OID})


def _time(moment: dt.datetime) -> asn1_x509.Time:
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone (use UTC)")
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    return asn1_x509.Time({"utc_time" if moment < _UTC_TIME_UNTIL else "general_time": moment})


def _extension(kind: type[core.Sequence], value: x509.ExtensionType, critical: bool) -> core.Sequence:
    """An asn1crypto extension of class ``kind`` holding ``cryptography``'s DER encoding of ``value``."""
    return kind(
        {
            "extn_id": value.oid.dotted_string,
            "critical": critical,
            "extn_value": core.ParsableOctetString(value.public_bytes()),
        }
    )
