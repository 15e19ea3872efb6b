"""The issuer identity finding's codes for the seal's certificate are its own (CERT_…), never a license status code:
a verdict's reason of REVOKED means the license is revoked, not the seal certificate."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import grpc
import pytest
from cryptography import x509
from sqlalchemy import text

from gateway.domain.model import LicenseContent, LicenseStatus
from gateway.domain.seals import SealStatus
from protos.zzgw.v1 import issuance_pb2, seal_pb2, verification_pb2
from signing.pdf import PdfSealer
from signing.qr import QrClaims, encode_qr
from tests.api.test_documents import document_of
from tests.api.test_seals import register, seals
from tests.api.test_verification import FAILED, INDETERMINATE, PASSED, USE, change, issue, printout, verifier, verify
from tests.conftest import MARKET, RunningGateway, error_details

STATUS_CODES = {s.value for s in LicenseStatus} | {"NOT_YET_VALID", "LICENSE_NOT_FOUND"}
"""Every reason the status finding gives."""


def sealer_of(running: RunningGateway, seal: seal_pb2.Seal) -> PdfSealer:
    """A sealer with the seal's own key and certificate, as whoever holds a compromised key can still make one
    (SealDocument refuses a revoked seal)."""
    service = running.gateway.seals
    assert service is not None
    return PdfSealer(
        running.gateway.keys.load(f"seal{seal.seal_id}"),  # the key store's name for a seal's key
        x509.load_der_x509_certificate(seal.certificate_der),
        [service.ca.intermediate],
        seal_png=seal.image_png,
        timestamper=service._timestamper,
    )


def test_a_document_sealed_by_a_revoked_seal_after_its_revocation_fails_as_cert_revoked(
    running: RunningGateway,
) -> None:
    seal = register(running, name="电子证照专用章")  # the newest seal: it seals what MARKET issues next
    issued = issue(running, 41).license
    genuine = document_of(running, issued.license_id).pdf
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    made_up = printout(issued.license_id, "FOOD PERMIT  holder: somebody else")
    forged = asyncio.run(sealer_of(running, seal).seal(made_up, field_name="after-revocation"))
    stub = verifier(running)

    report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, "CERT_REVOKED")
    assert "before it sealed" in report.issuer_identity.detail
    assert (report.verdict, report.reason) == (FAILED, "CERT_REVOKED")
    assert report.reason not in STATUS_CODES  # read as a status it would say "the license is revoked": it is not
    assert (report.integrity.result, report.status.result) == (PASSED, INDETERMINATE)  # no registered document
    statement = json.loads(report.receipt.statement)
    assert (statement["reason"], statement["findings"]["issuer_identity"]["reason"]) == ("CERT_REVOKED",) * 2

    # sealed before the revocation, the genuine document passes; the license revoked, its status says REVOKED
    assert stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=genuine)).report.verdict == PASSED
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    revoked = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=genuine)).report
    assert (revoked.verdict, revoked.reason) == (FAILED, "REVOKED")
    assert (revoked.status.result, revoked.status.reason) == (FAILED, "REVOKED")
    assert (revoked.issuer_identity.result, revoked.issuer_identity.reason) == (PASSED, "")
    by_id = verify(running, license_id=issued.license_id)
    assert (by_id.verdict, by_id.reason, by_id.issuer_identity.result) == (FAILED, "REVOKED", PASSED)
    again = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
    assert (again.reason, again.issuer_identity.reason) == ("CERT_REVOKED", "CERT_REVOKED")


def test_a_seal_revocation_undone_in_the_database_is_not_undone(running: RunningGateway) -> None:
    """Revocations are final: the seal-maker CA keeps each one (``revocations.json``, its CRLs). A seal set back to
    ACTIVE in the store behind the gateway's back (the store announces the edit, the caches let the seal go) still
    fails what its compromised key sealed after the revocation, and the next CRL writes the revocation back."""
    seal = register(running, name="电子证照专用章")
    issued = issue(running, 42).license
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    forged = asyncio.run(
        sealer_of(running, seal).seal(printout(issued.license_id, "FOOD PERMIT"), field_name="after-revocation")
    )
    stub = verifier(running)

    def identity() -> tuple[int, str]:
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
        return report.issuer_identity.result, report.issuer_identity.reason

    assert identity() == (FAILED, "CERT_REVOKED")
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE seals SET status = 'ACTIVE', revoked_at = NULL, crl_reason = '' WHERE seal_id = :id"),
            {"id": seal.seal_id},
        )
    running.gateway.feed.committed([f"seal:{seal.key_id}"])  # type: ignore[union-attr]  # at once, not in 1 s
    service = running.gateway.verification
    assert service is not None and seal.key_id not in service._known_seals  # dropped: read again from the store
    # its key seals nothing more: the issuer's newest seal, it is refused, not used
    with pytest.raises(grpc.RpcError) as refused:
        issue(running, 43)
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(refused.value)[0].reason == "SEAL_REVOKED"
    assert identity() == (FAILED, "CERT_REVOKED")
    # the CRL that check made wrote the CA's revocation back to the store: its time and CRL reason (a reviewer's R2)
    serial = x509.load_der_x509_certificate(seal.certificate_der).serial_number
    recorded = running.gateway.seals.ca.revocation_time(serial)  # type: ignore[union-attr]
    assert recorded is not None
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.seals.get(seal.seal_id)
    assert stored is not None
    assert (stored.status, stored.revoked_at, stored.crl_reason) == (SealStatus.REVOKED, recorded, "key_compromise")
    # GetSeal (any member) and ListSeals (its issuer) show it revoked, from the CA's time
    shown = seals(running, MARKET).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
    listed = {s.seal_id: s for s in seals(running, MARKET).ListSeals(seal_pb2.ListSealsRequest()).seals}
    for each in (shown, listed[seal.seal_id]):
        assert each.status == seal_pb2.SEAL_STATUS_REVOKED
        assert each.revoked_at.ToDatetime(tzinfo=recorded.tzinfo) == recorded
    # revoked again through the API, it keeps the first revocation, not this call's time
    again = (
        seals(running, MARKET)
        .RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="再次吊销", crl_reason="superseded"))
        .seal
    )
    assert again.status == seal_pb2.SEAL_STATUS_REVOKED
    assert again.revoked_at.ToDatetime(tzinfo=recorded.tzinfo) == recorded
    assert issue(running, 44).license.license_id  # the issuer's next seal in line seals again


def test_a_code_back_dated_by_a_leaked_key_before_a_license_it_postdates_fails_as_cert_revoked(
    running: RunningGateway,
) -> None:
    """A code made with a revoked seal's leaked key may claim any time; claiming one before the revocation had left
    its issuer identity undecided (CERT_REVOKED_NO_TRUSTED_TIME) even for a license registered after the revocation,
    which no code can predate: the gateway keeps that time, so the code is judged at it (an examiner)."""
    early = issue(running, 45).license  # registered before the revocation, sealed by the issuer's seal then
    seal = register(running, name="电子证照专用章")
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    revoked_at = (
        seals(running, MARKET).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal.revoked_at.ToDatetime(dt.UTC)
    )
    later = issue(running, 46).license  # registered after it, by the issuer's next seal
    leaked = running.gateway.keys.load(f"seal{seal.seal_id}")
    with running.gateway.db.unit_of_work() as uow:
        early_content, later_content = (uow.licenses.get(each.license_id).content for each in (early, later))
    back_dated = x509.load_der_x509_certificate(seal.certificate_der).not_valid_before_utc  # its first moment
    assert back_dated < revoked_at - dt.timedelta(seconds=1)

    def identity(content: LicenseContent) -> tuple[int, str]:
        code = encode_qr(leaked, QrClaims.of(content, issued_at=back_dated))
        report = verify(running, qr_code=code)
        return report.issuer_identity.result, report.issuer_identity.reason

    assert identity(later_content) == (FAILED, "CERT_REVOKED")
    # a license registered before the revocation: the code may have been made before it, as it claims: undecided
    assert identity(early_content) == (INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME")
