"""Record seals and verification codes checked in three findings: integrity, issuer identity, timestamp."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.bootstrap import samples
from gateway.domain.model import LicenseContent, LicenseStatus
from signing.checks import chain_identity, check_qr_seal, check_record_seal, identity_at, identity_finding_at
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.qr import QrClaims, encode_qr
from signing.record import seal_record
from signing.results import MAX_DETAIL, CheckResult, Finding
from signing.seal_ca import SealMakerCA

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SEALED_AT = NOW + dt.timedelta(days=10)
LATER = NOW + dt.timedelta(days=30)
MARKET = "11370100993701011T"


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create("济南市制章中心", NOW)


def certify(ca: SealMakerCA, key: SoftwareKey) -> x509.Certificate:
    return ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc=MARKET,
        seal_name="电子证照专用章",
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=365),
    )


def crl(ca: SealMakerCA) -> bytes:
    return ca.crl(LATER, LATER + dt.timedelta(days=7))


def content() -> LicenseContent:
    return samples.license_content(samples.business_license(7), MARKET)


def short(finding: object) -> tuple[CheckResult, str | None]:
    return finding.result, finding.reason  # type: ignore[attr-defined]


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_a_record_seal_passes_with_the_registry_time(ca: SealMakerCA, algorithm: str) -> None:
    key = SoftwareKey.generate(algorithm)
    cert = certify(ca, key)
    record = content().record_mapping()
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    check = check_record_seal(
        record, seal_record(key, record), certificate=cert, base=base, revoked_at=None, sealed_at=SEALED_AT
    )
    assert (check.result, check.reason) == (CheckResult.PASSED, None)
    assert short(check.timestamp) == (CheckResult.PASSED, None) and check.signing_time_trusted
    assert (check.uscc, check.seal_name, check.serial) == (MARKET, "电子证照专用章", cert.serial_number)


def test_a_changed_record_or_another_key_fails_integrity(ca: SealMakerCA) -> None:
    key, other = SoftwareKey.generate(), SoftwareKey.generate()
    cert = certify(ca, key)
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    original = content()
    seal = seal_record(key, original.record_mapping())
    changed = dataclasses.replace(original, license_number=original.license_number + "X").record_mapping()
    altered = check_record_seal(changed, seal, certificate=cert, base=base, revoked_at=None, sealed_at=SEALED_AT)
    assert (altered.result, altered.reason) == (CheckResult.FAILED, "RECORD_ALTERED")
    forged = dataclasses.replace(seal, signature=other.sign(b"zzgw-record/1\n{}"))
    assert short(
        check_record_seal(
            original.record_mapping(), forged, certificate=cert, base=base, revoked_at=None, sealed_at=SEALED_AT
        ).integrity
    ) == (CheckResult.FAILED, "SIGNATURE_INVALID")
    by_other = seal_record(other, original.record_mapping())
    assert short(
        check_record_seal(
            original.record_mapping(), by_other, certificate=cert, base=base, revoked_at=None, sealed_at=SEALED_AT
        ).integrity
    ) == (CheckResult.FAILED, "KEY_MISMATCH")


def test_a_lookalike_ca_fails_identity(ca: SealMakerCA) -> None:
    fake = SealMakerCA.create("济南市制章中心", NOW)
    key = SoftwareKey.generate()
    cert = certify(fake, key)
    base = chain_identity(
        cert, trust_roots=[ca.root], intermediates=[ca.intermediate, fake.intermediate], crls=[crl(ca), crl(fake)]
    )
    record = content().record_mapping()
    check = check_record_seal(
        record, seal_record(key, record), certificate=cert, base=base, revoked_at=None, sealed_at=SEALED_AT
    )
    assert short(check.integrity) == (CheckResult.PASSED, None)
    assert (check.result, check.reason) == (CheckResult.FAILED, "LOOKALIKE_CA")


def test_revocation_counts_from_its_time(ca: SealMakerCA) -> None:
    key = SoftwareKey.generate()
    cert = certify(ca, key)
    record = content().record_mapping()
    seal = seal_record(key, record)
    revoked_at = SEALED_AT + dt.timedelta(days=1)
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, revoked_at)
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    assert base.result is CheckResult.PASSED  # the chain at the certificate's start: revocation is judged per seal
    before = check_record_seal(record, seal, certificate=cert, base=base, revoked_at=revoked_at, sealed_at=SEALED_AT)
    assert before.result is CheckResult.PASSED
    after = check_record_seal(
        record, seal, certificate=cert, base=base, revoked_at=revoked_at, sealed_at=revoked_at + dt.timedelta(hours=1)
    )
    assert (after.result, after.reason) == (CheckResult.FAILED, "CERT_REVOKED")
    outside = check_record_seal(
        record, seal, certificate=cert, base=base, revoked_at=None, sealed_at=NOW + dt.timedelta(days=400)
    )
    assert (outside.result, outside.reason) == (CheckResult.FAILED, "CERT_EXPIRED")


def test_the_certificates_codes_are_never_a_license_status(ca: SealMakerCA) -> None:
    """A seal certificate revoked, expired or not yet valid when it sealed has its own codes (CERT_…): a verdict's
    reason must not read as the license's status (REVOKED, EXPIRED, NOT_YET_VALID, …)."""
    cert = certify(ca, SoftwareKey.generate())
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    early, late = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=400)
    found = {
        short(identity_at(base, cert, at=at, revoked_at=revoked_at, time_trusted=trusted))
        for at, revoked_at, trusted in (
            (early, None, True),
            (late, None, True),
            (late, None, False),
            (SEALED_AT, NOW, True),
            (NOW, SEALED_AT, False),
        )
    }
    assert found == {
        (CheckResult.FAILED, "CERT_NOT_YET_VALID"),
        (CheckResult.FAILED, "CERT_EXPIRED"),
        (CheckResult.INDETERMINATE, "CERT_EXPIRED_NO_TRUSTED_TIME"),
        (CheckResult.FAILED, "CERT_REVOKED"),
        (CheckResult.INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME"),
    }
    known = {
        short(identity_finding_at(base, cert, at=at, revoked_at=revoked_at))
        for at, revoked_at in ((early, None), (late, None), (SEALED_AT, NOW))
    }
    assert known == {
        (CheckResult.FAILED, "CERT_NOT_YET_VALID"),
        (CheckResult.FAILED, "CERT_EXPIRED"),
        (CheckResult.FAILED, "CERT_REVOKED"),
    }
    status_codes = {s.value for s in LicenseStatus} | {"NOT_YET_VALID", "LICENSE_NOT_FOUND"}
    assert not {reason for _, reason in found | known} & status_codes


def test_a_qr_code_passes_offline_with_its_certificate(ca: SealMakerCA) -> None:
    key = SoftwareKey.generate()
    cert = certify(ca, key)
    text = encode_qr(key, QrClaims.of(content(), issued_at=SEALED_AT))
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    check, verification = check_qr_seal(text, certificate=cert, base=base, revoked_at=None, now=SEALED_AT)
    assert (check.result, check.reason) == (CheckResult.PASSED, None)
    assert short(check.timestamp) == (CheckResult.INDETERMINATE, "NO_TIMESTAMP") and not check.signing_time_trusted
    assert verification.claims is not None and verification.claims.license_id == content().license_id

    revoked, _ = check_qr_seal(text, certificate=cert, base=base, revoked_at=LATER, now=LATER)
    assert (revoked.result, revoked.reason) == (CheckResult.INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME")


@pytest.mark.parametrize(
    ("claimed_after", "result", "reason"),
    [
        (dt.timedelta(minutes=-1), CheckResult.INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME"),
        (dt.timedelta(minutes=5), CheckResult.INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME"),  # a clock's error
        (dt.timedelta(minutes=5, seconds=1), CheckResult.FAILED, "CERT_REVOKED"),
        (dt.timedelta(days=3), CheckResult.FAILED, "CERT_REVOKED"),
        (dt.timedelta(days=9999), CheckResult.FAILED, "CERT_REVOKED"),  # after the certificate's end too (a reviewer)
    ],
)
def test_a_code_claiming_it_was_made_after_its_seal_was_revoked_fails(
    ca: SealMakerCA, claimed_after: dt.timedelta, result: CheckResult, reason: str
) -> None:
    """A code made with a leaked key after its seal was revoked, stating the time it was made at, had been only
    INDETERMINATE, as one whose claim is of before (an examiner): a claim of after, beyond a clock's error, is the
    seal's own word that it sealed once revoked."""
    key = SoftwareKey.generate()
    cert = certify(ca, key)
    text = encode_qr(key, QrClaims.of(content(), issued_at=SEALED_AT + claimed_after))
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    check, _ = check_qr_seal(text, certificate=cert, base=base, revoked_at=SEALED_AT, now=LATER)
    assert (check.result, check.reason) == (result, reason)


def test_a_qr_code_with_a_character_changed_fails_integrity(ca: SealMakerCA) -> None:
    key = SoftwareKey.generate()
    cert = certify(ca, key)
    text = encode_qr(key, QrClaims.of(content(), issued_at=SEALED_AT))
    base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl(ca)])
    position = len(text) - 2  # in the zlib checksum: a change there can never decode to the same bytes
    changed = text[:position] + ("A" if text[position] != "A" else "B") + text[position + 1 :]
    check, _ = check_qr_seal(changed, certificate=cert, base=base, revoked_at=None, now=SEALED_AT)
    assert check.result is CheckResult.FAILED and check.integrity.result is CheckResult.FAILED
    assert short(check.issuer_identity) == (CheckResult.INDETERMINATE, "NOT_CHECKED")
    other = certify(ca, SoftwareKey.generate())
    wrong, _ = check_qr_seal(text, certificate=other, base=base, revoked_at=None, now=SEALED_AT)
    assert (wrong.result, wrong.reason) == (CheckResult.FAILED, "KEY_MISMATCH")


def test_a_findings_detail_is_clipped_to_what_a_receipt_holds() -> None:
    """A detail may quote what the checked input says of itself (the name of a forger's CA, 600 attributes long);
    it travels in replies and signed receipts, whose statements are bounded, so it is clipped."""
    name = ",".join(f"OU=部门{i}" for i in range(600))
    finding = Finding(result=CheckResult.FAILED, reason="UNTRUSTED_ROOT", detail=f"issued under {name}")
    assert len(finding.detail) == MAX_DETAIL and finding.detail.endswith("…")
    assert finding.detail.startswith("issued under OU=部门0,OU=部门1")
    short = Finding(result=CheckResult.FAILED, reason="UNTRUSTED_ROOT", detail="issued under CN=某CA")
    assert short.detail == "issued under CN=某CA"
