"""PDFs from real producers (tests/vectors/pdf/README.md says which and how): each is taken as an issuer's own
document, sealed, and its seal verified, then after the updates a sealed license meets — the gateway's use stamp
across the page, an applicant's invisible signature, validation data. A genuine document refused as damaged, or
reported changed after its seal, is a false alarm a clerk would act on.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from signing.keys import SoftwareKey
from signing.pdf import PdfSealer, revisions, validate_sync
from signing.seal_ca import SealMakerCA
from tests.signing.test_pdf import (
    LATER,
    PASSED,
    ca,
    issue,
    seal_png,
    sign_invisibly,
    with_dss,
)

__all__ = ["ca", "seal_png"]  # fixtures, used by name

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "pdf"
REVISIONS = {
    "cairo-poppler-22.12.pdf": 1,
    "chromium-156.pdf": 1,
    "fpdf2-2.8.pdf": 1,
    "ghostscript-10.00.pdf": 1,
    "libreoffice-7.4-form.pdf": 1,
    "libreoffice-7.4.pdf": 1,
    "mupdf-1.21-create.pdf": 1,
    "mupdf-1.21-incremental.pdf": 2,
    "pdf-lib-1.17-form.pdf": 1,
    "pdf-lib-1.17-object-streams.pdf": 1,
    "pdfkit-0.20.pdf": 1,
    "pikepdf-10.18-object-streams.pdf": 2,  # linearised: pyHanko counts its first-page section as a revision
    "pypdf-7.1-incremental.pdf": 2,
    "qpdf-11.3-linearized.pdf": 2,  # linearised, as above
    "qpdf-11.3-object-streams.pdf": 1,
}
"""Each vector and the revisions it is read with. (ghostscript-10.00-pdf20.pdf has tests of its own in
test_pdf.py: pyHanko's writer, which the applicant's updates here use, cannot update its XMP.)"""


def test_every_vector_is_listed() -> None:
    found = {path.name for path in VECTORS.glob("*.pdf")} - {"ghostscript-10.00-pdf20.pdf"}
    assert found == set(REVISIONS)


@pytest.mark.parametrize("name", sorted(REVISIONS))
def test_a_real_producers_pdf_is_sealed_and_stays_intact_through_later_updates(
    ca: SealMakerCA, seal_png: bytes, name: str
) -> None:
    produced = (VECTORS / name).read_bytes()
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)

    assert revisions(produced) == REVISIONS[name]  # what the gateway reads of an issuer's document first
    sealed = asyncio.run(sealer.seal(produced, field_name="Seal1"))
    use_stamped = asyncio.run(sealer.seal(sealed, field_name="UseStamp", box=(2, 2, 590, 790)))  # A4 and Letter

    def seal1(pdf: bytes) -> tuple[object, ...]:
        found = validate_sync(
            pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER, field_name="Seal1"
        )
        return found.integrity, found.shown_after_sealing

    assert sealed.startswith(produced)
    assert seal1(sealed) == (PASSED, ())
    assert seal1(use_stamped) == (PASSED, ("UseStamp",))  # shown, for the gateway to recognise as its own
    assert seal1(sign_invisibly(sealed, "Applicant")) == (PASSED, ())
    assert seal1(with_dss(sealed, ca)) == (PASSED, ())
    assert seal1(with_dss(sign_invisibly(use_stamped, "Applicant"), ca)) == (PASSED, ("UseStamp",))
