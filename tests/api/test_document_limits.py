"""The size of documents over real gRPC: a PDF the gateway is sent to seal must leave room, under the message limit,
for what the gateway adds (its seal; a sharing copy's use stamp), and a reply that would still outgrow the limit is
refused with a reason instead of failing inside gRPC."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import grpc
import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.services.seals import max_document_bytes
from protos.zzgw.v1 import issuance_pb2, seal_pb2, sharing_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_documents import document_of, new_request, stub
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf, register, seals
from tests.api.test_server import access_lines, wait_for
from tests.api.test_sharing import FPSL, records_of, sharing
from tests.conftest import MARKET, TAX, RunningGateway, error_details, start_gateway
from tests.signing.test_pdf import one_page_pdf, padded

MiB = 1024 * 1024
LONGEST_USE = verification_pb2.UseContext(matter_code=FPSL.matter_code, purpose="警戮躏籍鬣" * 40)
"""The use that stamps the biggest watermark on a sharing copy: a purpose of 200 characters (the most allowed), in
characters of the densest ink."""


def own_business_license(n: int, document: bytes) -> issuance_pb2.IssueLicenseRequest:
    """A 营业执照 (a license the tax bureau may read for 发票申领) with the issuer's own ``document``."""
    request = issue_request(unique(samples.business_license(n)))
    request.document = document
    return request


def verify_document(running: RunningGateway, pdf: bytes) -> verification_pb2.VerificationReport:
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    return verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=pdf)).report


def test_an_issuers_document_must_leave_room_for_the_seal_and_a_sharing_copy(running: RunningGateway) -> None:
    """A PDF of 4,134,976 bytes was issued and sealed, and its document (4,197,983 bytes, over the 4 MiB message
    limit) could then never be fetched; a sharing copy failed from 4,044,976 bytes on. Now a PDF over
    ``max_document_bytes`` is refused at issue, alone and in a batch, and one at the limit is issued, fetched by its
    issuer and through sharing with the biggest use stamp, and both verify."""
    limit = max_document_bytes(running.gateway.settings.max_message_bytes)
    assert limit == 3 * MiB  # the default 4 MiB less the room kept for the seal and the use stamp
    own = license_pdf(running)
    over = own_business_license(1, padded(own, limit + 1))
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(over)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, violations = error_details(caught.value)
    assert info.reason == "DOCUMENT_TOO_LARGE" and violations == [("document", "DOCUMENT_TOO_LARGE")]
    assert f"at most {limit}: the gateway's message limit (4194304 bytes)" in (caught.value.details() or "")
    with pytest.raises(grpc.RpcError) as lookup:
        stub(running).GetLicense(
            issuance_pb2.GetLicenseRequest(type_code=over.type_code, license_number=over.license_number)
        )
    assert lookup.value.code() == grpc.StatusCode.NOT_FOUND

    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[own_business_license(2, over.document), new_request(3)])
    (response,) = stub(running).BatchIssueLicenses(iter([batch]))
    refused, issued_alongside = response.results
    assert [(e.field, e.reason) for e in refused.error.field_errors] == [("document", "DOCUMENT_TOO_LARGE")]
    assert not issued_alongside.HasField("error") and issued_alongside.license.license_id

    at_limit = own_business_license(4, padded(own, limit))
    issued = stub(running).IssueLicense(at_limit).license
    document = document_of(running, issued.license_id)
    assert document.pdf.startswith(at_limit.document) and document.source == issuance_pb2.DOCUMENT_SOURCE_SUPPLIED
    copy = sharing(running).GetLicenseDocument(
        sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=LONGEST_USE, license_id=issued.license_id)
    )
    assert copy.pdf.startswith(document.pdf) and copy.original_sha256 == document.sha256
    for pdf in (document.pdf, copy.pdf):
        report = verify_document(running, pdf)
        assert report.verdict == verification_pb2.CHECK_RESULT_PASSED, report
        assert report.license.license_id == issued.license_id


def test_seal_document_keeps_room_for_its_seal(running: RunningGateway) -> None:
    """SealDocument of 4,154,976 bytes sealed the PDF and then failed to send it back; a PDF it could send was too
    big for VerifyDocument. Now a PDF over ``max_document_bytes`` is refused, and one at the limit comes back
    sealed and is read by VerifyDocument."""
    limit = max_document_bytes(running.gateway.settings.max_message_bytes)
    seal = register(running)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=padded(license_pdf(running), limit + 1))
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("pdf", "DOCUMENT_TOO_LARGE")]

    at_limit = padded(license_pdf(running), limit)
    sealed = seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=at_limit))
    assert sealed.sealed_pdf.startswith(at_limit)
    report = verify_document(running, sealed.sealed_pdf)  # a sealed PDF, but no license document of the registry
    assert report.integrity.result == verification_pb2.CHECK_RESULT_PASSED
    assert report.status.reason == "NOT_A_REGISTERED_LICENSE"


def page_with_a_large_dictionary(size: int) -> bytes:
    """A one-page PDF whose page dictionary holds ``size`` bytes more (editors keep private data there): an
    incremental update that changes the page, as a seal does (its widget joins the page's annotations), writes it
    all again."""
    writer = IncrementalPdfFileWriter(io.BytesIO(one_page_pdf()))
    page, _ = writer.find_page_for_modification(0)
    page.get_object()[generic.NameObject("/ZzgwPrivate")] = generic.TextStringObject("x" * size)
    writer.mark_update(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_an_issuers_document_whose_pages_grow_with_every_update_is_refused(running: RunningGateway) -> None:
    """A page dictionary of 1.5 MB passes the size check before sealing, but the seal writes the page again, and so
    would a sharing copy's use stamp: the document was issued, then its sharing copy (and, larger still, its
    document) could never be sent (found by an independent client). Refused at issue, from the sealed size."""
    grows = page_with_a_large_dictionary(1_500_000)
    assert len(grows) <= max_document_bytes(running.gateway.settings.max_message_bytes)
    request = own_business_license(6, grows)
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("document", "DOCUMENT_TOO_LARGE")]
    assert "its pages are written again with each seal" in (caught.value.details() or "")
    with pytest.raises(grpc.RpcError) as lookup:
        stub(running).GetLicense(
            issuance_pb2.GetLicenseRequest(type_code=request.type_code, license_number=request.license_number)
        )
    assert lookup.value.code() == grpc.StatusCode.NOT_FOUND  # nothing was stored


def test_a_reply_over_the_message_limit_is_refused_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    """What the room kept cannot cover still fails honestly: a PDF whose page dictionary is large grows by as much
    again when sealed, and a gateway whose message limit is lowered holds documents it sealed under the old one.
    gRPC failed to send such replies after the handler returned (RESOURCE_EXHAUSTED with no reason, OK in the
    access log); now their size is checked first, and the refusal has a reason and its code in the access log. A
    sharing copy too large to send was also recorded as a use (and would have spent a one-use consent): it is now
    refused before its use is counted."""
    caplog.set_level(logging.INFO, logger="zzgw.access")
    database = f"sqlite:///{tmp_path / 'own.db'}"
    first = start_gateway(tmp_path / "var", database, max_message_bytes=3 * MiB)
    try:
        # 1.1 MB of page dictionary (within what the gateway parses of a PDF: PDF_TOO_COMPLEX past 1.5 MiB), the
        # rest a stream, up to the most a PDF sent to be sealed may have: the seal writes the page again
        grows = padded(page_with_a_large_dictionary(1_100_000), max_document_bytes(3 * MiB))
        seal = register(first)
        with pytest.raises(grpc.RpcError) as caught:
            seals(first, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=grows))
        assert_reply_too_large(caught.value, 3 * MiB, caplog, "/zzgw.v1.SealService/SealDocument")
        issued = stub(first).IssueLicense(own_business_license(5, padded(license_pdf(first), 2 * MiB))).license
    finally:
        first.stop()
    lowered = start_gateway(tmp_path / "var", database, max_message_bytes=2 * MiB)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            document_of(lowered, issued.license_id)
        assert_reply_too_large(caught.value, 2 * MiB, caplog, "/zzgw.v1.IssuanceService/GetLicenseDocument")
        with pytest.raises(grpc.RpcError) as caught:
            sharing(lowered).GetLicenseDocument(
                sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=issued.license_id)
            )
        assert_reply_too_large(caught.value, 2 * MiB, caplog, "/zzgw.v1.SharingService/GetLicenseDocument")
        # the copy never left the gateway: on the holder's trail it is a refusal, not a use (nor a consent's use)
        uses = [r for r in records_of(lowered, issued.holder.code) if r.action == "GET_LICENSE_DOCUMENT"]
        assert [(r.decision, r.reason) for r in uses] == [("DENY", "REPLY_TOO_LARGE")]
    finally:
        lowered.stop()


def assert_reply_too_large(error: grpc.RpcError, limit: int, caplog: pytest.LogCaptureFixture, method: str) -> None:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert error_details(error)[0].reason == "REPLY_TOO_LARGE"
    assert f"message limit of {limit}" in (error.details() or "")  # type: ignore[attr-defined]
    wait_for(caplog, lambda r: r.name == "zzgw.access" and method in r.getMessage())
    assert [e["code"] for e in access_lines(caplog) if e["method"] == method] == ["RESOURCE_EXHAUSTED"]
