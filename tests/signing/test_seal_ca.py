"""The seal-maker CA (制章者): issuing seal certificates, revoking them, its CRL, storage, and the trust check."""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import re
import stat
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from signing import seal_ca
from signing.errors import KeyStoreError, SigningError
from signing.keys import RSA2048_SHA256
from signing.results import CheckResult
from signing.seal_ca import IdentityFinding, Revocation, SealMakerCA, async_check_certificate, check_certificate

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SIGNED_AT = NOW + dt.timedelta(days=10)
LATER = NOW + dt.timedelta(days=30)
USCC = "11370100MB0000000X"
PASSPHRASE = b"correct horse"

T = TypeVar("T", bound=x509.ExtensionType)


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create("济南市制章中心", NOW)


@pytest.fixture(scope="module")
def seal_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(
    ca: SealMakerCA, key: ec.EllipticCurvePrivateKey, *, days: int = 730, start: dt.datetime = NOW
) -> x509.Certificate:
    return ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc=USCC,
        seal_name="济南市市场监督管理局电子证照专用章",
        public_key=key.public_key(),
        not_before=start,
        not_after=start + dt.timedelta(days=days),
    )


def check(
    ca: SealMakerCA, cert: x509.Certificate, *, at: dt.datetime = SIGNED_AT, crl: bytes | None = None
) -> IdentityFinding:
    crl = crl if crl is not None else ca.crl(LATER, LATER + dt.timedelta(days=7))
    return check_certificate(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at)


def extension(cert: x509.Certificate, kind: type[T]) -> x509.Extension[T]:
    return cert.extensions.get_extension_for_class(kind)


def issue_with_usage(ca_dir: Path, usage: x509.KeyUsage, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    """A certificate from the real intermediate with another key usage (the CA's API cannot make one)."""
    intermediate = x509.load_pem_x509_certificate((ca_dir / "intermediate.pem").read_bytes())
    signer = serialization.load_pem_private_key((ca_dir / "intermediate.key.pem").read_bytes(), PASSPHRASE)
    assert isinstance(signer, ec.EllipticCurvePrivateKey)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a seal")]))
        .issuer_name(intermediate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(signer, hashes.SHA256())
    )


# --- the CA's certificates ------------------------------------------------------------------------------------------


def test_root_and_intermediate_profiles(ca: SealMakerCA) -> None:
    root_bc = extension(ca.root, x509.BasicConstraints).value
    intermediate_bc = extension(ca.intermediate, x509.BasicConstraints).value
    assert (root_bc.ca, root_bc.path_length) == (True, 1)
    assert (intermediate_bc.ca, intermediate_bc.path_length) == (True, 0)
    for cert in (ca.root, ca.intermediate):
        usage = extension(cert, x509.KeyUsage)
        assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
        assert not usage.value.digital_signature
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert ca.root.issuer == ca.root.subject
    ca.intermediate.verify_directly_issued_by(ca.root)


def test_rsa_ca_on_request() -> None:
    rsa_ca = SealMakerCA.create("RSA 制章中心", NOW, algorithm=RSA2048_SHA256)
    assert rsa_ca.intermediate.public_key().key_size == 2048  # type: ignore[union-attr]
    assert check(rsa_ca, issue(rsa_ca, ec.generate_private_key(ec.SECP256R1()))).result is CheckResult.PASSED


def test_seal_certificate_profile(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    cert = issue(ca, seal_key)
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {
        NameOID.COUNTRY_NAME: "CN",
        NameOID.ORGANIZATION_NAME: "济南市市场监督管理局",
        NameOID.ORGANIZATION_IDENTIFIER: USCC,
        NameOID.COMMON_NAME: "济南市市场监督管理局电子证照专用章",
    }
    usage = extension(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert extension(cert, x509.BasicConstraints).value.ca is False
    assert extension(cert, x509.AuthorityKeyIdentifier).value.key_identifier == (
        extension(ca.intermediate, x509.SubjectKeyIdentifier).value.digest
    )
    assert extension(cert, x509.SubjectKeyIdentifier).value == x509.SubjectKeyIdentifier.from_public_key(
        seal_key.public_key()
    )
    assert cert.serial_number != issue(ca, seal_key).serial_number


def test_seal_certificate_cannot_outlive_the_intermediate(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(ValueError, match="outlive"):
        issue(ca, seal_key, days=11 * 365)


# --- the trust check ------------------------------------------------------------------------------------------------


def test_a_seal_certificate_backdated_past_a_newer_intermediate_begins_with_it(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    """A CA imported minutes after it was made: the gateway backdates seal certificates a few minutes (for clocks
    a little behind); one that began before its intermediate would fail its chain check at its own start for good."""
    begins = ca.intermediate.not_valid_before_utc
    cert = issue(ca, seal_key, start=begins - dt.timedelta(minutes=5))
    assert cert.not_valid_before_utc == begins
    assert check(ca, cert, at=cert.not_valid_before_utc).result is CheckResult.PASSED  # where its chain is checked


def test_valid_chain_passes_with_identity(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    cert = issue(ca, seal_key)
    finding = check(ca, cert)
    assert finding == IdentityFinding(
        result=CheckResult.PASSED,
        reason=None,
        detail="",
        subject_name="济南市市场监督管理局",
        seal_name="济南市市场监督管理局电子证照专用章",
        uscc=USCC,
        serial=cert.serial_number,
    )


def test_async_check_inside_a_running_loop(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    cert = issue(ca, seal_key)
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))

    async def main() -> IdentityFinding:
        return await async_check_certificate(
            cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=SIGNED_AT
        )

    assert asyncio.run(main()).result is CheckResult.PASSED


@pytest.mark.parametrize(
    "fake_chain",
    [(), ("intermediate",), ("intermediate", "root")],
    ids=["bare", "with-fake-intermediate", "with-fake-root"],
)
def test_lookalike_ca_with_the_same_names_fails(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey, fake_chain: tuple[str, ...]
) -> None:
    fake = SealMakerCA.create("济南市制章中心", NOW)
    assert (fake.root.subject, fake.intermediate.subject) == (ca.root.subject, ca.intermediate.subject)
    cert = issue(fake, seal_key)
    finding = check_certificate(
        cert,
        trust_roots=[ca.root],
        intermediates=[ca.intermediate, *(getattr(fake, which) for which in fake_chain)],
        crls=[ca.crl(LATER, LATER + dt.timedelta(days=7)), fake.crl(LATER, LATER + dt.timedelta(days=7))],
        at=SIGNED_AT,
    )
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "LOOKALIKE_CA")
    assert finding.uscc == USCC  # the identity is reported, but not vouched for


def test_unrelated_ca_is_untrusted(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    other = SealMakerCA.create("别处制章中心", NOW)
    finding = check_certificate(
        issue(other, seal_key),
        trust_roots=[ca.root],
        intermediates=[other.intermediate],
        crls=[other.crl(LATER, LATER + dt.timedelta(days=7))],
        at=SIGNED_AT,
    )
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "UNTRUSTED_ROOT")
    # in the gateway's words, naming the issuer (it was pyHanko's "Unable to build a validation path …")
    assert finding.detail == (
        "印章证书不是可信的制章机构签发的"
        f"（issued under {other.intermediate.subject.rfc4514_string()}, which chains to none of the trusted CAs）"
    )


def test_revoked_before_signing_fails_after_passes(seal_key: ec.EllipticCurvePrivateKey) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW)
    early, late = issue(ca, seal_key), issue(ca, seal_key)
    early_at = SIGNED_AT - dt.timedelta(days=1)
    ca.revoke(early.serial_number, x509.ReasonFlags.key_compromise, at=early_at)
    ca.revoke(late.serial_number, x509.ReasonFlags.cessation_of_operation, at=SIGNED_AT + dt.timedelta(days=1))
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))

    finding = check(ca, early, crl=crl)
    assert (finding.result, finding.reason, finding.revoked_at) == (CheckResult.FAILED, "CERT_REVOKED", early_at)
    assert check(ca, late, crl=crl).result is CheckResult.PASSED
    assert check(ca, early, crl=crl, at=early_at - dt.timedelta(hours=1)).result is CheckResult.PASSED


def test_a_revocation_within_a_second_is_recorded_and_listed_from_the_next_whole_second(
    seal_key: ec.EllipticCurvePrivateKey,
) -> None:
    """A CRL carries whole seconds, and had carried the time rounded down while the CA and the store kept
    microseconds: a seal applied at 10.2 s and revoked at 10.7 s read CERT_REVOKED to every check by the CRL, PASSED
    to the gateway's (a reviewer's R5). Rounded up, CA, store and CRL say 11 s."""
    ca = SealMakerCA.create("济南市制章中心", NOW)
    cert, whole = issue(ca, seal_key), issue(ca, seal_key)
    second = SIGNED_AT + dt.timedelta(seconds=10)
    revocation = ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=second + dt.timedelta(seconds=0.7))
    assert revocation.revoked_at == ca.revocation_time(cert.serial_number) == second + dt.timedelta(seconds=1)
    assert ca.revoke(whole.serial_number, x509.ReasonFlags.superseded, at=second).revoked_at == second  # as it is
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))
    entry = x509.load_der_x509_crl(crl).get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == second + dt.timedelta(seconds=1)
    assert check(ca, cert, crl=crl, at=second + dt.timedelta(seconds=0.2)).result is CheckResult.PASSED
    assert check(ca, cert, crl=crl, at=second + dt.timedelta(seconds=1.2)).reason == "CERT_REVOKED"


def test_expired_and_not_yet_valid(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    expired = check(ca, issue(ca, seal_key, days=5))
    assert (expired.result, expired.reason) == (CheckResult.FAILED, "CERT_EXPIRED")
    future = check(ca, issue(ca, seal_key, start=SIGNED_AT + dt.timedelta(days=1)))
    assert (future.result, future.reason) == (CheckResult.FAILED, "CERT_NOT_YET_VALID")


def test_wrong_key_usage_fails(tmp_path: Path, seal_key: ec.EllipticCurvePrivateKey) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path, PASSPHRASE)
    usage = x509.KeyUsage(False, False, False, False, False, True, False, False, False)  # keyCertSign only
    finding = check(ca, issue_with_usage(tmp_path, usage, seal_key))
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "BAD_KEY_USAGE")
    assert finding.subject_name is None and finding.uscc is None


def test_ca_certificate_is_not_a_seal(ca: SealMakerCA) -> None:
    finding = check(ca, ca.intermediate)
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "NOT_END_ENTITY")


def test_no_crl_is_indeterminate(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    finding = check_certificate(
        issue(ca, seal_key), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=SIGNED_AT
    )
    assert (finding.result, finding.reason) == (CheckResult.INDETERMINATE, "CRL_MISSING")


def test_crl_that_ended_before_signing_is_stale(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    old_crl = ca.crl(NOW, NOW + dt.timedelta(days=1))
    finding = check(ca, issue(ca, seal_key), crl=old_crl)
    assert (finding.result, finding.reason) == (CheckResult.INDETERMINATE, "CRL_STALE")


def test_finding_reason_matches_result() -> None:
    with pytest.raises(ValueError):
        IdentityFinding(
            result=CheckResult.FAILED, reason=None, detail="", subject_name=None, seal_name=None, uscc=None, serial=1
        )


# --- the CRL --------------------------------------------------------------------------------------------------------


def test_crl_signed_by_intermediate_with_reasons_and_growing_number(seal_key: ec.EllipticCurvePrivateKey) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW)
    cert = issue(ca, seal_key)
    revocation = ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT)
    assert ca.revocation_time(cert.serial_number) == SIGNED_AT
    assert ca.revocation_time(cert.serial_number + 1) is None
    assert ca.revoke(cert.serial_number, x509.ReasonFlags.superseded, at=LATER) == revocation  # first one stays

    first = x509.load_der_x509_crl(ca.crl(LATER, LATER + dt.timedelta(days=7)))
    second = x509.load_der_x509_crl(ca.crl(LATER, LATER + dt.timedelta(days=7)))
    assert first.issuer == ca.intermediate.subject
    assert first.is_signature_valid(ca.intermediate.public_key())  # type: ignore[arg-type]
    assert not first.is_signature_valid(ca.root.public_key())  # type: ignore[arg-type]
    entry = first.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None and entry.revocation_date_utc == SIGNED_AT
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    numbers = [c.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number for c in (first, second)]
    assert numbers[0] < numbers[1]


def test_holds_are_refused(ca: SealMakerCA) -> None:
    with pytest.raises(ValueError, match="final"):
        ca.revoke(1, x509.ReasonFlags.certificate_hold, at=NOW)


# --- storage --------------------------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path, seal_key: ec.EllipticCurvePrivateKey) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path, PASSPHRASE)
    for name in ("root.key.pem", "intermediate.key.pem"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in (tmp_path / name).read_bytes()
    cert = issue(ca, seal_key)
    ca.revoke(cert.serial_number, x509.ReasonFlags.affiliation_changed, at=SIGNED_AT)  # written after save
    number = x509.load_der_x509_crl(ca.crl(LATER, LATER + dt.timedelta(days=7))).extensions
    state = json.loads((tmp_path / "revocations.json").read_text())
    assert state["revocations"][0]["reason"] == "affiliationChanged"

    loaded = SealMakerCA.load(tmp_path, PASSPHRASE)
    assert (loaded.root, loaded.intermediate) == (ca.root, ca.intermediate)
    assert loaded.can_issue
    assert loaded.revocations == ca.revocations
    next_crl = x509.load_der_x509_crl(loaded.crl(LATER, LATER + dt.timedelta(days=7)))
    assert (
        next_crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        > number.get_extension_for_class(x509.CRLNumber).value.crl_number
    )
    assert check(loaded, issue(loaded, seal_key)).result is CheckResult.PASSED


def test_processes_sharing_the_directory_write_their_state_at_once(tmp_path: Path) -> None:
    """Gateway workers each load the CA from one directory and make CRLs when they start; writing the state file at
    the same moment must not fail either (each writes a temporary file of its own, then renames it)."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    workers = [SealMakerCA.load(tmp_path, PASSPHRASE) for _ in range(4)]

    def make_crls(ca: SealMakerCA) -> None:
        for _ in range(50):
            ca.crl(LATER, LATER + dt.timedelta(days=7))

    with concurrent.futures.ThreadPoolExecutor(len(workers)) as pool:
        for done in [pool.submit(make_crls, ca) for ca in workers]:
            done.result()  # raises what the thread raised
    assert not list(tmp_path.glob("*.tmp"))


def test_a_revocation_through_one_worker_is_kept_by_the_others_writes(tmp_path: Path) -> None:
    """Each worker had read revocations.json once and written its own map whole: a revocation made through one worker
    was erased from the file by the next made through another (a reviewer's R7): a database restored from before it
    brought the seal back ACTIVE. A worker takes in what the file holds each time it writes it."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    worker_a, worker_b = (SealMakerCA.load(tmp_path, PASSPHRASE) for _ in range(2))
    worker_a.revoke(0x1111, x509.ReasonFlags.key_compromise, SIGNED_AT)
    worker_b.revoke(0x2222, x509.ReasonFlags.superseded, LATER)
    assert worker_b.revocation_time(0x1111) == SIGNED_AT  # taken in as it wrote
    assert worker_b.revoke(0x1111, x509.ReasonFlags.superseded, LATER).revoked_at == SIGNED_AT  # the first record
    state = json.loads((tmp_path / "revocations.json").read_text())
    assert {r["serial"] for r in state["revocations"]} == {"1111", "2222"}
    assert set(state["listed"]) == {"1111", "2222"}
    assert {r.serial for r in SealMakerCA.load(tmp_path, PASSPHRASE).revocations} == {0x1111, 0x2222}
    crl = x509.load_der_x509_crl(worker_b.crl(LATER, LATER + dt.timedelta(days=7)))
    assert {entry.serial_number for entry in crl} == {0x1111, 0x2222}


def test_taking_revocations_reads_the_file_once_and_not_at_all_when_each_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CRL takes in the store's revocations at each request: one ``revoke`` each had read the whole
    revocations.json once per revoked seal, under the directory's flock (a reviewer's R1). ``take`` reads it once for
    all of them, and not at all when the process holds each; another worker's record of a serial stays the first."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    worker_a, worker_b = (SealMakerCA.load(tmp_path, PASSPHRASE) for _ in range(2))
    worker_a.revoke(0x1111, x509.ReasonFlags.key_compromise, SIGNED_AT)
    reads: list[Path] = []
    real = seal_ca._read_state
    monkeypatch.setattr(seal_ca, "_read_state", lambda path: (reads.append(path), real(path))[1])
    store = [
        Revocation(serial=serial, reason=x509.ReasonFlags.superseded, revoked_at=LATER + dt.timedelta(seconds=0.5))
        for serial in (0x1111, *range(0x2000, 0x2040))
    ]
    worker_b.take(store)
    assert len(reads) == 1
    assert worker_b.revocation_time(0x1111) == SIGNED_AT  # worker A's, read from the file
    assert worker_b.revocation_time(0x2000) == LATER + dt.timedelta(seconds=1)  # rounded up, as revoke does
    reads.clear()
    worker_b.take(store)
    assert reads == []
    state = json.loads((tmp_path / "revocations.json").read_text())
    assert len(state["revocations"]) == len(state["listed"]) == 65
    with pytest.raises(ValueError, match="final"):
        worker_b.take([Revocation(serial=0x3000, reason=x509.ReasonFlags.certificate_hold, revoked_at=LATER)])


def test_workers_revoking_at_once_lose_none_of_the_revocations(tmp_path: Path) -> None:
    """Workers sharing the directory take turns (a lock of it) to read the file, add their revocation and write it."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    workers = [SealMakerCA.load(tmp_path, PASSPHRASE) for _ in range(4)]

    def revoke_some(number: int, ca: SealMakerCA) -> None:
        for serial in range(number * 1000 + 1, number * 1000 + 26):
            ca.revoke(serial, x509.ReasonFlags.key_compromise, SIGNED_AT)

    with concurrent.futures.ThreadPoolExecutor(len(workers)) as pool:
        for done in [pool.submit(revoke_some, number, ca) for number, ca in enumerate(workers)]:
            done.result()
    assert len(SealMakerCA.load(tmp_path, PASSPHRASE).revocations) == 100
    assert not list(tmp_path.glob("*.tmp"))


def test_crl_numbers_increase_across_processes_and_more_revocations_outrank_fewer(
    tmp_path: Path, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    """Replicas and workers each hold the CA (a directory copy of their own, or a shared one): alternating between
    them, CRL numbers still only increase, none is reused for another CRL, and a CRL listing a revocation outranks
    any listing fewer, whatever each process made before (each used to count in its own file: 27, 39, 28, 40…)."""
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path / "a", PASSPHRASE)
    ca.save(tmp_path / "b", PASSPHRASE)
    replicas = [SealMakerCA.load(tmp_path / name, PASSPHRASE) for name in ("a", "b")]
    for _ in range(30):
        replicas[0].crl(LATER, LATER + dt.timedelta(days=7))  # one replica asked far more often than the other

    def number(crl: bytes) -> int:
        return x509.load_der_x509_crl(crl).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number

    numbers = [number(replicas[n % 2].crl(LATER, LATER + dt.timedelta(days=7))) for n in range(40)]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    assert max(numbers).bit_length() <= 20 * 8 - 1  # RFC 5280: at most 20 octets
    cert = issue(ca, seal_key)
    replicas[1].revoke(cert.serial_number, x509.ReasonFlags.superseded, at=SIGNED_AT)
    with_revocation = number(replicas[1].crl(LATER, LATER + dt.timedelta(days=7)))
    assert with_revocation > number(replicas[0].crl(LATER, LATER + dt.timedelta(days=7))) > max(numbers)


def test_wrong_passphrase_is_a_key_store_error(tmp_path: Path) -> None:
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    with pytest.raises(KeyStoreError, match="passphrase"):
        SealMakerCA.load(tmp_path, b"wrong")


def test_missing_directory_is_a_key_store_error(tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="no seal-maker CA"):
        SealMakerCA.load(tmp_path / "nothing", PASSPHRASE)


def test_a_damaged_or_mixed_up_directory_is_a_key_store_error_naming_it(tmp_path: Path) -> None:
    """What the commands report as a configuration to mend (exit 2), not a traceback."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path / "a", PASSPHRASE)
    SealMakerCA.create("青岛市制章中心", NOW).save(tmp_path / "b", PASSPHRASE)
    (tmp_path / "a" / "root.pem").write_bytes((tmp_path / "b" / "root.pem").read_bytes())  # another CA's root
    with pytest.raises(KeyStoreError, match=re.escape(f"the seal-maker CA in {tmp_path / 'a'} does not hold together")):
        SealMakerCA.load(tmp_path / "a", PASSPHRASE)
    (tmp_path / "a" / "root.pem").write_bytes(b"")
    with pytest.raises(KeyStoreError, match=r"root\.pem is not a PEM certificate: restore the directory"):
        SealMakerCA.load(tmp_path / "a", PASSPHRASE)


GOOD_ENTRY = {"serial": "477a8e", "reason": "keyCompromise", "revoked_at": "2031-12-10T08:00:00+00:00"}
DAMAGED_STATES = {
    "RevokeSeal's spelling": ({"revocations": [{**GOOD_ENTRY, "reason": "key_compromise"}]}, "'key_compromise' is not"),
    "a hold": ({"revocations": [{**GOOD_ENTRY, "reason": "certificateHold"}]}, "not a final revocation"),
    "no serial": ({"revocations": [{k: v for k, v in GOOD_ENTRY.items() if k != "serial"}]}, "no 'serial'"),
    "a serial not hex": ({"revocations": [{**GOOD_ENTRY, "serial": "0x47zz"}]}, "invalid literal"),
    "a time without offset": ({"revocations": [{**GOOD_ENTRY, "revoked_at": "2031-12-10T08:00:00"}]}, "time zone"),
    "a serial as a number": ({"revocations": [{**GOOD_ENTRY, "serial": 4684430}]}, "int"),
    "no list": ({"revocations": {"serial": "1"}}, "holds no list of revocations"),
    "a list": ([GOOD_ENTRY], "holds no list of revocations"),
    "a bad CRL number": ({"revocations": [GOOD_ENTRY], "crl_number": "seven"}, "crl_number is not a number"),
    # accepted, these had made every CRL, and so each verification, fail later (a reviewer)
    "a serial of 0": ({"revocations": [{**GOOD_ENTRY, "serial": "0"}]}, "a serial is positive and of 159 bits at most"),
    "a negative serial": ({"revocations": [{**GOOD_ENTRY, "serial": "-1"}]}, "a serial is positive"),
    "a serial of 160 bits": ({"revocations": [{**GOOD_ENTRY, "serial": "8" + "0" * 39}]}, "of 159 bits at most"),
    "a negative CRL number": ({"revocations": [GOOD_ENTRY], "crl_number": -5}, "crl_number is not a number from 0"),
    "a CRL number not whole": ({"revocations": [GOOD_ENTRY], "crl_number": 1.9}, "crl_number is not a number"),
    "a CRL number of 160 bits": ({"revocations": [GOOD_ENTRY], "crl_number": 2**159}, "crl_number is not a number"),
    "a CRL number true": ({"revocations": [GOOD_ENTRY], "crl_number": True}, "crl_number is not a number"),
}


@pytest.mark.parametrize(("state", "said"), DAMAGED_STATES.values(), ids=DAMAGED_STATES.keys())
def test_a_revocations_file_edited_wrong_is_a_key_store_error_naming_it_and_the_entry(
    tmp_path: Path, state: object, said: str
) -> None:
    """The officer's only way to revoke the receipt or TSA certificate is to add it to revocations.json: a slip there
    had stopped `zzgw serve` with a traceback (a keys tester)."""
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    (tmp_path / "revocations.json").write_text(json.dumps(state))
    with pytest.raises(KeyStoreError) as raised:
        SealMakerCA.load(tmp_path, PASSPHRASE)
    assert str(raised.value).startswith(f"{tmp_path / 'revocations.json'} is damaged: ")
    assert said in str(raised.value)
    (tmp_path / "revocations.json").write_text(json.dumps({"revocations": [GOOD_ENTRY], "crl_number": 3}))
    loaded = SealMakerCA.load(tmp_path, PASSPHRASE)
    assert loaded.revocation_time(0x477A8E) == dt.datetime(2031, 12, 10, 8, tzinfo=dt.UTC)


def test_the_widest_serial_a_revocations_file_takes_makes_a_crl(tmp_path: Path) -> None:
    SealMakerCA.create("济南市制章中心", NOW).save(tmp_path, PASSPHRASE)
    widest = {"revocations": [{**GOOD_ENTRY, "serial": "7" + "f" * 39}], "crl_number": 3}
    (tmp_path / "revocations.json").write_text(json.dumps(widest))
    crl = x509.load_der_x509_crl(SealMakerCA.load(tmp_path, PASSPHRASE).crl(NOW, NOW + dt.timedelta(days=7)))
    assert crl.get_revoked_certificate_by_serial_number(2**159 - 1) is not None


# --- an external CA -------------------------------------------------------------------------------------------------


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_external_ca_without_key_validates_but_does_not_issue(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    external = SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), None)
    assert not external.can_issue
    with pytest.raises(KeyStoreError, match="only validate"):
        issue(external, seal_key)
    with pytest.raises(KeyStoreError, match="only validate"):
        external.crl(LATER, LATER + dt.timedelta(days=7))
    finding = check_certificate(
        issue(ca, seal_key),
        trust_roots=[external.root],
        intermediates=[external.intermediate],
        crls=[ca.crl(LATER, LATER + dt.timedelta(days=7))],
        at=SIGNED_AT,
    )
    assert finding.result is CheckResult.PASSED


def test_external_ca_with_key_issues(tmp_path: Path, seal_key: ec.EllipticCurvePrivateKey) -> None:
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path, PASSPHRASE)
    key_pem = (tmp_path / "intermediate.key.pem").read_bytes()
    external = SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), key_pem, key_passphrase=PASSPHRASE)
    assert check(external, issue(external, seal_key)).result is CheckResult.PASSED


def test_external_ca_with_a_foreign_key_is_refused(ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey) -> None:
    foreign = seal_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(KeyStoreError, match="does not belong"):
        SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), foreign)


def test_external_ca_whose_root_is_not_self_signed_is_refused(tmp_path: Path) -> None:
    """A "root" that is itself another CA's certificate (the intermediate given as root, with one it issued as the
    intermediate) is no trust anchor: checkers (``zzgw receipt check --root``) refuse it, so the import does."""
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path, PASSPHRASE)
    sub_key = ec.generate_private_key(ec.SECP256R1())
    intermediate_key = serialization.load_pem_private_key((tmp_path / "intermediate.key.pem").read_bytes(), PASSPHRASE)
    below = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "below the intermediate")]))
        .issuer_name(ca.intermediate.subject)
        .public_key(sub_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(intermediate_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    with pytest.raises(SigningError, match="is not self-signed: it is issued by"):
        SealMakerCA.import_external(pem(ca.intermediate), pem(below), None)
    assert SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), None).root == ca.root  # the real root


def test_external_ca_whose_intermediate_is_the_root_or_holds_its_key_is_refused(tmp_path: Path) -> None:
    """The root given as its own intermediate (with the root's key as the issuing key) was taken: the root's key then
    certified seals online. A certificate the root made for its own key, or another root, is no intermediate either."""
    ca = SealMakerCA.create("济南市制章中心", NOW)
    ca.save(tmp_path, PASSPHRASE)
    root_key_pem = (tmp_path / "root.key.pem").read_bytes()
    root_key = serialization.load_pem_private_key(root_key_pem, PASSPHRASE)
    assert isinstance(root_key, ec.EllipticCurvePrivateKey)

    def ca_certificate(
        subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name, signer: ec.EllipticCurvePrivateKey
    ) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(signer, hashes.SHA256())
        )

    named = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "the root's key again")])
    root_again = ca_certificate(named, root_key, ca.root.subject, root_key)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "another root")])
    other_root = ca_certificate(other, other_key, other, other_key)
    refused = [
        (ca.root, root_key_pem, "the intermediate certificate is the root certificate itself"),
        (ca.root, None, "the intermediate certificate is the root certificate itself"),
        (root_again, None, "the intermediate certificate carries the root's key"),
        (other_root, None, r"not issued by the root certificate \(it is self-signed, a root of its own\)"),
    ]
    for intermediate, key_pem, message in refused:
        with pytest.raises(SigningError, match=message):
            SealMakerCA.import_external(pem(ca.root), pem(intermediate), key_pem, key_passphrase=PASSPHRASE)
    with pytest.raises(SigningError, match="the root's key stays offline"):
        SealMakerCA.import_external(pem(ca.root), pem(ca.root), root_key_pem, key_passphrase=PASSPHRASE)
    key_pem = (tmp_path / "intermediate.key.pem").read_bytes()
    assert SealMakerCA.import_external(pem(ca.root), pem(ca.intermediate), key_pem, key_passphrase=PASSPHRASE).can_issue


def test_a_certificate_whose_name_does_not_decode_is_a_finding_not_an_exception(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    der = issue(ca, seal_key).public_bytes(serialization.Encoding.DER)
    name = "济南市市场监督管理局电子证照专用章".encode()
    assert der.count(name) == 1
    broken = der.replace(name, b"\xff" + name[1:])  # no longer UTF-8, same length: still parses as DER
    finding = check(ca, x509.load_der_x509_certificate(broken))
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "MALFORMED_CERTIFICATE")


def test_a_self_signed_seal_certificate_is_an_untrusted_root_not_a_bad_key_usage(
    ca: SealMakerCA, seal_key: ec.EllipticCurvePrivateKey
) -> None:
    """pyhanko-certvalidator refuses a self-signed certificate before building any path, with the error it gives a
    wrong key usage: the finding had said 印章证书的用途不是签章 of a forger's seal that copies a real one's subject and
    key usage."""
    genuine = issue(ca, seal_key)
    usage = extension(genuine, x509.KeyUsage).value
    finding = check(ca, self_signed(seal_key, genuine.subject, usage))
    assert (finding.result, finding.reason) == (CheckResult.FAILED, "UNTRUSTED_ROOT")
    assert finding.detail.startswith("印章证书是自签名的，不是可信的制章机构签发的（self-signed (")
    assert "电子证照专用章" in finding.detail
    # one that also copies a trusted CA's name as its own is a look-alike of that CA
    lookalike = check(ca, self_signed(seal_key, ca.root.subject, usage))
    assert (lookalike.result, lookalike.reason) == (CheckResult.FAILED, "LOOKALIKE_CA"), lookalike


def self_signed(
    key: ec.EllipticCurvePrivateKey, subject: x509.Name, usage: x509.KeyUsage, *, start: dt.datetime = NOW
) -> x509.Certificate:
    """A certificate ``key`` signs for itself under ``subject``, as a forger makes one that copies a real one's."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=30))
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )
