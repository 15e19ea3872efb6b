"""Electronic seals and seal signatures of GB/T 38540-2020 (电子印章, 电子签章), format version 4, with SM2.

>>> seal = make_seal(maker_key=maker_key, maker_cert=maker_cert, es_id="37010000000001",
...     name="济南市市场监督管理局电子证照专用章", signer_certs=[holder_cert], created=now, valid_start=now,
...     valid_end=now + dt.timedelta(days=730), picture=draw_seal("济南市市场监督管理局", "电子证照专用章"),
...     picture_size_mm=(40, 40))                                                          # doctest: +SKIP
>>> stamp = sign_document(document, seal=seal, key=holder_key, cert=holder_cert, at=now,
...     property_info="zzgw:license.pdf", time_stamp=token_over)                           # doctest: +SKIP
>>> check_stamp(stamp, document, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl],
...     tsa_trust_roots=[ca.root]).result                                                  # doctest: +SKIP

A seal (``SESeal``) is made by the seal maker (制章者): its SM2 signature over DER(SES_SealInfo) binds the seal's
name, validity, picture and the certificates of the holders allowed to apply it (certListType 1). A stamp
(``SES_Signature``, 签章) is made by one of those holders: an SM2 signature over DER(TBS_Sign), which embeds the
whole seal, the signing time (claimed by the signer), SM3 of the document and a property text. Both signatures
are SM3withSM2 with the default id ``1234567812345678``; certificates come from ``signing.seal_ca``. A stamp may
carry, in ``timeStamp [0]``, an RFC 3161 TimeStampToken (DER ContentInfo) over its ``signature`` value (the bytes of
the DER ``SEQUENCE {r, s}``), as ofdrw's timestamp hook puts one there: ``sign_document``'s ``time_stamp`` makes it.

``check_stamp`` follows the order of GB/T 38540 (as a public C++ implementation, ``C38540::sign_verify``, has it):
the stamp's signature, the signer certificate in the seal's list, the seal maker's signature, the maker and signer
certificates (chain to a trust root, validity, revocation), the signing time, the seal's validity window at that
time, the document's hash. It returns three findings, as ``signing.pdf.PdfVerification`` does, with these reasons:

- integrity: ``MALFORMED``, ``TOO_LARGE``, ``UNSUPPORTED_VERSION``, ``VERSION_MISMATCH``,
  ``UNSUPPORTED_ALGORITHM``, ``UNSUPPORTED_CERT_LIST_TYPE``, ``STAMP_SIGNATURE_INVALID``,
  ``SIGNER_NOT_IN_SEAL``, ``SEAL_SIGNATURE_INVALID``, ``DATA_HASH_MISMATCH``;
- issuer identity: the maker's certificate must be a seal maker's (its seal name ``SEAL_MAKER_NAME``, a name no
  holder's seal may carry), else ``MAKER_NOT_A_SEAL_MAKER``: a holder's own seal key, which every issuer has, could
  otherwise make seals in any issuer's name. Then the maker's and the signer's certificates, ``MAKER_`` or
  ``SIGNER_`` before a
  ``check_certificate`` reason, its ``CERT_`` prefix dropped (``SIGNER_REVOKED`` for ``CERT_REVOKED``,
  ``MAKER_LOOKALIKE_CA``, …), checked at the signing time; a certificate that passes then but is revoked or expired
  by now gives INDETERMINATE ``…_REVOKED_NO_TRUSTED_TIME`` / ``…_EXPIRED_NO_TRUSTED_TIME``, because the signing
  time is only the signer's claim. Then the seal itself: ``SEAL_NOT_YET_VALID``, ``SEAL_EXPIRED`` when the signing
  time lies outside validStart–validEnd. With a trusted timestamp (below) all of these are judged at its genTime,
  as ``signing.pdf.validate`` judges a PDF seal, and nothing is undecided for want of a time: a stamp made before its
  seal was revoked or ended stays PASSED. A timestamp whose authority is not trusted leaves the time the signer's
  claim: an identity that passes as of now is INDETERMINATE ``TIMESTAMP_UNTRUSTED``, one undecided for want of a
  time keeps its reason (its detail saying why the timestamp is not trusted), one that fails keeps its finding, as
  ``VerifyDocument`` reads a PDF seal's;
- timestamp: where the signing time comes from. PASSED for a token over the stamp's signature value whose own
  signature verifies and whose certificate chains, at its genTime, to one of ``tsa_trust_roots`` with the
  timeStamping usage and is on none of the CRLs given; FAILED ``TIMESTAMP_INVALID`` for one that cannot be read, is
  over other bytes or whose signature is broken (swapped in from another stamp, or altered), or carries more than
  ``MAX_CARRIED_CERTIFICATES`` certificates or two of one name (no path is built through them); INDETERMINATE
  ``TIMESTAMP_UNTRUSTED`` for one from an authority not trusted (or revoked), and ``NO_TIMESTAMP`` without one,
  which leaves a stamp PASSED as a missing timestamp leaves a PDF seal. ``SIGNING_TIME_IN_FUTURE`` (FAILED) for a
  claimed time, or a trusted genTime, more than ``CLOCK_SKEW`` after now.

The overall ``reason`` is the first failure (else the first INDETERMINATE finding, timestamp aside) in the
standard's order given above, whatever finding it belongs to. ``check_stamp`` never raises for bad
input; ``verify_stamp`` raises InvalidSignature unless the stamp passes. ``make_seal`` and ``sign_document`` raise
SigningError for a key or certificate that cannot make a valid seal or stamp.

The ASN.1, version 4 (GB/T 38540-2020), from the project's standards notes, which transcribed it from ofdrw
(``ofdrw-gm/src/main/java/org/ofdrw/gm/ses/v4/*.java``) and a 2025 write-up of GM/T 0031-2025 listing its
differences from 38540; TBS_Sign, SES_Signature, SES_ESPropertyInfo and SES_CertList were checked against ofdrw's
classes. The standard's own text was not read::

    SESeal ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING /*制章者证书 DER*/,
                          signAlgID OBJECT IDENTIFIER, signedValue BIT STRING }
    SES_SealInfo ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                picture SES_ESPictureInfo, extDatas ExtensionDatas OPTIONAL }
    SES_Header ::= SEQUENCE { ID IA5String /*"ES"*/, version INTEGER /*4*/, Vid IA5String /*vendor*/ }
    SES_ESPropertyInfo ::= SEQUENCE { type INTEGER, name UTF8String, certListType INTEGER /*1=certs,2=digests*/,
         certList SES_CertList, createDate GeneralizedTime, validStart GeneralizedTime, validEnd GeneralizedTime }
    SES_CertList ::= CHOICE { certs SEQUENCE OF OCTET STRING, certDigestList SEQUENCE OF
                              SEQUENCE { type PrintableString, value OCTET STRING } }
    SES_ESPictureInfo ::= SEQUENCE { type IA5String /*GIF,BMP,JPG,PNG,SVG*/, data OCTET STRING,
                                     width INTEGER, height INTEGER /*mm*/ }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING /*签章者证书*/,
         signatureAlgID OID, signature BIT STRING, timeStamp [0] BIT STRING OPTIONAL }
    TBS_Sign ::= SEQUENCE { version INTEGER /*=seal version*/, eseal SESeal, timeInfo GeneralizedTime,
         dataHash BIT STRING, propertyInfo IA5String, extDatas [0] ExtensionDatas OPTIONAL }

The two alternatives of SES_CertList share one tag, so certListType says which one is present. The ``[0]`` tags
are explicit, as ofdrw writes them. ExtensionDatas is ``SEQUENCE OF ExtData``, ExtData ``SEQUENCE { extnID OBJECT
IDENTIFIER, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING }`` (ofdrw ``ses/v1``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from asn1crypto import cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from signing.der import MalformedDer, check_der
from signing.errors import InvalidSignature, SigningError
from signing.keys import SM2_SM3, KeyBackend
from signing.results import CLOCK_SKEW, PASSED, CheckResult, Finding
from signing.seal_ca import MAX_CARRIED_CERTIFICATES, IdentityFinding, async_check_certificate, repeated_name
from signing.sm2 import verify_sm2
from signing.sm2_x509 import SM3_WITH_SM2_OID, public_key_der

__all__ = [
    "MAX_CODE",
    "MAX_STAMP_BYTES",
    "SEAL_MAKER_NAME",
    "SEAL_VERSION",
    "Certificates",
    "SESSignature",
    "SESeal",
    "SealInfo",
    "SesVerification",
    "TbsSign",
    "async_check_stamp",
    "check_stamp",
    "make_seal",
    "sign_document",
    "verify_stamp",
]

SEAL_VERSION = 4
"""The format version of GB/T 38540-2020 (GM/T 0031-2014 is 1, GM/T 0031-2025 is 5)."""
VENDOR = "zzgw"
"""Vid: who made the seal data."""
ORGANISATION_SEAL = 1
"""Seal type 1, 单位印章 (2 is a personal seal, 个人印章)."""
CERT_LIST_CERTIFICATES = 1
"""certListType: the seal lists its holders' certificates (2, digests of them, is read but not supported)."""
SEAL_MAKER_NAME = "电子印章制章者"
"""The seal name (certificate subject CN) of a seal maker's certificate (GB/T 38540 制章者): what sets it apart from a
holder's seal certificate under the same CA. A seal-maker CA must not give a holder's seal this name."""
MAX_STAMP_BYTES = 4 * 1024 * 1024
"""Largest stamp ``check_stamp`` reads; the seal picture is most of it."""
MAX_CODE = 64
"""Characters of a code a stamp claims: its seal's code (esID, IA5String, which the standard does not bound) and its
signer's 统一社会信用代码 (organizationIdentifier). The gateway's seal codes are 20 characters, a USCC 18. A receipt
records both as the stamp claims them (``VerifyStamp``), and a statement is bounded
(``signing.receipts.MAX_STATEMENT``): a seal code of 70,000 letters had been signed into a receipt every checker,
the gateway's own console included, then called forged (a receipts tester). A longer seal code makes the stamp
``MALFORMED``; a longer organizationIdentifier is not read as the signer's code (``signer_uscc`` None)."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# --- the ASN.1 --------------------------------------------------------------------------------------------------------
# asn1crypto ships no type information, and declares fields in mutable class attributes.


class SealHeader(core.Sequence):  # type: ignore[misc]
    """SES_Header."""

    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]  # noqa: RUF012


class Certificates(core.SequenceOf):  # type: ignore[misc]
    """SES_CertList, certs: the holders' certificates (DER)."""

    _child_spec = core.OctetString


class ExtData(core.Sequence):  # type: ignore[misc]
    """ExtData."""

    _fields = [  # noqa: RUF012
        ("extn_id", core.ObjectIdentifier),
        ("critical", core.Boolean, {"default": False}),
        ("extn_value", core.OctetString),
    ]


class ExtensionDatas(core.SequenceOf):  # type: ignore[misc]
    """ExtensionDatas."""

    _child_spec = ExtData


class PropertyInfo(core.Sequence):  # type: ignore[misc]
    """SES_ESPropertyInfo; ``cert_list`` is parsed as ``Certificates`` when cert_list_type is 1."""

    _fields = [  # noqa: RUF012
        ("type", core.Integer),
        ("name", core.UTF8String),
        ("cert_list_type", core.Integer),
        ("cert_list", core.Any),
        ("create_date", core.GeneralizedTime),
        ("valid_start", core.GeneralizedTime),
        ("valid_end", core.GeneralizedTime),
    ]


class PictureInfo(core.Sequence):  # type: ignore[misc]
    """SES_ESPictureInfo: width and height in millimetres."""

    _fields = [  # noqa: RUF012
        ("type", core.IA5String),
        ("data", core.OctetString),
        ("width", core.Integer),
        ("height", core.Integer),
    ]


class SealInfo(core.Sequence):  # type: ignore[misc]
    """SES_SealInfo: what the seal maker signs."""

    _fields = [  # noqa: RUF012
        ("header", SealHeader),
        ("es_id", core.IA5String),
        ("property", PropertyInfo),
        ("picture", PictureInfo),
        ("ext_datas", ExtensionDatas, {"optional": True}),
    ]


class SESeal(core.Sequence):  # type: ignore[misc]
    """SESeal: the seal, signed by its maker."""

    _fields = [  # noqa: RUF012
        ("e_seal_info", SealInfo),
        ("cert", core.OctetString),
        ("sign_alg_id", core.ObjectIdentifier),
        ("signed_value", core.OctetBitString),
    ]


class TbsSign(core.Sequence):  # type: ignore[misc]
    """TBS_Sign: what the seal holder signs."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("eseal", SESeal),
        ("time_info", core.GeneralizedTime),
        ("data_hash", core.OctetBitString),
        ("property_info", core.IA5String),
        ("ext_datas", ExtensionDatas, {"explicit": 0, "optional": True}),
    ]


class SESSignature(core.Sequence):  # type: ignore[misc]
    """SES_Signature: a stamp (签章) on a document."""

    _fields = [  # noqa: RUF012
        ("to_sign", TbsSign),
        ("cert", core.OctetString),
        ("signature_alg_id", core.ObjectIdentifier),
        ("signature", core.OctetBitString),
        ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True}),
    ]


# --- making ----------------------------------------------------------------------------------------------------------


def make_seal(
    *,
    maker_key: KeyBackend,
    maker_cert: x509.Certificate,
    es_id: str,
    name: str,
    signer_certs: Sequence[x509.Certificate],
    created: dt.datetime,
    valid_start: dt.datetime,
    valid_end: dt.datetime,
    picture: bytes,
    picture_size_mm: tuple[int, int],
    seal_type: int = ORGANISATION_SEAL,
) -> bytes:
    """A seal (DER SESeal) for the holders of ``signer_certs``, signed by the maker's SM2 key.

    ``es_id`` is the seal's code (印章编码, ASCII); ``picture`` a PNG shown ``picture_size_mm`` (width, height).
    """
    _require_sm2_key(maker_key, maker_cert, "seal maker")
    for moment in (created, valid_start, valid_end):
        _require_aware(moment)
    if not valid_start < valid_end:
        raise ValueError("valid_start must precede valid_end")
    if not (name and signer_certs):
        raise ValueError("a seal needs a name and at least one holder certificate")
    if not (es_id and es_id.isascii()):
        raise ValueError("es_id must be non-empty ASCII (IA5String)")
    if len(es_id) > MAX_CODE:
        raise ValueError(f"es_id must be at most {MAX_CODE} characters: a longer seal code is not read")
    if not picture.startswith(_PNG_MAGIC):
        raise ValueError("the seal picture must be a PNG")
    width, height = picture_size_mm
    if width <= 0 or height <= 0:
        raise ValueError("the picture's size must be positive millimetres")
    seal_info = SealInfo(
        {
            "header": {"id": "ES", "version": SEAL_VERSION, "vid": VENDOR},
            "es_id": es_id,
            "property": {
                "type": seal_type,
                "name": name,
                "cert_list_type": CERT_LIST_CERTIFICATES,
                "cert_list": Certificates([_der(c) for c in signer_certs]),
                "create_date": _seconds(created),
                "valid_start": _seconds(valid_start),
                "valid_end": _seconds(valid_end),
            },
            "picture": {"type": "PNG", "data": picture, "width": width, "height": height},
        }
    )
    seal = SESeal(
        {
            "e_seal_info": seal_info,
            "cert": _der(maker_cert),
            "sign_alg_id": SM3_WITH_SM2_OID,
            "signed_value": maker_key.sign(seal_info.dump()),
        }
    )
    dumped: bytes = seal.dump()
    return dumped


def sign_document(
    document: bytes,
    *,
    seal: bytes,
    key: KeyBackend,
    cert: x509.Certificate,
    at: dt.datetime,
    property_info: str,
    time_stamp: Callable[[bytes], bytes] | None = None,
) -> bytes:
    """A stamp (DER SES_Signature) of ``seal`` on ``document``, made at ``at`` by the holder of ``cert``.

    ``property_info`` (ASCII) names what is signed (签章保护范围), e.g. the document's path; ``cert`` must be in the
    seal's certificate list. ``time_stamp``, given the stamp's signature value, returns an RFC 3161 TimeStampToken
    (DER ContentInfo) over it, which goes into timeStamp [0]: without one the signing time is only the signer's
    claim, and every stamp of a seal revoked or ended since is undecided (``…_NO_TRUSTED_TIME``) for good (a
    reviewer, R3). What it raises is raised.
    """
    _require_sm2_key(key, cert, "seal holder")
    _require_aware(at)
    if not property_info.isascii():
        raise ValueError("property_info must be ASCII (IA5String)")
    try:
        parsed = SESeal.load(seal, strict=True)
        version = parsed["e_seal_info"]["header"]["version"].native
        holders = _holder_certificates(parsed["e_seal_info"]["property"])
    except _Malformed as exc:
        raise SigningError(f"the seal cannot be used: {exc.detail}") from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise SigningError(f"the seal cannot be read: {exc}") from exc
    if _der(cert) not in holders:
        raise SigningError("the certificate is not in the seal's certificate list: this stamp would not verify")
    to_sign = TbsSign(
        {
            "version": version,
            "eseal": parsed,
            "time_info": _seconds(at),
            "data_hash": hashlib.new("sm3", document).digest(),
            "property_info": property_info,
        }
    )
    signature = key.sign(to_sign.dump())
    fields = {"to_sign": to_sign, "cert": _der(cert), "signature_alg_id": SM3_WITH_SM2_OID, "signature": signature}
    if time_stamp is not None:
        fields["time_stamp"] = time_stamp(signature)
    stamp = SESSignature(fields)
    dumped: bytes = stamp.dump()
    return dumped


# --- verifying -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SesVerification:
    """What verifying a stamp found (验章结果)."""

    result: CheckResult
    """FAILED if any finding failed; else INDETERMINATE if integrity or identity is; else PASSED. A missing
    timestamp alone leaves a stamp PASSED."""
    reason: str | None
    """The first failure (else indeterminate finding) in the order of GB/T 38540's verification."""
    integrity: Finding
    """Format, both signatures, the signer in the seal's certificate list, the document's hash."""
    issuer_identity: Finding
    """The maker's and the signer's certificates (``MAKER_…``, ``SIGNER_…``), then the seal's validity window, at
    the signing time."""
    timestamp: Finding
    """Where the signing time comes from: PASSED for a trusted timestamp; NO_TIMESTAMP or TIMESTAMP_UNTRUSTED
    (INDETERMINATE); TIMESTAMP_INVALID or SIGNING_TIME_IN_FUTURE (FAILED)."""
    es_id: str | None
    """The seal's code (esID), when readable: at most ``MAX_CODE`` characters."""
    seal_name: str | None
    """The seal's name, when readable."""
    signer_name: str | None
    """The organisation of the signer certificate (subject O)."""
    signer_uscc: str | None
    """The signer's 统一社会信用代码 (organizationIdentifier); None without one, or with one longer than any code
    (``MAX_CODE``)."""
    maker_name: str | None
    """The organisation of the seal maker's certificate (subject O)."""
    signing_time: dt.datetime | None
    """The trusted timestamp's genTime, else timeInfo: when the signer says it signed."""
    signing_time_trusted: bool = False
    """Whether ``signing_time`` comes from a verified timestamp."""

    def __post_init__(self) -> None:
        if (self.result is CheckResult.PASSED) != (self.reason is None):
            raise ValueError("a verification has a reason exactly when it did not pass")


def check_stamp(
    stamp: bytes,
    document: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime | None = None,
    maker_seal_name: str = SEAL_MAKER_NAME,
    tsa_trust_roots: Sequence[x509.Certificate] | None = None,
) -> SesVerification:
    """Verify ``stamp`` over ``document`` with only the material given; ``at`` is now (default: the system clock);
    the seal's maker certificate must carry ``maker_seal_name``; ``tsa_trust_roots`` anchor the authorities of
    timestamps (default: ``trust_roots``), as ``signing.pdf.validate``'s do.

    Synchronous wrapper over ``async_check_stamp``; do not call it from a running event loop.
    """
    return asyncio.run(
        async_check_stamp(
            stamp,
            document,
            trust_roots=trust_roots,
            intermediates=intermediates,
            crls=crls,
            at=at,
            maker_seal_name=maker_seal_name,
            tsa_trust_roots=tsa_trust_roots,
        )
    )


def verify_stamp(
    stamp: bytes,
    document: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime | None = None,
    tsa_trust_roots: Sequence[x509.Certificate] | None = None,
) -> SesVerification:
    """The verification of a stamp that passes; InvalidSignature naming the reason otherwise."""
    verification = check_stamp(
        stamp,
        document,
        trust_roots=trust_roots,
        intermediates=intermediates,
        crls=crls,
        at=at,
        tsa_trust_roots=tsa_trust_roots,
    )
    if verification.result is not CheckResult.PASSED:
        raise InvalidSignature(f"the stamp does not pass: {verification.reason}")
    return verification


async def async_check_stamp(
    stamp: bytes,
    document: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime | None = None,
    maker_seal_name: str = SEAL_MAKER_NAME,
    tsa_trust_roots: Sequence[x509.Certificate] | None = None,
) -> SesVerification:
    """``check_stamp`` for callers inside an event loop."""
    now = at if at is not None else dt.datetime.now(dt.UTC)
    _require_aware(now)
    if len(stamp) > MAX_STAMP_BYTES:
        return _unreadable(
            _failed(
                "TOO_LARGE", f"电子签章数据过大（the stamp has {len(stamp)} bytes; the limit is {MAX_STAMP_BYTES}）"
            )
        )
    try:
        parts = _Parts.of(stamp)
    except _Malformed as exc:
        return _unreadable(_failed(exc.reason, f"{_UNREAD.get(exc.reason, _UNREAD['MALFORMED'])}（{exc.detail}）"))

    signer, maker = parts.signer_cert, parts.maker_cert
    claimed = parts.time_info
    token = await _time_stamp(parts, now, trust_roots if tsa_trust_roots is None else tsa_trust_roots, crls)
    signed = token.time or claimed  # a trusted timestamp's time in place of the claim, as for a PDF seal's
    checked_at = min(signed, now)
    maker_identity, signer_identity = (
        _unproven(finding, token)
        for finding in await asyncio.gather(
            _identity(
                "MAKER", maker, checked_at, now, trust_roots, intermediates, crls, trusted=token.time is not None
            ),
            _identity(
                "SIGNER", signer, checked_at, now, trust_roots, intermediates, crls, trusted=token.time is not None
            ),
        )
    )
    steps = [  # GB/T 38540's order, then the timestamp's (GM/T 0031-2025 adds it)
        ("integrity", _stamp_signature(parts)),
        ("integrity", _signer_listed(parts)),
        ("integrity", _seal_signature(parts)),
        # a token that does not match the signature fails the identity before any other finding of it, as a PDF
        # seal's does (``gateway.services.verification._with_its_timestamp``)
        ("timestamp", token.finding if token.finding.result is CheckResult.FAILED else PASSED),
        ("identity", _maker_role(maker, maker_seal_name)),
        ("identity", maker_identity),
        ("identity", signer_identity),
        ("timestamp", _signing_time(parts, token.time, now)),
        ("identity", _seal_window(parts, signed)),
        ("identity", token.finding if token.finding.reason == "TIMESTAMP_UNTRUSTED" else PASSED),
        ("integrity", _data_hash(parts, document)),
    ]
    integrity, identity, timestamp = (
        _first_failure(group) or _first_indeterminate(group)
        for group in ([f for g, f in steps if g == name] for name in ("integrity", "identity", "timestamp"))
    )
    if timestamp.result is CheckResult.PASSED:
        timestamp = token.finding
    decisive = _first_failure([f for _, f in steps]) or _first_indeterminate([f for _, f in steps])
    return SesVerification(
        result=decisive.result,
        reason=decisive.reason,
        integrity=integrity,
        issuer_identity=identity,
        timestamp=timestamp,
        es_id=parts.es_id,
        seal_name=parts.seal_name,
        signer_name=_subject(signer, NameOID.ORGANIZATION_NAME),
        signer_uscc=_code(_subject(signer, NameOID.ORGANIZATION_IDENTIFIER)),
        maker_name=_subject(maker, NameOID.ORGANIZATION_NAME),
        signing_time=signed,
        signing_time_trusted=token.time is not None,
    )


class _Malformed(Exception):
    """A stamp that cannot be read as one this module checks; becomes an integrity finding."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True, kw_only=True)
class _Parts:
    """The pieces of a parsed stamp that the checks need, with the exact bytes each signature covers."""

    to_sign: bytes
    signature: bytes
    signer_cert: x509.Certificate
    signer_cert_der: bytes
    seal_info: bytes
    seal_signature: bytes
    maker_cert: x509.Certificate
    holders: list[bytes]
    es_id: str
    seal_name: str
    valid_start: dt.datetime
    valid_end: dt.datetime
    time_info: dt.datetime
    data_hash: bytes
    time_stamp: bytes | None
    """The content of timeStamp [0], when there is one: an RFC 3161 token over ``signature``, read when checked."""

    @classmethod
    def of(cls, stamp: bytes) -> _Parts:
        try:
            check_der(stamp)  # before asn1crypto, which takes minutes over some malformed DER
            parsed = SESSignature.load(stamp, strict=True)
            to_sign = parsed["to_sign"]
            seal = to_sign["eseal"]
            seal_info = seal["e_seal_info"]
            header = seal_info["header"]
            prop = seal_info["property"]
            if header["id"].native != "ES":
                raise _Malformed("MALFORMED", f"the seal header's ID is {header['id'].native!r}, not 'ES'")
            if header["version"].native != SEAL_VERSION:
                raise _Malformed("UNSUPPORTED_VERSION", f"seal format version {header['version'].native}; 4 is read")
            times = [prop[name].native for name in ("valid_start", "valid_end")] + [to_sign["time_info"].native]
            if not all(isinstance(t, dt.datetime) and t.tzinfo is not None for t in times):
                raise _Malformed("MALFORMED", "the seal's and the stamp's times must be GeneralizedTime in UTC")
            if len(seal_info["es_id"].native) > MAX_CODE:  # signed into receipts as the stamp's claim
                raise _Malformed(
                    "MALFORMED",
                    f"the seal's code (esID) has {len(seal_info['es_id'].native)} characters; a seal code has at "
                    f"most {MAX_CODE}",
                )
            if to_sign["version"].native != header["version"].native:
                raise _Malformed("VERSION_MISMATCH", "the stamp's version differs from its seal's")
            for algorithm in (parsed["signature_alg_id"], seal["sign_alg_id"]):
                if algorithm.dotted != SM3_WITH_SM2_OID:
                    raise _Malformed(
                        "UNSUPPORTED_ALGORITHM", f"signature algorithm {algorithm.dotted}; SM3withSM2 is read"
                    )
            holders = _holder_certificates(prop)
            signer_der = parsed["cert"].native
            parts = cls(
                to_sign=to_sign.dump(),
                signature=parsed["signature"].native,
                signer_cert=_certificate(signer_der, "signer"),
                signer_cert_der=signer_der,
                seal_info=seal_info.dump(),
                seal_signature=seal["signed_value"].native,
                maker_cert=_certificate(seal["cert"].native, "seal maker"),
                holders=holders,
                es_id=seal_info["es_id"].native,
                seal_name=prop["name"].native,
                valid_start=prop["valid_start"].native,
                valid_end=prop["valid_end"].native,
                time_info=to_sign["time_info"].native,
                data_hash=to_sign["data_hash"].native,
                time_stamp=parsed["time_stamp"].native,
            )
        except _Malformed:
            raise
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            why = _unread(stamp, exc)
            raise _Malformed("MALFORMED", f"the stamp is not a GB/T 38540 SES_Signature: {why}") from exc
        return parts


_BASE64 = re.compile(rb"[A-Za-z0-9+/=\s]+")


def _unread(stamp: bytes, exc: BaseException) -> str:
    """Why the bytes given as a stamp could not be read, in words for the sender (the parsers' own messages are
    codec errors and ASN.1 internals)."""
    if stamp.lstrip().startswith(b"-----BEGIN"):
        return "it is PEM text; send the DER bytes it armours"
    if len(stamp) >= 16 and _BASE64.fullmatch(stamp):
        return "it is base64 text; send the decoded DER bytes"
    if stamp.startswith(b"%PDF"):
        return "it is a PDF; a stamp is the DER SES_Signature that StampDocument returned"
    if isinstance(exc, MalformedDer):
        return f"its DER structure is malformed ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return "a text in it (the seal's code, name or a property) is not in the character set its type requires"
    if "trailing data" in str(exc):
        return "bytes follow the end of its DER structure"
    if isinstance(exc, ValueError) and ("must be in" in str(exc) or "GeneralizedTime" in str(exc)):
        return "a time in it is not a valid date and time"
    return "its DER structure cannot be read (truncated, or not this structure)"


def _holder_certificates(prop: PropertyInfo) -> list[bytes]:
    """The DER certificates of a certListType 1 seal; ValueError or _Malformed otherwise."""
    if prop["cert_list_type"].native != CERT_LIST_CERTIFICATES:
        raise _Malformed(
            "UNSUPPORTED_CERT_LIST_TYPE", f"certListType {prop['cert_list_type'].native}; 1 (certificates) is read"
        )
    holders: list[bytes] = prop["cert_list"].parse(Certificates).native
    return holders


def _certificate(der: bytes, role: str) -> x509.Certificate:
    """The certificate, read whole by both parsers now: the path validator would meet a bad name or extension later,
    as an exception."""
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.extensions)
        parsed = asn1_x509.Certificate.load(der, strict=True)
        _ = (parsed.native, parsed.subject.hashable, parsed.issuer.hashable)  # hashable: RFC 4518 string preparation
    except (
        ValueError,
        TypeError,
        KeyError,
        x509.InvalidVersion,
        x509.DuplicateExtension,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise _Malformed("MALFORMED", f"the {role} certificate cannot be read as a DER X.509 certificate") from exc
    return cert


def _stamp_signature(parts: _Parts) -> Finding:
    try:
        verify_sm2(public_key_der(parts.signer_cert), parts.to_sign, parts.signature)
    except InvalidSignature as exc:
        return _failed(
            "STAMP_SIGNATURE_INVALID",
            "签章的签名无效：与签章人证书的密钥不符"
            f"（the stamp's signature does not verify with the signer's key: {exc}）",
        )
    return PASSED


def _signer_listed(parts: _Parts) -> Finding:
    if parts.signer_cert_der in parts.holders:
        return PASSED
    return _failed(
        "SIGNER_NOT_IN_SEAL", "签章人的证书不在印章所列的证书中（the signer's certificate is not one the seal lists）"
    )


def _seal_signature(parts: _Parts) -> Finding:
    try:
        verify_sm2(public_key_der(parts.maker_cert), parts.seal_info, parts.seal_signature)
    except InvalidSignature as exc:
        return _failed(
            "SEAL_SIGNATURE_INVALID", f"印章的制章签名无效（the seal maker's signature does not verify: {exc}）"
        )
    return PASSED


def _signing_time(parts: _Parts, stamped: dt.datetime | None, now: dt.datetime) -> Finding:
    if parts.time_info > now + CLOCK_SKEW:
        claimed = parts.time_info.isoformat()
        return _failed("SIGNING_TIME_IN_FUTURE", f"签章声称的签章时间晚于现在（the stamp claims {claimed}, after now）")
    if stamped is not None and stamped > now + CLOCK_SKEW:  # the identity is judged then, as a PDF seal's
        return _failed(
            "SIGNING_TIME_IN_FUTURE",
            f"时间戳的签章时间晚于现在（the stamp's timestamp says {stamped.isoformat()}, after now）",
        )
    return PASSED


def _seal_window(parts: _Parts, claimed: dt.datetime) -> Finding:
    """The seal's validity at ``claimed``: the trusted timestamp's time, else the signer's claim."""
    if claimed < parts.valid_start:
        return _failed(
            "SEAL_NOT_YET_VALID",
            f"签章时印章尚未生效（signed {claimed.isoformat()}, the seal is valid from {parts.valid_start}）",
        )
    if claimed > parts.valid_end:
        return _failed(
            "SEAL_EXPIRED",
            f"签章时印章已过有效期（signed {claimed.isoformat()}, the seal was valid until {parts.valid_end}）",
        )
    return PASSED


def _data_hash(parts: _Parts, document: bytes) -> Finding:
    if parts.data_hash == hashlib.new("sm3", document).digest():
        return PASSED
    return _failed(
        "DATA_HASH_MISMATCH",
        "文件与签章不符：文件在签章后被改动（the document's SM3 differs from the stamp's dataHash: it was changed）",
    )


async def _identity(
    role: str,
    cert: x509.Certificate,
    claimed: dt.datetime,
    now: dt.datetime,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    *,
    trusted: bool,
) -> Finding:
    """``role``'s certificate at the claimed time, and (unless a trusted timestamp gave that time) whether it was
    revoked or expired since."""

    async def at(moment: dt.datetime) -> IdentityFinding:
        return await async_check_certificate(
            cert, trust_roots=trust_roots, intermediates=intermediates, crls=crls, at=moment
        )

    try:
        then = await at(claimed)
    except ValueError as exc:  # a certificate the path validator cannot read, though both parsers could
        said = f"{_ROLES[role]}证书无法验证（the certificate cannot be validated: {str(exc)[:200]}）"
        return _failed(f"{role}_INVALID_CERTIFICATE", said)
    if then.result is not CheckResult.PASSED:
        return Finding(result=then.result, reason=_role_reason(role, then.reason), detail=_of_role(then.detail, role))
    if not trusted and now > claimed:
        current = await at(now)
        if current.reason in ("CERT_REVOKED", "CERT_EXPIRED"):
            said, _, english = _of_role(current.detail, role).partition("（")  # its Chinese holds no full-width bracket
            return Finding(
                result=CheckResult.INDETERMINATE,
                reason=f"{_role_reason(role, current.reason)}_NO_TRUSTED_TIME",
                detail=f"{said}；签章时间只是签章人自己声称的，无法确定签章是否在证书失效之前"
                f"（{english.removesuffix('）')}; with no trusted signing time it is unknown whether the stamp came "
                "before）",
            )
    return PASSED


@dataclass(frozen=True, slots=True)
class _Token:
    """What a stamp's timeStamp says: its finding, and its genTime when the token is trusted."""

    finding: Finding
    time: dt.datetime | None = None


_TOKEN_HASHES = ("sha256", "sha384", "sha512")
"""Imprint algorithms a token over a stamp's signature may use: those the gateway's TSA answers."""


async def _time_stamp(
    parts: _Parts, now: dt.datetime, trust_roots: Sequence[x509.Certificate], crls: Sequence[bytes]
) -> _Token:
    """The stamp's RFC 3161 token over its signature value, checked as ``signing.pdf.validate`` checks a PDF seal's:
    its imprint and signature, then its certificate's chain to ``trust_roots`` with the timeStamping usage at its
    genTime (not later than ``now``), never revoked (``crls``). A stamp's token had not been read at all; StampDocument
    put none there (a reviewer, R3)."""
    if parts.time_stamp is None:
        return _Token(_NO_TIMESTAMP)
    try:
        check_der(parts.time_stamp)  # before asn1crypto, as for the stamp itself
        token = cms.ContentInfo.load(parts.time_stamp, strict=True)
        if token["content_type"].native != "signed_data":
            raise ValueError(f"a {token['content_type'].native} ContentInfo, not signed data")
        signed_data = token["content"]
        tst_info = signed_data["encap_content_info"]["content"].parsed
        if not isinstance(tst_info, tsp.TSTInfo):
            raise ValueError("it encapsulates no TSTInfo")
        tst_info.native  # noqa: B018  # asn1crypto parses lazily: every field now, inside the try
        gen_time = tst_info["gen_time"].native
        algorithm = tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native
        carried = signed_data["certificates"] or ()
        count = len(carried)
        alike = None if count > MAX_CARRIED_CERTIFICATES else repeated_name(carried)
    except (ValueError, TypeError, KeyError, OverflowError, MalformedDer) as exc:
        return _Token(_invalid_token(f"it cannot be read: {str(exc)[:200]}"))
    if algorithm not in _TOKEN_HASHES:
        return _Token(_invalid_token(f"its imprint is {algorithm}; {', '.join(_TOKEN_HASHES)} are read"))
    if count > MAX_CARRIED_CERTIFICATES:  # refused before pyHanko builds a path, as a PDF seal with them is
        return _Token(_invalid_token(f"it carries {count:,} certificates; at most {MAX_CARRIED_CERTIFICATES}"))
    if alike is not None:
        return _Token(_invalid_token(alike))
    digest = hashlib.new(algorithm, parts.signature).digest()
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(_der(c)) for c in trust_roots],
        allow_fetching=False,
        moment=min(gen_time, now),
    )
    try:
        status = TimestampSignatureStatus(
            **await validate_tst_signed_data(signed_data, context, lambda used: digest if used == algorithm else b"")
        )
    except (SignatureValidationError, ValueError, KeyError, TypeError) as exc:
        return _Token(_invalid_token(f"it cannot be checked: {str(exc)[:200]}"))
    if not (status.intact and status.valid):
        return _Token(_invalid_token("it is not over this stamp's signature, or its own signature is broken"))
    if not status.trusted:
        problem = status.trust_problem_indic
        return _Token(
            _untrusted_token(
                "its authority chains to no root trusted for timestamps "
                f"({problem.standard_name if problem is not None else 'unknown'})"
            )
        )
    if _revoked_by(status.signing_cert, crls):  # trusted at its genTime, unless ever revoked: a leaked TSA key
        return _Token(_untrusted_token("its authority's certificate is revoked"))
    return _Token(PASSED, status.timestamp)


def _revoked_by(certificate: asn1_x509.Certificate, crls: Sequence[bytes]) -> bool:
    """Whether one of ``crls`` (the caller's, trusted) lists ``certificate``, whatever the date or reason."""
    cert = x509.load_der_x509_certificate(certificate.dump())
    for der in crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            continue
        if crl.issuer == cert.issuer and crl.get_revoked_certificate_by_serial_number(cert.serial_number):
            return True
    return False


def _invalid_token(why: str) -> Finding:
    return _failed(
        "TIMESTAMP_INVALID",
        f"签章的时间戳与签章的签名不符，或时间戳本身无效（the stamp's timestamp token is not valid: {why}）",
    )


def _untrusted_token(why: str) -> Finding:
    return Finding(
        result=CheckResult.INDETERMINATE,
        reason="TIMESTAMP_UNTRUSTED",
        detail=f"时间戳不是可信的时间戳机构签发的，签章时间只是签章人自己声称的（the timestamp is not trusted: {why}）",
    )


def _unproven(identity: Finding, token: _Token) -> Finding:
    """A certificate's finding undecided for want of a trusted time, saying why the stamp's timestamp gives none."""
    if token.finding.reason != "TIMESTAMP_UNTRUSTED" or not (identity.reason or "").endswith("_NO_TRUSTED_TIME"):
        return identity
    return Finding(result=identity.result, reason=identity.reason, detail=f"{identity.detail}；{token.finding.detail}")


_ROLES = {"MAKER": "制章者", "SIGNER": "签章人"}


def _of_role(detail: str, role: str) -> str:
    """A certificate check's detail about the ``role``'s certificate: the seal maker's is no 印章证书 a clerk would
    take for the stamp's own (found in review)."""
    return detail.replace("印章证书", f"{_ROLES[role]}证书", 1) if detail.startswith("印章证书") else detail


def _role_reason(role: str, reason: str | None) -> str:
    """``check_certificate``'s reason for ``role``'s certificate: SIGNER_REVOKED for CERT_REVOKED, MAKER_LOOKALIKE_CA
    for LOOKALIKE_CA. The role names the certificate already, so the CERT_ prefix is dropped (SIGNER_CERT_REVOKED
    would say it twice); with the role, none of these reads as a license status."""
    return f"{role}_{(reason or '').removeprefix('CERT_')}"


def _first_failure(findings: Sequence[Finding]) -> Finding | None:
    return next((f for f in findings if f.result is CheckResult.FAILED), None)


def _first_indeterminate(findings: Sequence[Finding]) -> Finding:
    return next((f for f in findings if f.result is CheckResult.INDETERMINATE), PASSED)


def _failed(reason: str, detail: str) -> Finding:
    return Finding(result=CheckResult.FAILED, reason=reason, detail=detail)


# a finding's detail is read by clerks and signed into receipts: Chinese first, its English in full-width brackets
_NOT_CHECKED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="电子签章无法读取，此项未核验（the stamp could not be read）",
)
_NO_TIMESTAMP = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NO_TIMESTAMP",
    detail="签章时间只是签章人自己声称的（the signing time is the signer's own claim）",
)
_UNREAD = {
    "MALFORMED": "电子签章无法读取",
    "UNSUPPORTED_VERSION": "电子签章的格式版本不受支持",
    "VERSION_MISMATCH": "电子签章与其印章的版本不一致",
    "UNSUPPORTED_ALGORITHM": "电子签章的签名算法不受支持，只支持SM3withSM2",
    "UNSUPPORTED_CERT_LIST_TYPE": "印章的证书列表类型不受支持",
}
"""Said first of a stamp that cannot be read as one (``_Malformed``'s reasons), before its English."""


def _unreadable(integrity: Finding) -> SesVerification:
    return SesVerification(
        result=integrity.result,
        reason=integrity.reason,
        integrity=integrity,
        issuer_identity=_NOT_CHECKED,
        timestamp=_NOT_CHECKED,
        es_id=None,
        seal_name=None,
        signer_name=None,
        signer_uscc=None,
        maker_name=None,
        signing_time=None,
    )


def _maker_role(maker: x509.Certificate, maker_seal_name: str) -> Finding:
    """Whether the seal was made with a seal maker's certificate, not a holder's seal certificate."""
    seal_name = _subject(maker, NameOID.COMMON_NAME)
    if seal_name == maker_seal_name:
        return PASSED
    holder = _subject(maker, NameOID.ORGANIZATION_NAME) or "an unnamed holder"
    return _failed(
        "MAKER_NOT_A_SEAL_MAKER",
        "印章不是用制章机构的证书制作的：持章单位的印章密钥不能制作印章"
        f"（the seal was made with the certificate of {holder}'s seal {seal_name!r}, not a seal maker's "
        f"({maker_seal_name}): a holder's seal key cannot make seals）",
    )


def _subject(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str | None:
    values = cert.subject.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _code(value: str | None) -> str | None:
    """A code a stamp claims, as read: None for one longer than any code (``MAX_CODE``)."""
    return value if value is not None and len(value) <= MAX_CODE else None


def _require_sm2_key(key: KeyBackend, cert: x509.Certificate, role: str) -> None:
    if key.algorithm != SM2_SM3:
        raise SigningError(f"the {role}'s key must be SM2 (GB/T 38540 signs SM3withSM2), not {key.algorithm}")
    if key.public_key_der != public_key_der(cert):
        raise SigningError(f"the {role}'s certificate does not certify this key")


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone (use UTC)")


def _seconds(moment: dt.datetime) -> dt.datetime:
    """UTC, whole seconds: DER GeneralizedTime ends in Z and drops zero fractions."""
    return moment.astimezone(dt.UTC).replace(microsecond=0)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)
