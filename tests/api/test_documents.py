"""License documents over real gRPC: drawn and sealed with IssueLicense, an issuer's own PDF sealed, fetched later.

Every document here is checked with ``signing.pdf.validate_sync`` against the gateway's seal-maker CA: a real
PAdES signature with a real timestamp, not just bytes that look like a PDF.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import logging
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pypdfium2
import pytest
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.timestamps import TimeStamper

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.model import Clock, SystemClock
from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc, seal_pb2, verification_pb2, verification_pb2_grpc
from signing.pdf import MAX_SUPPLIED_REVISIONS, PdfVerification, revisions, validate_sync
from signing.render import MISSING_GLYPH, SEAL_BOX
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA
from signing.tsa import TimeStampAuthority, TimeStampResp
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf, register, seals
from tests.conftest import (
    CIVIL,
    MARKET,
    POLICE,
    PORTAL,
    TAX,
    RunningGateway,
    error_details,
    http_side,
    start_gateway,
    today,
)
from tests.signing.authorities import tsa_under_its_own_ca
from tests.signing.test_pdf import new_info_by_hand, sign_invisibly, with_info

PASSED_RESULT = verification_pb2.CHECK_RESULT_PASSED
FAILED = verification_pb2.CHECK_RESULT_FAILED
FPSL = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：发票申领时核验营业执照")


def stub(running: RunningGateway, member: str = MARKET) -> issuance_pb2_grpc.IssuanceServiceStub:
    return issuance_pb2_grpc.IssuanceServiceStub(running.channel(member))


def new_request(n: int = 1, document: bytes = b"") -> issuance_pb2.IssueLicenseRequest:
    request = issue_request(unique(samples.food_permit(n)))
    request.document = document
    return request


def document_of(
    running: RunningGateway, license_id: str, member: str = MARKET
) -> issuance_pb2.GetLicenseDocumentResponse:
    return stub(running, member).GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=license_id))


def verify(running: RunningGateway, pdf: bytes) -> PdfVerification:
    seals = running.gateway.seals
    assert seals is not None
    return validate_sync(pdf, trust_roots=[seals.ca.root], intermediates=[seals.ca.intermediate], crls=[seals.crl()])


def page_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return document[0].get_textpage().get_text_range()
    finally:
        document.close()


def red_share_in_seal_box(pdf: bytes) -> float:
    """Share of clearly red pixels inside SEAL_BOX of the rendered first page (72 dpi, so points are pixels)."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        document.init_forms()  # the stamp is a signature widget: pdfium draws it only with forms loaded
        page = document[0]
        image = page.render(scale=1, may_draw_forms=True).to_pil().convert("RGB")
        height = page.get_height()
    finally:
        document.close()
    left, bottom, right, top = SEAL_BOX
    box = image.crop((left, int(height - top), right, int(height - bottom)))
    pixels = list(box.get_flattened_data())
    return sum(1 for r, g, b in pixels if r > 170 and g < 90 and b < 90) / len(pixels)


def test_issue_with_data_only_draws_and_seals_the_license(running: RunningGateway) -> None:
    request = new_request(11)
    issued = stub(running).IssueLicense(request)
    assert issued.created and len(issued.document_sha256) == 64
    document = document_of(running, issued.license.license_id)
    assert document.source == issuance_pb2.DOCUMENT_SOURCE_RENDERED
    assert hashlib.sha256(document.pdf).hexdigest() == document.sha256 == issued.document_sha256
    verification = verify(running, document.pdf)
    assert verification.result is CheckResult.PASSED, verification
    assert verification.timestamp.result is CheckResult.PASSED and verification.signing_time_trusted
    assert verification.uscc == MARKET and verification.seal_name == "电子证照专用章"
    text = page_text(document.pdf)
    assert "食品生产许可证" in text and request.license_number in text and issued.license.license_id in text
    assert red_share_in_seal_box(document.pdf) > 0.05  # the stamp sits on the page where the template left room
    (artifacts := Path("artifacts")).mkdir(exist_ok=True)
    (artifacts / "issued-license.pdf").write_bytes(document.pdf)


def test_an_issuers_own_pdf_is_sealed_as_it_is(running: RunningGateway) -> None:
    own = license_pdf(running)
    issued = stub(running).IssueLicense(new_request(12, document=own))
    document = document_of(running, issued.license.license_id)
    assert document.source == issuance_pb2.DOCUMENT_SOURCE_SUPPLIED
    assert document.pdf.startswith(own)  # sealing appends an incremental update and changes nothing before it
    assert verify(running, document.pdf).result is CheckResult.PASSED


def by_hand(*objects: bytes) -> bytes:
    """A PDF written object by object, with its cross-reference table (object 1 is the catalog)."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    start = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, start)
    return bytes(out)


FIELDS_IN_A_CYCLE = by_hand(
    b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] >> >>",
    b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    b"<< /T (a) /Kids [5 0 R] >>",
    b"<< /T (b) /Parent 4 0 R /Kids [4 0 R] >>",
)
"""A form whose two fields are each other's kids (a security tester's file): it could be sealed, and the registered
document then failed VerifyDocument as SIGNATURE_INVALID at every window."""


def test_a_bad_document_fails_the_issue_and_writes_nothing(running: RunningGateway) -> None:
    for bad, reason in (
        (b"hello, not a pdf", "NOT_A_PDF"),
        (license_pdf(running)[:2000], "TRUNCATED_PDF"),
        (FIELDS_IN_A_CYCLE, "DAMAGED_PDF"),
    ):
        request = new_request(13, document=bad)
        with pytest.raises(grpc.RpcError) as caught:
            stub(running).IssueLicense(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert ("document", reason) in error_details(caught.value)[1]
        with pytest.raises(grpc.RpcError) as lookup:
            stub(running).GetLicense(
                issuance_pb2.GetLicenseRequest(type_code=request.type_code, license_number=request.license_number)
            )
        assert lookup.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_document_of_too_many_revisions_or_nested_too_deep_fails_its_item_alone(running: RunningGateway) -> None:
    """An issuer's PDF of 31 revisions was issued and its sharing copy then unreadable; one nested 600 deep answered
    INTERNAL, and in a batch ended the whole stream with none of its good items committed."""
    many = license_pdf(running)
    while revisions(many) <= MAX_SUPPLIED_REVISIONS:
        many = with_info(many, Title="again")
    deep = new_info_by_hand(license_pdf(running), b"<< /Title (x) /Nested %s%s >>" % (b"[" * 600, b"]" * 600))
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(new_request(15, document=many))
    assert ("document", "TOO_MANY_REVISIONS") in error_details(caught.value)[1]
    batch = issuance_pb2.BatchIssueLicensesRequest(
        licenses=[new_request(16, document=deep), new_request(17), new_request(18, document=many)]
    )
    (response,) = stub(running).BatchIssueLicenses(iter([batch]))
    nested, issued, revised = response.results
    assert [(e.field, e.reason) for e in nested.error.field_errors] == [("document", "DAMAGED_PDF")]
    assert [(e.field, e.reason) for e in revised.error.field_errors] == [("document", "TOO_MANY_REVISIONS")]
    assert not issued.HasField("error") and issued.license.license_id


def test_a_license_whose_printed_form_cannot_fit_is_refused_before_it_is_stored(running: RunningGateway) -> None:
    """The catalog allows a 经营范围 of 4,000 characters; about half of that fits the page. Issuing such a license
    answered INTERNAL, and in a batch (drawn later) it was stored and its document failed on every request (found
    by an independent client): now the field is named, alone and in a batch, and nothing is stored."""
    record = unique(samples.business_license(14))
    record["fields"]["business_scope"] = "范" * 4000
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(issue_request(record))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert ("fields.business_scope", "TOO_LONG_FOR_DOCUMENT") in error_details(caught.value)[1]
    batch = issuance_pb2.BatchIssueLicensesRequest(
        licenses=[issue_request(record), issue_request(unique(samples.business_license(15)))]
    )
    (response,) = stub(running).BatchIssueLicenses(iter([batch]))
    refused, issued = response.results
    assert [(e.field, e.reason) for e in refused.error.field_errors] == [
        ("fields.business_scope", "TOO_LONG_FOR_DOCUMENT")
    ]
    assert not issued.HasField("error") and document_of(running, issued.license.license_id).pdf
    with pytest.raises(grpc.RpcError) as lookup:
        stub(running).GetLicense(
            issuance_pb2.GetLicenseRequest(type_code=record["type_code"], license_number=record["license_number"])
        )
    assert lookup.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_value_of_many_line_breaks_is_weighed_by_its_lines_not_its_length(running: RunningGateway) -> None:
    """A 住所 of 60 line breaks in 120 characters was taken by a batch (its length fits) and its document then failed
    on every request (DOES_NOT_FIT); alone it answered FAILED_PRECONDITION without naming the field (found by an
    independent client)."""
    record = unique(samples.business_license(16))
    record["fields"]["domicile"] = "1\n" * 60
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(issue_request(record))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    (violation,) = [v for v in error_details(caught.value)[1] if v[1] == "TOO_LONG_FOR_DOCUMENT"]
    assert violation == ("fields.domicile", "TOO_LONG_FOR_DOCUMENT")
    (response,) = stub(running).BatchIssueLicenses(
        iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])])
    )
    assert [(e.field, e.reason) for e in response.results[0].error.field_errors] == [
        ("fields.domicile", "TOO_LONG_FOR_DOCUMENT")
    ]
    record["fields"]["domicile"] = "山东省济南市\n历下区泉城路1号"  # a line break or two is a value like any other
    assert document_of(running, stub(running).IssueLicense(issue_request(record)).license.license_id).pdf


UYGHUR = "ئۈرۈمچى شەھىرى تەڭرىتاغ رايونى 12-نومۇر"
MONGOLIAN = "ᠬᠥᠬᠡᠬᠣᠲᠠ ᠬᠣᠲᠠ"
TIBETAN = "བོད་ལྗོངས་ལྷ་ས།"


@pytest.mark.parametrize(
    ("value", "named"),
    [
        (UYGHUR, "U+0626 ARABIC LETTER YEH WITH HAMZA ABOVE、U+06C8 ARABIC LETTER YU、U+0631 ARABIC LETTER REH…"),
        (MONGOLIAN, "U+182C MONGOLIAN LETTER QA、U+1825 MONGOLIAN LETTER OE、U+1821 MONGOLIAN LETTER E…"),
        (TIBETAN, "U+0F56 TIBETAN LETTER BA、U+0F7C TIBETAN VOWEL SIGN O、U+0F51 TIBETAN LETTER DA…"),
    ],
    ids=["uyghur", "mongolian", "tibetan"],
)
def test_a_value_in_letters_no_font_draws_is_refused_where_the_gateway_draws_the_document(
    running: RunningGateway, value: str, named: str
) -> None:
    """A 生产地址 in Uyghur, Mongolian or Tibetan, which the gateway keeps as text, was issued and its sealed document
    printed a row of 〓 for its letters, silently (a reviewer, R2): refused now, naming the letters and saying to send
    the PDF, alone and per item of a batch, while the issuer's own PDF is sealed as it is."""
    request = new_request(31)
    request.fields["production_address"] = value
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("fields.production_address", "UNPRINTABLE_CHARACTERS")]
    message = caught.value.details() or ""
    assert message.startswith(f"fields.production_address: 含有证照版式文件的字体无法显示的文字（{named}），"), message
    assert "IssueLicense 或 BatchIssueLicenses 的 document" in message

    printable = new_request(32)
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[request, printable])
    (response,) = stub(running).BatchIssueLicenses(iter([batch]))
    refused, issued = response.results
    assert [(e.field, e.reason) for e in refused.error.field_errors] == [
        ("fields.production_address", "UNPRINTABLE_CHARACTERS")
    ]
    assert not issued.HasField("error") and issued.created

    own = new_request(33, document=license_pdf(running))
    own.fields["production_address"] = value
    supplied = stub(running).IssueLicense(own).license
    assert supplied.fields["production_address"] == value
    assert document_of(running, supplied.license_id).source == issuance_pb2.DOCUMENT_SOURCE_SUPPLIED
    amendment = issuance_pb2.AmendLicenseRequest(
        request_id="am-" + uuid.uuid4().hex,
        license_id=supplied.license_id,
        reason="变更",
        issue_date=today().isoformat(),
    )
    with pytest.raises(grpc.RpcError) as amended:
        stub(running).AmendLicense(amendment)  # drawn: no PDF can come with an amendment
    assert error_details(amended.value)[1] == [("fields.production_address", "UNPRINTABLE_CHARACTERS")]
    assert "注销该证照后重新签发并随附版式文件" in (amended.value.details() or "")


def test_letters_a_font_draws_and_han_characters_no_font_has_are_issued(running: RunningGateway) -> None:
    """What the check lets through: letters of the fonts (Latin with diacritics, Cyrillic, Greek, kana), and Han
    characters, of which one no font has (CJK Extension G) is printed as 〓, the mark of a missing type, as
    docs/api.md says."""
    request = new_request(34)
    request.fields["production_address"] = "Nguyễn Văn Müller Łódź Иванов Ελλάδα カタカナ 𠮷野家 \U00030000村"
    issued = stub(running).IssueLicense(request).license
    text = page_text(document_of(running, issued.license_id).pdf)
    assert "生产地址 Nguyễn Văn Müller Łódź Иванов Ελλάδα カタカナ 𠮷野家 〓村\r\n" in text


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ("曼谷 ทักษิณ ชินวัตร สมศักดิ์", "U+0E31 THAI CHARACTER MAI HAN-AKAT、U+0E4C THAI CHARACTER THANTHAKHAT"),
        ("Baq\u0307i x\u030cal", "U+0307 COMBINING DOT ABOVE、U+030C COMBINING CARON"),
        ("Ива\u0301нов", "U+0301 COMBINING ACUTE ACCENT"),
    ],
    ids=["thai", "latin-marks", "cyrillic-stress"],
)
def test_a_value_with_marks_no_font_draws_is_refused(running: RunningGateway, value: str, named: str) -> None:
    """Thai whose vowel and tone signs no font has, a q or x with a mark that has no precomposed letter, a Cyrillic
    stress accent: the letters are drawn, but each such mark (category M*) was printed as 〓 inside the word, and
    IssueLicense, which looked only at letters, issued it without a word (ท〓กษิณ, a reviewer, R1): refused now as
    UNPRINTABLE_CHARACTERS, naming the marks, as letters no font draws are."""
    request = new_request(37)
    request.fields["production_address"] = value
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("fields.production_address", "UNPRINTABLE_CHARACTERS")]
    message = caught.value.details() or ""
    assert message.startswith(f"fields.production_address: 含有证照版式文件的字体无法显示的文字（{named}），"), message


def test_characters_that_print_as_nothing_are_kept_in_the_record_and_not_drawn(running: RunningGateway) -> None:
    """A variation selector of a rare Han character, a zero-width non-joiner and a direction mark, which the gateway
    keeps, had each been printed as 〓 on the sealed document (葛〓庄村, a reviewer, R3): the page shows the address
    as a reader sees it, and the record keeps every character as sent."""
    address = "葛\U000e0100庄村 济南\u200c市 编号\u200e12"
    request = new_request(36)
    request.fields["production_address"] = address
    issued = stub(running).IssueLicense(request).license
    stored = stub(running).GetLicense(issuance_pb2.GetLicenseRequest(license_id=issued.license_id)).license
    assert stored.fields["production_address"] == address
    text = page_text(document_of(running, issued.license_id).pdf)
    assert "生产地址 葛庄村 济南市 编号12\r\n" in text and MISSING_GLYPH not in text


def test_the_same_request_with_another_document_is_a_conflict(running: RunningGateway) -> None:
    request = new_request(14, document=license_pdf(running))
    first = stub(running).IssueLicense(request)
    again = stub(running).IssueLicense(request)
    assert not again.created and again.license.license_id == first.license.license_id
    request.document = b""
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(request)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_details(caught.value)[0].reason == "REQUEST_ID_REUSED"


def test_a_registered_document_is_not_another_licenses_document(running: RunningGateway) -> None:
    """An issuer that uploads a license's registered PDF (or one with updates after it) as another license's would
    make a document that shows the first's page, number and code and verifies PASSED as the second: refused, and
    nothing is issued. Also when the bytes after its end marker differ, which no signature covers (the last byte
    dropped or the line end rewritten had been issued as another license's document, and verified PASSED as it: an
    independent fuzz tester), and when it was saved anew, other bytes that still name the license they show."""
    from tests.signing.test_pdf import with_info

    first = stub(running).IssueLicense(new_request(19)).license
    registered = document_of(running, first.license_id).pdf
    assert registered.endswith(b"%%EOF\n")  # as every registered document ends: the gateway's writer wrote its end
    saved_anew = io.BytesIO()
    pypdfium2.PdfDocument(registered).save(saved_anew)
    copies = {
        "the registered document": registered,
        "with an update after it": with_info(registered, Title="又一份"),
        "its last byte dropped": registered[:-1],
        "its line end rewritten": registered[:-1] + b"\r\n",
        "NULs after it": registered + b"\0" * 5000,
        "its last byte dropped, then an update": with_info(registered[:-1], Title="又一份"),
        "saved anew": saved_anew.getvalue(),
    }
    for copy, given in copies.items():
        request = new_request(20, document=given)
        with pytest.raises(grpc.RpcError) as caught:
            stub(running).IssueLicense(request)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, copy
        assert ("document", "REGISTERED_DOCUMENT") in error_details(caught.value)[1], copy
        assert first.license_id not in (caught.value.details() or ""), copy
        with running.gateway.db.unit_of_work() as uow:
            assert uow.licenses.get_current(request.type_code, request.license_number) is None, copy


def test_a_pdf_naming_no_license_of_the_registry_is_an_issuers_own(running: RunningGateway) -> None:
    """An issuer's own PDF may carry its own system's identifier as its subject: only another license of this
    registry named there refuses it."""
    from tests.signing.test_pdf import with_info

    own = with_info(license_pdf(running), Subject="1.2.156.3005.2.11100000991000035X001.11370100993701011T.A1.001.K")
    issued = stub(running).IssueLicense(new_request(22, document=own)).license
    assert verify(running, document_of(running, issued.license_id).pdf).integrity.result is CheckResult.PASSED


def test_an_issuers_pdf_a_transfer_padded_after_its_end_is_sealed_without_the_padding(running: RunningGateway) -> None:
    """NULs and white space after the end marker are no part of the document, for SealDocument and IssueLicense as
    for VerifyDocument: they had been refused as a PDF cut off (TRUNCATED_PDF; an independent fuzz tester)."""
    original = license_pdf(running)
    padded = original + b"\0" * 5000 + b"  \r\n"
    seal = register(running, name="电子证照专用章")
    sealed = seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=padded))
    assert sealed.sealed_pdf.startswith(original) and b"\0" * 5000 not in sealed.sealed_pdf
    issued = stub(running).IssueLicense(new_request(21, document=padded)).license
    document = document_of(running, issued.license_id).pdf
    assert document.startswith(original) and verify(running, document).integrity.result is CheckResult.PASSED


def test_a_batch_issued_license_gets_its_document_when_first_asked(running: RunningGateway) -> None:
    request = new_request(15)
    (response,) = stub(running).BatchIssueLicenses(iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[request])]))
    (result,) = response.results
    license_id = result.license.license_id
    with running.gateway.db.unit_of_work() as uow:
        assert uow.documents.get(license_id) is None
    first = document_of(running, license_id)
    second = document_of(running, license_id)
    assert first.pdf == second.pdf and first.source == issuance_pb2.DOCUMENT_SOURCE_RENDERED
    assert verify(running, first.pdf).result is CheckResult.PASSED


def test_an_amended_license_has_a_document_of_its_own(running: RunningGateway) -> None:
    issued = stub(running).IssueLicense(new_request(16))
    amended = stub(running).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=issued.license.license_id,
            fields={"production_address": "济南市历下区泉城路1号"},
            reason="经营场所变更",
        )
    )
    new = document_of(running, amended.license.license_id)
    old = document_of(running, issued.license.license_id)
    assert new.sha256 != old.sha256
    assert "泉城路1号" in page_text(new.pdf) and "泉城路1号" not in page_text(old.pdf)


def test_only_the_issuer_fetches_a_document(running: RunningGateway) -> None:
    issued = stub(running).IssueLicense(new_request(17))
    for member, code in ((CIVIL, grpc.StatusCode.PERMISSION_DENIED), (PORTAL, grpc.StatusCode.PERMISSION_DENIED)):
        with pytest.raises(grpc.RpcError) as caught:
            document_of(running, issued.license.license_id, member)
        assert caught.value.code() == code
    with pytest.raises(grpc.RpcError) as missing:
        document_of(running, "")
    assert missing.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_with_the_tsa_down_nothing_is_issued_and_the_log_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Every call refused TSA_UNAVAILABLE had left only INFO access lines (found by an on-call tester): one WARNING
    names the TSA, without its credentials, and what fails, however many calls meet it within a few seconds; an INFO
    says when it gives timestamps again."""
    from prometheus_client.parser import text_string_to_metric_families

    from adapters.http import HttpApp, HttpServer
    from benchmarks.common import free_port
    from gateway import metrics

    issue_method = "/zzgw.v1.IssuanceService/IssueLicense"

    port = free_port()
    gw = start_gateway(
        tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=f"http://alice:s3cret@127.0.0.1:{port}/tsa"
    )
    caplog.set_level(logging.INFO, logger="zzgw.tsa")
    try:
        request = new_request(18)
        for _ in range(3):
            with pytest.raises(grpc.RpcError) as caught:
                stub(gw).IssueLicense(request)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
        with gw.gateway.db.unit_of_work() as uow:
            assert uow.licenses.get_current(request.type_code, request.license_number) is None
        said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "zzgw.tsa"]
        assert len(said) == 1, said
        counted = [  # counted by their reason, told from a database outage (an on-call tester)
            sample.value
            for family in text_string_to_metric_families(metrics.exposition()[0].decode())
            for sample in family.samples
            if sample.name == "zzgw_grpc_calls_total"
            and sample.labels == {"method": issue_method, "code": "UNAVAILABLE", "reason": "TSA_UNAVAILABLE"}
        ]
        assert counted and counted[0] >= 3
        level, line = said[0]
        assert level == "WARNING"
        assert line.startswith(f"no timestamp from ZZGW_TSA_URL http://127.0.0.1:{port}/tsa: cannot connect to ")
        assert (
            "IssueLicense, AmendLicense, SealDocument, StampDocument and sharing copies fail "
            "(UNAVAILABLE / TSA_UNAVAILABLE)" in line
        )
        assert "s3cret" not in line and "alice" not in line

        assert gw.gateway.tsa is not None  # the TSA comes back: the gateway's own, served over HTTP at that port
        tsa = HttpServer(HttpApp(timestamp=gw.gateway.tsa.respond, crl=None), f"127.0.0.1:{port}")
        tsa.start()
        try:
            assert stub(gw).IssueLicense(request).created
        finally:
            tsa.stop()
        said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "zzgw.tsa"]
        assert said[1:] == [("INFO", f"ZZGW_TSA_URL http://127.0.0.1:{port}/tsa gives timestamps again")]
    finally:
        gw.stop()


def test_a_tsa_reply_too_large_or_not_der_is_refused_unread(tmp_path: Path) -> None:
    """pyHanko read an external TSA's reply whole and gave it to asn1crypto, whose time is in the square of some
    malformed DER's size: a TSA (or anyone on the path to an http:// one) answering 0xFF bytes held a handler thread
    until the watchdog stopped the gateway. The reply is read to a bound and checked as DER first."""
    from adapters.http import HttpApp, HttpServer
    from benchmarks.common import free_port
    from gateway.authorities import MAX_TSA_REPLY_BYTES

    port = free_port()
    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=f"http://127.0.0.1:{port}/tsa")
    replies = [b"\xff" * 200_000, b"\x04\x00" * (MAX_TSA_REPLY_BYTES // 2 + 1)]
    tsa = HttpServer(HttpApp(timestamp=lambda query: replies.pop(0), crl=None), f"127.0.0.1:{port}")
    tsa.start()
    try:
        said = []
        for _ in range(2):
            with pytest.raises(grpc.RpcError) as caught:
                stub(gw).IssueLicense(new_request(19))
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
            said.append(caught.value.details())
        assert not replies
        assert gw.gateway.tsa is not None  # the gateway's own answers at the same address: a license is issued
        tsa.stop()
        tsa = HttpServer(HttpApp(timestamp=gw.gateway.tsa.respond, crl=None), f"127.0.0.1:{port}")
        tsa.start()
        assert stub(gw).IssueLicense(new_request(19)).created
    finally:
        tsa.stop()
        gw.stop()
    assert said[0].endswith("/tsa: the answer is not DER (a tag number of more than 4 octets at offset 0)）")
    assert said[1].endswith(f"/tsa: the answer is larger than {MAX_TSA_REPLY_BYTES:,} bytes）")


class _ClockOff:
    """A clock ``by`` off the host's."""

    def __init__(self, by: dt.timedelta) -> None:
        self._by = by

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self._by


def outside_tsa(now: dt.datetime, clock: Clock | None = None) -> tuple[SealMakerCA, TimeStampAuthority]:
    """A time-stamping service under a CA of its own, as a province's that ZZGW_TSA_URL names: the project's TSA, its
    root not the gateway's, its clock ``clock`` (the host's unless given)."""
    return tsa_under_its_own_ca(
        ca_name="某省时间戳中心", name="某省时间戳服务", since=now, days=365, clock=clock or SystemClock()
    )


@contextlib.contextmanager
def outside_tsa_served(
    tmp_path: Path, ca: SealMakerCA, respond: Callable[[bytes], bytes]
) -> Iterator[tuple[str, Path]]:
    """An outside TSA answering with ``respond`` over HTTP on a port of its own, and ``ca``'s root in a PEM file:
    (its URL, the file), as ZZGW_TSA_URL and ZZGW_TSA_ROOTS name them; the server stopped after."""
    from adapters.http import HttpApp, HttpServer
    from benchmarks.common import free_port

    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    port = free_port()
    server = HttpServer(HttpApp(timestamp=respond, crl=None), f"127.0.0.1:{port}")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}/tsa", roots
    finally:
        server.stop()


def test_an_outside_tsas_timestamps_are_checked_when_sealing_and_trusted_once_its_roots_are_named(
    tmp_path: Path,
) -> None:
    """With ZZGW_TSA_URL naming a TSA under another CA, documents were sealed with timestamps verification never
    trusted: once their seal was replaced (换章) every one read INDETERMINATE / CERT_REVOKED_NO_TRUSTED_TIME (a
    reviewer, R1). Its roots are named in ZZGW_TSA_ROOTS now: trusted for timestamps (never for a seal) and served
    at /certificates/tsa-roots.pem; without them nothing is sealed, TSA_UNAVAILABLE, saying why."""

    now = dt.datetime.now(dt.UTC)
    outside, authority = outside_tsa(now)
    with outside_tsa_served(tmp_path, outside, authority.respond) as (url, roots):
        unnamed = start_gateway(tmp_path / "unnamed", f"sqlite:///{tmp_path / 'unnamed.db'}", tsa_url=url)
        gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=url, tsa_roots=str(roots))
        try:
            request = new_request(20)
            with pytest.raises(grpc.RpcError) as caught:
                stub(unnamed).IssueLicense(request)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
            assert f"ZZGW_TSA_URL {url}: its certificate does not chain to a root trusted for timestamps" in (
                caught.value.details()
            )
            with unnamed.gateway.db.unit_of_work() as uow:
                assert uow.licenses.get_current(request.type_code, request.license_number) is None

            assert gw.gateway.seals is not None
            own = gw.gateway.seals.ca
            issued = stub(gw).IssueLicense(issue_request(unique(samples.business_license(21)))).license  # FPSL uses it
            document = document_of(gw, issued.license_id).pdf
            sealed = (
                seals(gw, MARKET)
                .SealDocument(seal_pb2.SealDocumentRequest(seal_id=register(gw).seal_id, pdf=license_pdf(gw)))
                .sealed_pdf
            )
            for pdf in (document, sealed):  # the outside TSA's timestamp, which the gateway's root does not anchor
                by_own = validate_sync(pdf, trust_roots=[own.root], intermediates=[own.intermediate], crls=())
                assert (by_own.timestamp.result, by_own.timestamp.reason) == (CheckResult.FAILED, "TIMESTAMP_UNTRUSTED")
                by_outside = validate_sync(
                    pdf,
                    trust_roots=[own.root],
                    intermediates=[own.intermediate],
                    crls=(),
                    tsa_trust_roots=[outside.root],
                )
                assert by_outside.timestamp.result is CheckResult.PASSED
            every = seals(gw, MARKET)
            for seal in every.ListSeals(
                seal_pb2.ListSealsRequest()
            ).seals:  # 换章: the documents sealed before stay good
                every.RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章"))
            verifier = verification_pb2_grpc.VerificationServiceStub(gw.channel(TAX))
            for pdf in (document, sealed):
                report = verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=pdf)).report
                assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED_RESULT, "")
                assert report.verdict == (
                    PASSED_RESULT if pdf is document else verification_pb2.CHECK_RESULT_INDETERMINATE
                )

            # its roots anchor timestamps only: a seal certified by its CA is not trusted
            key = ec.generate_private_key(ec.SECP256R1())
            forged_seal = outside.issue_seal_certificate(
                issuer_name="济南市市场监督管理局",
                issuer_uscc=MARKET,
                seal_name="电子证照专用章",
                public_key=key.public_key(),
                not_before=now,
                not_after=now + dt.timedelta(days=30),
            )
            forged = sign_invisibly(
                license_pdf(gw), "Seal1", signed_as=(key, forged_seal), chain=(outside.intermediate,)
            )
            report = verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=forged)).report
            assert report.issuer_identity.reason == "UNTRUSTED_ROOT", report.issuer_identity

            # what a verifier needs of the timestamps besides what each token carries: the outside TSA's root
            with http_side(gw) as base, urllib.request.urlopen(f"{base}/certificates/tsa-roots.pem", timeout=10) as got:
                assert got.read() == roots.read_bytes()
        finally:
            gw.stop()
            unnamed.stop()


def with_lookalikes(reply: bytes, name: x509.Name, count: int = 8) -> bytes:
    """A TSA's ``reply`` whose token carries ``count`` more certificates, self-issued and all named ``name``: pyHanko
    built the timestamp's path through every ordering of them (8: 37 s, 9: more than 5 min; a reviewer, rfA R1/R3)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    lookalikes = [
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
        for _ in range(count)
    ]
    response = TimeStampResp.load(reply)
    signed_data = response["time_stamp_token"]["content"]
    signed_data["certificates"] = [
        *signed_data["certificates"],
        *(
            cms.CertificateChoices(
                name="certificate", value=asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            )
            for c in lookalikes
        ),
    ]
    der: bytes = response.dump(force=True)
    return der


class _LookalikeTimeStamper(TimeStamper):
    """An applicant's desktop signer's timestamps, from ``authority`` with look-alikes of ``issuer`` added."""

    def __init__(self, authority: TimeStampAuthority, issuer: x509.Name):
        super().__init__()  # type: ignore[no-untyped-call]  # pyHanko's is unannotated
        self._authority, self._issuer = authority, issuer

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> TimeStampResp:
        return TimeStampResp.load(with_lookalikes(self._authority.respond(req.dump()), self._issuer))


def test_a_timestamp_carrying_certificates_named_alike_is_refused_before_any_path_is_built(
    running: RunningGateway,
) -> None:
    """A 20 KB PDF, self-sealed, whose timestamp token carried 8 self-issued certificates named like its TSA's issuer
    held a worker for 77 s of VerifyDocument (a reviewer, rfA R1), within the 16 certificates a seal may carry. Two
    different certificates of one name in one signature or token are not looked at: FAILED / SIGNATURE_INVALID at
    once, and a genuine document still verifies."""
    outside, authority = outside_tsa(dt.datetime.now(dt.UTC))
    lookalikes = _LookalikeTimeStamper(authority, outside.intermediate.subject)
    crafted = sign_invisibly(license_pdf(running), "Seal1", timestamper=lookalikes)
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(TAX))
    started = time.monotonic()
    report = verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=crafted), timeout=30).report
    # the paths through the look-alikes had taken 77 s (past the call's timeout); 15 s leaves a busy machine room
    assert time.monotonic() - started < 15
    assert (report.verdict, report.integrity.result, report.integrity.reason) == (FAILED, FAILED, "SIGNATURE_INVALID")
    assert "it carries two different certificates named " in report.integrity.detail, report.integrity.detail

    issued = stub(running).IssueLicense(issue_request(unique(samples.business_license(22)))).license
    genuine = document_of(running, issued.license_id).pdf
    report = verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=FPSL, pdf=genuine)).report
    assert report.verdict == PASSED_RESULT, report


def test_an_outside_tsas_answer_carrying_certificates_named_alike_fails_that_call_at_once(tmp_path: Path) -> None:
    """The sealing check of ZZGW_TSA_URL's token built its path through every ordering of the look-alikes it carried:
    one 5 KB answer held IssueLicense, and a SealDocument behind it, until the 60 s sealing timeout (a reviewer, rfA
    R3). It is refused before any path is built, TSA_UNAVAILABLE saying why, and the next answer seals."""
    outside, authority = outside_tsa(dt.datetime.now(dt.UTC))
    answers = [lambda query: with_lookalikes(authority.respond(query), outside.intermediate.subject)]
    with outside_tsa_served(
        tmp_path, outside, lambda query: (answers.pop() if answers else authority.respond)(query)
    ) as (url, roots):
        gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=url, tsa_roots=str(roots))
        try:
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as caught:
                stub(gw).IssueLicense(new_request(23), timeout=30)
            # held until the 60 s sealing timeout before (past the call's); 5 s had been too little on a busy machine
            assert time.monotonic() - started < 15
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
            assert f"ZZGW_TSA_URL {url}: it carries two different certificates named " in caught.value.details()
            assert not answers
            sealed = seals(gw, MARKET).SealDocument(
                seal_pb2.SealDocumentRequest(seal_id=register(gw).seal_id, pdf=license_pdf(gw)), timeout=30
            )
            assert sealed.sealed_pdf.startswith(b"%PDF")
        finally:
            gw.stop()


@pytest.mark.parametrize(
    ("off", "said"), [(dt.timedelta(minutes=10), "ahead of"), (-dt.timedelta(minutes=10), "behind")]
)
def test_an_outside_tsa_whose_clock_is_off_seals_nothing(tmp_path: Path, off: dt.timedelta, said: str) -> None:
    """A seal is judged at its timestamp's time: an outside TSA 10 minutes ahead had its documents fail
    SIGNING_TIME_IN_FUTURE, one 10 minutes behind a freshly registered seal's fail CERT_NOT_YET_VALID for good, and
    IssueLicense answered OK (a reviewer, rfA R2). A token more than CLOCK_SKEW off the gateway's clock is not used:
    TSA_UNAVAILABLE naming the offset, nothing stored."""
    outside, authority = outside_tsa(dt.datetime.now(dt.UTC) - dt.timedelta(days=1), _ClockOff(off))
    with outside_tsa_served(tmp_path, outside, authority.respond) as (url, roots):
        gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=url, tsa_roots=str(roots))
        try:
            request = new_request(24)
            with pytest.raises(grpc.RpcError) as caught:
                stub(gw).IssueLicense(request)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
            assert re.search(
                rf"ZZGW_TSA_URL {url}: its time [0-9-]+ [0-9:]+ UTC is (59\d|60\d) s {said} the gateway's clock; "
                "at most 300 s is taken",
                caught.value.details(),
            ), caught.value.details()
            with gw.gateway.db.unit_of_work() as uow:
                assert uow.licenses.get_current(request.type_code, request.license_number) is None
        finally:
            gw.stop()


def test_a_process_running_past_its_tsa_certificates_end_seals_nothing_under_it(tmp_path: Path) -> None:
    """A process left running past its time-stamping certificate's end went on sealing with timestamps signed under
    it: each such document proved no sealing time, for good (CERT_EXPIRED_NO_TRUSTED_TIME once its seal ended), and
    /tsa handed out tokens no checker takes (a reviewer, R3). It seals nothing then, TSA_UNAVAILABLE saying why, and
    /tsa answers rejection / timeNotAvailable; at the very end it still stamps (valid through its notAfter)."""
    from tests.api.test_receipt_certificate_end import Movable

    clock = Movable()
    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", clock=clock)
    try:
        assert gw.gateway.tsa is not None
        end = x509.load_pem_x509_certificate((gw.data_dir / "seal-ca" / "tsa.pem").read_bytes()).not_valid_after_utc
        clock.at = end - dt.timedelta(days=30)
        seal = register(gw)  # valid for 730 days from then
        request = seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(gw))
        clock.at = end
        assert seals(gw, MARKET).SealDocument(request).sealed_pdf

        clock.at = end + dt.timedelta(days=2)
        with pytest.raises(grpc.RpcError) as caught:
            seals(gw, MARKET).SealDocument(request)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
        assert "the time-stamping certificate ended on" in caught.value.details(), caught.value.details()
        query = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": bytes(32)},
                "cert_req": True,
            }
        )
        reply = TimeStampResp.load(gw.gateway.tsa.respond(query.dump()))
        assert reply["status"]["status"].native == "rejection"
        assert reply["status"]["fail_info"].native == {"time_not_available"}
        assert not reply["time_stamp_token"]
    finally:
        gw.stop()


def test_an_id_card_may_be_valid_for_life_and_prints_so(running: RunningGateway) -> None:
    """长期: a 居民身份证 of a holder aged 46 or more has no end date (the catalog's ``lifelong``); a food permit
    still must have one."""
    card = {**samples.id_card(807), "request_id": f"id-{uuid.uuid4().hex}", "valid_until": ""}
    issued = running.issuance(POLICE).IssueLicense(issue_request(card)).license
    assert issued.valid_until == ""
    pdf = (
        running.issuance(POLICE)
        .GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=issued.license_id))
        .pdf
    )
    assert "长期" in page_text(pdf)
    with pytest.raises(grpc.RpcError) as caught:
        stub(running).IssueLicense(issue_request({**unique(samples.food_permit(808)), "valid_until": ""}))
    assert ("valid_until", "REQUIRED") in error_details(caught.value)[1]


def test_a_long_license_number_issues_and_its_document_is_drawn_inside_the_frame(running: RunningGateway) -> None:
    """A 62-character 许可证编号 (MAX_LICENSE_NUMBER is 64) is set smaller on its line: IssueLicense draws it, and a
    batch-issued license's document, drawn at its first fetch, is drawn too (both had been DOES_NOT_FIT, the batch's
    license stored with a document that could never be drawn)."""
    from tests.api.test_issuance import results
    from tests.signing.test_render import outside_the_frame

    numbers = ["SC" + uuid.uuid4().hex[:12].upper() + "W" * 48 for _ in range(2)]  # 62 characters
    one = issue_request(unique(samples.food_permit(31)))
    one.license_number = numbers[0]
    issued = stub(running).IssueLicense(one)
    batched = issue_request(unique(samples.food_permit(32)))
    batched.license_number = numbers[1]
    (item,) = results(
        stub(running).BatchIssueLicenses(iter([issuance_pb2.BatchIssueLicensesRequest(licenses=[batched])]))
    )
    assert not item.HasField("error"), item.error
    for license_id, number in zip((issued.license.license_id, item.license.license_id), numbers, strict=True):
        pdf = document_of(running, license_id).pdf
        assert outside_the_frame(pdf) == []
        page = pypdfium2.PdfDocument(pdf)[0].get_textpage()
        assert number in page.get_text_range().replace("\r\n", "").replace(" ", "")


def test_an_id_cards_document_title_masks_the_holders_number(running: RunningGateway) -> None:
    """A 居民身份证's number is its holder's 公民身份号码, and the title (Info /Title, XMP dc:title) leaves the page: a
    viewer's window, a print queue's log, a search index. It had been 居民身份证 370102198605047863 (a privacy
    auditor, D2); now the number is masked as the ZZ1 code masks it. A 营业执照's credit code, public, stays whole."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    card = {**samples.id_card(809), "request_id": f"id-{uuid.uuid4().hex}"}
    issued = running.issuance(POLICE).IssueLicense(issue_request(card)).license
    number = issued.license_number
    assert number == issued.holder.code
    pdf = (
        running.issuance(POLICE)
        .GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=issued.license_id))
        .pdf
    )
    reader = PdfFileReader(io.BytesIO(pdf))
    xmp = reader.root["/Metadata"].get_object().data.decode("utf-8")
    assert reader.trailer["/Info"]["/Title"] == f"居民身份证 {number[:4]}{'*' * 10}{number[-4:]}"
    assert f"居民身份证 {number[:4]}{'*' * 10}{number[-4:]}" in xmp and number not in xmp
    assert number in page_text(pdf)  # the page itself, made for the holder, prints it

    business = issue_request(unique(samples.business_license(809)))
    licensed = running.issuance(MARKET).IssueLicense(business).license
    reader = PdfFileReader(io.BytesIO(document_of(running, licensed.license_id).pdf))
    assert reader.trailer["/Info"]["/Title"] == f"营业执照 {licensed.license_number}"


def test_a_supplied_pdfs_document_information_is_not_logged_and_its_lines_are_bounded(
    running: RunningGateway, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyHanko, reading the document information as it seals, logs a ``/CreationDate`` that is not a date at WARNING
    with its value, and one that refers back to the information dictionary as that whole dictionary, title and author:
    a caller's text, and a license PDF's holder, in the operators' log, one line per sealing (a reviewer, R2). The
    gateway's handler (``configure_logging``'s, on stderr) keeps the library's template, once every 5 s a line,
    saying how many it left out."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from gateway import server
    from gateway.logs import OncePer

    marker = "王泄露 370102198610209660"
    text = b"<FEFF" + marker.encode("utf-16-be").hex().encode() + b">"
    own = license_pdf(running)
    info_number = int(PdfFileReader(io.BytesIO(own)).trailer["/Size"])  # new_info_by_hand's object
    supplied = new_info_by_hand(
        own, b"<< /Title %s /Author %s /CreationDate %s /ModDate %d 0 R >>" % (text, text, text, info_number)
    )
    now = [0.0]
    monkeypatch.setattr(server, "_LIBRARY_LINES", OncePer(server.LIBRARY_LINE_SECONDS, clock=lambda: now[0]))
    caplog.set_level(logging.WARNING)
    stderr = io.StringIO()
    handler = logging.StreamHandler(stderr)  # as configure_logging's own handler, on the root logger
    handler.addFilter(server.library_tracebacks_cut)
    logging.getLogger().addHandler(handler)
    seal = register(running, name="电子证照专用章")
    try:
        for _ in range(3):
            seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=supplied))
        now[0] += server.LIBRARY_LINE_SECONDS
        sealed = seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=supplied))
    finally:
        logging.getLogger().removeHandler(handler)
    assert verify(running, sealed.sealed_pdf).integrity.result is CheckResult.PASSED
    logged = stderr.getvalue()
    assert "王泄露" not in logged and "370102198610209660" not in logged, logged
    lines = [line for line in logged.splitlines() if "in info dict has value" in line]
    template = "Key %s in info dict has value %s, which is not a valid date string (its values left out)"
    assert len(lines) == 2 and lines[0] == template, logged  # pyHanko's line once, until 5 s have passed
    assert re.fullmatch(re.escape(template) + r"; \d+ more lines since the last such line", lines[1]), logged
