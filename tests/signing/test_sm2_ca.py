"""An SM2 seal-maker CA: SM3withSM2 certificates and CRLs built with asn1crypto, and the trust check over them."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing.errors import InvalidSignature, KeyStoreError
from signing.keys import SM2_SM3, SoftwareKey
from signing.results import CheckResult
from signing.seal_ca import IdentityFinding, SealMakerCA, check_certificate
from signing.sm2 import Sm2Key, verify_sm2
from signing.sm2_x509 import (
    SM3_WITH_SM2_OID,
    is_sm2_signed,
    public_key_der,
    signed_by,
    subject_key_identifier,
)

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SIGNED_AT = NOW + dt.timedelta(days=10)
LATER = NOW + dt.timedelta(days=30)
USCC = "11370100MB0000000X"
PASSPHRASE = b"correct horse"
SM3_WITH_SM2_ALGORITHM_DER = bytes.fromhex(
    "300a06082a811ccf55018375"
)  # SEQUENCE { OID 1.2.156.10197.1.501 }, no params


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)


@pytest.fixture(scope="module")
def seal_key() -> Sm2Key:
    return Sm2Key.generate()


def issue(ca: SealMakerCA, key: Sm2Key, *, days: int = 730, start: dt.datetime = NOW) -> x509.Certificate:
    return ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc=USCC,
        seal_name="济南市市场监督管理局电子证照专用章",
        public_key=key.public_key_der,
        not_before=start,
        not_after=start + dt.timedelta(days=days),
    )


def crl_of(ca: SealMakerCA) -> bytes:
    return ca.crl(LATER, LATER + dt.timedelta(days=7))


def check(
    ca: SealMakerCA, cert: x509.Certificate, *, at: dt.datetime = SIGNED_AT, crl: bytes | None = None
) -> IdentityFinding:
    crl = crl if crl is not None else crl_of(ca)
    return check_certificate(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at)


def algorithm_der(cert: x509.Certificate) -> tuple[bytes, bytes]:
    """The DER of the outer signatureAlgorithm and of the one inside the TBSCertificate."""
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return parsed["signature_algorithm"].dump(), parsed["tbs_certificate"]["signature"].dump()


# --- the certificates -----------------------------------------------------------------------------------------------


def test_root_and_intermediate_are_sm2(ca: SealMakerCA) -> None:
    for cert in (ca.root, ca.intermediate):
        assert is_sm2_signed(cert) and cert.signature_algorithm_oid.dotted_string == SM3_WITH_SM2_OID
        assert algorithm_der(cert) == (SM3_WITH_SM2_ALGORITHM_DER, SM3_WITH_SM2_ALGORITHM_DER)
        assert public_key_der(cert).startswith(bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d"))
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    root_bc = ca.root.extensions.get_extension_for_class(x509.BasicConstraints).value
    intermediate_bc = ca.intermediate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (root_bc.ca, root_bc.path_length, intermediate_bc.ca, intermediate_bc.path_length) == (True, 1, True, 0)
    assert ca.root.issuer == ca.root.subject and ca.intermediate.issuer == ca.root.subject
    assert signed_by(ca.root, ca.root) and signed_by(ca.intermediate, ca.root)
    assert not signed_by(ca.intermediate, ca.intermediate)


def test_seal_certificate_profile(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    cert = issue(ca, seal_key)
    assert {a.oid: a.value for a in cert.subject} == {
        NameOID.COUNTRY_NAME: "CN",
        NameOID.ORGANIZATION_NAME: "济南市市场监督管理局",
        NameOID.ORGANIZATION_IDENTIFIER: USCC,
        NameOID.COMMON_NAME: "济南市市场监督管理局电子证照专用章",
    }
    assert public_key_der(cert) == seal_key.public_key_der
    assert (cert.not_valid_before_utc, cert.not_valid_after_utc) == (NOW, NOW + dt.timedelta(days=730))
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == subject_key_identifier(seal_key.public_key_der)
    verify_sm2(public_key_der(ca.intermediate), cert.tbs_certificate_bytes, cert.signature)
    assert signed_by(cert, ca.intermediate) and not signed_by(cert, ca.root)


def test_subject_key_identifier_matches_cryptography() -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert subject_key_identifier(spki) == x509.SubjectKeyIdentifier.from_public_key(key)


def test_sm2_ca_certifies_a_p256_key(ca: SealMakerCA) -> None:
    p256 = SoftwareKey.generate()
    cert = ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc=USCC,
        seal_name="专用章",
        public_key=p256.public_key_der,
        not_before=NOW,
        not_after=LATER,
    )
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and is_sm2_signed(cert)
    assert check(ca, cert).result is CheckResult.PASSED


def test_an_ecdsa_ca_cannot_certify_an_sm2_key(seal_key: Sm2Key) -> None:
    with pytest.raises(ValueError, match="algorithm=SM2_SM3"):
        issue(SealMakerCA.create("济南市制章中心", NOW), seal_key)


# --- the trust check ------------------------------------------------------------------------------------------------


def test_valid_chain_passes_with_identity(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    cert = issue(ca, seal_key)
    assert check(ca, cert) == IdentityFinding(
        result=CheckResult.PASSED,
        reason=None,
        detail="",
        subject_name="济南市市场监督管理局",
        seal_name="济南市市场监督管理局电子证照专用章",
        uscc=USCC,
        serial=cert.serial_number,
    )


@pytest.mark.parametrize("fake_chain", [(), ("intermediate",)], ids=["bare", "with-fake-intermediate"])
def test_lookalike_ca_with_the_same_names_fails(ca: SealMakerCA, seal_key: Sm2Key, fake_chain: tuple[str, ...]) -> None:
    fake = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    assert (fake.root.subject, fake.intermediate.subject) == (ca.root.subject, ca.intermediate.subject)
    finding = check_certificate(
        issue(fake, seal_key),
        trust_roots=[ca.root],
        intermediates=[ca.intermediate, *(getattr(fake, which) for which in fake_chain)],
        crls=[crl_of(ca), crl_of(fake)],
        at=SIGNED_AT,
    )
    assert (finding.result, finding.reason, finding.uscc) == (CheckResult.FAILED, "LOOKALIKE_CA", USCC)


def test_unrelated_ca_is_untrusted(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    other = SealMakerCA.create("别处制章中心", NOW, algorithm=SM2_SM3)
    finding = check_certificate(
        issue(other, seal_key), trust_roots=[ca.root], intermediates=[other.intermediate], crls=[crl_of(other)],
        at=SIGNED_AT,
    )  # fmt: skip
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "UNTRUSTED_ROOT")


def test_sm2_and_ecdsa_roots_side_by_side(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    ecdsa = SealMakerCA.create("别处制章中心", NOW)
    p256 = ec.generate_private_key(ec.SECP256R1())
    ecdsa_cert = ecdsa.issue_seal_certificate(
        issuer_name="某局", issuer_uscc=USCC, seal_name="章", public_key=p256.public_key(), not_before=NOW,
        not_after=LATER,
    )  # fmt: skip
    for cert in (issue(ca, seal_key), ecdsa_cert):
        finding = check_certificate(
            cert, trust_roots=[ca.root, ecdsa.root], intermediates=[ca.intermediate, ecdsa.intermediate],
            crls=[crl_of(ca), crl_of(ecdsa)], at=SIGNED_AT,
        )  # fmt: skip
        assert finding.result is CheckResult.PASSED


def test_revoked_before_signing_fails_after_passes(seal_key: Sm2Key) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    early, late = issue(ca, seal_key), issue(ca, seal_key)
    early_at = SIGNED_AT - dt.timedelta(days=1)
    ca.revoke(early.serial_number, x509.ReasonFlags.key_compromise, at=early_at)
    ca.revoke(late.serial_number, x509.ReasonFlags.cessation_of_operation, at=SIGNED_AT + dt.timedelta(days=1))
    crl = crl_of(ca)
    finding = check(ca, early, crl=crl)
    assert (finding.result, finding.reason, finding.revoked_at) == (CheckResult.FAILED, "CERT_REVOKED", early_at)
    assert check(ca, late, crl=crl).result is CheckResult.PASSED
    assert check(ca, early, crl=crl, at=early_at - dt.timedelta(hours=1)).result is CheckResult.PASSED


def test_a_crl_from_a_lookalike_does_not_count(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    fake = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    finding = check(ca, issue(ca, seal_key), crl=crl_of(fake))
    assert (finding.result, finding.reason) == (CheckResult.INDETERMINATE, "CRL_MISSING")


def test_expired_not_yet_valid_no_crl(ca: SealMakerCA, seal_key: Sm2Key) -> None:
    expired = check(ca, issue(ca, seal_key, days=5))
    assert (expired.result, expired.reason) == (CheckResult.FAILED, "CERT_EXPIRED")
    future = check(ca, issue(ca, seal_key, start=SIGNED_AT + dt.timedelta(days=1)))
    assert (future.result, future.reason) == (CheckResult.FAILED, "CERT_NOT_YET_VALID")
    missing = check_certificate(
        issue(ca, seal_key), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=SIGNED_AT
    )
    assert (missing.result, missing.reason) == (CheckResult.INDETERMINATE, "CRL_MISSING")
    assert check(ca, ca.intermediate).reason == "NOT_END_ENTITY"


# --- the CRL --------------------------------------------------------------------------------------------------------


def test_crl_is_sm2_signed_with_reasons_and_growing_number(seal_key: Sm2Key) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    empty = x509.load_der_x509_crl(crl_of(ca))
    assert len(empty) == 0
    compromised, retired = issue(ca, seal_key), issue(ca, seal_key)
    ca.revoke(compromised.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT)
    ca.revoke(retired.serial_number, x509.ReasonFlags.unspecified, at=SIGNED_AT)
    crl = x509.load_der_x509_crl(crl_of(ca))
    assert crl.signature_algorithm_oid.dotted_string == SM3_WITH_SM2_OID
    assert crl.issuer == ca.intermediate.subject
    assert (crl.last_update_utc, crl.next_update_utc) == (LATER, LATER + dt.timedelta(days=7))
    verify_sm2(public_key_der(ca.intermediate), crl.tbs_certlist_bytes, crl.signature)
    with pytest.raises(InvalidSignature):
        verify_sm2(public_key_der(ca.root), crl.tbs_certlist_bytes, crl.signature)
    entry = crl.get_revoked_certificate_by_serial_number(compromised.serial_number)
    assert entry is not None and entry.revocation_date_utc == SIGNED_AT
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    unspecified = crl.get_revoked_certificate_by_serial_number(retired.serial_number)
    assert unspecified is not None and len(unspecified.extensions) == 0  # RFC 5280: unspecified is left out
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (empty, crl)]
    assert numbers[0] < numbers[1]
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == ca.intermediate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest


# --- storage and import ---------------------------------------------------------------------------------------------


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_save_load_round_trip(tmp_path: Path, seal_key: Sm2Key) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW, algorithm=SM2_SM3)
    ca.save(tmp_path, PASSPHRASE)
    for name in ("root.key.pem", "intermediate.key.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
        assert (tmp_path / name).read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    loaded = SealMakerCA.load(tmp_path, PASSPHRASE)
    assert (loaded.root, loaded.intermediate, loaded.can_issue) == (ca.root, ca.intermediate, True)
    assert check(loaded, issue(loaded, seal_key)).result is CheckResult.PASSED
    with pytest.raises(KeyStoreError, match="passphrase"):
        SealMakerCA.load(tmp_path, b"wrong")


def test_import_external_with_and_without_key(tmp_path: Path, ca: SealMakerCA, seal_key: Sm2Key) -> None:
    ca.save(tmp_path, PASSPHRASE)
    key_pem = (tmp_path / "intermediate.key.pem").read_bytes()
    external = SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), key_pem, key_passphrase=PASSPHRASE)
    assert check(external, issue(external, seal_key)).result is CheckResult.PASSED
    assert not SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), None).can_issue
    with pytest.raises(KeyStoreError, match="does not belong"):
        SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), Sm2Key.generate().to_encrypted_pem(b"x"),
                                    key_passphrase=b"x")  # fmt: skip
    with pytest.raises(KeyStoreError, match="must be encrypted"):
        SealMakerCA.import_external(
            pem(ca.root), pem(ca.intermediate), _plain_pem(tmp_path, key_pem), key_passphrase=None
        )


def _plain_pem(tmp_path: Path, encrypted: bytes) -> bytes:
    """The unencrypted PKCS#8 of an SM2 key, through the openssl command (the binding writes encrypted keys only)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    (tmp_path / "enc.pem").write_bytes(encrypted)
    done = subprocess.run(
        ["openssl", "pkey", "-in", str(tmp_path / "enc.pem"), "-passin", f"pass:{PASSPHRASE.decode()}"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    return done.stdout


# --- OpenSSL's own verifier ---------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_verifies_each_link_with_the_default_id(tmp_path: Path, ca: SealMakerCA, seal_key: Sm2Key) -> None:
    """``openssl verify`` checks one link at a time here: OpenSSL 3.0 hashes an empty id into Z unless told the
    id, and ``-vfyopt distid:`` tells it for the certificate being verified only, never for the CAs above it."""
    for name, cert in (("root", ca.root), ("intermediate", ca.intermediate), ("seal", issue(ca, seal_key))):
        (tmp_path / f"{name}.pem").write_bytes(pem(cert))
    links = (("root", "intermediate"), ("intermediate", "seal"))
    for issuer, subject in links:
        command = ["openssl", "verify", "-partial_chain", "-no_check_time", "-CAfile", str(tmp_path / f"{issuer}.pem")]
        done = subprocess.run([*command, "-vfyopt", "distid:1234567812345678", str(tmp_path / f"{subject}.pem")],
                              capture_output=True, text=True, timeout=30)  # fmt: skip
        assert done.returncode == 0 and ": OK" in done.stdout, done.stdout + done.stderr
        done = subprocess.run([*command, str(tmp_path / f"{subject}.pem")], capture_output=True, text=True, timeout=30)
        assert done.returncode != 0 and "certificate signature failure" in done.stdout + done.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_openssl_verifies_the_crl_signature(tmp_path: Path, ca: SealMakerCA) -> None:
    crl = x509.load_der_x509_crl(crl_of(ca))
    (tmp_path / "tbs").write_bytes(crl.tbs_certlist_bytes)
    (tmp_path / "sig").write_bytes(crl.signature)
    body = base64.encodebytes(public_key_der(ca.intermediate)).decode()
    (tmp_path / "pub.pem").write_text(f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n")
    done = subprocess.run(
        ["openssl", "dgst", "-sm3", "-verify", str(tmp_path / "pub.pem"), "-sigopt", "distid:1234567812345678",
         "-signature", str(tmp_path / "sig"), str(tmp_path / "tbs")],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0 and "Verified OK" in done.stdout, done.stderr
