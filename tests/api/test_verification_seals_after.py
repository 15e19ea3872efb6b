"""VerifyDocument of a PDF with signatures made after the seal it judges: what it validates to tell the gateway's own
(a sharing copy's use stamp) from anything else drawn on the page, and how many validations that costs a call."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Sequence
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from gateway.services import verification
from protos.zzgw.v1 import seal_pb2, verification_pb2
from signing.pdf import PdfVerification
from tests.api.test_documents import document_of
from tests.api.test_identity_reasons import sealer_of
from tests.api.test_seals import license_pdf, register
from tests.api.test_seals import seals as seal_stub
from tests.api.test_verification import (
    FAILED,
    INDETERMINATE,
    PASSED,
    USE,
    findings,
    foreign_sealer,
    issue,
    printout,
    sign_invisibly,
    verifier,
)
from tests.conftest import CIVIL, MARKET, PORTAL, RunningGateway


def drawn_after(pdf: bytes, names: Sequence[str]) -> bytes:
    """``pdf`` with a visible signature in each field of ``names``, by a key of a seal-maker CA made here, side by
    side at the foot of the first page."""
    sealer = foreign_sealer("某制章中心", "某公司", PORTAL, "公章")
    for i, name in enumerate(names):
        box = (40 + (i % 8) * 60, 40 + (i // 8) * 60, 90 + (i % 8) * 60, 90 + (i // 8) * 60)
        pdf = asyncio.run(sealer.seal(pdf, field_name=name, box=box))
    return pdf


@pytest.fixture
def validated(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The fields VerifyDocument validates in full in this test (None: the first signature), in order."""
    fields: list[str | None] = []
    validate = verification.validate_sync

    def counted(pdf: bytes, **kwargs: Any) -> PdfVerification:
        fields.append(kwargs.get("field_name"))
        return validate(pdf, **kwargs)

    monkeypatch.setattr(verification, "validate_sync", counted)
    return fields


def test_what_is_drawn_after_a_seal_is_told_with_one_validation_of_a_use_stamp_at_most(
    running: RunningGateway, validated: list[str | None]
) -> None:
    """Every visible signature after the seal was validated in full to see whether it was the gateway's use stamp:
    a PDF of 30 took a minute of CPU a call, and three such calls at once had the watchdog stop the gateway (a
    reviewer, stamps R1). Only a field named as the gateway names its use stamp is validated, one at most, and only
    when nothing else is drawn: the answer is the same DOCUMENT_MODIFIED, naming what was drawn."""
    license_id = issue(running, 41).license.license_id
    pdf = document_of(running, license_id).pdf
    stub = verifier(running)
    for names, judged in (
        ([f"Signature{i}" for i in range(6)], []),  # none can be the use stamp
        (["zzgw-use-1", "zzgw-use-2", "zzgw-use-3"], []),  # a copy carries one use stamp
        (["zzgw-use-1", "Signature1"], []),  # whatever the use stamp is, the other is drawn
        (["zzgw-use-1"], ["zzgw-use-1"]),  # a forged use stamp, the only thing drawn: validated, and refused
    ):
        validated.clear()
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=drawn_after(pdf, names)))
        assert findings(report.report) == (
            (FAILED, "DOCUMENT_MODIFIED"),
            (INDETERMINATE, "NOT_CHECKED"),
            (INDETERMINATE, "NOT_CHECKED"),
        ), names
        assert validated == [None, *judged], names
        assert report.report.integrity.detail.startswith("签章完好，但文件在盖章后"), names


@pytest.fixture(scope="module")
def department_seals(running: RunningGateway) -> dict[str, str]:
    """A seal of MARKET's and one of CIVIL's (member → seal_id), each a department's own."""
    return {member: register(running, member).seal_id for member in (MARKET, CIVIL)}


def sealed_by(running: RunningGateway, seals: dict[str, str], member: str, pdf: bytes) -> bytes:
    request = seal_pb2.SealDocumentRequest(seal_id=seals[member], pdf=pdf)
    return seal_stub(running, member).SealDocument(request).sealed_pdf


def signatures(pdf: bytes) -> list[str]:
    return [str(s.field_name) for s in PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures]


def test_a_seal_of_the_gateways_made_after_another_is_a_further_seal_not_a_modification(
    running: RunningGateway, department_seals: dict[str, str], validated: list[str | None]
) -> None:
    """Every visible signature after the judged seal that was not the use stamp made the document DOCUMENT_MODIFIED,
    the gateway's own seals (``SealDocument``) too: a PDF sealed twice, co-sealed by two departments, signed by an
    applicant and then sealed, or a license document sealed by the department that received it, each verified
    FAILED, the department's new seal named as the change (a reviewer, stamps R2). A seal of this gateway's that
    validates is a further seal, named with its owner; what else is drawn after a seal is still DOCUMENT_MODIFIED."""
    stub = verifier(running)

    def verified(pdf: bytes) -> verification_pb2.VerifyDocumentResponse:
        validated.clear()
        return stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf))

    plain = license_pdf(running)
    once = sealed_by(running, department_seals, MARKET, plain)
    for pdf, named in (
        (sealed_by(running, department_seals, MARKET, once), "济南市市场监督管理局"),
        (sealed_by(running, department_seals, CIVIL, once), "济南市民政局"),
    ):
        report = verified(pdf).report
        assert (report.verdict, report.reason) == (INDETERMINATE, "NOT_A_REGISTERED_LICENSE"), report
        assert findings(report) == (
            (PASSED, ""),
            (INDETERMINATE, "NOT_A_REGISTERED_LICENSE"),
            (PASSED, ""),
        ), report
        assert report.integrity.detail.startswith("签章完好；其后又加盖了本网关的印章：" + named), report.integrity
        assert validated == [None, signatures(pdf)[-1]]
    # an applicant's signature (a desktop signer's, invisible) and then the department's seal: the signature is the
    # one judged, and the seal named as a further seal
    applicant = verified(sealed_by(running, department_seals, MARKET, sign_invisibly(plain, "Applicant"))).report
    assert findings(applicant)[:2] == ((PASSED, ""), (INDETERMINATE, "NOT_A_REGISTERED_LICENSE")), applicant
    assert applicant.issuer_identity.result != PASSED, applicant
    assert applicant.integrity.detail.startswith("签章完好；其后又加盖了本网关的印章：济南市市场监督管理局"), applicant
    # a license document sealed by the department that received it: the license, PASSED, the further seal named
    license_id = issue(running, 42).license.license_id
    received = sealed_by(running, department_seals, CIVIL, document_of(running, license_id).pdf)
    response = verified(received)
    assert (response.report.verdict, response.report.license.license_id) == (PASSED, license_id), response.report
    assert "济南市民政局" in response.report.integrity.detail and not response.registered_document
    assert validated == [None, signatures(received)[-1]]
    # another CA's seal named as the gateway names its seals is validated, and drawn after the seal all the same
    forged = drawn_after(received, ["zzgw-forged"])
    report = verified(forged).report
    assert (report.verdict, report.integrity.reason) == (FAILED, "DOCUMENT_MODIFIED")
    assert "'zzgw-forged'" in report.integrity.detail and validated == [None, signatures(received)[-1], "zzgw-forged"]


def test_more_seals_after_a_seal_than_are_validated_are_said_not_checked(
    running: RunningGateway, department_seals: dict[str, str], validated: list[str | None]
) -> None:
    """Seals that may be the gateway's are validated up to MAX_LATER_SIGNATURES a call, each seconds of CPU (a
    reviewer, stamps R1); more are none of them validated: DOCUMENT_MODIFIED, as anything drawn after the seal that
    the gateway does not vouch for, the detail saying they were not checked."""
    license_id = issue(running, 43).license.license_id
    pdf = document_of(running, license_id).pdf
    names = [f"zzgw-{i}" for i in range(verification.MAX_LATER_SIGNATURES + 1)]
    report = (
        verifier(running)
        .VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=drawn_after(pdf, names)))
        .report
    )
    assert findings(report) == (
        (FAILED, "DOCUMENT_MODIFIED"),
        (INDETERMINATE, "NOT_CHECKED"),
        (INDETERMINATE, "NOT_CHECKED"),
    )
    assert "多于核验的4个，均未核验" in report.integrity.detail and "'zzgw-0'" in report.integrity.detail
    assert validated == [None]


def test_a_seal_of_the_gateways_made_after_a_revoked_or_foreign_one_does_not_make_it_pass(
    running: RunningGateway, department_seals: dict[str, str]
) -> None:
    """Where the first signature's identity did not pass, the first further seal of the gateway's was judged in its
    stead: a printout sealed with a seal revoked for key compromise, FAILED / CERT_REVOKED, or by a look-alike CA's
    seal, FAILED / UNTRUSTED_ROOT, read PASSED once any department had sealed it with SealDocument (a reviewer,
    sealsafter R1). The first signature is judged whatever follows it."""
    stub = verifier(running)
    revoked = register(running, MARKET)
    license_id = issue(running, 43).license.license_id
    seal_stub(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=revoked.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    after_revocation = asyncio.run(
        sealer_of(running, revoked).seal(printout(license_id, "FOOD PERMIT  holder: somebody else"), field_name="S1")
    )
    lookalike = foreign_sealer("某制章中心", "济南市市场监督管理局", MARKET, "电子证照专用章")
    foreign = asyncio.run(lookalike.seal(printout(license_id, "FOOD PERMIT  holder: somebody else"), field_name="S1"))
    for forged in (after_revocation, foreign):
        alone = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
        assert (alone.verdict, alone.issuer_identity.result) == (FAILED, FAILED), alone
        cosealed = sealed_by(running, department_seals, CIVIL, forged)
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=cosealed)).report
        assert (report.verdict, report.reason) == (FAILED, alone.reason), report
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (
            FAILED,
            alone.issuer_identity.reason,
        ), report
        assert report.integrity.detail.startswith("签章完好；其后又加盖了本网关的印章：济南市民政局"), report
