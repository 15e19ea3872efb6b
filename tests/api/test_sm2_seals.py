"""国密 seals through the gateway: an SM2 seal with its GB/T 38540 seal, stamps made and verified over gRPC, SM2
record seals and verification codes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.x509.oid import NameOID
from gmssl import sm2 as gmssl_sm2

from adapters.http import SM2_CRL_PATH
from gateway.authorities import openssl_serial
from gateway.bootstrap import samples
from gateway.server import initialise
from gateway.services.seals import MAX_STAMPED_BYTES
from protos.zzgw.v1 import issuance_pb2, seal_pb2, seal_pb2_grpc, verification_pb2, verification_pb2_grpc
from signing.keys import SM2_SM3
from signing.qr import QrClaims, encode_qr
from signing.receipts import MAX_STATEMENT
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA, signed_by
from signing.seal_image import draw_seal
from signing.ses import (
    MAX_CODE,
    SEAL_MAKER_NAME,
    Certificates,
    SESeal,
    SESSignature,
    SesVerification,
    check_stamp,
    make_seal,
    sign_document,
)
from signing.sm2 import Sm2Key, verify_sm2
from signing.sm2_x509 import public_key_der
from tests import conftest
from tests.api.test_documents import document_of
from tests.api.test_verification import USE, batch_issue, change, issue, receipt_statement, verify
from tests.conftest import CIVIL, MARKET, TAX, RunningGateway, backend_params, error_details, fresh_database, http_side

SM3_WITH_SM2 = "1.2.156.10197.1.501"
INDETERMINATE_RESULT = CheckResult.INDETERMINATE
PASSED, FAILED, INDETERMINATE = (
    verification_pb2.CHECK_RESULT_PASSED,
    verification_pb2.CHECK_RESULT_FAILED,
    verification_pb2.CHECK_RESULT_INDETERMINATE,
)


def seals(running: RunningGateway) -> seal_pb2_grpc.SealServiceStub:
    return seal_pb2_grpc.SealServiceStub(running.channel(MARKET))


def register_sm2_seal(running: RunningGateway) -> seal_pb2.Seal:
    """A new SM2 seal of MARKET's."""
    return (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="电子证照专用章", algorithm=SM2_SM3)
        )
        .seal
    )


@pytest.fixture(scope="module")
def sm2_seal(running: RunningGateway) -> seal_pb2.Seal:
    """MARKET's SM2 seal: registered last, so it is also the seal its records are sealed with from now on."""
    return register_sm2_seal(running)


def stamp(running: RunningGateway, seal: seal_pb2.Seal, document: bytes) -> bytes:
    return seals(running).StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=document)).stamp


def verify_stamp(running: RunningGateway, document: bytes, stamp_der: bytes) -> verification_pb2.VerifyStampResponse:
    stub = verification_pb2_grpc.VerificationServiceStub(running.channel(MARKET))
    return stub.VerifyStamp(verification_pb2.VerifyStampRequest(use=USE, document=document, stamp=stamp_der))


def test_an_sm2_seal_has_an_sm2_certificate_and_a_gbt_38540_seal(
    running: RunningGateway, sm2_seal: seal_pb2.Seal
) -> None:
    assert sm2_seal.algorithm == SM2_SM3 and sm2_seal.status == seal_pb2.SEAL_STATUS_ACTIVE
    certificate = asn1_x509.Certificate.load(sm2_seal.certificate_der)
    assert certificate["signature_algorithm"]["algorithm"].dotted == SM3_WITH_SM2
    seal = SESeal.load(sm2_seal.ses_seal)
    info = seal["e_seal_info"]
    assert (info["header"]["id"].native, info["header"]["version"].native) == ("ES", 4)
    assert (
        info["es_id"].native == sm2_seal.seal_id
        and info["property"]["name"].native == "济南市市场监督管理局电子证照专用章"
    )
    assert info["property"]["cert_list"].parse(Certificates).native == [sm2_seal.certificate_der]
    assert info["picture"]["type"].native == "PNG" and info["picture"]["data"].native == sm2_seal.image_png
    assert seals(running).GetSeal(seal_pb2.GetSealRequest(seal_id=sm2_seal.seal_id)).seal.ses_seal == sm2_seal.ses_seal


def test_a_stamp_verifies_offline_and_over_grpc(running: RunningGateway, sm2_seal: seal_pb2.Seal) -> None:
    document = "<ofd>一份不在登记库中的文件</ofd>".encode()
    stamp_der = stamp(running, sm2_seal, document)
    service = running.gateway.seals
    assert service is not None
    offline = check_stamp(
        stamp_der,
        document,
        trust_roots=service.trust_roots(),
        intermediates=service.intermediates(),
        crls=service.crls(),
    )
    assert offline.result is CheckResult.PASSED and offline.es_id == sm2_seal.seal_id

    answer = verify_stamp(running, document, stamp_der)
    report = answer.report
    assert (report.integrity.result, report.issuer_identity.result) == (PASSED, PASSED)
    assert (report.status.result, report.status.reason) == (INDETERMINATE, "NOT_A_REGISTERED_LICENSE")
    assert report.verdict == INDETERMINATE and answer.es_id == sm2_seal.seal_id and report.receipt.receipt_id
    query = receipt_statement(running, report.receipt)["query"]  # the receipt names the stamp, its seal, its signer
    assert query == {
        "by": "stamp",
        "document_sha256": hashlib.sha256(document).hexdigest(),
        "stamp_sha256": hashlib.sha256(stamp_der).hexdigest(),
        "seal_code": sm2_seal.seal_id,
        "signer_uscc": MARKET,
    }

    changed = verify_stamp(running, document + b" ", stamp_der).report
    assert (changed.verdict, changed.integrity.reason) == (FAILED, "DATA_HASH_MISMATCH")
    garbage = verify_stamp(running, document, stamp_der[:-20]).report
    assert garbage.verdict == FAILED and garbage.integrity.result == FAILED


def test_a_stamp_of_0xff_bytes_is_malformed_at_once_and_the_gateway_serves_on(
    running: RunningGateway, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """3 MiB of 0xFF as a stamp is one tag number that never ends: asn1crypto had read it for hours on a handler
    thread, until the watchdog stopped the gateway. Refused before it is read: a report, FAILED / MALFORMED."""
    report = verify_stamp(running, b"<ofd/>", b"\xff" * (3 * 1024 * 1024)).report
    assert (report.verdict, report.reason, report.integrity.reason) == (FAILED, "MALFORMED", "MALFORMED")
    assert "its DER structure is malformed (a tag number of more than 4 octets at offset 0)" in report.integrity.detail
    assert long_tags_kept_from_asn1crypto == []


def test_what_a_stamp_claims_goes_into_its_receipt_only_as_long_as_a_code_is(
    running: RunningGateway, sm2_seal: seal_pb2.Seal
) -> None:
    """A receipt records the seal code and the signer's USCC a stamp claims, whatever the stamp is. Any department
    could send a stamp claiming a seal code of 70,000 letters: the gateway signed and stored a receipt of 71 KB,
    larger than any receipt, which every checker, the gateway's own console too, then called forged, and the
    console told the clerk the archive had been tampered with (a receipts tester). A seal code longer than any
    (``MAX_CODE``) makes the stamp MALFORMED; a signer's organizationIdentifier that long is not read as its USCC.
    Either way the receipt is one its checkers take, valid."""
    document = "<ofd>一份不在登记库中的文件</ofd>".encode()
    genuine = stamp(running, sm2_seal, document)
    parsed = SESSignature.load(genuine)
    parsed["to_sign"]["eseal"]["e_seal_info"]["es_id"] = "A" * 70_000
    long_code = parsed.dump(force=True)

    # a signer certified by a CA of its own, claiming a USCC of 70,000 characters, on a seal of that CA's maker
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("冒用制章中心", now - dt.timedelta(days=1), algorithm=SM2_SM3)
    maker_key, signer_key = Sm2Key.generate(), Sm2Key.generate()

    def certify(key: Sm2Key, uscc: str, seal_name: str) -> x509.Certificate:
        return ca.issue_seal_certificate(
            issuer_name="冒用单位",
            issuer_uscc=uscc,
            seal_name=seal_name,
            public_key=key.public_key_der,
            not_before=now - dt.timedelta(hours=1),
            not_after=now + dt.timedelta(days=30),
        )

    maker_cert = certify(maker_key, MARKET, SEAL_MAKER_NAME)
    signer_cert = certify(signer_key, "9" * 70_000, "电子证照专用章")
    seal = make_seal(
        maker_key=maker_key,
        maker_cert=maker_cert,
        es_id="37010000000001",
        name="冒用单位电子证照专用章",
        signer_certs=[signer_cert],
        created=now - dt.timedelta(hours=1),
        valid_start=now - dt.timedelta(hours=1),
        valid_end=now + dt.timedelta(days=30),
        picture=sm2_seal.image_png,
        picture_size_mm=(40, 40),
    )
    long_uscc = sign_document(document, seal=seal, key=signer_key, cert=signer_cert, at=now, property_info="x")

    service = running.gateway.verification
    assert service is not None
    (market,) = [m for m in running.gateway.members.list() if m.code == MARKET]
    for stamp_der, claimed in ((long_code, {}), (long_uscc, {"seal_code": "37010000000001"})):
        assert len(stamp_der) > 70_000
        answer = verify_stamp(running, document, stamp_der)
        report = answer.report
        assert report.verdict == FAILED and report.receipt.receipt_id
        assert len(report.receipt.statement) <= MAX_STATEMENT
        query = receipt_statement(running, report.receipt)["query"]
        assert query == {
            "by": "stamp",
            "document_sha256": hashlib.sha256(document).hexdigest(),
            "stamp_sha256": hashlib.sha256(stamp_der).hexdigest(),
            **claimed,
        }
        review = service.review_receipt(market, report.receipt.receipt_id)  # the console's 查验回执
        assert (review.check.result, review.check.reason) == (CheckResult.PASSED, None)
    refused = verify_stamp(running, document, long_code)
    assert (refused.report.reason, refused.report.integrity.reason, refused.es_id) == ("MALFORMED", "MALFORMED", "")
    assert f"the seal's code (esID) has 70000 characters; a seal code has at most {MAX_CODE}" in (
        refused.report.integrity.detail
    )


def test_a_stamped_license_document_follows_the_license_status(
    running: RunningGateway, sm2_seal: seal_pb2.Seal
) -> None:
    issued = issue(running, 31)  # its document is sealed with the newest seal that seals PDFs (not the SM2 one)
    pdf = document_of(running, issued.license.license_id).pdf
    stamp_der = stamp(running, sm2_seal, pdf)
    report = verify_stamp(running, pdf, stamp_der).report
    assert report.verdict == PASSED and report.license.license_id == issued.license.license_id
    change(running, issued.license.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    assert verify_stamp(running, pdf, stamp_der).report.status.reason == "REVOKED"
    # a department whose matter does not use the type learns nothing of it through a stamp either
    invoices = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="发票申领")
    with pytest.raises(grpc.RpcError) as caught:
        verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).VerifyStamp(
            verification_pb2.VerifyStampRequest(use=invoices, document=pdf, stamp=stamp_der)
        )
    assert error_details(caught.value)[1] == [("document", "NOT_USED_BY_MATTER")]


def stamped_at(running: RunningGateway, seal: seal_pb2.Seal, document: bytes, at: dt.datetime) -> bytes:
    """A stamp the seal's holder made with its own key, as its signing software would, stating ``at`` as its time."""
    service = running.gateway.seals
    assert service is not None
    return sign_document(
        document,
        seal=seal.ses_seal,
        key=service.key(service.get(seal.seal_id)),
        cert=x509.load_der_x509_certificate(seal.certificate_der),
        at=at,
        property_info="signing-software",
    )


@pytest.mark.parametrize("ahead", [dt.timedelta(days=300), dt.timedelta(days=3)], ids=["300 days", "3 days"])
def test_a_stamp_claiming_a_signing_time_to_come_fails_its_issuer_identity(
    running: RunningGateway, sm2_seal: seal_pb2.Seal, ahead: dt.timedelta
) -> None:
    """The signing time (timeInfo) is the signer's claim; one after now is false, whatever else the stamp gets right:
    check_stamp fails it, and so must VerifyStamp's report and its receipt, for any document."""
    registered = document_of(running, issue(running, 33).license.license_id).pdf
    for document in (registered, "<ofd>一份不在登记库中的文件</ofd>".encode()):
        stamp_der = stamped_at(running, sm2_seal, document, dt.datetime.now(dt.UTC) + ahead)
        answer = verify_stamp(running, document, stamp_der)
        report = answer.report
        assert (report.verdict, report.reason) == (FAILED, "SIGNING_TIME_IN_FUTURE")
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, "SIGNING_TIME_IN_FUTURE")
        assert "after now" in report.issuer_identity.detail
        assert report.integrity.result == PASSED and answer.es_id == sm2_seal.seal_id
        statement = receipt_statement(running, report.receipt)
        assert (statement["verdict"], statement["reason"]) == ("FAILED", "SIGNING_TIME_IN_FUTURE")
    assert report.status.reason == "NOT_A_REGISTERED_LICENSE"  # the last document is no license's

    now = verify_stamp(running, registered, stamped_at(running, sm2_seal, registered, dt.datetime.now(dt.UTC)))
    assert now.report.verdict == PASSED  # the same stamp at the present time passes


def test_sm2_record_seals_and_codes_verify(running: RunningGateway, sm2_seal: seal_pb2.Seal) -> None:
    license_id = batch_issue(running, 32)
    stored = running.gateway.issuance._get_stored(license_id)
    assert stored.seal.algorithm == SM2_SM3  # the newest seal seals the records
    assert verify(running, license_id=license_id).verdict == PASSED
    key = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    code = encode_qr(key, QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC)))
    report = verify(running, qr_code=code)
    assert report.verdict == PASSED and report.license.license_id == license_id


def test_each_seal_kind_refuses_the_other_form(running: RunningGateway, sm2_seal: seal_pb2.Seal) -> None:
    from tests.api.test_seals import license_pdf, register

    with pytest.raises(grpc.RpcError) as pdf_refused:
        seals(running).SealDocument(seal_pb2.SealDocumentRequest(seal_id=sm2_seal.seal_id, pdf=license_pdf(running)))
    assert pdf_refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(pdf_refused.value)[0].reason == "SM2_SEAL_NOT_FOR_PDF"
    ecdsa = register(running)
    with pytest.raises(grpc.RpcError) as stamp_refused:
        stamp(running, ecdsa, b"document")
    assert error_details(stamp_refused.value)[0].reason == "NOT_AN_SM2_SEAL"


def test_a_stamp_made_here_stays_passed_once_its_seal_is_revoked_one_without_a_timestamp_is_undecided(
    running: RunningGateway,
) -> None:
    """StampDocument's stamps carried no timestamp, so once their seal was revoked (even replaced, 换章) every one
    was INDETERMINATE / SIGNER_REVOKED_NO_TRUSTED_TIME for good, while a PDF sealed at the same moment stayed PASSED
    (a reviewer, R3). They carry the gateway TSA's token over their signature now, and are judged at its time; a
    stamp without one (the holder's own signing software, or made before) is undecided as before."""
    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="合同专用章", algorithm=SM2_SM3)
        )
        .seal
    )
    document = b"contract"
    stamp_der = stamp(running, seal, document)
    untimed = stamped_at(running, seal, document, dt.datetime.now(dt.UTC))
    assert SESSignature.load(stamp_der)["time_stamp"].native is not None
    assert verify_stamp(running, document, untimed).report.issuer_identity.result == PASSED
    seals(running).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章"))
    report = verify_stamp(running, document, stamp_der).report
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, "")
    assert (report.integrity.result, report.status.reason) == (PASSED, "NOT_A_REGISTERED_LICENSE")
    report = verify_stamp(running, document, untimed).report
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (
        INDETERMINATE,
        "SIGNER_REVOKED_NO_TRUSTED_TIME",
    )
    service = running.gateway.seals
    assert service is not None
    offline = check_stamp(
        stamp_der, document, trust_roots=service.trust_roots(), intermediates=service.intermediates(),
        crls=service.crls(),
    )  # fmt: skip
    assert (offline.result, offline.signing_time_trusted) == (CheckResult.PASSED, True)


def test_a_stamp_swapped_onto_another_stamps_timestamp_fails(running: RunningGateway, sm2_seal: seal_pb2.Seal) -> None:
    """A token is over one stamp's signature: moved to another stamp, it proves nothing of it (TIMESTAMP_INVALID), as
    a PDF seal's swapped token fails."""
    document = b"one document"
    first, second = stamp(running, sm2_seal, document), stamp(running, sm2_seal, document)
    swapped = SESSignature.load(second)
    swapped["time_stamp"] = SESSignature.load(first)["time_stamp"].native
    report = verify_stamp(running, document, swapped.dump(force=True)).report
    assert (report.verdict, report.issuer_identity.result, report.issuer_identity.reason) == (
        FAILED,
        FAILED,
        "TIMESTAMP_INVALID",
    )


def test_an_outside_tsa_timestamps_stamps_as_it_does_pdf_seals(tmp_path: Path) -> None:
    """With ZZGW_TSA_URL and ZZGW_TSA_ROOTS, StampDocument's token comes from that service, checked against its
    roots when stamping, and VerifyStamp trusts it through ZZGW_TSA_ROOTS: a stamp stays PASSED once its seal is
    replaced, as a PDF sealed then does. Without the roots nothing is stamped (TSA_UNAVAILABLE)."""
    from tests.api.test_documents import outside_tsa, outside_tsa_served

    outside, authority = outside_tsa(dt.datetime.now(dt.UTC))
    with outside_tsa_served(tmp_path, outside, authority.respond) as (url, roots):
        unnamed = conftest.start_gateway(tmp_path / "unnamed", f"sqlite:///{tmp_path / 'unnamed.db'}", tsa_url=url)
        gw = conftest.start_gateway(
            tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=url, tsa_roots=str(roots)
        )
        try:
            with pytest.raises(grpc.RpcError) as caught:
                stamp(unnamed, register_sm2_seal(unnamed), b"contract")
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
            assert "does not chain to a root trusted for timestamps" in caught.value.details()

            seal = register_sm2_seal(gw)
            document = b"contract"
            stamp_der = stamp(gw, seal, document)
            service = gw.gateway.seals
            assert service is not None
            token = cms.ContentInfo.load(SESSignature.load(stamp_der)["time_stamp"].native)
            names = [c.chosen.subject.native["common_name"] for c in token["content"]["certificates"]]
            assert "某省时间戳服务" in names  # the outside service's, not the gateway's own
            seals(gw).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章"))
            report = verify_stamp(gw, document, stamp_der).report
            assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, "")
            by_own_root = check_stamp(
                stamp_der, document, trust_roots=service.trust_roots(), intermediates=service.intermediates(),
                crls=service.crls(),
            )  # fmt: skip
            assert (by_own_root.result, by_own_root.reason) == (INDETERMINATE_RESULT, "SIGNER_REVOKED_NO_TRUSTED_TIME")
            assert by_own_root.timestamp.reason == "TIMESTAMP_UNTRUSTED"
        finally:
            gw.stop()
            unnamed.stop()


def test_a_stamp_by_another_departments_seal_stays_sealed_by_another_once_that_seal_is_revoked(
    running: RunningGateway,
) -> None:
    """CIVIL's seal on MARKET's license document is FAILED / SEALED_BY_ANOTHER, and stays so once CIVIL revokes that
    seal: the owner check had run only when the seal's own finding passed, so the revocation turned the stamp
    INDETERMINATE / SIGNER_REVOKED_NO_TRUSTED_TIME (a reviewer's R2). A FAILED finding outranks an INDETERMINATE one,
    as for QR codes."""
    civil = seal_pb2_grpc.SealServiceStub(running.channel(CIVIL))
    seal = civil.RegisterSeal(
        seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="合同专用章", algorithm=SM2_SM3)
    ).seal
    document = document_of(running, issue(running, 43).license.license_id).pdf  # MARKET's
    stamp_der = civil.StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=document)).stamp
    before = verify_stamp(running, document, stamp_der).report
    assert (before.verdict, before.issuer_identity.result, before.issuer_identity.reason) == (
        FAILED,
        FAILED,
        "SEALED_BY_ANOTHER",
    )
    civil.RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    after = verify_stamp(running, document, stamp_der).report
    assert (after.verdict, after.issuer_identity.result, after.issuer_identity.reason) == (
        FAILED,
        FAILED,
        "SEALED_BY_ANOTHER",
    )


def foreign_stamp(document: bytes, ca_name: str, issuer_uscc: str, issuer_name: str = "广州市市场监督管理局") -> bytes:
    """A GB/T 38540 stamp over ``document`` made under an SM2 seal-maker CA of its own (another deployment's, named
    ``ca_name``), for the issuer ``issuer_name`` of code ``issuer_uscc``."""
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create(ca_name, now - dt.timedelta(minutes=5), algorithm=SM2_SM3)
    maker_key, holder_key = Sm2Key.generate(), Sm2Key.generate()

    def certify(key: Sm2Key, seal_name: str) -> x509.Certificate:
        return ca.issue_seal_certificate(
            issuer_name=issuer_name,
            issuer_uscc=issuer_uscc,
            seal_name=seal_name,
            public_key=key.public_key_der,
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=30),
        )

    maker_cert, holder_cert = certify(maker_key, SEAL_MAKER_NAME), certify(holder_key, "电子证照专用章")
    seal = make_seal(
        maker_key=maker_key,
        maker_cert=maker_cert,
        es_id="44010000000001",
        name="广州市市场监督管理局电子证照专用章",
        signer_certs=[holder_cert],
        created=now - dt.timedelta(minutes=5),
        valid_start=now - dt.timedelta(minutes=5),
        valid_end=now + dt.timedelta(days=30),
        picture=draw_seal("广州市市场监督管理局", "电子证照专用章"),
        picture_size_mm=(40, 40),
    )
    return sign_document(document, seal=seal, key=holder_key, cert=holder_cert, at=now, property_info="x")


def test_a_stamp_of_another_registrys_seal_maker_is_undecided_as_its_identifier_is(running: RunningGateway) -> None:
    """跨省通办: a stamp made under another deployment's SM2 seal maker for an issuer that is no department here (no
    member, or a partner gateway that issues nothing) is INDETERMINATE / NOT_IN_THIS_REGISTRY, as the same license's
    PDF, identifier or code is: it had been a signed FAILED / MAKER_UNTRUSTED_ROOT (a reviewer of the partner role,
    R2). A look-alike of this gateway's SM2 seal maker stays FAILED / MAKER_LOOKALIKE_CA, and an untrusted stamp in
    the name of a department of this gateway FAILED / MAKER_UNTRUSTED_ROOT."""
    document = b"%PDF-1.7 another region's license document " + uuid.uuid4().bytes
    guangzhou = samples.uscc(903, region="440100")  # a Guangzhou one: no member here
    partner = "11440100994401010G"  # 广州市政务服务和数据管理局: a partner gateway that issues nothing
    theirs = "zzgw 制章者 (seal maker) 4B5C6D"
    for issuer in (guangzhou, partner):
        report = verify_stamp(running, document, foreign_stamp(document, theirs, issuer)).report
        assert (report.verdict, report.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY"), issuer
        assert (report.integrity.result, report.status.reason) == (PASSED, "NOT_IN_THIS_REGISTRY")
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY")
        assert issuer in report.status.detail and issuer in report.issuer_identity.detail
        statement = receipt_statement(running, report.receipt)
        assert (statement["verdict"], statement["reason"]) == ("INDETERMINATE", "NOT_IN_THIS_REGISTRY")
    assert running.gateway.seals is not None and running.gateway.seals.sm2_ca is not None
    root = running.gateway.seals.sm2_ca.root.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    ours = str(root).removesuffix(" Seal Root CA")
    for ca_name, issuer, reason in ((ours, guangzhou, "MAKER_LOOKALIKE_CA"), (theirs, MARKET, "MAKER_UNTRUSTED_ROOT")):
        report = verify_stamp(running, document, foreign_stamp(document, ca_name, issuer)).report
        assert (report.verdict, report.reason, report.issuer_identity.reason) == (FAILED, reason, reason), issuer
        assert report.status.reason == "NOT_A_REGISTERED_LICENSE"


def test_a_forged_stamp_naming_a_department_here_in_another_form_stays_failed(running: RunningGateway) -> None:
    """As for a sealed PDF: an untrusted stamp is another registry's (INDETERMINATE / NOT_IN_THIS_REGISTRY) only when
    its signer certificate's organizationIdentifier is exactly a well-formed USCC, of no member nor of a region this
    gateway's departments are in, and its organisation is no member's name. A forger's own SM2 seal maker certifying
    济南市市场监督管理局 with its USCC in lower case, with a space or zero-width character, a made-up code, another
    region's valid USCC, or a Jinan USCC of no member, got the amber verdict (a reviewer, fixrevpa R1): each is FAILED
    / MAKER_UNTRUSTED_ROOT, as the exact code is. Another region's department stays INDETERMINATE."""
    document = b"%PDF-1.7 a forged license document " + uuid.uuid4().bytes
    theirs = "zzgw 制章者 (seal maker) 4B5C6D"
    guangzhou = samples.uscc(904, region="440100")
    jinan = samples.uscc(904, region="370100")
    market = "济南市市场监督管理局"
    forged = [
        (market, MARKET),
        (market, MARKET.lower()),
        (market, MARKET + " "),
        (market, MARKET + "\u200b"),
        (market, "FORGED"),
        (market, guangzhou),
        ("济南市市场监督管理局\u3000", guangzhou),
        ("济南市农业农村局", jinan),
    ]
    for name, uscc in forged:
        report = verify_stamp(running, document, foreign_stamp(document, theirs, uscc, name)).report
        assert (report.verdict, report.reason) == (FAILED, "MAKER_UNTRUSTED_ROOT"), (name, uscc)
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (FAILED, "MAKER_UNTRUSTED_ROOT")
        assert report.status.reason == "NOT_A_REGISTERED_LICENSE"
        statement = receipt_statement(running, report.receipt)
        assert (statement["verdict"], statement["reason"]) == ("FAILED", "MAKER_UNTRUSTED_ROOT")
    report = verify_stamp(running, document, foreign_stamp(document, theirs, guangzhou)).report
    assert (report.verdict, report.reason) == (INDETERMINATE, "NOT_IN_THIS_REGISTRY")
    assert receipt_statement(running, report.receipt)["query"]["signer_uscc"] == guangzhou


def test_an_sm2_seals_revocation_is_published_with_the_sm2_seal_makers_trust_material(
    running: RunningGateway, sm2_seal: seal_pb2.Seal
) -> None:
    """What the gateway serves over HTTP is enough to check a stamp offline: the SM2 seal maker's root and
    intermediate, and its CRL, signed SM3withSM2 by the intermediate, on which RevokeSeal puts an SM2 seal; and, for
    the stamp's timestamp (a reviewer, R3), the root its TSA chains to (the seal-maker root) and that CA's CRL."""
    revoked = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="合同专用章", algorithm=SM2_SM3)
        )
        .seal
    )
    document = b"<ofd>contract</ofd>"
    stamps = {seal.seal_id: stamp(running, seal, document) for seal in (revoked, sm2_seal)}
    seals(running).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=revoked.seal_id, reason="印章遗失", crl_reason="key_compromise")
    )
    with http_side(running) as base:
        served = {
            path: urllib.request.urlopen(f"{base}{path}", timeout=10).read()
            for path in (
                "/certificates/seal-maker-sm2-root.pem",
                "/certificates/seal-maker-sm2-intermediate.pem",
                SM2_CRL_PATH,
                "/certificates/seal-maker-root.pem",
                "/crl/seal-maker.crl",
            )
        }
    root = x509.load_pem_x509_certificate(served["/certificates/seal-maker-sm2-root.pem"])
    intermediate = x509.load_pem_x509_certificate(served["/certificates/seal-maker-sm2-intermediate.pem"])
    assert signed_by(root, root) and signed_by(intermediate, root)
    assert x509.load_der_x509_certificate(revoked.certificate_der).issuer == intermediate.subject

    crl = x509.load_der_x509_crl(served[SM2_CRL_PATH])
    assert crl.signature_algorithm_oid.dotted_string == SM3_WITH_SM2 and crl.issuer == intermediate.subject
    verify_sm2(public_key_der(intermediate), crl.tbs_certlist_bytes, crl.signature)
    independent = gmssl_sm2.CryptSM2(private_key="", public_key="", asn1=True)
    independent.public_key = public_key_der(intermediate)[-64:].hex()  # x || y, past gmssl's lstrip("04")
    assert independent.verify_with_sm3(crl.signature.hex(), crl.tbs_certlist_bytes)
    assert not independent.verify_with_sm3(crl.signature.hex(), crl.tbs_certlist_bytes + b"\x00")
    entry = crl.get_revoked_certificate_by_serial_number(
        x509.load_der_x509_certificate(revoked.certificate_der).serial_number
    )
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise

    tsa_root = x509.load_pem_x509_certificate(served["/certificates/seal-maker-root.pem"])

    def offline(seal: seal_pb2.Seal, *, timestamps: bool = True) -> SesVerification:
        crls = [served[SM2_CRL_PATH], served["/crl/seal-maker.crl"]]
        return check_stamp(
            stamps[seal.seal_id], document, trust_roots=[root], intermediates=[intermediate], crls=crls,
            tsa_trust_roots=[tsa_root] if timestamps else [root],
        )  # fmt: skip

    assert offline(sm2_seal).result is CheckResult.PASSED
    assert offline(revoked).signing_time_trusted  # its timestamp says it was made before the revocation
    identity = offline(revoked).issuer_identity
    assert (identity.result, identity.reason) == (CheckResult.PASSED, None)
    # without the timestamp's root, the time is the signer's claim, as for a PDF seal
    assert (offline(sm2_seal, timestamps=False).reason) == "TIMESTAMP_UNTRUSTED"
    identity = offline(revoked, timestamps=False).issuer_identity
    assert (identity.result, identity.reason) == (CheckResult.INDETERMINATE, "SIGNER_REVOKED_NO_TRUSTED_TIME")


def test_stamp_requests_without_a_document_or_stamp_are_refused(
    running: RunningGateway, sm2_seal: seal_pb2.Seal
) -> None:
    with pytest.raises(grpc.RpcError) as no_document:
        stamp(running, sm2_seal, b"")
    assert no_document.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("document", "REQUIRED") in error_details(no_document.value)[1]
    for document, stamp_der, field in ((b"", b"x", "document"), (b"x", b"", "stamp")):
        with pytest.raises(grpc.RpcError) as caught:
            verify_stamp(running, document, stamp_der)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (field, "REQUIRED") in error_details(caught.value)[1]


@pytest.fixture
def without_sm2(running: RunningGateway, monkeypatch: pytest.MonkeyPatch) -> Callable[[seal_pb2.Seal], None]:
    """Called with a seal: from then on, as `zzgw serve` where the system OpenSSL has no SM2 (FIPS, another host):
    no SM2 seal maker, and an SM2 key (the seal's, not loaded yet: a fresh process) that cannot be loaded."""
    import signing.sm2

    service = running.gateway.seals
    assert service is not None

    def no_sm2() -> signing.sm2.Libcrypto:
        raise signing.sm2.Sm2Unavailable("'libcrypto.so.3' offers no SM2 or SM3 (built without them, or FIPS only)")

    def go(seal: seal_pb2.Seal) -> None:
        monkeypatch.setattr(service, "_sm2", None)
        monkeypatch.setattr(signing.sm2, "library", no_sm2)
        service._keys.forget(f"seal{seal.seal_id}")

    return go


def test_an_sm2_seal_is_revoked_where_openssl_has_no_sm2(
    running: RunningGateway, without_sm2: Callable[[seal_pb2.Seal], None]
) -> None:
    """A security officer revokes a leaked SM2 seal through any gateway process: it had been INTERNAL (an
    AssertionError) where there is no SM2 seal maker (a reviewer's R3). The store records it; a process with SM2
    puts it on the SM2 CRL and in its CA's record from the store."""
    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="合同专用章", algorithm=SM2_SM3)
        )
        .seal
    )
    without_sm2(seal)
    revoked = seals(running).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露")).seal
    assert revoked.status == seal_pb2.SEAL_STATUS_REVOKED
    assert seals(running).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal.status == revoked.status


def test_stamping_and_issuing_with_an_sm2_seal_where_openssl_has_no_sm2_say_so(
    running: RunningGateway, without_sm2: Callable[[seal_pb2.Seal], None]
) -> None:
    """StampDocument, and IssueLicense of an issuer whose newest seal is SM2, had been INTERNAL with a traceback:
    FAILED_PRECONDITION / SM2_UNAVAILABLE, naming what is missing."""
    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="审批专用章", algorithm=SM2_SM3)
        )
        .seal
    )  # MARKET's newest seal: it seals MARKET's records
    without_sm2(seal)
    for call in (
        lambda: seals(running).StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=b"doc")),
        lambda: issue(running, 44),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(caught.value)[0].reason == "SM2_UNAVAILABLE"
        assert "SM2" in caught.value.details() and "OpenSSL" in caught.value.details()


def test_an_sm2_code_where_openssl_has_no_sm2_says_so(
    running: RunningGateway, without_sm2: Callable[[seal_pb2.Seal], None]
) -> None:
    """A validly signed code of an SM2 seal (no gateway draws one: an SM2 seal seals no PDF, so the code is made here
    with the record key), scanned on a process whose OpenSSL has no SM2: the code cannot be checked there, so
    FAILED_PRECONDITION / SM2_UNAVAILABLE as for stamping and issuing, not a verdict either way. It had been INTERNAL
    with a traceback (a reviewer's R1)."""
    import signing.sm2

    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="证照核验专用章", algorithm=SM2_SM3)
        )
        .seal
    )  # MARKET's newest seal: it seals MARKET's records (its codes are drawn by its ECDSA seal)
    license_id = batch_issue(running, 45)
    stored = running.gateway.issuance._get_stored(license_id)
    key = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    assert key.algorithm == SM2_SM3
    code = encode_qr(key, QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC)))
    assert verify(running, qr_code=code).verdict == PASSED
    without_sm2(seal)
    signing.sm2._public_key.cache_clear()  # a fresh process has parsed no SM2 key
    with pytest.raises(grpc.RpcError) as caught:
        verify(running, qr_code=code)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "SM2_UNAVAILABLE"
    assert "SM2" in caught.value.details() and "OpenSSL" in caught.value.details()


def _as_a_process_started_now(running: RunningGateway) -> None:
    """Forget what this process learnt while it had SM2: the seals' chain checks, the records checked, the signatures
    verified, the CRLs and the SM2 keys parsed (a process started where OpenSSL has no SM2 has none of them)."""
    import signing.sm2

    verification = running.gateway.verification
    verification._checked.clear()
    verification._known_seals.clear()
    verification._verified = type(verification._verified)(100)
    verification._crls = None
    signing.sm2._public_key.cache_clear()


def test_an_sm2_stamp_where_openssl_has_no_sm2_says_so(
    running: RunningGateway, without_sm2: Callable[[seal_pb2.Seal], None]
) -> None:
    """A stamp is signed SM2 by its seal and its seal by the SM2 seal maker: a process without SM2 can check neither,
    so VerifyStamp is FAILED_PRECONDITION / SM2_UNAVAILABLE, as StampDocument is. It had been INTERNAL with a
    traceback, and FAILED / MAKER_UNTRUSTED_ROOT once the stamp's key had been parsed (a reviewer's R1)."""
    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="合同专用章", algorithm=SM2_SM3)
        )
        .seal
    )
    document = "<ofd>合同</ofd>".encode()
    stamp_der = stamp(running, seal, document)
    assert verify_stamp(running, document, stamp_der).report.issuer_identity.result == PASSED
    without_sm2(seal)
    for started_now in (False, True):
        if started_now:
            _as_a_process_started_now(running)
        with pytest.raises(grpc.RpcError) as caught:
            verify_stamp(running, document, stamp_der)
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION, started_now
        assert error_details(caught.value)[0].reason == "SM2_UNAVAILABLE"
        assert "SM2" in caught.value.details() and "OpenSSL" in caught.value.details()


def test_a_license_an_sm2_seal_sealed_where_openssl_has_no_sm2_is_indeterminate(
    running: RunningGateway, without_sm2: Callable[[seal_pb2.Seal], None]
) -> None:
    """VerifyLicense by identifier of a genuine license whose record an SM2 seal sealed, on a process without SM2: the
    record is vouched for by the gateway's memo, but the seal's SM3withSM2 chain cannot be checked there, so the
    issuer identity is INDETERMINATE / SM2_UNAVAILABLE. It had been FAILED / UNTRUSTED_ROOT, which tells a department
    to reject a genuine license (a reviewer's R1)."""
    seal = (
        seals(running)
        .RegisterSeal(
            seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="证照专用章", algorithm=SM2_SM3)
        )
        .seal
    )  # MARKET's newest seal: it seals MARKET's records
    license_id = batch_issue(running, 48)
    assert running.gateway.issuance._get_stored(license_id).seal.algorithm == SM2_SM3
    assert verify(running, license_id=license_id).verdict == PASSED
    without_sm2(seal)
    _as_a_process_started_now(running)
    report = verify(running, license_id=license_id)
    assert report.verdict == INDETERMINATE
    assert report.integrity.result == PASSED and report.status.result == PASSED
    assert (report.issuer_identity.result, report.issuer_identity.reason) == (INDETERMINATE, "SM2_UNAVAILABLE")
    assert "SM2" in report.issuer_identity.detail


@pytest.mark.parametrize("backend", backend_params())
def test_an_sm2_seal_made_by_a_maker_revoked_since_is_said_by_init_and_stamps_no_more(
    backend: str, tmp_path: Path
) -> None:
    """After the leak procedure of the SM2 seal maker's key, a seal made before keeps the revoked maker's certificate
    in its SES_Seal (a reviewer, R1): StampDocument had gone on making stamps that every check FAILED
    (MAKER_REVOKED), without a word. Init names the seal, StampDocument refuses it, and a seal registered since
    stamps."""
    with fresh_database(backend, tmp_path) as url:
        data = tmp_path / "var"
        settings = conftest._gateway_settings(data, url, {})
        initialise(settings)
        before = conftest._serve(settings, None)
        try:
            old = register_sm2_seal(before)
            assert stamp(before, old, b"before")
        finally:
            before.stop()
        sm2 = data / "seal-ca-sm2"
        path = sm2 / "revocations.json"
        state = json.loads(path.read_text(encoding="utf-8"))
        maker = x509.load_pem_x509_certificate((sm2 / "maker.pem").read_bytes()).serial_number
        leaked_at = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
        state["revocations"].append(
            {"serial": openssl_serial(maker), "reason": "keyCompromise", "revoked_at": leaked_at}
        )
        path.write_text(json.dumps(state), encoding="utf-8")
        aside = tmp_path / "aside"
        aside.mkdir()
        for moved in (data / "keys" / "sm2maker.key.pem", sm2 / "maker.pem"):
            shutil.move(moved, aside / moved.name)
        report = initialise(settings)
        assert report.seals_of_revoked_maker == (f"{old.seal_id} of {MARKET}",)
        running = conftest._serve(settings, None)
        try:
            with pytest.raises(grpc.RpcError) as refused:
                stamp(running, old, b"after")
            assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert error_details(refused.value)[0].reason == "SEAL_MAKER_REVOKED"
            assert "register a new SM2 seal" in refused.value.details()
            new = register_sm2_seal(running)
            report_new = verify_stamp(running, b"after", stamp(running, new, b"after")).report
            assert report_new.issuer_identity.result == PASSED, report_new.issuer_identity
        finally:
            running.stop()


def test_a_document_larger_than_any_stamp_covers_is_refused_by_verify_stamp(tmp_path: Path) -> None:
    """StampDocument stamps at most MAX_STAMPED_BYTES; VerifyStamp hashed a document of any size the message limit
    let in (60 MiB: 6 s on a handler thread, twice) and signed a receipt for it, where no stamp of the gateway can
    cover it (a reviewer, stamps R5). Refused as StampDocument refuses it, INVALID_ARGUMENT / TOO_LARGE; one of
    exactly that size is checked. On SQLite alone: the limit does not depend on the store."""
    with fresh_database("sqlite", tmp_path) as url:
        gateway = conftest.start_gateway(tmp_path / "var", url, max_message_bytes=MAX_STAMPED_BYTES + 2 * 1024 * 1024)
        try:
            seal = register_sm2_seal(gateway)
            stamp_der = stamp(gateway, seal, b"<ofd/>")
            too_large = b" " * (MAX_STAMPED_BYTES + 1)
            for call in (lambda: stamp(gateway, seal, too_large), lambda: verify_stamp(gateway, too_large, stamp_der)):
                with pytest.raises(grpc.RpcError) as caught:
                    call()
                assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                assert error_details(caught.value)[1] == [("document", "TOO_LARGE")]
            largest = verify_stamp(gateway, too_large[:-1], stamp_der).report
            assert (largest.verdict, largest.integrity.reason) == (FAILED, "DATA_HASH_MISMATCH")
        finally:
            gateway.stop()
