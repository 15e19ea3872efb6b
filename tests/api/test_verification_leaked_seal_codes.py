"""VerifyLicense by ``ZZ1:`` code after the seal that signed it was revoked for a leaked key (key_compromise).

The gateway judges a code at the time it recorded for the code's making only when the code is the one it drew: the
claims of the version's record, signed by the seal of the version's document, stating a time no later than that
drawing (a clock's error aside). Any other code — one a leaked key made after the revocation, whatever it states — is
judged by its own stated time, as an offline checker with the CRL judges it (docs/qr-codes.md), found by an
independent client (review issuecheck, R1 and R2)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets

from sqlalchemy import event

from adapters.demo import qr_code_of
from gateway.domain.identifiers import LicenseId
from protos.zzgw.v1 import seal_pb2, verification_pb2, verification_pb2_grpc
from signing.keys import KeyBackend
from signing.qr import QrClaims, check_qr, encode_qr, read_qr
from signing.results import CheckResult
from tests.api import test_sharing
from tests.api.test_documents import document_of
from tests.api.test_seals import register, seals
from tests.api.test_verification import FAILED, INDETERMINATE, PASSED, batch_issue, issue, receipt_statement, verify
from tests.conftest import ID_CARD, MARKET, POLICE, RunningGateway

clocked = test_sharing.clocked  # the fixture: a gateway with a clock of its own


def _key_of(running: RunningGateway, seal: seal_pb2.Seal) -> KeyBackend:
    """The seal's private key: the copy whoever leaked it holds."""
    service = running.gateway.seals
    assert service is not None
    return service.key(service.get(seal.seal_id))


def _claims_of(code: str) -> QrClaims:
    envelope = read_qr(code)
    assert not isinstance(envelope, str), envelope
    return envelope.claims


def _revoke_leaked(running: RunningGateway, seal: seal_pb2.Seal) -> dt.datetime:
    """A new seal registered, then ``seal`` revoked as leaked (key_compromise): the revocation's time."""
    register(running, name="电子证照专用章")
    revoked = seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    return revoked.seal.revoked_at.ToDatetime(tzinfo=dt.UTC)


def _findings(report: verification_pb2.VerificationReport) -> tuple[object, ...]:
    return (
        report.verdict,
        (report.integrity.result, report.integrity.reason),
        (report.issuer_identity.result, report.issuer_identity.reason),
    )


def _receipt_verdict(running: RunningGateway, report: verification_pb2.VerificationReport) -> tuple[str, str]:
    stated = receipt_statement(running, report.receipt)
    return stated["verdict"], stated["findings"]["issuer_identity"]["reason"]


def test_a_leaked_seal_keys_codes_fail_and_the_code_the_gateway_drew_still_passes(running: RunningGateway) -> None:
    """A license issued with its document (drawn, its code signed by the issuer's newest seal); that seal revoked as
    leaked. The code printed on the document still passes, as the document does. Codes the leaked key signs after the
    revocation with the license's own claims fail when they say so (a time more than 5 minutes after it, FAILED /
    CERT_REVOKED, as api.md promises), and do not pass when they state other claims or a time after the drawing (judged
    by their own time, CERT_REVOKED_NO_TRUSTED_TIME): all had been PASSED, judged at the gateway's drawing."""
    seal = register(running, name="电子证照专用章")  # the newest: it seals what MARKET issues next, code and all
    license_id = issue(running, 61).license.license_id
    document = document_of(running, license_id)
    printed = qr_code_of(document.pdf)  # as a scanner reads it off the page
    drawn = _claims_of(printed)
    key = _key_of(running, seal)
    assert key.key_id == seal.key_id
    revoked_at = _revoke_leaked(running, seal)

    genuine = verify(running, qr_code=printed)
    assert _findings(genuine) == (PASSED, (PASSED, ""), (PASSED, "")), genuine
    assert genuine.license.license_id == license_id

    def forged(claims: QrClaims) -> str:
        code = encode_qr(key, claims)
        assert check_qr(code, key.public_key_der, now=dt.datetime.now(dt.UTC)).integrity.result is CheckResult.PASSED
        return code

    # its own claims, stating it was made an hour after the revocation: the seal's own word that it signed once revoked
    later = forged(dataclasses.replace(drawn, issued_at=(revoked_at + dt.timedelta(hours=1)).replace(microsecond=0)))
    report = verify(running, qr_code=later)
    assert _findings(report) == (FAILED, (PASSED, ""), (FAILED, "CERT_REVOKED")), report
    assert report.reason == "CERT_REVOKED"
    assert _receipt_verdict(running, report) == ("FAILED", "CERT_REVOKED")

    # another end date and another holder, stated made now (within 5 minutes of the revocation) or at the drawing's
    # own time: not the code the gateway drew, so judged by its own time, undecided as offline; never PASSED
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    for claims in (
        dataclasses.replace(drawn, valid_until=dt.date(2099, 12, 31), holder_name="王**", issued_at=now),
        dataclasses.replace(drawn, valid_until=dt.date(2099, 12, 31)),
        dataclasses.replace(drawn, holder_name="王**"),
        dataclasses.replace(drawn, holder_code="9137**********0000"),
        dataclasses.replace(drawn, valid_from=drawn.valid_from - dt.timedelta(days=365)),
    ):
        report = verify(running, qr_code=forged(claims))
        assert _findings(report) == (
            INDETERMINATE,
            (PASSED, ""),
            (INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME"),
        ), (claims, report)
        assert _receipt_verdict(running, report) == ("INDETERMINATE", "CERT_REVOKED_NO_TRUSTED_TIME")
    # stated made an hour after the revocation with other claims too: FAILED, by its own word
    report = verify(running, qr_code=forged(dataclasses.replace(_claims_of(later), holder_name="王**")))
    assert _findings(report) == (FAILED, (PASSED, ""), (FAILED, "CERT_REVOKED")), report

    # the license's own claims and the drawing's own time: what the printed code states, word for word (ECDSA signs
    # anew each time, so no check tells it from the printed one, and it states nothing the printed one does not)
    assert _findings(verify(running, qr_code=forged(drawn))) == (PASSED, (PASSED, ""), (PASSED, ""))


def test_a_code_stating_a_time_after_the_drawing_is_not_the_code_the_gateway_drew(
    clocked: test_sharing.Clocked,
) -> None:
    """The license's own claims, signed by the seal of its document, stating a time an hour after the drawing the
    gateway recorded and an hour before the seal was revoked as leaked: not the code printed on the document (made
    before its drawing ended), so judged by the time it states, undecided as offline; within a clock's error of the
    drawing it is taken as the printed one."""
    running, clock = clocked.running, clocked.clock
    seal = register(running, name="电子证照专用章")
    license_id = issue(running, 64).license.license_id
    printed = qr_code_of(document_of(running, license_id).pdf)
    drawn = _claims_of(printed)
    with running.gateway.db.unit_of_work() as uow:
        document = uow.documents.get(license_id)
    assert document is not None and drawn.issued_at <= document.created_at
    key = _key_of(running, seal)
    clock.advance(dt.timedelta(hours=2))
    try:
        revoked_at = _revoke_leaked(running, seal)
        assert revoked_at > document.created_at + dt.timedelta(hours=1)
        assert _findings(verify(running, qr_code=printed)) == (PASSED, (PASSED, ""), (PASSED, ""))
        hour_later = dataclasses.replace(drawn, issued_at=drawn.issued_at + dt.timedelta(hours=1))
        report = verify(running, qr_code=encode_qr(key, hour_later))
        assert _findings(report) == (
            INDETERMINATE,
            (PASSED, ""),
            (INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME"),
        ), report
        minute_later = dataclasses.replace(drawn, issued_at=drawn.issued_at + dt.timedelta(minutes=1))
        assert _findings(verify(running, qr_code=encode_qr(key, minute_later))) == (PASSED, (PASSED, ""), (PASSED, ""))
    finally:
        clock.advance(-dt.timedelta(hours=2))


def test_a_code_the_gateway_never_drew_is_judged_at_its_own_time(running: RunningGateway) -> None:
    """A batch-issued license has no document until one is asked for, and so no code: one its record's seal signs
    (the leaked key) is judged by the time it states, not at the record's sealing: FAILED when stated more than 5
    minutes after the revocation, undecided when stated before it. Once the document is drawn by the seal of the day,
    the code printed on it passes."""
    seal = register(running, name="电子证照专用章")
    license_id = batch_issue(running, 62)
    stored = running.gateway.issuance._get_stored(license_id)
    key = _key_of(running, seal)
    assert stored.seal.key_id == seal.key_id  # its record was sealed by that seal
    claims = QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC))
    revoked_at = _revoke_leaked(running, seal)
    after = dataclasses.replace(claims, issued_at=(revoked_at + dt.timedelta(hours=1)).replace(microsecond=0))
    report = verify(running, qr_code=encode_qr(key, after))
    assert _findings(report) == (FAILED, (PASSED, ""), (FAILED, "CERT_REVOKED")), report
    report = verify(running, qr_code=encode_qr(key, claims))
    assert _findings(report) == (INDETERMINATE, (PASSED, ""), (INDETERMINATE, "CERT_REVOKED_NO_TRUSTED_TIME")), report
    assert verify(running, license_id=license_id).verdict == PASSED  # the record, sealed before the revocation

    printed = qr_code_of(document_of(running, license_id).pdf)  # drawn now, by the new seal
    assert _findings(verify(running, qr_code=printed)) == (PASSED, (PASSED, ""), (PASSED, ""))


def test_a_leaked_keys_code_for_a_license_never_issued_is_not_called_genuine(running: RunningGateway) -> None:
    """A code the leaked key signs, stating a time before the revocation, for a serial never issued (or a version
    the license never had): the seal's trust is undecided, so the code is not known to be genuine; it had been told
    genuine and the registry blamed (REGISTRY_ALTERED, 核验码是真实的，但登记库中没有它所指的证照). It is
    LICENSE_NOT_FOUND, the issuer identity saying why the code itself is undecided (review issuecheck, R2)."""
    seal = register(running, name="电子证照专用章")
    license_id = issue(running, 63).license.license_id
    drawn = _claims_of(qr_code_of(document_of(running, license_id).pdf))
    key = _key_of(running, seal)
    _revoke_leaked(running, seal)
    named = LicenseId.parse(license_id)
    never = dataclasses.replace(named, serial="0" + secrets.token_hex(7).upper()[:13] + "Z")
    second = dataclasses.replace(named, version=2)
    for unknown in (never, second):
        claims = dataclasses.replace(drawn, license_id=str(unknown), version=unknown.version)  # made when drawn
        report = verify(running, qr_code=encode_qr(key, claims))
        assert (report.verdict, report.reason) == (FAILED, "LICENSE_NOT_FOUND"), report
        assert (report.integrity.result, report.integrity.reason) == (PASSED, ""), report
        assert (report.status.result, report.status.reason) == (FAILED, "LICENSE_NOT_FOUND")
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (
            INDETERMINATE,
            "CERT_REVOKED_NO_TRUSTED_TIME",
        )
        assert "真实" not in report.integrity.detail and "真实" not in report.status.detail
        stated = receipt_statement(running, report.receipt)
        assert (stated["verdict"], stated["reason"], stated["findings"]["integrity"]["result"]) == (
            "FAILED",
            "LICENSE_NOT_FOUND",
            "PASSED",
        )


def test_another_departments_seal_is_never_told_genuine_for_a_license_never_issued(running: RunningGateway) -> None:
    """A code signed by the market bureau's live seal naming a license never issued: of the police bureau (an ID card;
    a 食品生产许可证 it cannot issue either) or an ID card of the market bureau, which issues none. The gateway draws a
    code only with the issuer's own seal, so it knows the code is not genuine: the seal's trust passes, but the code
    is FAILED / LICENSE_NOT_FOUND with integrity PASSED and the issuer identity saying whose seal it is
    (SEALED_BY_ANOTHER) or that the issuer does not issue the type (NOT_AUTHORITATIVE_ISSUER), as for a stored
    license. It had been REGISTRY_ALTERED, said as 核验码是真实的 (review fixrevver, R1)."""
    seal = register(running, name="电子证照专用章")
    license_id = issue(running, 65).license.license_id
    drawn = _claims_of(qr_code_of(document_of(running, license_id).pdf))
    key = _key_of(running, seal)  # live: the market bureau's, or whoever holds a copy of its key
    named = LicenseId.parse(license_id)

    def unissued(type_code: str, issuer_code: str) -> QrClaims:
        serial = "0" + secrets.token_hex(7).upper()[:13] + "Y"
        unknown = LicenseId(type_code=type_code, issuer_code=issuer_code, serial=serial, version=1)
        return dataclasses.replace(
            drawn, license_id=str(unknown), type_code=type_code, issuer_code=issuer_code, version=1
        )

    estate = verification_pb2_grpc.VerificationServiceStub(running.channel(test_sharing.REAL_ESTATE))
    cases = (
        (unissued(ID_CARD, POLICE), "SEALED_BY_ANOTHER", estate, test_sharing.BDCZY),
        (unissued(named.type_code, POLICE), "SEALED_BY_ANOTHER", None, None),
        (unissued(ID_CARD, MARKET), "NOT_AUTHORITATIVE_ISSUER", estate, test_sharing.BDCZY),
    )
    for claims, reason, stub, use in cases:
        code = encode_qr(key, claims)
        if stub is None:
            report = verify(running, qr_code=code)
        else:
            request = verification_pb2.VerifyLicenseRequest(use=use, qr_code=code)
            report = stub.VerifyLicense(request).report
        assert (report.verdict, report.reason) == (FAILED, "LICENSE_NOT_FOUND"), (claims, report)
        assert (report.integrity.result, report.integrity.reason) == (PASSED, ""), report
        assert (report.status.result, report.status.reason) == (FAILED, "LICENSE_NOT_FOUND"), report
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, reason), report
        assert not any("真实" in f.detail for f in (report.integrity, report.status, report.issuer_identity)), report
    # the seal's own department, a type it issues: a code it could have drawn, so the registry lost the license
    report = verify(running, qr_code=encode_qr(key, unissued(named.type_code, MARKET)))
    assert (report.verdict, report.reason) == (FAILED, "REGISTRY_ALTERED"), report
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, ""), report
    assert "核验码是真实的" in report.integrity.detail


def test_an_ended_seals_code_for_a_license_never_issued_is_not_called_genuine(clocked: test_sharing.Clocked) -> None:
    """A seal certified for a day, not revoked; three days later its key, kept past the seal's end, signs a code for a
    serial never issued, stating a time within the seal's validity. Only that key vouches for the code, with no time
    the gateway trusts: it is not known to be genuine, so the registry is not blamed. Integrity PASSED, status and
    verdict FAILED / LICENSE_NOT_FOUND, issuer identity judged at the time the code states (PASSED, as offline), no
    "真实"; it had been REGISTRY_ALTERED, 核验码是真实的 (review fixrevver, R3). While the seal is live the same code
    is REGISTRY_ALTERED: a code the gateway could have drawn."""
    running, clock = clocked.running, clocked.clock
    short = register(running, name="电子证照专用章", validity_days=1)
    register(running, name="电子证照专用章")  # the newest again a long one: other tests' documents are not drawn by it
    license_id = issue(running, 66).license.license_id
    drawn = _claims_of(qr_code_of(document_of(running, license_id).pdf))
    key = _key_of(running, short)
    named = LicenseId.parse(license_id)
    never = dataclasses.replace(named, serial="0" + secrets.token_hex(7).upper()[:13] + "X")
    stated = dt.datetime.now(dt.UTC).replace(microsecond=0)  # within the short seal's day
    code = encode_qr(key, dataclasses.replace(drawn, license_id=str(never), issued_at=stated))
    report = verify(running, qr_code=code)
    assert (report.verdict, report.reason) == (FAILED, "REGISTRY_ALTERED"), report  # the seal live: could be drawn
    clock.advance(dt.timedelta(days=3))
    try:
        report = verify(running, qr_code=code)
        assert (report.verdict, report.reason) == (FAILED, "LICENSE_NOT_FOUND"), report
        assert (report.integrity.result, report.integrity.reason) == (PASSED, ""), report
        assert (report.status.result, report.status.reason) == (FAILED, "LICENSE_NOT_FOUND"), report
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, ""), report
        assert not any("真实" in f.detail for f in (report.integrity, report.status, report.issuer_identity)), report
        assert receipt_statement(running, report.receipt)["reason"] == "LICENSE_NOT_FOUND"
    finally:
        clock.advance(-dt.timedelta(days=3))


def test_a_warm_scan_by_code_reads_no_document_row(running: RunningGateway) -> None:
    """Once a license's code was checked, a scan of the code reads nothing of the license or its document from the
    store, as a verification by identifier reads nothing of the license: the drawing the code is judged at is kept
    with the checked license. It had read the version's document row at every scan, a transaction per call (review
    fixrevver, R2). Dropped with the license's check: a seal revoked, the printed code still passes."""
    seal = register(running, name="电子证照专用章")
    license_id = issue(running, 67).license.license_id
    printed = qr_code_of(document_of(running, license_id).pdf)
    assert _findings(verify(running, qr_code=printed)) == (PASSED, (PASSED, ""), (PASSED, ""))  # warm
    seen: list[str] = []

    def heard(_c: object, _cursor: object, sql: str, _params: object, _x: object, _many: bool) -> None:
        if "license_documents" in sql or "FROM licenses" in sql:
            seen.append(sql)

    engine = running.gateway.db.engine
    event.listen(engine, "before_cursor_execute", heard)
    try:
        for _ in range(3):
            assert verify(running, qr_code=printed).verdict == PASSED
            assert verify(running, license_id=license_id).verdict == PASSED
    finally:
        event.remove(engine, "before_cursor_execute", heard)
    assert seen == []
    _revoke_leaked(running, seal)  # every check dropped: read once more, and the code still the drawn one
    event.listen(engine, "before_cursor_execute", heard)
    try:
        for _ in range(3):
            assert _findings(verify(running, qr_code=printed)) == (PASSED, (PASSED, ""), (PASSED, ""))
    finally:
        event.remove(engine, "before_cursor_execute", heard)
    assert len([sql for sql in seen if "license_documents" in sql]) == 1, seen
