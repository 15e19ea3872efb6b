"""Comments and markings added to a sealed PDF (``signing.pdf._AnnotationRule``): a reader's "add a comment, save"
leaves the seal intact with the comment listed, and nothing else rides along with a comment.

pyHanko's difference analysis has no rule for annotations (its documented known issue), so before this rule a
comment made any sealed document count as DOCUMENT_MODIFIED: a clerk read 签章已被篡改 for a genuine license
someone had highlighted. Each refusal below is an update that adds a comment *and* does something a comment may
not: rewrite the sealed page content or its fonts, re-use a sealed object as the comment, add a form widget, claim
another page, remove the seal's own widget, or change the page box.

This layer lists such a comment and leaves the seal intact; VerifyDocument, judging a license handed over, calls any
annotation drawn on a sealed page FAILED / DOCUMENT_MODIFIED (ca5fd5a), since a comment's appearance can paint other
digits over a printed value."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from tests.signing.test_pdf import (
    ISSUER,
    SEAL_NAME,
    F,
    P,
    Tsa,
    check,
    findings,
    one_page_pdf,
    seal,
)

Edit = Callable[[IncrementalPdfFileWriter, generic.IndirectObject, generic.DictionaryObject], None]


@pytest.fixture(scope="module")
def sealed(ca: SealMakerCA, tsa: Tsa) -> bytes:
    return seal(ca, one_page_pdf(), draw_seal(ISSUER, SEAL_NAME, size_px=400), timestamper=tsa.stamper)


def updated(pdf: bytes, edit: Edit) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
    edit(writer, page_ref, page_ref.get_object())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def note(
    writer: IncrementalPdfFileWriter, page: generic.IndirectObject, **extra: generic.PdfObject
) -> generic.IndirectObject:
    annotation = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(v) for v in (50, 550, 200, 650)]),
            generic.NameObject("/Contents"): generic.TextStringObject("已核验"),
            generic.NameObject("/P"): page,
        }
    )
    annotation.update({generic.NameObject("/" + k): v for k, v in extra.items()})
    return writer.add_object(annotation)


def attach(writer: IncrementalPdfFileWriter, page: generic.DictionaryObject, annotation: generic.PdfObject) -> None:
    if "/Annots" not in page:
        page[generic.NameObject("/Annots")] = generic.ArrayObject()
    page["/Annots"].append(annotation)
    writer.update_container(page)


def comment(writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject) -> None:
    attach(writer, page, note(writer, page_ref))


def drawn_comment(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    """A free-text comment with its own appearance and a popup: new objects the comment reaches."""
    appearance = writer.add_object(generic.StreamObject(stream_data=b"q 1 0 0 rg 0 0 150 100 re f Q"))
    popup = writer.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Popup"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(v) for v in (200, 550, 300, 650)]
                ),
            }
        )
    )
    marked = note(
        writer,
        page_ref,
        Subtype=generic.NameObject("/FreeText"),
        AP=generic.DictionaryObject({generic.NameObject("/N"): appearance}),
        Popup=popup,
    )
    attach(writer, page, marked)
    attach(writer, page, popup)


def test_a_comment_leaves_the_seal_intact_and_is_listed(ca: SealMakerCA, tsa: Tsa, sealed: bytes) -> None:
    report = check(ca, updated(sealed, comment), tsa)
    assert findings(report) == (P, None, (P, None), (P, None), (P, None))
    assert report.annotated_after_sealing == ("page 1: Text",) and report.shown_after_sealing == ()
    drawn = check(ca, updated(sealed, drawn_comment), tsa)
    assert drawn.integrity.result is P
    assert drawn.annotated_after_sealing == ("page 1: FreeText", "page 1: Popup")
    assert check(ca, sealed, tsa).annotated_after_sealing == ()  # nothing added: nothing listed
    using = check(ca, updated(sealed, comment_using_font), tsa)  # a sealed object used, not rewritten
    assert using.integrity.result is P and using.annotated_after_sealing == ("page 1: Text",)


def rewrite_content(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    comment(writer, page_ref, page)
    rewrite_content_only(writer, page)


def rewrite_content_only(writer: IncrementalPdfFileWriter, page: generic.DictionaryObject) -> None:
    stream_ref = page.raw_get("/Contents").reference
    stream = writer.get_object(stream_ref)
    stream.pop("/Filter", None)
    stream.pop("/DecodeParms", None)
    stream._data = b"BT /F1 40 Tf 100 400 Td (FAKE) Tj ET"
    stream._encoded_data = None
    writer.mark_update(stream_ref)


def comment_using_font(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    """A comment whose appearance draws with the sealed page's own font (an object of the sealed revision)."""
    fonts = page["/Resources"]["/Font"]
    font = fonts.raw_get(next(iter(fonts)))
    resources = generic.DictionaryObject(
        {generic.NameObject("/Font"): generic.DictionaryObject({generic.NameObject("/F1"): font})}
    )
    appearance = writer.add_object(
        generic.StreamObject({generic.NameObject("/Resources"): resources}, stream_data=b"q Q")
    )
    attach(writer, page, note(writer, page_ref, AP=generic.DictionaryObject({generic.NameObject("/N"): appearance})))


def rewrite_fonts(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    """The same comment, and the sealed font it uses rewritten by the same update."""
    comment_using_font(writer, page_ref, page)
    fonts = page["/Resources"]["/Font"]
    font = fonts.raw_get(next(iter(fonts))).reference
    writer.get_object(font)[generic.NameObject("/BaseFont")] = generic.NameObject("/Courier")
    writer.mark_update(font)


def reuse_sealed_object(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    attach(writer, page, page.raw_get("/Contents"))


def widget(writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject) -> None:
    attach(writer, page, note(writer, page_ref, Subtype=generic.NameObject("/Widget")))


def another_page(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    elsewhere = writer.add_object(generic.DictionaryObject({generic.NameObject("/Type"): generic.NameObject("/Page")}))
    attach(writer, page, note(writer, elsewhere))


def remove_seal_widget(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    page[generic.NameObject("/Annots")] = generic.ArrayObject([note(writer, page_ref)])
    writer.update_container(page)


def resize_page(
    writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
) -> None:
    comment(writer, page_ref, page)
    page[generic.NameObject("/MediaBox")] = generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 300, 300)])


@pytest.mark.parametrize(
    "edit", [rewrite_content, rewrite_fonts, reuse_sealed_object, widget, another_page, remove_seal_widget, resize_page]
)
def test_what_rides_along_with_a_comment_still_counts_as_modified(
    ca: SealMakerCA, tsa: Tsa, sealed: bytes, edit: Edit
) -> None:
    report = check(ca, updated(sealed, edit), tsa)
    assert findings(report) == (F, "DOCUMENT_MODIFIED", (F, "DOCUMENT_MODIFIED"), (P, None), (P, None))
    assert report.annotated_after_sealing == ()


def test_a_comment_on_a_page_whose_annotations_are_an_array_of_their_own(ca: SealMakerCA, tsa: Tsa) -> None:
    """Some writers keep a page's ``/Annots`` as an indirect array and rewrite that array in place to add a comment:
    the page itself is not rewritten. The array is cleared as that page's annotations only."""
    writer = IncrementalPdfFileWriter(io.BytesIO(one_page_pdf()))
    page = writer.root["/Pages"]["/Kids"][0]
    page[generic.NameObject("/Annots")] = writer.add_object(generic.ArrayObject())
    writer.update_container(page)
    out = io.BytesIO()
    writer.write(out)
    sealed = seal(ca, out.getvalue(), draw_seal(ISSUER, SEAL_NAME, size_px=400), timestamper=tsa.stamper)

    def in_place(
        writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
    ) -> None:
        annots_ref = page.raw_get("/Annots").reference
        array = writer.get_object(annots_ref)
        array.append(note(writer, page_ref))
        writer.mark_update(annots_ref)

    commented = updated(sealed, in_place)
    update = commented[len(sealed) :]
    assert b"/Subtype /Text" in update and b"/Type /Page" not in update  # the array written again, not the page
    report = check(ca, commented, tsa)
    assert findings(report) == (P, None, (P, None), (P, None), (P, None))
    assert report.annotated_after_sealing == ("page 1: Text",)

    def and_the_content(
        writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, page: generic.DictionaryObject
    ) -> None:
        in_place(writer, page_ref, page)
        rewrite_content_only(writer, page)

    assert check(ca, updated(sealed, and_the_content), tsa).integrity.reason == "DOCUMENT_MODIFIED"
