"""Verification records name the license's co-subjects, over real gRPC on SQLite and PostgreSQL: a 结婚证 verified by
its identifier, its number, its printed code, its PDF, a claim of it and a case's listing of its receipt are on the
wife's access log (its 女方身份证件号 states her) as on the husband's, the holder's; so are refusals naming it.

Journey 3 (a black-box tester): 不动产登记中心 verified the husband's 结婚证 by QR and by PDF; the husband's holder
view listed both, the wife's only the issuer's read. A license naming no one (a 营业执照) writes no subject row, and its
co-subjects are found once, when the license is checked, never on a warm verification (ADR 0005)."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import grpc
import pytest
from sqlalchemy import text

from gateway.services import verification as verification_module
from protos.zzgw.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    authorization_pb2,
    issuance_pb2,
    seal_pb2,
    seal_pb2_grpc,
    sharing_pb2,
    verification_pb2,
    verification_pb2_grpc,
)
from signing.keys import SM2_SM3
from signing.qr import QrClaims, encode_qr
from tests.api.test_co_subjects import but_whose, couple, log_of, person
from tests.api.test_sharing import BDCZY, FPSL, REAL_ESTATE, authorization, business_license, sharing
from tests.conftest import (
    ADMIN,
    BUSINESS_LICENSE,
    CIVIL,
    MARKET,
    MARRIAGE,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    case_number,
    error_details,
    settle,
    trail_rows,
)

MEDICAL = "1137010099370110X6"  # 济南市医疗保障局: 参保登记, a later matter of 新生儿出生一件事


def verifier(running: RunningGateway, member: str = REAL_ESTATE) -> verification_pb2_grpc.VerificationServiceStub:
    return verification_pb2_grpc.VerificationServiceStub(running.channel(member))


def qr_of(running: RunningGateway, license_id: str, issuer: str) -> str:
    """The license's printed code (ZZ1:), as its issuer's record seal makes it."""
    stored = running.gateway.issuance._get_stored(license_id)
    seals = running.gateway.seals
    assert seals is not None
    return encode_qr(seals.record_key(issuer), QrClaims.of(stored.content, issued_at=dt.datetime.now(dt.UTC)))


def number_of(running: RunningGateway, license_id: str) -> str:
    return running.gateway.issuance._get_stored(license_id).content.license_number


def subject_rows(running: RunningGateway, receipt_ids: list[str]) -> dict[str, list[str]]:
    """The co-subjects stored for the access records of ``receipt_ids``, by receipt."""
    query = text(
        "SELECT r.receipt_id, s.subject_code FROM access_records r "
        "JOIN access_record_subjects s ON s.seq = r.seq WHERE r.receipt_id = :receipt"
    )
    found: dict[str, list[str]] = {}
    with running.gateway.db.engine.connect() as connection:
        for receipt in receipt_ids:
            for receipt_id, code in connection.execute(query, {"receipt": receipt}).all():
                found.setdefault(receipt_id, []).append(code)
    return found


def audit_ok(running: RunningGateway) -> bool:
    admin = audit_pb2_grpc.AuditServiceStub(running.channel(ADMIN))
    return admin.VerifyAuditLog(audit_pb2.VerifyAuditLogRequest()).ok


def test_the_wife_lists_every_verification_of_her_husbands_marriage_certificate(running: RunningGateway) -> None:
    husband, wife, license_id = couple(running)
    pdf = running.issuance(CIVIL).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)).pdf
    stub = verifier(running)
    answered = {}
    by_id = verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id)
    answered["id"] = stub.VerifyLicense(by_id).report  # the day's first check: the outcome is kept
    answered["id, warm"] = stub.VerifyLicense(by_id).report  # the kept outcome
    answered["number"] = stub.VerifyLicense(
        verification_pb2.VerifyLicenseRequest(
            use=BDCZY, type_code=MARRIAGE, license_number=number_of(running, license_id)
        )
    ).report
    answered["qr"] = stub.VerifyLicense(
        verification_pb2.VerifyLicenseRequest(use=BDCZY, qr_code=qr_of(running, license_id, CIVIL))
    ).report
    document = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=BDCZY, pdf=pdf))
    assert document.registered_document
    answered["pdf"] = document.report
    for way, report in answered.items():
        assert (report.verdict, report.license.license_id) == (verification_pb2.CHECK_RESULT_PASSED, license_id), way
    claim = stub.CheckClaim(
        verification_pb2.CheckClaimRequest(
            use=BDCZY,
            type_code=MARRIAGE,
            holder_code=husband,
            license_number=number_of(running, license_id),
            fields={"wife_citizen_id": wife},  # a claim may confirm her number, though none is returned
        )
    )
    assert claim.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    unknown = stub.CheckClaim(  # a claim that finds no license names no one
        verification_pb2.CheckClaimRequest(
            use=BDCZY, type_code=MARRIAGE, holder_code=husband, license_number="J370102-2019-NONE"
        )
    )

    receipts = [r.receipt.receipt_id for r in answered.values()] + [claim.receipt.receipt_id]
    named = [r for r in log_of(running, wife, limit=100).records if r.receipt_id]
    assert [r.receipt_id for r in named] == receipts[::-1]  # newest first
    assert [(r.action, r.license_id) for r in named] == [
        ("CHECK_CLAIM", license_id),
        ("VERIFY_DOCUMENT", license_id),
        *[("VERIFY_LICENSE", license_id)] * 4,
    ]
    for record in named:  # who looked, when, why and under which receipt: as the holder sees it
        assert (record.caller, record.caller_name, record.matter_code, record.purpose) == (
            REAL_ESTATE,
            "济南市不动产登记中心",
            BDCZY.matter_code,
            BDCZY.purpose,
        )
        assert record.at.seconds > 0
    held = {r.seq: r for r in log_of(running, husband, limit=100).records}
    # the husband's log has the same records, the same fields but whose they are (his, naming her)
    assert but_whose(held[r.seq] for r in named) == but_whose(named)
    assert {held[r.seq].relation for r in named} == {"HOLDER"} and {r.relation for r in named} == {"CO_SUBJECT"}
    assert unknown.receipt.receipt_id not in {r.receipt_id for r in held.values()}
    assert subject_rows(running, [*receipts, unknown.receipt.receipt_id]) == {r: [wife] for r in receipts}
    assert audit_ok(running)


def test_a_case_listing_of_the_certificates_receipt_is_on_her_log(running: RunningGateway) -> None:
    """新生儿出生一件事: 公安 verifies the parents' 结婚证 for 出生登记, and a listing of the case under 出生登记 names
    it, on her log. 医保 (参保登记, the same case) has no need of a 结婚证: it is not given its receipt, and nothing
    naming it goes on her log (it had been told the certificate's standing as often as it asked; a privacy tester)."""
    _, wife, license_id = couple(running)
    case = case_number("XSECS")
    first = verification_pb2.UseContext(
        matter_code="370100-CSDJ-001", purpose="出生登记", bundle_code="370100-YJS-XSECS", case_id=case
    )
    police = verifier(running, POLICE)
    report = police.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id)).report
    listed = police.ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=first))
    assert [r.receipt.receipt_id for r in listed.receipts] == [report.receipt.receipt_id]
    named = log_of(running, wife).records
    assert [(r.action, r.caller, r.matter_code, r.license_id, r.receipt_id) for r in named[:2]] == [
        ("LIST_CASE_RECEIPTS", POLICE, first.matter_code, license_id, ""),
        ("VERIFY_LICENSE", POLICE, first.matter_code, license_id, report.receipt.receipt_id),
    ]
    later = verification_pb2.UseContext(
        matter_code="370100-CBDJ-001", purpose="参保登记", bundle_code="370100-YJS-XSECS", case_id=case
    )
    assert not verifier(running, MEDICAL).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=later)).receipts
    assert log_of(running, wife).records == named
    assert audit_ok(running)


def test_refusals_naming_the_certificate_are_on_her_log(running: RunningGateway) -> None:
    """As the sharing refusals are: another department's matter (NOT_MATTER_DEPARTMENT), and a matter that uses no
    结婚证 (NOT_USED_BY_MATTER), by identifier, by printed code and by a claim of its number."""
    husband, wife, license_id = couple(running)
    code = qr_of(running, license_id, CIVIL)
    calls = [
        (
            TAX,
            BDCZY,
            lambda stub, use: stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id)),
        ),
        (TAX, FPSL, lambda stub, use: stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, qr_code=code))),
        (
            TAX,
            FPSL,
            lambda stub, use: stub.CheckClaim(
                verification_pb2.CheckClaimRequest(
                    use=use, type_code=MARRIAGE, holder_code=husband, license_number=number_of(running, license_id)
                )
            ),
        ),
    ]
    for member, use, call in calls:
        with pytest.raises(grpc.RpcError) as refused:
            call(verifier(running, member), use)
        assert refused.value.code() in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT)
        assert error_details(refused.value)[0].reason or error_details(refused.value)[1]
    named = [(r.action, r.caller, r.decision, r.reason, r.license_id) for r in log_of(running, wife).records]
    assert named == [
        ("CHECK_CLAIM", TAX, "DENIED", "NOT_USED_BY_MATTER", license_id),
        ("VERIFY_LICENSE", TAX, "DENIED", "NOT_USED_BY_MATTER", license_id),
        ("VERIFY_LICENSE", TAX, "DENIED", "NOT_MATTER_DEPARTMENT", license_id),
    ]
    assert [r.seq for r in log_of(running, husband).records] == [r.seq for r in log_of(running, wife).records]
    assert audit_ok(running)


def subject_row_count(running: RunningGateway) -> int:
    with running.gateway.db.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM access_record_subjects")).scalar_one())


@pytest.mark.usefixtures("steady_caches")
def test_a_license_naming_no_one_writes_no_subject_row(running: RunningGateway) -> None:
    """A 营业执照 verified every way, and a claim of it: no row in ``access_record_subjects``."""
    license_id, uscc = business_license(running)
    pdf = running.issuance(MARKET).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)).pdf
    settle(running)  # the issue heard before the license is cached, not after
    before = subject_row_count(running)
    stub = verifier(running, TAX)
    by_id = verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=license_id)
    number = number_of(running, license_id)
    reports = [
        stub.VerifyLicense(by_id).report,
        stub.VerifyLicense(by_id).report,  # warm
        stub.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=FPSL, qr_code=qr_of(running, license_id, MARKET))
        ).report,
        stub.VerifyLicense(
            verification_pb2.VerifyLicenseRequest(use=FPSL, type_code=BUSINESS_LICENSE, license_number=number)
        ).report,
        stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=pdf)).report,
    ]
    assert {r.verdict for r in reports} == {verification_pb2.CHECK_RESULT_PASSED}
    claim = stub.CheckClaim(
        verification_pb2.CheckClaimRequest(
            use=FPSL, type_code=BUSINESS_LICENSE, holder_code=uscc, license_number=number
        )
    )
    assert claim.result == verification_pb2.CLAIM_RESULT_CORRECT_AND_VALID
    receipts = [r.receipt.receipt_id for r in reports] + [claim.receipt.receipt_id]
    assert all(len(trail_rows(running, "seq", "receipt_id = :r", r=receipt)) == 1 for receipt in receipts)
    assert subject_rows(running, receipts) == {}
    assert subject_row_count(running) == before
    checked = running.gateway.verification._checked[license_id]  # type: ignore[union-attr]
    assert checked.subjects == () and checked.today is not None and checked.today[2].subjects == ()
    assert audit_ok(running)


@pytest.mark.usefixtures("steady_caches")
def test_co_subjects_are_found_once_with_the_check_not_on_each_verification(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm path (ADR 0005): a cached license's co-subjects are kept with its check and its day's outcome; a
    verification of it looks nothing up for them, on the handler thread or in the group commit."""
    _, wife, license_id = couple(running)
    settle(running)  # the issue heard before the license is cached, not after (it would be read again)
    looked: list[str] = []
    real = verification_module.license_subjects

    def counted(license, catalog):  # type: ignore[no-untyped-def]
        looked.append(license.license_id)
        return real(license, catalog)

    monkeypatch.setattr(verification_module, "license_subjects", counted)
    stub = verifier(running)
    request = verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id)
    receipts = [stub.VerifyLicense(request).report.receipt.receipt_id for _ in range(4)]
    assert looked == [license_id]  # once, when the license was read and checked
    checked = running.gateway.verification._checked[license_id]  # type: ignore[union-attr]
    assert checked.subjects == (wife,) and checked.today is not None and checked.today[2].subjects == (wife,)
    assert subject_rows(running, receipts) == {r: [wife] for r in receipts}
    business, _ = business_license(running)
    verifier(running, TAX).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=FPSL, license_id=business))
    assert looked == [license_id]  # a type with no field naming another person is not looked into


def test_a_stamp_on_the_certificates_document_is_on_her_log(running: RunningGateway) -> None:
    """VerifyStamp of a GB/T 38540 stamp over the 结婚证's registered document names the license, and her. Last in
    this module: the 民政局's new SM2 seal seals its records from now on."""
    _, wife, license_id = couple(running)
    pdf = running.issuance(CIVIL).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id)).pdf
    civil_seals = seal_pb2_grpc.SealServiceStub(running.channel(CIVIL))
    seal = civil_seals.RegisterSeal(
        seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="电子证照专用章", algorithm=SM2_SM3)
    ).seal
    stamp = civil_seals.StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=pdf)).stamp
    report = verifier(running).VerifyStamp(verification_pb2.VerifyStampRequest(use=BDCZY, document=pdf, stamp=stamp))
    assert report.report.license.license_id == license_id
    (record,) = [r for r in log_of(running, wife).records if r.action == "VERIFY_STAMP"]
    assert (record.caller, record.license_id, record.receipt_id) == (
        REAL_ESTATE,
        license_id,
        report.report.receipt.receipt_id,
    )
    assert subject_rows(running, [record.receipt_id]) == {record.receipt_id: [wife]}
    assert audit_ok(running)


def name_a_stranger(running: RunningGateway, license_id: str) -> str:
    """Change the 结婚证's 女方身份证件号 in the store, behind the gateway's back, to a stranger's; returns the
    stranger's code."""
    stranger, _ = person()
    with running.gateway.db.engine.begin() as connection:
        stored = connection.execute(
            text("SELECT fields FROM licenses WHERE license_id = :id"), {"id": license_id}
        ).scalar_one()
        fields = json.loads(stored) if isinstance(stored, str) else dict(stored)
        fields["wife_citizen_id"] = stranger
        value = "CAST(:f AS json)" if running.gateway.db.dialect == "postgresql" else ":f"
        connection.execute(
            text(f"UPDATE licenses SET fields = {value} WHERE license_id = :id"),
            {"f": json.dumps(fields, ensure_ascii=False), "id": license_id},
        )
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    return stranger


def test_refusals_reads_and_requests_naming_an_altered_record_name_no_co_subject(running: RunningGateway) -> None:
    """As a verification of it: a refusal for another department's matter or a matter that uses no 结婚证, a read of
    its data (refused: the record fails its seal) and an access request naming it are on the husband's log, never
    on the stranger's the altered record names (nor on the real wife's: the record no longer says who she is)."""
    husband, wife, license_id = couple(running)
    stranger = name_a_stranger(running, license_id)
    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=BDCZY.purpose)
    for member, context in ((TAX, use), (TAX, FPSL)):  # NOT_MATTER_DEPARTMENT, NOT_USED_BY_MATTER
        with pytest.raises(grpc.RpcError):
            verifier(running, member).VerifyLicense(
                verification_pb2.VerifyLicenseRequest(use=context, license_id=license_id)
            )
    with pytest.raises(grpc.RpcError) as refused:
        sharing(running, REAL_ESTATE).GetLicenseData(sharing_pb2.GetLicenseDataRequest(use=use, license_id=license_id))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    authorization(running, REAL_ESTATE).RequestAccess(
        authorization_pb2.RequestAccessRequest(
            use=use, license_id=license_id, fields=["wife_citizen_id"], duration_days=5
        )
    )
    held = [(r.action, r.decision) for r in log_of(running, husband).records]
    assert held[:4] == [
        ("REQUEST_ACCESS", "SUBMITTED"),
        ("GET_LICENSE_DATA", "DENY"),
        ("VERIFY_LICENSE", "DENIED"),
        ("VERIFY_LICENSE", "DENIED"),
    ]
    assert list(log_of(running, stranger).records) == []
    assert list(log_of(running, wife).records) == []


def test_a_status_changed_behind_the_gateways_back_keeps_her_on_the_log(running: RunningGateway) -> None:
    """Found in review: the refusals' co-subjects had been judged by the whole record check (seal, status memo, trust),
    a verification's by the seal alone, so a status edited in the store took the wife off the log of refusals and
    reads naming her sealed 结婚证 while its verification still named her. The record's seal vouches for who it
    names, whatever the status column says."""
    husband, wife, license_id = couple(running)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET status = 'SUSPENDED' WHERE license_id = :id"), {"id": license_id})
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    use = verification_pb2.UseContext(matter_code=BDCZY.matter_code, purpose=BDCZY.purpose)
    report = verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, license_id=license_id))
    assert report.report.integrity.reason == "STATUS_ALTERED"
    for member, context in ((TAX, use), (TAX, FPSL)):  # NOT_MATTER_DEPARTMENT, NOT_USED_BY_MATTER
        with pytest.raises(grpc.RpcError):
            verifier(running, member).VerifyLicense(
                verification_pb2.VerifyLicenseRequest(use=context, license_id=license_id)
            )
    with pytest.raises(grpc.RpcError):
        sharing(running, REAL_ESTATE).GetLicenseData(sharing_pb2.GetLicenseDataRequest(use=use, license_id=license_id))
    with pytest.raises(grpc.RpcError) as caught:  # not in force as the store says: refused, and recorded (access R2)
        authorization(running, REAL_ESTATE).RequestAccess(
            authorization_pb2.RequestAccessRequest(
                use=use, license_id=license_id, fields=["wife_citizen_id"], duration_days=5
            )
        )
    assert error_details(caught.value)[0].reason == "LICENSE_NOT_IN_FORCE"
    held = [(r.seq, r.action, r.decision) for r in log_of(running, husband).records]
    assert len(held) == 5
    assert [(r.seq, r.action, r.decision) for r in log_of(running, wife).records] == held


def test_an_altered_record_names_no_co_subject(running: RunningGateway) -> None:
    """Found in review: a 结婚证 whose 女方身份证件号 was changed in the store to a stranger's fails its seal
    (RECORD_ALTERED), and what it states is not the license's: its verification, and a case's listing of its receipt,
    must not be put on the stranger's log as a use of a license about them. No co-subject is named at all (the record
    does not say who the real one is)."""
    _, _, license_id = couple(running)
    stranger = name_a_stranger(running, license_id)
    case = case_number("XSECS")
    first = verification_pb2.UseContext(
        matter_code="370100-CSDJ-001", purpose="出生登记", bundle_code="370100-YJS-XSECS", case_id=case
    )
    report = (
        verifier(running, POLICE)
        .VerifyLicense(verification_pb2.VerifyLicenseRequest(use=first, license_id=license_id))
        .report
    )
    assert (report.verdict, report.reason) == (verification_pb2.CHECK_RESULT_FAILED, "RECORD_ALTERED")
    # the check of the record as stored (the cache's entry may be gone: PostgreSQL announces the edit to the
    # listener on its own time, which drops it, correctly, whenever the notice comes)
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.licenses.get(license_id)
    assert stored is not None
    checked = running.gateway.verification._check_record(stored)  # type: ignore[union-attr]
    assert not checked.record_vouched and checked.subjects == ()
    listed = verifier(running, POLICE).ListCaseReceipts(verification_pb2.ListCaseReceiptsRequest(use=first))
    assert [r.receipt.receipt_id for r in listed.receipts] == [report.receipt.receipt_id]
    assert [r.license_id for r in log_of(running, stranger).records] == []
    assert subject_rows(running, [report.receipt.receipt_id]) == {}


def test_a_holder_portal_fetches_the_receipts_its_holders_log_names(running: RunningGateway) -> None:
    """A black-box tester: the access log hands the holder each verification's receipt number, and the holder portal
    could not fetch the receipt (ROLE_NOT_ALLOWED). It can now, for the husband as for the wife the license names;
    it still cannot verify."""
    husband, wife, license_id = couple(running)
    request = verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id)
    report = verifier(running).VerifyLicense(request).report
    portal = verification_pb2_grpc.VerificationServiceStub(running.channel(PORTAL))
    for person_code in (husband, wife):
        (logged,) = [r for r in log_of(running, person_code).records if r.action == "VERIFY_LICENSE"]
        assert logged.receipt_id == report.receipt.receipt_id
        fetched = portal.GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=logged.receipt_id)).receipt
        assert (fetched.statement, fetched.signature) == (report.receipt.statement, report.receipt.signature)
    with pytest.raises(grpc.RpcError) as refused:
        portal.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id))
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
