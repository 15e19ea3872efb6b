"""Seal checks of record seals and verification codes, in the same three findings as a sealed PDF's.

>>> base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl])  # doctest: +SKIP
>>> check = check_record_seal(record, seal, certificate=cert, base=base, revoked_at=None, sealed_at=t)  # doctest: +SKIP
>>> check.result, check.integrity.reason                                                            # doctest: +SKIP
(<CheckResult.PASSED: 'PASSED'>, None)

A check answers three questions, like ``signing.pdf.PdfVerification``:

- **integrity**: the signature verifies over exactly these bytes with the certificate's key (SIGNATURE_INVALID,
  RECORD_ALTERED, KEY_MISMATCH, or a verification code's decoding reasons);
- **issuer identity**: the seal certificate chains to a trusted root, is a seal certificate (key usage), was within
  its validity and not revoked when it sealed (``check_certificate``'s reasons: CERT_NOT_YET_VALID, CERT_EXPIRED,
  CERT_REVOKED, …; CERT_REVOKED_NO_TRUSTED_TIME / CERT_EXPIRED_NO_TRUSTED_TIME when the sealing time is only the
  signer's own claim, and a revoked certificate's claim is of before the revocation: one of after it, beyond
  ``CLOCK_SKEW``, is CERT_REVOKED). The certificate's codes carry the CERT_ prefix so that none reads as a license
  status;
- **timestamp**: where the sealing time comes from. A record seal's time is the registry's: the gateway wrote the
  record and its time in one transaction, so the time is trusted (PASSED). A verification code carries only the
  issuer's own claim of when it was made (INDETERMINATE, NO_TIMESTAMP), which alone does not fail it.

The chain part of the identity check (pyhanko-certvalidator, a millisecond or more) depends on the certificate
only, so ``chain_identity`` runs it once, at the certificate's first moment, and callers keep the result per
certificate; ``identity_at`` then adds the time-dependent part (validity window, revocation time) per seal, in
microseconds. Seal-maker CA certificates outlive the seal certificates they issue (``SealMakerCA``), so checking the
CAs at the seal certificate's start covers the whole life of the seal certificate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
from collections.abc import Mapping, MutableMapping, Sequence

from cryptography import x509

from gateway.domain.model import RecordSeal
from signing.errors import InvalidSignature
from signing.keys import key_id_of, verify_signature
from signing.qr import QrClaims, QrVerification, check_qr
from signing.record import ENCODING, SealMemos, record_bytes
from signing.results import CLOCK_SKEW, PASSED, CheckResult, Finding, SealCheck, overall
from signing.seal_ca import IdentityFinding, async_check_certificate
from signing.sm2_x509 import public_key_der

# a finding's detail is read by clerks and signed into receipts: Chinese first, its English in full-width brackets
NO_TIMESTAMP = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NO_TIMESTAMP",
    detail="签章时间只是签章方自己声称的，没有时间戳（the sealing time is the signer's own claim, not a timestamp）",
)
_NOT_CHECKED = Finding(
    result=CheckResult.INDETERMINATE,
    reason="NOT_CHECKED",
    detail="完整性核验未通过，此项未核验（integrity did not pass）",
)
_NOT_YET_VALID = "签章时印章证书尚未生效（sealed before the certificate began）"
_EXPIRED = "签章时印章证书已过期（sealed after the certificate expired）"
_QR_FAILURES = {
    "SIGNATURE_INVALID": "核验码的签名无效：核验码不是该印章签发的，或已被改动"
    "（the code's signature does not verify with the seal's key: it was not made with that seal, or was changed）",
    "KEY_MISMATCH": "核验码所署的印章密钥与该印章不符（the code names another key than the seal's）",
    "UNSUPPORTED_ALGORITHM": "核验码使用了不支持的签名算法（the code's signature algorithm is not one read here）",
    "TOO_LARGE": "内容过长，不是证照核验码（longer than any verification code）",
    "NOT_ZZ1": "不是证照核验码，核验码以ZZ1:开头（not a ZZ1: verification code）",
}
"""What a verification code that does not pass its check (``check_qr``'s integrity reasons) is said to be."""
_QR_UNREADABLE = (
    "核验码不完整或无法读取，可能扫描时漏读或截断了字符，请重新扫描"
    "（not a readable ZZ1: code, perhaps characters were dropped or cut off when it was scanned: scan it again）"
)


def chain_identity(
    cert: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
) -> IdentityFinding:
    """``async_chain_identity`` for callers outside an event loop."""
    return asyncio.run(async_chain_identity(cert, trust_roots=trust_roots, intermediates=intermediates, crls=crls))


async def async_chain_identity(
    cert: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
) -> IdentityFinding:
    """The time-independent part of the identity check: trusted chain, key usage, not a CA, checked at the
    certificate's first moment (a revocation after that is left to ``identity_at``)."""
    return await async_check_certificate(
        cert, trust_roots=trust_roots, intermediates=intermediates, crls=crls, at=cert.not_valid_before_utc
    )


def identity_at(
    base: IdentityFinding,
    cert: x509.Certificate,
    *,
    at: dt.datetime,
    revoked_at: dt.datetime | None,
    time_trusted: bool,
) -> Finding:
    """The identity finding for a seal made at ``at`` with ``cert``, given its ``chain_identity`` and the time the
    certificate was revoked (None when it is not)."""
    if base.result is not CheckResult.PASSED:
        return Finding(result=base.result, reason=base.reason, detail=base.detail)
    if at < cert.not_valid_before_utc:
        return Finding(result=CheckResult.FAILED, reason="CERT_NOT_YET_VALID", detail=_NOT_YET_VALID)
    if revoked_at is not None and not time_trusted and at - CLOCK_SKEW > revoked_at:
        # a time only claimed, more than a clock's error after the revocation: the seal's own word that it sealed once
        # revoked, which no forger gains by denying, whether or not the certificate has ended by then (a code made
        # with a leaked key, stating the time it was made at, had been only INDETERMINATE: an examiner, a reviewer)
        return _revoked_before(revoked_at)
    if at > cert.not_valid_after_utc:
        suffix = "" if time_trusted else "_NO_TRUSTED_TIME"
        result = CheckResult.FAILED if time_trusted else CheckResult.INDETERMINATE
        return Finding(result=result, reason="CERT_EXPIRED" + suffix, detail=_EXPIRED)
    if revoked_at is not None:
        if not time_trusted:  # a claim of before, or within a clock's error after: unknown
            return Finding(
                result=CheckResult.INDETERMINATE,
                reason="CERT_REVOKED_NO_TRUSTED_TIME",
                detail=f"印章证书已于{revoked_at.isoformat()}吊销，没有可信的签章时间，无法确定签章是否在吊销之前"
                f"（the certificate was revoked at {revoked_at.isoformat()}; without a trusted time it is "
                "unknown whether the seal was made before）",
            )
        if revoked_at <= at:
            return _revoked_before(revoked_at)
    return PASSED


def _revoked_before(revoked_at: dt.datetime) -> Finding:
    return Finding(
        result=CheckResult.FAILED,
        reason="CERT_REVOKED",
        detail=f"印章证书已于{revoked_at.isoformat()}吊销，早于签章时间"
        f"（the certificate was revoked at {revoked_at.isoformat()}, before it sealed）",
    )


def identity_finding_at(
    base: IdentityFinding, cert: x509.Certificate, *, at: dt.datetime, revoked_at: dt.datetime | None
) -> IdentityFinding:
    """``check_certificate``'s answer for ``cert`` at ``at``, from its ``chain_identity`` and the time it was revoked
    (None when it is not): the time-dependent checks only, in microseconds. Callers that hold the revocation times
    of the certificates they issued (the gateway's seal store) use it instead of a full check per document."""
    if base.result is not CheckResult.PASSED:
        return base
    reason, detail, revoked = None, "", None
    if at < cert.not_valid_before_utc:
        reason, detail = "CERT_NOT_YET_VALID", _NOT_YET_VALID
    elif at > cert.not_valid_after_utc:
        reason, detail = "CERT_EXPIRED", _EXPIRED
    elif revoked_at is not None and revoked_at <= at:
        when = revoked_at.isoformat()
        reason, revoked = "CERT_REVOKED", revoked_at
        detail = f"印章证书已于{when}吊销，早于签章时间（revoked at {when}, before it sealed）"
    if reason is None:
        return base
    return dataclasses.replace(base, result=CheckResult.FAILED, reason=reason, detail=detail, revoked_at=revoked)


def check_record_seal(
    record: Mapping[str, object],
    seal: RecordSeal,
    *,
    certificate: x509.Certificate,
    base: IdentityFinding,
    revoked_at: dt.datetime | None,
    sealed_at: dt.datetime,
) -> SealCheck:
    """Check a record seal made at ``sealed_at`` (the registry's time) with the key certified by ``certificate``."""
    integrity = record_integrity(record, seal, _spki(certificate))
    identity = identity_at(base, certificate, at=sealed_at, revoked_at=revoked_at, time_trusted=True)
    return _check(integrity, identity, PASSED, base, certificate, sealed_at, trusted=True)


def record_integrity(
    record: Mapping[str, object],
    seal: RecordSeal,
    public_key_der: bytes,
    *,
    verified: MutableMapping[bytes, bool] | None = None,
    memo: bytes = b"",
    memos: SealMemos | None = None,
) -> Finding:
    """The integrity finding of a record seal: the record is the one sealed, by that key.

    ``verified`` remembers signatures that verified, keyed by the digest of the record's bytes, the key and the
    signature: the record is encoded and hashed on every call (so a changed record is always caught), only the
    signature check is skipped when the same record, key and signature verified before, or when ``memo`` is the
    gateway's own memo of the seal (``SealMemos``, stored with the record).
    """
    if seal.encoding != ENCODING:
        return Finding(
            result=CheckResult.FAILED,
            reason="UNKNOWN_ENCODING",
            detail=f"记录印章的编码方式无法识别（encoding {seal.encoding[:64]!r}）",
        )
    if seal.key_id != key_id_of(public_key_der):
        return Finding(
            result=CheckResult.FAILED,
            reason="KEY_MISMATCH",
            detail="记录印章所署的密钥不是该印章的（the seal names another key）",
        )
    data = record_bytes(record)
    digest = hashlib.sha256(data).digest()
    if digest != seal.record_digest:
        return Finding(
            result=CheckResult.FAILED,
            reason="RECORD_ALTERED",
            detail="证照记录已被改动，与盖章时的记录不一致（the record differs from the one that was sealed）",
        )
    if memos is not None and memos.vouches(seal, memo):
        return PASSED  # cheaper than the cache below, and a license read with its memo needs no place in it
    seen = hashlib.sha256(digest + seal.key_id.encode() + seal.signature).digest() if verified is not None else b""
    if verified is not None and seen in verified:
        return PASSED
    try:
        verify_signature(public_key_der, seal.algorithm, data, seal.signature)
    except InvalidSignature as exc:
        return Finding(
            result=CheckResult.FAILED,
            reason="SIGNATURE_INVALID",
            detail="记录印章的签名无效：证照记录不是用该印章签的，或签名已被改动"
            f"（the record seal's signature does not verify: {exc}）",
        )
    if verified is not None:
        verified[seen] = True
    return PASSED


def check_qr_seal(
    text: str,
    *,
    certificate: x509.Certificate,
    base: IdentityFinding,
    revoked_at: dt.datetime | None,
    now: dt.datetime,
) -> tuple[SealCheck, QrVerification]:
    """Check a ``ZZ1:`` code offline with the seal certificate; also returns ``check_qr``'s answer (claims,
    validity). The code's time is the issuer's claim, so a revoked certificate makes identity INDETERMINATE, unless
    the code claims it was made after the revocation (CERT_REVOKED: ``identity_at``)."""
    verification = check_qr(text, _spki(certificate), now=now)
    claims: QrClaims | None = verification.claims
    if verification.integrity.result is not CheckResult.PASSED or claims is None:
        reason = verification.integrity.reason or "MALFORMED"
        integrity = Finding(result=CheckResult.FAILED, reason=reason, detail=_QR_FAILURES.get(reason, _QR_UNREADABLE))
        check = _check(integrity, _NOT_CHECKED, NO_TIMESTAMP, base, certificate, None, trusted=False)
        return check, verification
    identity = identity_at(base, certificate, at=claims.issued_at, revoked_at=revoked_at, time_trusted=False)
    return _check(PASSED, identity, NO_TIMESTAMP, base, certificate, claims.issued_at, trusted=False), verification


def _check(
    integrity: Finding,
    identity: Finding,
    timestamp: Finding,
    base: IdentityFinding,
    certificate: x509.Certificate,
    at: dt.datetime | None,
    *,
    trusted: bool,
) -> SealCheck:
    result, reason = overall(integrity, identity, timestamp)
    return SealCheck(
        result=result,
        reason=reason,
        integrity=integrity,
        issuer_identity=identity,
        timestamp=timestamp,
        subject_name=base.subject_name,
        seal_name=base.seal_name,
        uscc=base.uscc,
        serial=certificate.serial_number,
        signing_time=at,
        signing_time_trusted=trusted,
    )


def _spki(certificate: x509.Certificate) -> bytes:
    return public_key_der(certificate)
