"""SealService over real gRPC: register, certificate profile, image, list, get, revoke and the CRL."""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from PIL import Image
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from gateway.domain.model import CHINA_TZ
from gateway.domain.seals import SealStatus
from gateway.services.seals import WRITTEN_BACK
from gateway.store.repositories import SealRepository
from protos.zzgw.v1 import seal_pb2, seal_pb2_grpc
from signing.results import CheckResult
from signing.seal_ca import check_certificate
from tests.conftest import CIVIL, MARKET, POLICE, TAX, RunningGateway, descriptions, error_details
from tests.signing.test_pdf import overlap, seal_widgets


def seals(running: RunningGateway, member: str) -> seal_pb2_grpc.SealServiceStub:
    return seal_pb2_grpc.SealServiceStub(running.channel(member))


def register(running: RunningGateway, member: str = MARKET, **fields: object) -> seal_pb2.Seal:
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="电子证照专用章")
    for key, value in fields.items():
        setattr(request, key, value)
    return seals(running, member).RegisterSeal(request).seal


def identity(running: RunningGateway, seal: seal_pb2.Seal, at: dt.datetime) -> CheckResult:
    service = running.gateway.seals
    assert service is not None
    finding = check_certificate(
        x509.load_der_x509_certificate(seal.certificate_der),
        trust_roots=[service.ca.root],
        intermediates=[service.ca.intermediate],
        crls=[service.crl()],
        at=at,
    )
    return finding.result


@pytest.mark.parametrize("algorithm", ["ecdsa-p256-sha256", "rsa2048-pkcs1v15-sha256"])
def test_register_makes_a_certified_seal_with_its_image(running: RunningGateway, algorithm: str) -> None:
    seal = register(running, algorithm=algorithm)
    assert seal.status == seal_pb2.SEAL_STATUS_ACTIVE and seal.algorithm == algorithm
    assert seal.issuer_code == MARKET and seal.issuer_name == "济南市市场监督管理局" and seal.name == "电子证照专用章"
    cert = x509.load_der_x509_certificate(seal.certificate_der)
    subject = cert.subject
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "济南市市场监督管理局"
    assert subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value == MARKET
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "电子证照专用章"
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
    image = Image.open(io.BytesIO(seal.image_png)).convert("RGBA")
    red = sum(1 for r, g, b, a in image.get_flattened_data() if a > 200 and r > 180 and g < 80 and b < 80)
    assert red > image.width * image.height * 0.05
    assert identity(running, seal, dt.datetime.now(dt.UTC)) is CheckResult.PASSED


OTHER_CONTENT = [("name", "财务专用章"), ("algorithm", "rsa2048-pkcs1v15-sha256"), ("validity_days", 30)]


@pytest.mark.parametrize(("field", "value"), OTHER_CONTENT, ids=[f for f, _ in OTHER_CONTENT])
def test_register_is_idempotent(running: RunningGateway, field: str, value: object) -> None:
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章", validity_days=730)
    first = seals(running, MARKET).RegisterSeal(request).seal
    again = seals(running, MARKET).RegisterSeal(request).seal
    assert again.seal_id == first.seal_id and again.certificate_der == first.certificate_der
    request.validity_days = 0  # the default, 730 days: the same request
    assert seals(running, MARKET).RegisterSeal(request).seal.seal_id == first.seal_id
    setattr(request, field, value)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).RegisterSeal(request)
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_details(caught.value)[0].reason == "REQUEST_ID_REUSED"
    assert f"request_id {request.request_id} was used for another seal" in (caught.value.details() or "")
    assert [s.seal_id for s in seals(running, MARKET).ListSeals(seal_pb2.ListSealsRequest()).seals].count(
        first.seal_id
    ) == 1


class _EveningClock:
    """The system clock moved on to the next 16:30 UTC (00:30 in Beijing, the next day)."""

    def __init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        self._shift = (dt.datetime.combine(now.date(), dt.time(16, 30), tzinfo=dt.UTC) - now) % dt.timedelta(days=1)

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self._shift


def test_a_reused_request_id_names_the_seals_end_by_chinas_date(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Registered between 16:00 and 24:00 UTC, a seal ends on a date in China a day after its UTC date: the refusal
    of its request id named the UTC one (有效期至 a day early; a time tester)."""
    monkeypatch.setattr(running.gateway.seals, "_clock", _EveningClock())
    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章", validity_days=30)
    seal = seals(running, MARKET).RegisterSeal(request).seal
    try:
        request.name = "财务专用章"
        with pytest.raises(grpc.RpcError) as caught:
            seals(running, MARKET).RegisterSeal(request)
    finally:  # the issuer's newest seal, dated ahead: not to seal the module's next licenses
        seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="测试完毕"))
    ends = seal.valid_until.ToDatetime(dt.UTC)
    assert ends.astimezone(CHINA_TZ).date() != ends.date()  # the case: its UTC date is the day before China's
    assert f"有效期至 {ends.astimezone(CHINA_TZ).date()}）" in (caught.value.details() or "")


def test_a_seal_cut_short_at_its_seal_makers_end_is_what_any_longer_request_made(tmp_path: Path) -> None:
    """A seal ends no later than the seal-maker's intermediate (an imported CA 100 days from its end): a request for
    more days than it has left got the same seal as any other such request, and one for fewer did not."""
    from gateway.authorities import import_seal_ca
    from gateway.config import Settings
    from signing.seal_ca import SealMakerCA
    from tests.conftest import PASSPHRASE, start_gateway

    ending = SealMakerCA.create("某省电子印章制章中心", dt.datetime.now(dt.UTC) - dt.timedelta(days=10 * 365 - 100))
    ending.save(tmp_path / "external", b"theirs")
    data_dir, database = tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}"
    import_seal_ca(
        Settings(data_dir=data_dir, database_url=database, key_passphrase=PASSPHRASE),  # type: ignore[arg-type]
        (tmp_path / "external" / "root.pem").read_bytes(),
        (tmp_path / "external" / "intermediate.pem").read_bytes(),
        (tmp_path / "external" / "intermediate.key.pem").read_bytes(),
        b"theirs",
    )
    gw = start_gateway(data_dir, database)
    try:
        stub = seals(gw, MARKET)
        cut = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章", validity_days=365)
        seal = stub.RegisterSeal(cut).seal
        assert seal.valid_until.ToDatetime(dt.UTC) == ending.intermediate.not_valid_after_utc - dt.timedelta(seconds=1)
        cut.validity_days = 200
        assert stub.RegisterSeal(cut).seal.seal_id == seal.seal_id
        whole = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同专用章", validity_days=50)
        assert stub.RegisterSeal(whole).seal.seal_id != seal.seal_id
        for request, days in ((cut, 30), (whole, 60)):
            request.validity_days = days
            with pytest.raises(grpc.RpcError) as caught:
                stub.RegisterSeal(request)
            assert error_details(caught.value)[0].reason == "REQUEST_ID_REUSED", days
    finally:
        gw.stop()


BAD = [
    ("name", "", "name", "REQUIRED"),
    ("name", "一个名字特别长的专用章印章名称", "name", "BAD_SEAL_NAME"),
    ("name", "合同\u200b专用章", "name", "BAD_SEAL_NAME"),  # format and private-use characters cannot be drawn
    ("name", "合同\ue000章", "name", "BAD_SEAL_NAME"),
    ("name", "核验\u034f回执专用章", "name", "BAD_SEAL_NAME"),  # prints as the gateway's receipt seal
    ("name", "合同\u3164专用章", "name", "BAD_SEAL_NAME"),  # a Hangul filler prints as nothing
    # engraved on the round seal: what a sloppy integration sends (an independent fuzz tester)
    ("name", "😀", "name", "BAD_SEAL_NAME"),
    ("name", '"}', "name", "BAD_SEAL_NAME"),
    ("name", "NaN", "name", "BAD_SEAL_NAME"),  # letters alone: a seal's name is in Chinese characters
    ("name", "%s%n{}{0}", "name", "BAD_SEAL_NAME"),
    ("name", "-1", "name", "BAD_SEAL_NAME"),
    ("name", "\\", "name", "BAD_SEAL_NAME"),
    ("name", "（）", "name", "BAD_SEAL_NAME"),
    ("name", "合同章!", "name", "BAD_SEAL_NAME"),
    ("name", "合同 专用章", "name", "BAD_SEAL_NAME"),
    ("name", "核验回执专用章", "name", "RESERVED_SEAL_NAME"),  # would sign receipts that pass offline checks
    ("name", "济南核验回执专用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "电子印章制章者", "name", "RESERVED_SEAL_NAME"),
    ("name", "核驗回執專用章", "name", "RESERVED_SEAL_NAME"),  # in traditional characters it reads the same
    ("name", "電子印章製章者", "name", "RESERVED_SEAL_NAME"),
    ("name", "核験回执専用章", "name", "RESERVED_SEAL_NAME"),  # Japanese forms, and variants, read the same too
    ("name", "核騐回执专用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "核験回執専用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "核验廻执专用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "电子印章制章\ufa5b", "name", "RESERVED_SEAL_NAME"),  # a compatibility form of 者
    ("name", "电子印章·制章者", "name", "RESERVED_SEAL_NAME"),  # split by the punctuation a name may hold
    ("name", "核验回执·专用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "核验-回执专用章", "name", "RESERVED_SEAL_NAME"),
    ("name", "核验回执（专用章）", "name", "RESERVED_SEAL_NAME"),
    ("name", "電子印章・製章者", "name", "RESERVED_SEAL_NAME"),
    ("algorithm", "dsa-1024", "algorithm", "UNSUPPORTED_ALGORITHM"),
    ("validity_days", 4000, "validity_days", "BAD_VALIDITY"),
    ("request_id", "", "request_id", "REQUIRED"),
]


@pytest.mark.parametrize(("field", "value", "where", "reason"), BAD, ids=[f"{b[0]}={b[1]}" for b in BAD])
def test_bad_registrations(running: RunningGateway, field: str, value: object, where: str, reason: str) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        register(running, **{field: value})
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert (where, reason) in error_details(caught.value)[1]


def test_the_seal_names_departments_use_are_seal_names(running: RunningGateway) -> None:
    """The names of the catalog, the demo and the tests, and some with the letters, digits and punctuation a name
    may have, are registered."""
    for name in ("电子证照专用章", "婚姻登记专用章", "合同专用章2号", "合同专用章（二）", "ＡＢ公司合同章", "财务-章"):
        assert register(running, name=name).name == name
    # the punctuation Chinese input methods type, which seal names use (a reviewer)
    for name in (
        "合同专用章〔2025〕",
        "合同专用章【二】",
        "合同专用章－二",
        "合同专用章—二",
        "财务・合同章",
        "财务·合同章",
    ):
        assert register(running, name=name).name == name


def test_a_retry_of_a_seal_registered_under_a_name_refused_since_gets_its_seal(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request_id is looked up before the name is judged: a registration an earlier version took, under a name
    refused now, is answered with its seal on a retry, not BAD_SEAL_NAME (a reviewer)."""
    import gateway.services.seals as service

    request = seal_pb2.RegisterSealRequest(request_id="seal-" + uuid.uuid4().hex, name="合同章!")
    with monkeypatch.context() as earlier:
        earlier.setattr(service, "seal_name_violation", lambda name: None)
        made = seals(running, MARKET).RegisterSeal(request).seal
    assert seals(running, MARKET).RegisterSeal(request).seal.seal_id == made.seal_id
    request.request_id = "seal-" + uuid.uuid4().hex
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).RegisterSeal(request)
    assert error_details(caught.value)[1] == [("name", "BAD_SEAL_NAME")]


@pytest.mark.parametrize("letter", ["ᠮ", "བ", "ئ"], ids=["Mongolian", "Tibetan", "Uyghur"])
def test_a_letter_of_a_script_the_seal_fonts_lack_is_refused_saying_so(running: RunningGateway, letter: str) -> None:
    """A bilingual seal's second name: no font of the seal image draws it (and PIL would not shape it). Said whole,
    within the 200 characters a description may have."""
    with pytest.raises(grpc.RpcError) as caught:
        register(running, name=f"合同{letter}章")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(caught.value)  # type: ignore[arg-type]
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert [detail.Unpack(bad) for detail in status.details if detail.Is(bad.DESCRIPTOR)] == [True]
    punctuation = "（）()〔〕【】·・、-－—"
    said = (
        f"印章名称须为1至12个汉字、字母、数字或{punctuation}，至少含一个汉字；其他文字暂不能刻制（a seal name is 1-12 "
        f"Chinese characters, letters, digits and {punctuation}, one Chinese at least: {letter!r} "
        f"(U+{ord(letter):04X}) is of a script not engraved here）"
    )
    assert {(v.field, v.reason): v.description for v in bad.field_violations} == {("name", "BAD_SEAL_NAME"): said}


def test_only_issuers_register_and_only_the_owner_revokes(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        register(running, TAX)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    seal = register(running, POLICE)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, CIVIL).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="不是我的章"))
    assert error_details(caught.value)[0].reason == "NOT_SEAL_OWNER"
    assert (caught.value.details() or "").startswith("只有印章所属部门可以使用或吊销该印章（")
    got = seals(running, TAX).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal  # verifiers may read it
    assert got.certificate_der == seal.certificate_der and got.image_png == seal.image_png


def test_list_shows_the_callers_seals(running: RunningGateway) -> None:
    mine = register(running, CIVIL, name="婚姻登记专用章")
    listed = seals(running, CIVIL).ListSeals(seal_pb2.ListSealsRequest()).seals
    assert mine.seal_id in {s.seal_id for s in listed}
    assert {s.issuer_code for s in listed} == {CIVIL} and all(not s.image_png for s in listed)


def test_revoked_seal_goes_on_the_crl(running: RunningGateway) -> None:
    seal = register(running)
    before = dt.datetime.now(dt.UTC)
    revoked = (
        seals(running, MARKET)
        .RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="印章遗失", crl_reason="key_compromise"))
        .seal
    )
    assert revoked.status == seal_pb2.SEAL_STATUS_REVOKED and revoked.revocation_reason == "印章遗失"
    assert revoked.revoked_at.ToDatetime(dt.UTC) >= before.replace(microsecond=0)
    service = running.gateway.seals
    assert service is not None
    crl = x509.load_der_x509_crl(service.crl())
    entry = crl.get_revoked_certificate_by_serial_number(
        x509.load_der_x509_certificate(seal.certificate_der).serial_number
    )
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == x509.ReasonFlags.key_compromise
    assert identity(running, seal, dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) is CheckResult.FAILED
    assert identity(running, seal, before - dt.timedelta(minutes=1)) is CheckResult.PASSED  # sealed before revocation
    again = seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="再次"))
    assert again.seal.revocation_reason == "印章遗失"  # revocation is final and happens once


def test_unknown_seal(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).GetSeal(seal_pb2.GetSealRequest(seal_id="NOSUCHSEAL"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(caught.value)[0].reason == "SEAL_NOT_FOUND"


def license_pdf(running: RunningGateway) -> bytes:
    """A rendered 营业执照, as an issuer that sends only data would get it."""
    from gateway.bootstrap import samples
    from signing.render import render_license_pdf

    content = samples.license_content(samples.business_license(3), MARKET)
    license_type = running.gateway.catalog.license_type(content.type_code)
    return render_license_pdf(
        content, license_type, issuer_name="济南市市场监督管理局", qr_text="ZZ1:TEST", drawn_at=dt.datetime.now(dt.UTC)
    )


def test_seal_document_produces_a_pdf_that_validates_with_a_timestamp(running: RunningGateway) -> None:
    from signing.pdf import validate_sync

    seal = register(running, name="电子证照专用章")
    original = license_pdf(running)
    sealed = (
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=original)).sealed_pdf
    )
    assert sealed.startswith(original)  # an incremental update: the issuer's document is kept byte for byte
    service = running.gateway.seals
    assert service is not None
    report = validate_sync(
        sealed, trust_roots=[service.ca.root], intermediates=[service.ca.intermediate], crls=[service.crl()]
    )
    assert report.result is CheckResult.PASSED, report
    assert report.integrity.result is CheckResult.PASSED and report.issuer_identity.result is CheckResult.PASSED
    assert report.timestamp.result is CheckResult.PASSED and report.signing_time_trusted
    assert report.uscc == MARKET and report.seal_name == "电子证照专用章"
    flipped = bytearray(sealed)
    flipped[len(original) // 2] ^= 0x01  # inside the original document, covered by the signature
    tampered = validate_sync(
        bytes(flipped), trust_roots=[service.ca.root], intermediates=[service.ca.intermediate], crls=[service.crl()]
    )
    assert tampered.integrity.result is CheckResult.FAILED


@pytest.mark.parametrize(
    ("pdf", "reason"), [(b"not a pdf at all", "NOT_A_PDF"), (b"%PDF-1.7\n1 0 obj\n<<", "TRUNCATED_PDF")]
)
def test_seal_document_refuses_what_is_not_a_sealable_pdf(running: RunningGateway, pdf: bytes, reason: str) -> None:
    seal = register(running)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1][0][0] == "pdf"
    assert error_details(caught.value)[1][0][1] in (reason, "DAMAGED_PDF")


def _bare_pdf(*objects: bytes) -> bytes:
    """A PDF of ``objects`` (object 1 its catalog), with its cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    return bytes(out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))


@pytest.mark.parametrize(
    "pages",
    [b"<< /Type /Pages /Kids [] /Count 0 >>", b"<< /Type /Pages /Kids [9 0 R] /Count 1 >>"],
    ids=["no page", "a page tree naming a missing page"],
)
def test_a_pdf_without_a_page_to_seal_is_the_pdf_to_fix_not_the_page(running: RunningGateway, pages: bytes) -> None:
    """A client that asked for the first page of a PDF with none is told to fix the PDF: it had been told to fix
    ``page``, which it never set (a reviewer, of the change that names ``page`` for one past the last)."""
    pdf = _bare_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", pages)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=register(running).seal_id, pdf=pdf))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("pdf", "BAD_PLACEMENT")]


@pytest.mark.parametrize("kind", ["dictionary", "array"])
def test_a_page_nested_too_deep_to_read_is_a_damaged_pdf_not_a_missing_page(running: RunningGateway, kind: str) -> None:
    """A one-page PDF whose page held a dictionary nested 600 deep was refused BAD_PLACEMENT, "the PDF has no page 0",
    which no page number could help, where the same depth of arrays was DAMAGED_PDF (a reviewer, security R2): both
    are DAMAGED_PDF on the PDF, for SealDocument and for an issuer's document."""
    from tests.api.test_documents import new_request  # it imports this module

    nested = b"<< /A " * 600 + b"1" + b" >>" * 600 if kind == "dictionary" else b"[" * 600 + b"1" + b"]" * 600
    pdf = _bare_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Deep %s >>" % nested,
    )
    calls = {
        "pdf": lambda: seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=register(running).seal_id, pdf=pdf)
        ),
        "document": lambda: running.issuance(MARKET).IssueLicense(new_request(1, pdf)),
    }
    for field, call in calls.items():
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert error_details(caught.value)[1] == [(field, "DAMAGED_PDF")]
        assert "its objects nest too deep to be read" in caught.value.details()
        assert "no page" not in caught.value.details()


BAD_SEALING = {
    "page -1": ({"page": -1}, ("page", "BAD_PLACEMENT")),  # pages count from 0
    "page past the end": ({"page": 99}, ("page", "BAD_PLACEMENT")),  # it had named pdf (an integrator)
    "reason of 201 characters": ({"reason": "理" * 201}, ("reason", "TOO_LONG")),
    "reason with NUL": ({"reason": "a\x00b"}, ("reason", "BAD_CHARACTERS")),
    "reason with a line break": ({"reason": "第一行\n第二行"}, ("reason", "BAD_CHARACTERS")),
    "reason with a C1 control": ({"reason": "核验\x9b专用"}, ("reason", "BAD_CHARACTERS")),
}


@pytest.mark.parametrize(("fields", "violation"), BAD_SEALING.values(), ids=BAD_SEALING.keys())
def test_seal_document_refuses_a_bad_page_or_reason(
    running: RunningGateway, fields: dict[str, object], violation: tuple[str, str]
) -> None:
    seal = register(running)
    request = seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running), **fields)  # type: ignore[arg-type]
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [violation]


def test_seal_document_shows_a_reason_of_200_characters_in_the_signature(running: RunningGateway) -> None:
    from pyhanko.pdf_utils.reader import PdfFileReader

    seal = register(running)
    reason = "依申请出具证明材料" * 22 + "专用"  # 200 characters
    request = seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running), reason=f" {reason} ")
    sealed = seals(running, MARKET).SealDocument(request).sealed_pdf
    (signature,) = PdfFileReader(io.BytesIO(sealed)).embedded_signatures
    assert signature.sig_object["/Reason"] == reason


def test_a_revoked_or_foreign_seal_cannot_seal(running: RunningGateway) -> None:
    seal = register(running)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, POLICE).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=b"%PDF"))
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
    seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running))
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "SEAL_REVOKED"


def test_seal_document_with_the_tsa_down_is_unavailable(tmp_path: Path) -> None:
    from benchmarks.common import free_port
    from tests.conftest import start_gateway

    gw = start_gateway(
        tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", tsa_url=f"http://127.0.0.1:{free_port()}/tsa"
    )
    try:
        seal = register(gw)
        with pytest.raises(grpc.RpcError) as caught:
            seals(gw, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(gw)))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert error_details(caught.value)[0].reason == "TSA_UNAVAILABLE"
    finally:
        gw.stop()


def test_records_are_sealed_with_the_current_seal_and_not_without_one(tmp_path: Path) -> None:
    from adapters.records import issue_request
    from gateway.bootstrap import samples
    from protos.zzgw.v1 import issuance_pb2_grpc
    from tests.conftest import start_gateway

    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}")
    try:
        stub = seals(gw, CIVIL)
        for seal in stub.ListSeals(seal_pb2.ListSealsRequest()).seals:  # the default seal from zzgw init
            stub.RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章"))
        issuance = issuance_pb2_grpc.IssuanceServiceStub(gw.channel(CIVIL))
        with pytest.raises(grpc.RpcError) as caught:
            issuance.IssueLicense(issue_request(samples.marriage_certificate(1)))
        assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(caught.value)[0].reason == "NO_ACTIVE_SEAL"
        fresh = register(gw, CIVIL, name="婚姻登记专用章")
        issued = issuance.IssueLicense(issue_request(samples.marriage_certificate(1))).license
        assert issued.record_seal.key_id == fresh.key_id
    finally:
        gw.stop()


def test_init_makes_an_issuers_first_seal_and_never_one_for_an_issuer_whose_seals_were_revoked(tmp_path: Path) -> None:
    """`zzgw init`, run for a routine reason after the security officer revoked an issuer's only seal (a leaked key),
    had registered a new active seal for it without a word, and the issuer could issue again (a keys tester)."""
    from adapters.records import issue_request
    from gateway.bootstrap import samples
    from gateway.server import initialise
    from protos.zzgw.v1 import issuance_pb2_grpc
    from tests.conftest import start_gateway

    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}")
    try:
        stub = seals(gw, CIVIL)
        for seal in stub.ListSeals(seal_pb2.ListSealsRequest()).seals:
            stub.RevokeSeal(
                seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
            )
        listed = stub.ListSeals(seal_pb2.ListSealsRequest()).seals
        report = initialise(gw.gateway.settings)
        assert report.issuers_without_seal == (CIVIL,) and report.seals_made == ()
        assert stub.ListSeals(seal_pb2.ListSealsRequest()).seals == listed
        assert {s.status for s in listed} == {seal_pb2.SEAL_STATUS_REVOKED}
        issuance = issuance_pb2_grpc.IssuanceServiceStub(gw.channel(CIVIL))
        with pytest.raises(grpc.RpcError) as caught:
            issuance.IssueLicense(issue_request(samples.marriage_certificate(1)))
        assert error_details(caught.value)[0].reason == "NO_ACTIVE_SEAL"
        fresh = register(gw, CIVIL, name="婚姻登记专用章")  # the issuer's own act arms it again
        assert initialise(gw.gateway.settings).issuers_without_seal == ()
        assert issuance.IssueLicense(issue_request(samples.marriage_certificate(1))).license.record_seal.key_id == (
            fresh.key_id
        )
    finally:
        gw.stop()


def test_init_reports_the_first_seals_it_makes(tmp_path: Path) -> None:
    from gateway.config import Settings
    from gateway.server import initialise
    from tests.conftest import PASSPHRASE

    settings = Settings(
        data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'own.db'}", key_passphrase=PASSPHRASE
    )  # type: ignore[arg-type]
    first = initialise(settings)
    assert any(made.endswith(f" of {CIVIL}") for made in first.seals_made) and first.issuers_without_seal == ()
    assert initialise(settings).seals_made == ()


def test_a_data_directory_without_a_seal_makers_issuing_key_is_refused_not_served(tmp_path: Path) -> None:
    """Imported without --key, or intermediate.key.pem lost from a copy: RegisterSeal had been INTERNAL and the CRL's
    URL 500, then a gateway served that certified no seal and judged every document undecided (CRL_MISSING, no CRL
    to judge by; INTERNAL without the SM2 seal maker's key) while it said it was ready (a multi-replica tester).
    `zzgw serve` and `zzgw init` now refuse it, naming the file to copy (tests/test_seal_maker_keys.py runs them);
    the commands that only work on the store open it (a reviewer, R2)."""
    from gateway.config import ConfigError, Settings
    from gateway.server import Gateway, check_ready
    from tests.conftest import PASSPHRASE, start_gateway

    database = f"sqlite:///{tmp_path / 'own.db'}"
    start_gateway(tmp_path / "var", database).stop()
    settings = Settings(data_dir=tmp_path / "var", database_url=database, key_passphrase=PASSPHRASE)  # type: ignore[arg-type]
    for ca in ("seal-ca", "seal-ca-sm2"):
        key = tmp_path / "var" / ca / "intermediate.key.pem"
        kept = key.read_bytes()
        key.unlink()
        gateway = Gateway.open(settings)
        try:
            check_ready(gateway)
            with pytest.raises(ConfigError, match=f"^{re.escape(str(key))} is missing: .* copy it from the gateway"):
                check_ready(gateway, serving=True)
        finally:
            gateway.close()
        key.write_bytes(kept)
    Gateway.open(settings).close()


def test_an_encrypted_pdf_is_refused_with_advice_for_its_sealer_and_for_its_verifier(running: RunningGateway) -> None:
    from protos.zzgw.v1 import verification_pb2, verification_pb2_grpc
    from tests.api.test_verification import USE
    from tests.signing.test_pdf import encrypted_pdf

    seal = register(running)
    with pytest.raises(grpc.RpcError) as sealing:
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=encrypted_pdf()))
    verifier = verification_pb2_grpc.VerificationServiceStub(running.channel(MARKET))
    with pytest.raises(grpc.RpcError) as verifying:
        verifier.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=encrypted_pdf()))
    for caught in (sealing, verifying):
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("pdf", "ENCRYPTED_PDF")]
    assert "seal the plain document" in (sealing.value.details() or "")
    said = verifying.value.details() or ""
    assert "ask the applicant for the unencrypted original" in said and "seal the plain document" not in said


def test_seal_document_refuses_encrypted_and_oversize_pdfs(tmp_path: Path) -> None:
    from gateway.services.seals import DOCUMENT_HEADROOM_BYTES
    from tests.conftest import start_gateway
    from tests.signing.test_pdf import encrypted_pdf, one_page_pdf

    limit = (
        2 * DOCUMENT_HEADROOM_BYTES
    )  # the smallest message limit: room for the seal and a sharing copy, 1 MiB of PDF
    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", max_message_bytes=limit)
    try:
        seal = register(gw)
        stub = seals(gw, MARKET)
        with pytest.raises(grpc.RpcError) as caught:
            stub.SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=encrypted_pdf()))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("pdf", "ENCRYPTED_PDF")]
        with pytest.raises(grpc.RpcError) as caught:  # within the message limit, but sealed it could not be shared
            stub.SealDocument(
                seal_pb2.SealDocumentRequest(
                    seal_id=seal.seal_id, pdf=one_page_pdf(DOCUMENT_HEADROOM_BYTES + 64 * 1024)
                )
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(caught.value)[1] == [("pdf", "DOCUMENT_TOO_LARGE")]
        with pytest.raises(grpc.RpcError) as caught:  # beyond the gateway's message limit: refused before sealing
            stub.SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=one_page_pdf(limit)))
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        gw.stop()


def test_an_expired_seal_cannot_seal(running: RunningGateway) -> None:
    from sqlalchemy import text

    seal = register(running)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE seals SET valid_until = :at WHERE seal_id = :id"),
            {"at": dt.datetime.now(dt.UTC) - dt.timedelta(days=1), "id": seal.seal_id},
        )
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(
            seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(running))
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "SEAL_EXPIRED"
    got = seals(running, MARKET).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
    assert got.status == seal_pb2.SEAL_STATUS_EXPIRED


def test_concurrent_registrations_with_one_request_id_make_one_seal(running: RunningGateway) -> None:
    """The same request_id sent at once from several threads: one seal, every call answered with it (the losers
    got INTERNAL from the unique constraint; found by an independent client), and no stray key left behind."""
    import concurrent.futures

    request = seal_pb2.RegisterSealRequest(request_id="seal-race-" + uuid.uuid4().hex, name="并发章")
    keys = running.data_dir / "keys"
    before = set(keys.iterdir())
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: seals(running, MARKET).RegisterSeal(request).seal, range(4)))
    assert len({a.seal_id for a in answers}) == 1
    assert len(set(keys.iterdir()) - before) == 1


def test_a_seal_whose_key_is_on_another_replica_is_named_not_an_internal_error(running: RunningGateway) -> None:
    """Replicas share one store; a seal registered through one has its key in that one's key store. Issuing
    through a replica without the key (here: the key file gone, as on a replica whose keys/ was copied before)
    says which seal and why, instead of INTERNAL with "run zzgw init", which cannot help."""
    from adapters.records import issue_request
    from gateway.bootstrap import samples
    from tests.api.test_issuance import unique

    seal = register(running, CIVIL, name="电子证照专用章")  # CIVIL's newest seal: it seals what CIVIL issues next
    keys = running.gateway.keys
    owner = f"seal{seal.seal_id}"  # the key store's name for a seal's key (SealService.register)
    keys.path(owner).unlink()
    keys._loaded.pop(owner, None)
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(CIVIL).IssueLicense(issue_request(unique(samples.marriage_certificate(1))))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    info, _ = error_details(caught.value)
    assert info.reason == "SEAL_KEY_NOT_HERE" and seal.seal_id in caught.value.details()


def test_a_seal_name_no_font_can_draw_is_refused_before_anything_is_made(running: RunningGateway) -> None:
    """A name the seal cannot show (a character no font here has, a leading combining mark) is refused
    (BAD_SEAL_NAME), and no key is made for it; digits are drawn (合同专用章2号 had shown 合同专用章□号)."""
    keys = running.data_dir / "keys"
    before = set(keys.iterdir())
    for name in ("专用章\U0001f9ff", "\u0301专用章"):
        with pytest.raises(grpc.RpcError) as caught:
            register(running, name=name)
        assert ("name", "BAD_SEAL_NAME") in error_details(caught.value)[1], name
    assert set(keys.iterdir()) == before
    assert register(running, name="合同专用章2号").name == "合同专用章2号"


def test_a_full_key_store_names_the_file_and_says_when_writes_are_taken_again(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A full disk under the key store (a seal's key cannot be written): UNAVAILABLE / STORE_FULL, and the line says
    which file could not be written, so which of the store's and the key store's volumes is full; once a call of the
    method is answered again, a line says so, as for a database back. Both had been missing (an on-call tester)."""
    import errno
    import logging
    import os

    from gateway.api import interceptors
    from gateway.logs import OncePer
    from signing import keys

    monkeypatch.setattr(interceptors, "_STORE_LINES", OncePer(5.0))  # none said by an earlier test
    monkeypatch.setattr(interceptors, "_FULL_METHODS", set(), raising=False)
    caplog.set_level(logging.INFO, logger="zzgw.error")
    written = os.fsync

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(keys.os, "fsync", full)
    with pytest.raises(grpc.RpcError) as caught:
        register(running, CIVIL)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(caught.value)[0].reason == "STORE_FULL"
    monkeypatch.setattr(keys.os, "fsync", written)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "zzgw.error"]
    assert "/zzgw.v1.SealService/RegisterSeal: STORE_FULL (OSError) writing " in line
    assert f"writing {running.data_dir / 'keys'}/seal" in line and line.endswith(".key.pem")
    assert not list((running.data_dir / "keys").glob("*.tmp"))

    register(running, CIVIL)
    said = [r.getMessage() for r in caplog.records if r.name == "zzgw.error"][1:]
    assert len(said) == 1 and said[0].endswith(
        "to /zzgw.v1.SealService/RegisterSeal answered: writes are taken again after STORE_FULL"
    ), said
    register(running, CIVIL)  # said once
    assert len([r for r in caplog.records if r.name == "zzgw.error"]) == 2


def test_sealing_that_takes_too_long_is_unavailable_and_sealing_goes_on(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A seal given up after ``SEAL_TIMEOUT_SECONDS`` had been INTERNAL with a traceback (a reviewer); it is UNAVAILABLE
    / SEALING_TIMED_OUT, and the work given up is cancelled, not left to hold the PDF thread."""
    import asyncio

    from gateway.services import seals as seal_service
    from signing.pdf import PdfSealer

    seal = register(running)
    pdf = license_pdf(running)
    real_seal = PdfSealer.seal
    cancelled: list[bool] = []

    async def slow(self: PdfSealer, *args: object, **kwargs: object) -> bytes:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return b""

    monkeypatch.setattr(seal_service, "SEAL_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(PdfSealer, "seal", slow)
    with pytest.raises(grpc.RpcError) as caught:
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_details(caught.value)[0].reason == "SEALING_TIMED_OUT"
    assert "盖章超时" in caught.value.details()
    monkeypatch.setattr(PdfSealer, "seal", real_seal)
    monkeypatch.setattr(seal_service, "SEAL_TIMEOUT_SECONDS", 60.0)
    sealed = seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf))
    assert sealed.sealed_pdf.startswith(b"%PDF-") and cancelled == [True]


def test_a_revocation_is_in_force_from_the_next_whole_second_when_revoke_seal_answers(running: RunningGateway) -> None:
    """Its time is rounded up to the second, as the CRL carries it (it had been rounded down there alone, a
    reviewer's R5): the store, the CA and the CRL say the same time, and that time has come when the call answers."""
    seal = register(running)
    revoked = seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用")).seal
    answered = dt.datetime.now(dt.UTC)
    revoked_at = revoked.revoked_at.ToDatetime(tzinfo=dt.UTC)
    assert (revoked.revoked_at.nanos, revoked_at <= answered) == (0, True)
    service = running.gateway.seals
    assert service is not None
    assert service.ca.revocation_time(x509.load_der_x509_certificate(seal.certificate_der).serial_number) == revoked_at


def test_revoke_seal_waits_for_its_second_after_its_commit(running: RunningGateway, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The wait for the revocation's second had been inside RevokeSeal's write transaction: on SQLite every write of
    the gateway, any department's, waited with it up to a second (a reviewer's R2). Another department's
    RegisterSeal made while RevokeSeal waits is done before RevokeSeal answers, which answers once its time has
    come."""
    import threading

    from gateway.services import seals as seal_service

    seal = register(running)
    real = seal_service.time
    done_meanwhile: list[bool] = []

    class _Time:
        """The module's ``time``, whose ``sleep`` has CIVIL register a seal, and waits for it, before sleeping."""

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def sleep(self, seconds: float) -> None:
            started = real.monotonic()
            registered = threading.Event()
            threading.Thread(target=lambda: (register(running, CIVIL), registered.set()), daemon=True).start()
            done_meanwhile.append(registered.wait(20))
            real.sleep(max(0.0, seconds - (real.monotonic() - started)))

    monkeypatch.setattr(seal_service, "time", _Time())
    while not 0.02 < dt.datetime.now(dt.UTC).microsecond / 1e6 < 0.2:  # so that it waits most of a second
        real.sleep(0.005)
    revoked = seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用")).seal
    answered = dt.datetime.now(dt.UTC)
    assert done_meanwhile == [True]
    assert revoked.revoked_at.ToDatetime(tzinfo=dt.UTC) <= answered


def test_revoke_seal_made_while_another_waits_for_its_second_answers_once_it_is_in_force(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retry, or another clerk's RevokeSeal, made while the first waits for the revocation's second had found the
    seal revoked and answered at once, up to a second before the time it answered with (a reviewer)."""
    import threading

    from gateway.services import seals as seal_service

    seal = register(running)
    real = seal_service.time
    again: list[tuple[dt.datetime, dt.datetime]] = []

    def revoke_again() -> None:
        got = seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="再次")).seal
        again.append((dt.datetime.now(dt.UTC), got.revoked_at.ToDatetime(tzinfo=dt.UTC)))

    class _Time:
        """The module's ``time``, whose first ``sleep`` (the first call's wait) has the second call made, and
        answered, before it sleeps."""

        def __init__(self) -> None:
            self.waits = 0

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def sleep(self, seconds: float) -> None:
            self.waits += 1
            if self.waits == 1:
                second = threading.Thread(target=revoke_again, daemon=True)
                second.start()
                second.join(20)
            real.sleep(seconds)

    monkeypatch.setattr(seal_service, "time", _Time())
    while not 0.02 < dt.datetime.now(dt.UTC).microsecond / 1e6 < 0.2:  # so that the first waits most of a second
        real.sleep(0.005)
    seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    ((answered, revoked_at),) = again
    assert revoked_at <= answered, f"answered {(revoked_at - answered).total_seconds():.3f} s before its time"


def test_a_seal_document_whose_seal_is_revoked_while_it_seals_is_refused(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The seal is checked active before the PDF waits its turn on the PDF thread (or on a slow time-stamping
    authority): a RevokeSeal made meanwhile had left SealDocument answering OK with a PDF signed after the revocation,
    which every check then read CERT_REVOKED (a reviewer). It is refused SEAL_REVOKED, as a license is."""
    import asyncio
    import threading

    from signing import pdf as pdf_module

    seal = register(running)
    original = license_pdf(running)
    real_seal = pdf_module.PdfSealer.seal
    started, revoked = threading.Event(), threading.Event()

    async def held_seal(self: Any, *args: Any, **kwargs: Any) -> bytes:
        started.set()
        while not revoked.is_set():  # the revocation commits while this one waits its turn
            await asyncio.sleep(0.02)
        return await real_seal(self, *args, **kwargs)

    monkeypatch.setattr(pdf_module.PdfSealer, "seal", held_seal)
    outcome: list[grpc.RpcError | bytes] = []

    def seal_document() -> None:
        request = seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=original)
        try:
            outcome.append(seals(running, MARKET).SealDocument(request, timeout=60).sealed_pdf)
        except grpc.RpcError as exc:
            outcome.append(exc)

    call = threading.Thread(target=seal_document, daemon=True)
    call.start()
    assert started.wait(30)
    seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="停用"))
    revoked.set()
    call.join(60)
    (refused,) = outcome
    assert isinstance(refused, grpc.RpcError), "a PDF sealed after its seal's revocation was answered"
    assert (refused.code(), error_details(refused)[0].reason) == (grpc.StatusCode.FAILED_PRECONDITION, "SEAL_REVOKED")


def test_a_seal_listing_past_the_message_limit_is_reply_too_large(tmp_path: Path) -> None:
    """Each seal is listed with its certificate (~800 bytes): an admin's listing of every issuer's, past the message
    limit, had been failed by gRPC with a bare RESOURCE_EXHAUSTED and the call logged OK (a reviewer, R2)."""
    import dataclasses

    from tests.conftest import ADMIN, start_gateway

    limit = 2 * 1024 * 1024  # the smallest message limit
    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'own.db'}", max_message_bytes=limit)
    try:
        seal = register(gw)
        with gw.gateway.db.unit_of_work(write=True) as uow:
            stored = uow.seals.get(seal.seal_id)
            assert stored is not None
            for n in range(2_800):  # copies in the store: registering each would take a minute
                copy = dataclasses.replace(stored, seal_id=uuid.uuid4().hex, certificate_serial=(1 << 100) + n)
                uow.seals.add(copy, f"copy-{n}", dt.datetime.now(dt.UTC))
            uow.commit()
        with pytest.raises(grpc.RpcError) as caught:
            seals(gw, MARKET).ListSeals(seal_pb2.ListSealsRequest(), timeout=60)
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert error_details(caught.value)[0].reason == "REPLY_TOO_LARGE"
        with pytest.raises(grpc.RpcError) as caught:
            seals(gw, ADMIN).ListSeals(seal_pb2.ListSealsRequest(), timeout=60)
        assert error_details(caught.value)[0].reason == "REPLY_TOO_LARGE"
    finally:
        gw.stop()


def connection_lost(*args: object, **kwargs: object) -> None:
    """In place of the store's revoke of a seal: the connection lost at it."""
    raise OperationalError("UPDATE seals", {}, Exception("server closed the connection unexpectedly"))


def revoked_with_its_commit_failing(running: RunningGateway, patched: pytest.MonkeyPatch, seal: seal_pb2.Seal) -> None:
    """RevokeSeal of ``seal`` with the store's revoke failing as a connection lost at it (``patched`` keeps it so
    until undone): neither the store nor the seal-maker CA, which records only what the store committed, holds it."""
    patched.setattr(SealRepository, "revoke", connection_lost)
    with pytest.raises(grpc.RpcError):
        seals(running, MARKET).RevokeSeal(
            seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
        )


def revoked_then_set_back_to_active(running: RunningGateway, seal: seal_pb2.Seal) -> None:
    """RevokeSeal of ``seal`` (key_compromise), then the store set back to ACTIVE behind the gateway's back (as a
    restore from a copy taken before the revocation would): the seal-maker CA holds the revocation, the store not."""
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text("UPDATE seals SET status = 'ACTIVE', revoked_at = NULL, crl_reason = '' WHERE seal_id = :id"),
            {"id": seal.seal_id},
        )


@pytest.mark.parametrize("next_read", ["crl", "get_seal"])
def test_a_revocation_the_ca_holds_that_the_store_lacks_reaches_the_store(
    running: RunningGateway, next_read: str
) -> None:
    """A seal the seal-maker CA holds revoked and the store ACTIVE (set back behind the gateway's back) had stayed
    ACTIVE in the store for good, so a replica with its own data directory listed it on no CRL and sealed on with it
    (a reviewer's R2). The next CRL this process makes, or its next GetSeal of the seal, writes the CA's revocation
    (its time and CRL reason) to the store."""
    service = running.gateway.seals
    assert service is not None
    seal = register(running, MARKET)
    serial = x509.load_der_x509_certificate(seal.certificate_der).serial_number
    revoked_then_set_back_to_active(running, seal)
    recorded = service.ca.revocation(serial)
    assert recorded is not None and recorded.reason is x509.ReasonFlags.key_compromise
    if next_read == "crl":
        service.crl()
    else:
        shown = seals(running, CIVIL).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
        assert shown.status == seal_pb2.SEAL_STATUS_REVOKED
    with running.gateway.db.unit_of_work() as uow:
        stored = uow.seals.get(seal.seal_id)
    assert stored is not None
    assert (stored.status, stored.revoked_at, stored.crl_reason) == (
        SealStatus.REVOKED,
        recorded.revoked_at,
        "key_compromise",
    )
    assert stored.revocation_reason == WRITTEN_BACK


def test_a_crl_is_served_when_the_ca_revocation_cannot_be_written_back_now(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write-back of a revocation the CA holds and the store lacks (7fd9130) is made by whatever read finds it,
    an anonymous CRL fetch too: a store taking no writes just then (read-only, busy, away) must not cost the fetch
    its CRL, which lists the seal from the CA's record all the same; the next read writes it back."""
    service = running.gateway.seals
    assert service is not None
    seal = register(running, MARKET)
    serial = x509.load_der_x509_certificate(seal.certificate_der).serial_number
    revoked_then_set_back_to_active(running, seal)
    with monkeypatch.context() as patched:
        patched.setattr(SealRepository, "revoke", connection_lost)  # the write-back refused
        listed = x509.load_der_x509_crl(service.crl()).get_revoked_certificate_by_serial_number(serial)
        assert listed is not None  # served, from the CA's record, the write-back refused again
        with running.gateway.db.unit_of_work() as uow:
            assert uow.seals.get(seal.seal_id).status is SealStatus.ACTIVE  # type: ignore[union-attr]
    service.crl()  # the next one writes it back
    with running.gateway.db.unit_of_work() as uow:
        assert uow.seals.get(seal.seal_id).status is SealStatus.REVOKED  # type: ignore[union-attr]


def test_a_license_document_sealed_by_two_departments_shows_three_seals_apart(running: RunningGateway) -> None:
    """A license document the gateway drew and sealed, sealed again by the 市场监管局 (a certified copy) and then by
    the 公安局 (联合盖章): each stamp had gone to the same default box, the first over 85 % of the issuer's seal and
    the second exactly on the first (a reviewer, sealplace R3). Each now keeps clear of the seals already there,
    and all three verify."""
    from adapters.records import issue_request
    from gateway.bootstrap import samples
    from protos.zzgw.v1 import issuance_pb2
    from signing.pdf import validate_sync
    from signing.render import SEAL_BOX
    from tests.api.test_issuance import unique

    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.business_license(7)))).license
    document = (
        running.issuance(MARKET)
        .GetLicenseDocument(issuance_pb2.GetLicenseDocumentRequest(license_id=issued.license_id))
        .pdf
    )
    (issuer_seal,) = seal_widgets(document).values()
    assert issuer_seal == SEAL_BOX
    for member in (MARKET, POLICE):
        seal = register(running, member)
        document = (
            seals(running, member)
            .SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=document, reason="与原件一致"))
            .sealed_pdf
        )
    boxes = list(seal_widgets(document).values())
    assert len(boxes) == 3
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not overlap(a, b), (a, b)
    service = running.gateway.seals
    assert service is not None
    report = validate_sync(
        document, trust_roots=[service.ca.root], intermediates=[service.ca.intermediate], crls=[service.crl()]
    )
    assert report.result is CheckResult.PASSED, report


def _page_of(width_mm: float, height_mm: float) -> bytes:
    mm = 72 / 25.4
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] >>" % (width_mm * mm, height_mm * mm)
    return _bare_pdf(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page)


def test_a_card_sized_pdf_is_sealed_with_a_smaller_stamp_and_a_tiny_one_is_refused_as_too_small(
    running: RunningGateway,
) -> None:
    """A 居民身份证-sized page (85.6 × 54 mm, a card-style e-license) was refused BAD_PLACEMENT "the box … is not
    inside page 0", a box SealDocument has no field for (a reviewer, sealplace R4): it is sealed with a 27 mm stamp.
    A page under 20 mm on a side is refused as too small."""
    from signing.pdf import validate_sync

    seal = register(running)
    stub = seals(running, MARKET)
    sealed = stub.SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=_page_of(85.6, 54))).sealed_pdf
    ((x1, y1, x2, _),) = seal_widgets(sealed).values()
    assert abs((x2 - x1) - 27 * 72 / 25.4) <= 1 and x2 <= 85.6 * 72 / 25.4 and y1 >= 0
    service = running.gateway.seals
    assert service is not None
    report = validate_sync(
        sealed, trust_roots=[service.ca.root], intermediates=[service.ca.intermediate], crls=[service.crl()]
    )
    assert report.result is CheckResult.PASSED, report
    with pytest.raises(grpc.RpcError) as caught:
        stub.SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=_page_of(15, 15)))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("pdf", "BAD_PLACEMENT")]
    assert descriptions(caught.value)[("pdf", "BAD_PLACEMENT")] == (
        "盖章页码或位置超出 PDF 文件范围，页面太小，放不下印章（page 0 (15 × 15 mm) is too small for a stamp: one is at"
        " least 20 mm across）"
    )


def test_a_pdf_its_author_certified_against_changes_is_refused_as_locked(running: RunningGateway) -> None:
    """A PDF certified by its author with DocMDP "no changes" (P 1) was refused DAMAGED_PDF, "PDF 文件已损坏，无法
    读取", whose advice (save it anew, print to PDF) strips the certification: the PDF is sound, and its author's lock
    is what forbids the seal (a review, R5). It is refused as locked, in its own words, for SealDocument as for an
    issuer's document; one certified allowing form filling and signatures (P 2) is sealed."""
    from pyhanko.sign.fields import MDPPerm

    from tests.api.test_documents import new_request, stub
    from tests.signing.test_pdf import one_page_pdf, sign_invisibly

    locked = sign_invisibly(one_page_pdf(), "Author", certified=MDPPerm.NO_CHANGES)
    seal = register(running)
    with pytest.raises(grpc.RpcError) as sealing:
        seals(running, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=locked))
    with pytest.raises(grpc.RpcError) as issuing:
        stub(running).IssueLicense(new_request(31, document=locked))
    for caught, field in ((sealing, "pdf"), (issuing, "document")):
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        ((where, said),) = descriptions(caught.value).items()
        assert where == (field, "CERTIFIED_NO_CHANGES")
        assert said.startswith("PDF 文件已由制作者认证锁定，不允许再盖章"), said
        assert "no changes" in said and "损坏" not in said and "print to PDF" not in said, said
    open_to_signing = sign_invisibly(one_page_pdf(), "Author", certified=MDPPerm.FILL_FORMS)
    sealed = seals(running, MARKET).SealDocument(
        seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=open_to_signing)
    )
    assert sealed.sealed_pdf.startswith(open_to_signing)
