"""An administrator (``ADMIN`` its only role) "verifies to check the gateway and reads no data" (docs/api.md,
Matters): its verification answers carry no holder, over real gRPC on SQLite and PostgreSQL.

The 大数据局 may name any department's matter (ADR 0008), and verifying a 结婚证 by identifier or as its PDF it was
given the holder's masked name and 公民身份号码 and both spouses' (``parties``), while the console's receipt look-up
and case list give it no holder for the same licenses (a reviewer of the clerk, R3). The verdict, the findings, the
license's identifier, type, issuer, validity and status, and the receipt are as for any verifier; a department
verifying the same license, before or after the administrator, is given the holder as before (the report's encoding
is kept with the day's outcome and shared by every caller: ADR 0005).
"""

from __future__ import annotations

import uuid

from protos.zzgw.v1 import common_pb2, seal_pb2, seal_pb2_grpc, verification_pb2
from signing.keys import SM2_SM3
from tests.api.test_documents import document_of
from tests.api.test_holder_among import certificate, issue
from tests.api.test_sharing import BDCZY, person
from tests.api.test_verification_co_subjects import verifier
from tests.conftest import ADMIN, CIVIL, RunningGateway

LAND = "123701009937011183"  # 济南市不动产登记中心, whose 不动产转移登记 (BDCZY) uses the 结婚证


def holder(summary: verification_pb2.LicenseSummary) -> tuple[str, str, bool, str, int]:
    return (
        summary.holder_name_masked,
        summary.holder_code_masked,
        summary.holder_in_full,
        summary.holder_code_type,
        len(summary.parties),
    )


def by_id(running: RunningGateway, member: str, license_id: str) -> verification_pb2.VerificationReport:
    request = verification_pb2.VerifyLicenseRequest(use=BDCZY, license_id=license_id)
    return verifier(running, member).VerifyLicense(request).report


def test_an_administrators_verification_carries_no_holder(running: RunningGateway) -> None:
    (husband, _), (wife, _) = person("男"), person("女")
    first = issue(running, certificate(husband, husband, wife))
    second = issue(running, certificate(wife, husband, wife))
    department = by_id(running, LAND, first)  # a department first: the day's outcome kept with its encoding
    assert department.verdict == verification_pb2.CHECK_RESULT_PASSED
    assert holder(department.license)[1:] == (f"{husband[:4]}{'*' * 10}{husband[-4:]}", False, "111", 2)
    for license_id in (first, second):  # after a department, and before one
        report = by_id(running, ADMIN, license_id)
        assert report.verdict == verification_pb2.CHECK_RESULT_PASSED and report.receipt.receipt_id
        assert holder(report.license) == ("", "", False, "", 0), report.license
        assert report.license.license_id == license_id and report.license.type_name == "结婚证"
        assert report.license.status == common_pb2.LICENSE_STATUS_ACTIVE and report.license.valid_from
    assert holder(by_id(running, LAND, second).license)[4] == 2  # the department still sees the spouses

    pdf = document_of(running, first, CIVIL).pdf
    request = verification_pb2.VerifyDocumentRequest(use=BDCZY, pdf=pdf)
    by_admin = verifier(running, ADMIN).VerifyDocument(request)
    assert by_admin.report.verdict == verification_pb2.CHECK_RESULT_PASSED and by_admin.registered_document
    assert holder(by_admin.report.license) == ("", "", False, "", 0)
    assert holder(verifier(running, LAND).VerifyDocument(request).report.license)[4] == 2

    # a GB/T 38540 stamp over the registered document (last: the 民政局's new seal seals its records from now on)
    civil_seals = seal_pb2_grpc.SealServiceStub(running.channel(CIVIL))
    seal = civil_seals.RegisterSeal(
        seal_pb2.RegisterSealRequest(request_id="sm2-" + uuid.uuid4().hex, name="电子证照专用章", algorithm=SM2_SM3)
    ).seal
    stamp = civil_seals.StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=pdf)).stamp
    stamped = verification_pb2.VerifyStampRequest(use=BDCZY, document=pdf, stamp=stamp)
    by_admin_stamp = verifier(running, ADMIN).VerifyStamp(stamped).report
    assert by_admin_stamp.license.license_id == first and by_admin_stamp.receipt.receipt_id
    assert holder(by_admin_stamp.license) == ("", "", False, "", 0)
    assert holder(verifier(running, LAND).VerifyStamp(stamped).report.license)[4] == 2
