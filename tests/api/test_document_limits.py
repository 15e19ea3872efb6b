"""The size of documents over real gRPC: a reply that would outgrow the message limit is refused with a reason
instead of failing inside gRPC."""

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
from protos.zzgw.v1 import issuance_pb2, seal_pb2, sharing_pb2
from tests.api.test_documents import document_of, stub
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf, register, seals
from tests.api.test_server import access_lines, wait_for
from tests.api.test_sharing import FPSL, sharing
from tests.conftest import MARKET, error_details, start_gateway
from tests.signing.test_pdf import one_page_pdf, padded

MiB = 1024 * 1024


def own_business_license(n: int, document: bytes) -> issuance_pb2.IssueLicenseRequest:
    """A 营业执照 (a license the tax bureau may read for 发票申领) with the issuer's own ``document``."""
    request = issue_request(unique(samples.business_license(n)))
    request.document = document
    return request


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


def test_a_reply_over_the_message_limit_is_refused_with_a_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    """What the room kept cannot cover still fails honestly: a PDF whose page dictionary is large grows by as much
    again when sealed, and a gateway whose message limit is lowered holds documents it sealed under the old one.
    gRPC failed to send such replies after the handler returned (RESOURCE_EXHAUSTED with no reason, OK in the
    access log); now their size is checked first, and the refusal has a reason and its code in the access log."""
    caplog.set_level(logging.INFO, logger="zzgw.access")
    database = f"sqlite:///{tmp_path / 'own.db'}"
    first = start_gateway(tmp_path / "var", database, max_message_bytes=2 * MiB)
    try:
        grows = page_with_a_large_dictionary(MiB - 4096)
        seal = register(first)
        with pytest.raises(grpc.RpcError) as caught:
            seals(first, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=grows))
        assert_reply_too_large(caught.value, 2 * MiB, caplog, "/zzgw.v1.SealService/SealDocument")
        issued = stub(first).IssueLicense(own_business_license(5, padded(license_pdf(first), MiB))).license
    finally:
        first.server.stop(0)
        first.gateway.close()
    lowered = start_gateway(tmp_path / "var", database, max_message_bytes=MiB)
    try:
        with pytest.raises(grpc.RpcError) as caught:
            document_of(lowered, issued.license_id)
        assert_reply_too_large(caught.value, MiB, caplog, "/zzgw.v1.IssuanceService/GetLicenseDocument")
        with pytest.raises(grpc.RpcError) as caught:
            sharing(lowered).GetLicenseDocument(
                sharing_pb2.SharingServiceGetLicenseDocumentRequest(use=FPSL, license_id=issued.license_id)
            )
        assert_reply_too_large(caught.value, MiB, caplog, "/zzgw.v1.SharingService/GetLicenseDocument")
    finally:
        lowered.server.stop(0)
        lowered.gateway.close()


def assert_reply_too_large(error: grpc.RpcError, limit: int, caplog: pytest.LogCaptureFixture, method: str) -> None:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    assert error_details(error)[0].reason == "REPLY_TOO_LARGE"
    assert f"message limit of {limit}" in (error.details() or "")  # type: ignore[attr-defined]
    wait_for(caplog, lambda r: r.name == "zzgw.access" and method in r.getMessage())
    assert [e["code"] for e in access_lines(caplog) if e["method"] == method] == ["RESOURCE_EXHAUSTED"]
