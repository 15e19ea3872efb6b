"""VerifyDocument names what an update after the seal replaced, when it is drawn: the seal's picture (its image, its
appearance) or a page's content. Each had read "changed beyond signatures and form data (OTHER)", as any change does
(review seals, R3); the verdict stays FAILED / DOCUMENT_MODIFIED."""

from __future__ import annotations

import asyncio
import io
import zlib
from collections.abc import Callable

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader

from protos.zzgw.v1 import seal_pb2, verification_pb2
from tests.api.test_documents import document_of
from tests.api.test_identity_reasons import sealer_of
from tests.api.test_seals import register
from tests.api.test_seals import seals as seal_stub
from tests.api.test_verification import FAILED, USE, issue, verifier
from tests.conftest import CIVIL, RunningGateway


def _replaced(pdf: bytes, pick: Callable[[PdfFileReader], generic.Reference], data: bytes, **keys: object) -> bytes:
    """``pdf`` with one incremental update that writes the object ``pick`` finds again, as a Flate stream of
    ``data`` with the dictionary ``keys`` (PDF names without their slash)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    ref = pick(writer.prev)
    entries = {generic.NameObject("/" + key): value for key, value in keys.items()}
    entries[generic.NameObject("/Filter")] = generic.NameObject("/FlateDecode")
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(entries, encoded_data=zlib.compress(data))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _seal_image(reader: PdfFileReader) -> generic.Reference:
    normal = reader.embedded_regular_signatures[0].sig_field["/AP"]["/N"]
    images = normal["/Resources"]["/XObject"]
    return next(images.raw_get(name).reference for name in images)


def _page_content(reader: PdfFileReader) -> generic.Reference:
    page = reader.root["/Pages"]["/Kids"][0]
    contents = page.raw_get("/Contents")
    return contents.reference if isinstance(contents, generic.IndirectObject) else contents[0].reference


def _white_image(reader: PdfFileReader) -> dict[str, object]:
    image = reader.get_object(_seal_image(reader))
    return {
        "Type": generic.NameObject("/XObject"),
        "Subtype": generic.NameObject("/Image"),
        "Width": generic.NumberObject(int(image["/Width"])),
        "Height": generic.NumberObject(int(image["/Height"])),
        "ColorSpace": generic.NameObject("/DeviceRGB"),
        "BitsPerComponent": generic.NumberObject(8),
    }


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (
            "seal image",
            "文件在盖章后被改动：印章图案被替换（the document was changed after sealing: the seal's picture",
        ),
        (
            "page content",
            "文件在盖章后被改动：页面内容被改动（the document was changed after sealing: a page's content",
        ),
    ],
)
def test_a_replaced_seal_picture_or_page_content_is_named(running: RunningGateway, change: str, said: str) -> None:
    license_id = issue(running, 91 if change == "seal image" else 92).license.license_id
    pdf = document_of(running, license_id).pdf
    reader = PdfFileReader(io.BytesIO(pdf))
    if change == "seal image":
        keys = _white_image(reader)
        size = int(keys["Width"]) * int(keys["Height"]) * 3  # type: ignore[call-overload]
        tampered = _replaced(pdf, _seal_image, b"\xff" * size, **keys)
    else:
        painted = reader.get_object(_page_content(reader)).data + b"\nq 1 1 1 rg 50 300 500 300 re f Q\n"
        tampered = _replaced(pdf, _page_content, painted)
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=tampered)).report
    assert (report.verdict, report.integrity.result, report.integrity.reason) == (FAILED, FAILED, "DOCUMENT_MODIFIED")
    assert report.integrity.detail.startswith(said), report.integrity.detail
    assert report.integrity.detail.endswith("(OTHER)）"), report.integrity.detail


def test_another_change_beyond_signatures_keeps_its_words(running: RunningGateway) -> None:
    """An object written again that is neither drawn by the seal nor a page's content: the words as before."""
    license_id = issue(running, 93).license.license_id
    pdf = document_of(running, license_id).pdf
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root["/OpenAction"] = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/S"): generic.NameObject("/JavaScript"),
                generic.NameObject("/JS"): generic.TextStringObject("app.alert('x')"),
            }
        )
    )
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=out.getvalue()))
    integrity = report.report.integrity
    assert (integrity.result, integrity.reason) == (FAILED, "DOCUMENT_MODIFIED")
    assert integrity.detail.startswith("文件在盖章后被改动，超出了签名和表单填写的范围"), integrity.detail


def test_a_visible_seal_by_a_revoked_seals_key_after_its_revocation_says_why_it_did_not_check(
    running: RunningGateway,
) -> None:
    """A visible signature named as the gateway names its seals, made with a seal's key after the seal's revocation:
    FAILED / DOCUMENT_MODIFIED as before, but naming the check it failed (CERT_REVOKED), as an invisible one in the
    issuer's name does, not in the words of an applicant's scribble alone."""
    license_id = issue(running, 94).license.license_id
    pdf = document_of(running, license_id).pdf
    other = register(running, CIVIL)
    seal_stub(running, CIVIL).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=other.seal_id, reason="密钥泄露", crl_reason="key_compromise")
    )
    forged = asyncio.run(
        sealer_of(running, other).seal(pdf, field_name=f"zzgw-{other.seal_id}-deadbeef", box=(300, 60, 410, 170))
    )
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=forged)).report
    integrity = report.integrity
    assert (report.verdict, integrity.result, integrity.reason) == (FAILED, FAILED, "DOCUMENT_MODIFIED")
    assert "其中按本网关印章命名的签章未通过核验（CERT_REVOKED）" in integrity.detail, integrity.detail
    assert f"'zzgw-{other.seal_id}-deadbeef' (CERT_REVOKED)" in integrity.detail, integrity.detail
