"""Electronic seals on PDF documents (PDF 电子签章): PAdES signatures with a visible seal, and their verification.

>>> sealer = PdfSealer(key, cert, [ca.intermediate], seal_png=draw_seal("济南市市场监督管理局", "电子证照专用章"),
...     timestamper=timestamper)                                                            # doctest: +SKIP
>>> sealed = await sealer.seal(pdf, field_name="Seal1", location="济南")                    # doctest: +SKIP
>>> report = await validate(sealed, trust_roots=[ca.root], intermediates=[ca.intermediate],
...     crls=[crl], tsa_trust_roots=[tsa_root])                                            # doctest: +SKIP
>>> report.result, report.integrity.result, report.timestamp.result                       # doctest: +SKIP

A seal is a PAdES baseline signature (``ETSI.CAdES.detached``, SHA-256) in a new signature field whose appearance
is the seal image; with a timestamper it is PAdES B-T (an RFC 3161 token over the signature value). The key is a
``KeyBackend``, so file keys and PKCS#11 tokens sign the same way; pyHanko only sees a ``Signer`` whose one
primitive calls ``KeyBackend.sign``.

Verification answers three questions, each a ``Finding``:

- integrity: do the signed bytes still hash to what was signed, and was nothing but signatures and form data added
  afterwards (``SIGNATURE_INVALID``, ``DOCUMENT_MODIFIED``)? Those later signatures and form values are allowed, so
  the ones drawn on a page are listed (``shown_after_sealing``) for the caller to judge: the seal does not cover
  what they show.
- issuer identity: did the seal certificate chain to a trusted seal-maker root and was it valid, for seals, and not
  revoked when the seal was applied (``signing.seal_ca.check_certificate``'s reasons: ``CERT_REVOKED``,
  ``CERT_EXPIRED``, ``CERT_NOT_YET_VALID``, ``UNTRUSTED_ROOT``, …)? The time of sealing is the timestamp's genTime;
  without a valid timestamp there is no trustworthy time, so the certificate is checked as of now and a certificate
  revoked or expired by now gives INDETERMINATE (``CERT_REVOKED_NO_TRUSTED_TIME``, ``CERT_EXPIRED_NO_TRUSTED_TIME``):
  it may have been sealed before, or not. A genTime more than ``CLOCK_SKEW`` (5 minutes) after now fails it
  (``SIGNING_TIME_IN_FUTURE``), as a GB/T 38540 stamp's signing time does; a time only claimed, which nothing is
  judged at, does not.
- timestamp: PASSED for a valid token from a trusted TSA, its certificate judged at the token's genTime and never
  revoked (ADR 0003, 2026-12-05), INDETERMINATE ``NO_TIMESTAMP`` when there is none (a B-B seal: this does not lower
  the overall result), FAILED ``TIMESTAMP_INVALID`` / ``TIMESTAMP_UNTRUSTED`` otherwise.

Errors (all ``PdfError``, a ``SigningError``; ``reason`` is the stable code)::

    PdfError
    ├── PdfTooLarge            PDF_TOO_LARGE          over the sealer's size limit
    ├── PdfTooComplex          PDF_TOO_COMPLEX        more of its objects to parse than one reading may (1.5 MiB)
    ├── NotAPdf                NOT_A_PDF              no %PDF- header
    ├── TruncatedPdf           TRUNCATED_PDF          no %%EOF at the end
    ├── DamagedPdf             DAMAGED_PDF            header and trailer present, but it does not parse, or
    │   │                                             viewers would not read it by its cross-references, or a
    │   │                                             form or page tree lists an object twice or is too large
    │   ├── TooManyRevisions   TOO_MANY_REVISIONS     more updates than are read (32), or than leave room to seal,
    │   │                                             or more signatures than updates are read
    │   └── UnreadableSignature SIGNATURE_UNREADABLE  a signature whose /ByteRange, /Contents or CMS cannot be read,
    │                                                 or whose /Contents is DER asn1crypto is not given (signing.der)
    ├── EncryptedPdf           ENCRYPTED_PDF          encrypted documents are neither sealed nor verified
    ├── CertifiedNoChanges     CERTIFIED_NO_CHANGES   its author certified it allowing no changes: no seal follows
    ├── BadPlacement           BAD_PLACEMENT          no such page, a box off the page, field name taken
    │   └── NoSuchPage         BAD_PLACEMENT          no such page: the page asked for, not the PDF, is to fix
    ├── NoSignature            NO_SIGNATURE           nothing to verify
    └── TimestampUnavailable   TIMESTAMP_UNAVAILABLE  the timestamper failed: retry later (gRPC UNAVAILABLE)
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import functools
import hashlib
import io
import logging
import math
import operator
import re
import zlib
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from asn1crypto import algos, cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.content import ImportedPdfPage, PdfContent
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.metadata.xmp_xml import XmpXmlProcessingError
from pyhanko.pdf_utils.reader import HistoricalResolver, PdfFileReader, RawPdfPath
from pyhanko.pdf_utils.xref import XRefSectionType
from pyhanko.sign import fields, signers
from pyhanko.sign.diff_analysis import (
    CatalogModificationRule,
    DocInfoRule,
    DSSCompareRule,
    FormUpdate,
    FormUpdatingRule,
    GenericFieldModificationRule,
    MetadataUpdateRule,
    ModificationLevel,
    ObjectStreamRule,
    SigFieldCreationRule,
    SigFieldModificationRule,
    StandardDiffPolicy,
    SuspiciousModification,
    XrefStreamRule,
)
from pyhanko.sign.diff_analysis.rules_api import QualifiedWhitelistRule, ReferenceUpdate, RelativeContext
from pyhanko.sign.general import SigningError as _PyHankoSigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import async_validate_pdf_signature, read_certification_data
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature, extract_contents
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.der import check_der
from signing.errors import SigningError, causes
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, KeyBackend
from signing.results import CLOCK_SKEW, PASSED, CheckResult, Finding, SealCheck, overall
from signing.seal_ca import MAX_CARRIED_CERTIFICATES, IdentityFinding, async_check_certificate, repeated_name

_log = logging.getLogger("zzgw.pdf")

__all__ = [
    "BadPlacement",
    "CertifiedNoChanges",
    "CheckResult",
    "DamagedPdf",
    "EncryptedPdf",
    "Finding",
    "NoSignature",
    "NotAPdf",
    "PageTooSmall",
    "PdfError",
    "PdfSealer",
    "PdfTooComplex",
    "PdfTooLarge",
    "PdfVerification",
    "Provenance",
    "TimestampUnavailable",
    "TooManyRevisions",
    "TruncatedPdf",
    "provenance",
    "revisions",
    "validate",
    "validate_sync",
]

MAX_PDF_BYTES = 20 * 1024 * 1024
"""Default limit on the size of a PDF to seal."""

DEFAULT_REASON = "电子证照签章"
SEAL_SIZE_PT = 40 / 25.4 * 72
"""The default seal box: 40 mm square (a 公章 is 40–42 mm across)."""
SEAL_MARGIN_PT = 20 / 25.4 * 72
"""The default seal box sits this far (20 mm) from the right and bottom edges of the page."""
MIN_SEAL_SIZE_PT = 20 / 25.4 * 72
"""The smallest default stamp (20 mm), on a page under 40 mm on its shorter side; on one under 20 mm none fits."""
SEAL_GAP_PT = 3 / 25.4 * 72
"""Room (3 mm) the stamp keeps from a signature already on the page (joint sealing, a license's issuer seal)."""
SEAL_ROW_STEP_PT = 5 / 25.4 * 72
"""When the bottom row has no room clear of the signatures there, the stamp is tried this much (5 mm) higher."""
MAX_WIDGETS_AVOIDED = 256
"""Signature widgets of a page read to keep the stamp clear of (a page has a few; past these, the rest are not)."""
BYTES_RESERVED = 16384
"""Room for the CMS object: signature, certificate chain and timestamp token (with the TSA's chain)."""

_HEADER_WINDOW = 1024  # ISO 32000: the header may sit anywhere in the first 1024 bytes, %%EOF in the last 1024
MAX_REVISIONS = 32
"""Revisions a PDF to verify may have: a license document has two or three (sealed, a use stamp, validation data);
pyHanko's analysis of what changed after a seal costs time in the square of their number (3,000 empty updates in
a 375 KB file took 51 s)."""
MAX_SUPPLIED_REVISIONS = MAX_REVISIONS - 4
"""Revisions an issuer's own PDF may have to become a license document: the gateway's seal, a use stamp on a
sharing copy, validation data and one more must still leave it readable."""
_UNREADABLE_SIGNATURE = "a signature of the PDF cannot be read: its byte range or its contents are malformed"
_UNREADABLE = (
    misc.PdfError,
    ValueError,
    LookupError,
    TypeError,
    AttributeError,
    ArithmeticError,
    RuntimeError,  # objects nested too deep (RecursionError), a filter pyHanko has no decoder for
    AssertionError,
    EOFError,
    zlib.error,
    x509.InvalidVersion,  # a carried certificate of no X.509 version, which cryptography will not load
)
"""What pyHanko raises on a PDF it cannot read or write: besides its own errors, whatever a malformed object makes
Python raise — objects nested hundreds deep, a direct /Root, an /ID of one string, a number past 64 bits, an unknown
filter, its assertions on the input (cross-reference subsections out of order)."""
_WHITESPACE = b"\x00\t\n\x0c\r "
_ECDSA_P256_DER_MAX = 72  # SEQUENCE of two INTEGERs of up to 33 bytes
_MECHANISMS = {ECDSA_P256_SHA256: "sha256_ecdsa", RSA2048_SHA256: "sha256_rsa"}


# --- errors ----------------------------------------------------------------------------------------------------------


class PdfError(SigningError):
    """A PDF cannot be sealed or verified; ``reason`` is the stable code."""

    reason: ClassVar[str] = "PDF_ERROR"


class PdfTooLarge(PdfError):
    """The PDF exceeds the sealer's size limit."""

    reason = "PDF_TOO_LARGE"


class NotAPdf(PdfError):
    """The bytes do not start like a PDF."""

    reason = "NOT_A_PDF"


class TruncatedPdf(PdfError):
    """The PDF has no end-of-file marker: it was cut off."""

    reason = "TRUNCATED_PDF"


class DamagedPdf(PdfError):
    """The PDF starts and ends like one but its structure (xref, trailer, objects) is broken."""

    reason = "DAMAGED_PDF"


class PdfTooComplex(PdfError):
    """Reading the PDF would parse more of its objects than one reading is allowed (``MAX_READING_BYTES``): pages,
    form fields and the like by the ten thousand, or dictionaries of huge arrays, packed small in compressed object
    streams. The size limit bounds bytes, not the parser's work: a 1.3 MB file of 65,000 pages held the gateway's one
    PDF thread for minutes, every issuer's sealing behind it, until its watchdog stopped the process (a review, R1)."""

    reason = "PDF_TOO_COMPLEX"


class TooManyRevisions(DamagedPdf):
    """The PDF has more incremental updates than are read (``MAX_REVISIONS``), or than leave room for a seal: the
    analysis of what changed after a seal costs time in the square of their number."""

    reason = "TOO_MANY_REVISIONS"


class EncryptedPdf(PdfError):
    """The PDF is encrypted: seals are applied to plain documents only, and verified on them only."""

    reason = "ENCRYPTED_PDF"


class CertifiedNoChanges(PdfError):
    """The PDF's author certified it (a DocMDP signature, ISO 32000-1 12.8.2.2) allowing no changes, so no seal may
    follow: the PDF is sound, and saving it anew would strip the certification. pyHanko's refusal had been said as
    damage, DAMAGED_PDF, with the advice to print it to PDF (a review, R5)."""

    reason = "CERTIFIED_NO_CHANGES"


class BadPlacement(PdfError):
    """The seal cannot go where asked: no such page, a box off the page, or the field exists already."""

    reason = "BAD_PLACEMENT"


class NoSuchPage(BadPlacement):
    """The PDF has no page of the number asked for: a request names the page it asked for, which is what to fix."""


class PageTooSmall(BadPlacement):
    """The page is too small for the smallest default stamp (under 20 mm on a side)."""


class NoSignature(PdfError):
    """The PDF carries no signature to verify (or not the one named)."""

    reason = "NO_SIGNATURE"


class UnreadableSignature(DamagedPdf):
    """A signature of the PDF cannot be read: its /ByteRange or /Contents is malformed, or what it holds is no CMS
    signature (a forged or broken seal, which vouches for nothing)."""

    reason = "SIGNATURE_UNREADABLE"


class TimestampUnavailable(PdfError):
    """The timestamp authority did not answer, or answered badly; nothing was sealed, try again later."""

    reason = "TIMESTAMP_UNAVAILABLE"


# --- sealing ---------------------------------------------------------------------------------------------------------


class _KeyBackendSigner(signers.Signer):
    """A pyHanko signer whose one primitive is ``KeyBackend.sign``."""

    def __init__(self, key: KeyBackend, cert: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        mechanism = _MECHANISMS.get(key.algorithm)
        if mechanism is None:
            raise SigningError(f"PDF seals do not support the key algorithm {key.algorithm!r}")
        if (
            cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
            != key.public_key_der
        ):
            raise SigningError("the seal certificate does not certify this key")
        public_key = cert.public_key()
        self._key = key
        self._dummy_size = public_key.key_size // 8 if isinstance(public_key, rsa.RSAPublicKey) else _ECDSA_P256_DER_MAX
        super().__init__(
            signing_cert=_to_asn1(cert),
            cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [_to_asn1(c) for c in chain]
            ),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": mechanism}),
            embed_roots=False,
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != "sha256":
            raise SigningError(f"PDF seals hash with SHA-256, not {digest_algorithm}")
        if dry_run:
            return bytes(self._dummy_size)
        return self._key.sign(data)


class _GuardedTimeStamper(TimeStamper):
    """Delegates to a timestamper and turns any failure into TimestampUnavailable, so it can be told apart."""

    def __init__(self, inner: TimeStamper) -> None:
        super().__init__(include_nonce=inner.include_nonce)  # type: ignore[no-untyped-call]
        self._inner = inner

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        try:
            # pyHanko leaves these untyped
            token: cms.ContentInfo = await self._inner.async_timestamp(message_digest, md_algorithm)
        except Exception as exc:
            raise TimestampUnavailable(f"the timestamp authority failed: {exc}") from exc
        return token


@dataclass(frozen=True, slots=True)
class _EncodedSeal:
    """The seal picture compressed once: pyHanko's PdfImage would re-compress it for every document."""

    width: int
    """Pixels across."""
    height: int
    """Pixels down."""
    colour: bytes
    """RGB samples, deflated."""
    alpha: bytes
    """The alpha channel (the soft mask), deflated."""

    @classmethod
    def of(cls, image: Image.Image) -> _EncodedSeal:
        rgba = image.convert("RGBA")
        return cls(
            width=rgba.width,
            height=rgba.height,
            colour=zlib.compress(rgba.convert("RGB").tobytes()),
            alpha=zlib.compress(rgba.getchannel("A").tobytes()),
        )


class _SealImage(PdfImage):
    """The seal picture as an image XObject with a soft mask, copied ready-compressed into the document."""

    def __init__(self, encoded: _EncodedSeal) -> None:
        super().__init__(Image.new("L", (encoded.width, encoded.height)), name="Seal")
        self._encoded = encoded
        self._ref: generic.IndirectObject | None = None
        self._ref_writer: object = None

    @property
    def image_ref(self) -> generic.IndirectObject:
        writer = self.writer
        assert writer is not None
        if self._ref is None or self._ref_writer is not writer:
            colour = self._stream(self._encoded.colour, "/DeviceRGB")
            colour[generic.pdf_name("/SMask")] = writer.add_object(self._stream(self._encoded.alpha, "/DeviceGray"))
            self._ref = writer.add_object(colour)
            self._ref_writer = writer
        return self._ref

    def _stream(self, data: bytes, colour_space: str) -> generic.StreamObject:
        name = generic.pdf_name
        number: Any = generic.NumberObject  # an int subclass that pyHanko leaves unannotated
        return generic.StreamObject(
            {
                name("/Type"): name("/XObject"),
                name("/Subtype"): name("/Image"),
                name("/Width"): number(self._encoded.width),
                name("/Height"): number(self._encoded.height),
                name("/ColorSpace"): name(colour_space),
                name("/BitsPerComponent"): number(8),
                name("/Filter"): name("/FlateDecode"),
            },
            encoded_data=data,
        )


class _SealPage(ImportedPdfPage):
    """The first page of a PDF held in memory (a watermark with its words as text, ``signing.watermark``) as the
    appearance: pyHanko's ImportedPdfPage reads a file. ``imported``, when given, is called once with the page
    imported as a form XObject, while pyHanko draws the signature's one widget."""

    def __init__(self, pdf: bytes, imported: Callable[[generic.IndirectObject], None] | None = None) -> None:
        super().__init__(file_name="")  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
        self._pdf = pdf
        self._imported = imported

    def render(self) -> bytes:
        page = self._ensure_writer.import_page_as_xobject(PdfFileReader(io.BytesIO(self._pdf)), page_ix=0)
        name = "/Page"
        self.resources.xobject[name] = page
        left, bottom, right, top = page.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(right - left), height=abs(top - bottom))
        if self._imported is not None:
            imported, self._imported = self._imported, None
            imported(page)
        return name.encode("ascii") + b" Do"


def _widgets_on(
    writer: IncrementalPdfFileWriter, field_name: str, pages: Sequence[generic.Reference]
) -> Callable[[generic.IndirectObject], None]:
    """What puts the appearance ``xobject`` of the new signature field ``field_name`` on each of ``pages`` too, as
    more widgets of that field (its /Kids), each filling the page's visible box less 1 pt: one field, so the
    signature covers them and a verifier of an earlier seal reads them as that signature's (pyHanko's rule for a
    new signature field takes every widget in its /Kids). A sharing copy's use watermark had been on the first page
    only: further pages of an issuer's multi-page PDF printed like the valid original (a reviewer, R4)."""

    def add(xobject: generic.IndirectObject) -> None:
        field_ref = next(ref for ref in writer.root["/AcroForm"]["/Fields"] if ref.get_object().get("/T") == field_name)
        kids = field_ref.get_object()["/Kids"]
        for page_ref in pages:
            x1, y1, x2, y2 = _visible_box(page_ref.get_object())  # type: ignore[arg-type]  # a page: a dictionary
            rect = (math.ceil(x1) + 1, math.ceil(y1) + 1, math.floor(x2) - 1, math.floor(y2) - 1)
            name = generic.pdf_name
            appearance = generic.DictionaryObject({name("/N"): xobject})  # type: ignore[no-untyped-call]
            widget = generic.DictionaryObject(  # type: ignore[no-untyped-call]
                {
                    name("/Type"): name("/Annot"),
                    name("/Subtype"): name("/Widget"),
                    name("/Parent"): field_ref,
                    name("/P"): page_ref,
                    name("/F"): generic.NumberObject(0b10000100),  # type: ignore[no-untyped-call]  # print, locked
                    name("/Rect"): generic.ArrayObject(
                        generic.NumberObject(v)  # type: ignore[no-untyped-call]
                        for v in rect
                    ),
                    name("/AP"): appearance,
                }
            )
            widget_ref = writer.add_object(widget)
            kids.append(widget_ref)
            writer.register_annotation(page_ref, widget_ref)  # type: ignore[no-untyped-call]

    return add


class PdfSealer:
    """Applies one seal (one key and certificate, one seal image) to PDFs; make one per seal and keep it.

    ``chain`` holds the CA certificates to embed (the issuing intermediate; roots are left out). ``timestamper``
    makes the seals PAdES B-T; without one they are B-B. ``seal`` is a coroutine: call it from the event loop.
    """

    def __init__(
        self,
        key: KeyBackend,
        cert: x509.Certificate,
        chain: Sequence[x509.Certificate],
        *,
        seal_png: bytes | None = None,
        seal_pdf: bytes | None = None,
        timestamper: TimeStamper | None,
        max_pdf_bytes: int = MAX_PDF_BYTES,
        bytes_reserved: int = BYTES_RESERVED,
    ) -> None:
        self._signer = _KeyBackendSigner(key, cert, chain)
        self._alternative_text = _seal_title(cert)
        self._timestamper = None if timestamper is None else _GuardedTimeStamper(timestamper)
        if (seal_png is None) == (seal_pdf is None):
            raise ValueError("a sealer draws either a seal image (seal_png) or a page (seal_pdf)")
        self._seal_image: _EncodedSeal | None = None
        self._seal_page = seal_pdf
        if seal_png is not None:
            try:
                image = Image.open(io.BytesIO(seal_png))
                image.load()
            except (OSError, ValueError) as exc:
                raise SigningError(f"the seal image is not a readable PNG: {exc}") from exc
            self._seal_image = _EncodedSeal.of(image)
        self._max_pdf_bytes = max_pdf_bytes
        self._bytes_reserved = bytes_reserved

    async def seal(
        self,
        pdf: bytes,
        *,
        field_name: str,
        page: int = 0,
        box: tuple[float, float, float, float] | None = None,
        reason: str = DEFAULT_REASON,
        location: str | None = None,
        alternative_text: str | None = None,
        every_page: bool = False,
    ) -> bytes:
        """Seal ``pdf`` in a new signature field ``field_name`` drawn at ``box`` (points, default bottom right).

        ``alternative_text`` is the field's ``/TU``, what a screen reader says of the stamp (default: the
        certificate's owner and seal name, 济南市市场监督管理局电子证照专用章). ``every_page`` (a sealer that draws
        a page, ``seal_pdf``: a watermark) draws it on every other page too, across the page's visible box.

        Returns the sealed PDF (the input, less NULs and white space a transfer padded it with after its end
        (``without_padding``), plus one incremental update); raises a PdfError and returns nothing else.
        """
        try:
            return await self._seal(pdf, field_name, page, box, reason, location, alternative_text, every_page)
        except PdfError:
            raise
        except _UNREADABLE as exc:  # a malformed object met while writing the update (objects nested too deep…)
            raise DamagedPdf(f"cannot seal this PDF: {_why(exc)}") from exc

    async def _seal(
        self, pdf: bytes, field_name: str, page: int, box: tuple[float, float, float, float] | None, reason: str,
        location: str | None, alternative_text: str | None, every_page: bool = False,
    ) -> bytes:  # fmt: skip
        if len(pdf) > self._max_pdf_bytes:
            raise PdfTooLarge(f"the PDF has {len(pdf)} bytes; the limit is {self._max_pdf_bytes}")
        pdf = without_padding(pdf)  # as ``validate`` reads it: a complete file a transfer padded was refused as cut off
        reader = _read(pdf)
        if reader.xrefs.total_revisions >= MAX_REVISIONS:
            raise TooManyRevisions(
                f"the PDF has {reader.xrefs.total_revisions} revisions: sealed, it would have more than the "
                f"{MAX_REVISIONS} that are read"
            )
        writer = _Writer(io.BytesIO(pdf), prev=reader)
        placement = _placement(writer, page, box)
        if field_name in _field_names(writer.prev):
            raise BadPlacement(f"the PDF has a field named {field_name!r} already")
        _check_open_to_seals(reader)
        _carry_info_into_new_xmp(writer)
        metadata = signers.PdfSignatureMetadata(
            field_name=field_name,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            use_pades_lta=False,
            reason=reason,
            location=location,
        )
        others = _other_pages(writer, page) if every_page and self._seal_page is not None else []
        for page_ref in (writer.find_page_for_modification(page)[0], *others):  # type: ignore[no-untyped-call]
            _own_annotations(writer, page_ref)
        appearance: PdfContent = (
            _SealImage(self._seal_image)
            if self._seal_image is not None
            else _SealPage(self._seal_page or b"", _widgets_on(writer, field_name, others) if others else None)
        )
        stamp = StaticStampStyle(background=appearance, background_opacity=1.0, border_width=0)
        pdf_signer = signers.PdfSigner(
            metadata,
            self._signer,
            timestamper=self._timestamper,
            stamp_style=stamp,
            new_field_spec=fields.SigFieldSpec(
                sig_field_name=field_name,
                on_page=page,
                box=placement,
                readable_field_name=alternative_text or self._alternative_text,
                combine_annotation=not others,  # widgets in /Kids, where more can be added
            ),
        )
        output = io.BytesIO()
        try:
            await pdf_signer.async_sign_pdf(writer, bytes_reserved=self._bytes_reserved, output=output)
        except TimestampUnavailable:
            raise
        except Exception as exc:
            cause = _timestamp_failure(exc)
            if cause is not None:
                raise cause from exc
            if isinstance(exc, _PyHankoSigningError | misc.PdfError):
                raise DamagedPdf(f"cannot seal this PDF: {_why(exc)}") from exc
            raise
        return output.getvalue()


def _check_open_to_seals(reader: PdfFileReader) -> None:
    """CertifiedNoChanges when the PDF's author certified it allowing no changes (DocMDP P 1), which pyHanko refuses
    to sign after; a certification that cannot be read is left to pyHanko, which says what it cannot read."""
    try:
        certification = read_certification_data(reader)
    except (*_UNREADABLE, SignatureValidationError):
        return
    if certification is not None and certification.permission is fields.MDPPerm.NO_CHANGES:
        raise CertifiedNoChanges(
            "the PDF's author certified it allowing no changes (a DocMDP certification): a seal would be one; ask the "
            "author for a copy certified to allow signing, or not certified"
        )


def _timestamp_failure(exc: BaseException) -> TimestampUnavailable | None:
    """The TimestampUnavailable somewhere in the chain of causes, if pyHanko wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, TimestampUnavailable):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _unreadable_signature(exc: BaseException) -> DamagedPdf:
    """What reading a signature raised, said: damage to the document's structure (objects missing or nested too deep)
    as such, anything else as a signature that cannot be read."""
    if isinstance(exc, KeyError) or _nested_too_deep(exc):
        return DamagedPdf(f"the signature cannot be read: {_why(exc)}")
    if isinstance(exc, misc.PdfReadError) and str(exc).startswith("Circular reference"):
        # pyHanko's walk of a structure tree (or a tree ``_check_trees`` does not check) met an object twice: the
        # document's structure is damaged, not the seal
        return DamagedPdf(f"the PDF cannot be read: {exc}")
    return UnreadableSignature(_UNREADABLE_SIGNATURE)


def _nested_too_deep(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was caused by, Python's recursion limit: pyHanko reports a dictionary nested thousands
    deep as a dictionary key it failed to read, raised from the RecursionError (an array as the RecursionError)."""
    return any(isinstance(cause, RecursionError) for cause in causes(exc))


def _why(exc: BaseException) -> str:
    """What a reader's exception says of the PDF, in words for its sender."""
    if _nested_too_deep(exc):
        return "its objects nest too deep to be read"
    return str(exc) or f"{type(exc).__name__} in its structure"  # some of pyHanko's errors say nothing


class _Writer(IncrementalPdfFileWriter):
    """pyHanko's incremental writer, leaving a document's XMP metadata as it is when it is not well-formed XML
    (Ghostscript 10.00 writes such at PDF 2.0, and pyHanko refused to seal it): a seal needs no metadata update."""

    def _update_meta(self) -> None:
        try:
            super()._update_meta()  # type: ignore[no-untyped-call]
        except XmpXmlProcessingError:
            _log.info("the PDF's XMP metadata is not well-formed XML: left as it is")


def _seal_title(cert: x509.Certificate) -> str:
    """The seal as its stamp reads, owner and name (济南市市场监督管理局电子证照专用章), from the certificate's O
    and CN; a CN that names its owner already is taken as it is."""

    def first(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    owner, name = first(x509.NameOID.ORGANIZATION_NAME), first(x509.NameOID.COMMON_NAME)
    return name if name.startswith(owner) else owner + name


def _carry_info_into_new_xmp(writer: IncrementalPdfFileWriter) -> None:
    """Have the seal's update carry the document information's title, author, subject and creation date into the XMP
    metadata when the update writes the document's first (pyHanko does at PDF 2.0, where XMP is the metadata of
    record and the information dictionary keeps only dates): it had written only its producer and the time, so a
    drawn license's metadata read through XMP named no license and no issuer. XMP already there is kept as it is."""
    if "/Metadata" in writer.root:
        return
    info = writer.prev.document_meta_view
    ours = writer.document_meta
    ours.title, ours.author, ours.subject, ours.created = info.title, info.author, info.subject, info.created


def revisions(pdf: bytes) -> int:
    """How many revisions (the first version and each incremental update) ``pdf`` has (``without_padding``); raises a
    PdfError for input that is no readable PDF."""
    return int(_read(without_padding(pdf)).xrefs.total_revisions)


@dataclass(frozen=True, slots=True, kw_only=True)
class Provenance:
    """What a PDF carries of the documents it may have been made from, for a registry of sealed documents to
    recognise one of them in it (``provenance``)."""

    digests: frozenset[str]
    """SHA-256 (hex) of the PDF and of each revision one of its signatures covers (the bytes up to the end of its
    byte range), each as it is and as it would be with its end written as this module's writer (pyHanko) writes a
    file's: cut after the ``%%EOF`` marker that ends it, then one ``\\n``. A file's bytes after its last marker are
    no part of the PDF (readers pass over them), and no signature covers those of the last revision: a registered
    document with its final newline dropped or made ``\\r\\n``, or NULs after it, is still recognised."""
    subject: str | None
    """The document information's ``/Subject`` (stripped), where the documents ``signing.render`` draws name their
    license; None when there is none or it cannot be read."""


def provenance(pdf: bytes) -> Provenance:
    """``Provenance`` of ``pdf`` (``without_padding``); raises a PdfError for input that is no readable PDF. The
    revisions of at most ``MAX_REVISIONS`` signatures are taken, those that end first (a PDF that is read has no more
    revisions; more signatures than that are no signer's)."""
    pdf = without_padding(pdf)
    reader = _read(pdf)
    ends = set()
    try:
        for _, value, _ in fields.enumerate_sig_fields(reader, filled_status=True):
            try:
                _, _, start, length = (int(number) for number in value.get_object()["/ByteRange"])
            except _UNREADABLE:  # a malformed byte range covers no revision
                continue
            if start + length > 0:
                ends.add(min(start + length, len(pdf)))  # past the end: a revision whose last bytes were cut
    except _UNREADABLE:  # a form that cannot be read (fields that are each other's kids) lends no revision
        pass
    return Provenance(digests=_digests(pdf, [len(pdf), *sorted(ends)[:MAX_REVISIONS]]), subject=_subject(reader))


def _digests(pdf: bytes, ends: Sequence[int]) -> frozenset[str]:
    """SHA-256 (hex) of ``pdf[:end]`` for each end, and of the bytes up to the end of the ``%%EOF`` marker before it
    followed by ``\\n``: hashed in one pass, each prefix from the one before it."""
    prefixes = set()
    for end in ends:
        prefixes.add((end, b""))
        marker = pdf.rfind(b"%%EOF", 0, end)
        if marker >= 0:
            prefixes.add((marker + 5, b"\n"))
    digests, running, hashed = set(), hashlib.sha256(), 0
    for end, tail in sorted(prefixes):
        running.update(pdf[hashed:end])
        hashed = end
        digest = running.copy()
        digest.update(tail)
        digests.add(digest.hexdigest())
    return frozenset(digests)


def _subject(reader: PdfFileReader) -> str | None:
    try:
        subject = reader.trailer_view["/Info"]["/Subject"]
    except _UNREADABLE:
        return None
    if not isinstance(subject, str):
        return None
    return subject.strip() or None


_DECLARED_SIZE = re.compile(rb"/Size[\x00\t\n\x0c\r ]*([-+]?\d+)")
_DECLARED_INDEX = re.compile(rb"/Index[\x00\t\n\x0c\r ]*\[([-+\d\x00\t\n\x0c\r ]*)\]")


def _check_declared_sizes(pdf: bytes) -> None:
    """Refuse, before pyHanko reads it, a PDF whose trailers or cross-reference streams declare more objects than
    its bytes can hold: pyHanko allocates for the declared count (``/Index [0 99999999]`` in a 100 KB file took the
    gateway to 24 GB until the kernel killed it). Every object takes bytes, so no sound PDF declares more objects
    than it has bytes. (Those dictionaries are never compressed: a plain scan of the file finds them.)"""
    bound = len(pdf)
    for size in _DECLARED_SIZE.finditer(pdf):
        if not 0 < int(size[1]) <= bound:  # MuPDF rebuilds a file whose /Size is out of range (-1, 10**12)
            raise DamagedPdf(f"the PDF declares {int(size[1])} objects (/Size); its {bound} bytes hold 1 to {bound}")
    for index in _DECLARED_INDEX.finditer(pdf):
        numbers = [int(number) for number in index[1].split()]
        declared = sum(numbers[1::2])
        if declared > bound or any(number < 0 for number in numbers):
            raise DamagedPdf(f"the PDF declares {declared} objects (/Index), more than its {bound} bytes can hold")


_PADDING = b"\x00\t\n\x0c\r "


def without_padding(pdf: bytes) -> bytes:
    """``pdf`` without the NULs and white space that block-padded transfers, some mail and scan systems append
    after its last ``%%EOF``, when there are so many that the marker is no longer in the last 1024 bytes (where
    readers, pyHanko too, look for it): cut after the marker's end of line. A genuine sealed PDF with 1,100 NULs
    after it had been refused as cut off (found by an acceptance tester). Anything else after the marker, or a PDF
    whose marker is near its end, is left as it is."""
    if b"%%EOF" in pdf[-_HEADER_WINDOW:]:
        return pdf
    end = pdf.rfind(b"%%EOF")
    if end < 0 or pdf[end + 5 :].strip(_PADDING):
        return pdf
    end += 5
    eol = 2 if pdf[end : end + 2] == b"\r\n" else 1 if pdf[end : end + 1] in (b"\r", b"\n") else 0
    return pdf[: end + eol]


def is_padded_copy(pdf: bytes, sha256: str) -> bool:
    """Whether ``pdf`` is the document whose SHA-256 is ``sha256`` (hex) byte for byte, or followed by padding: only
    NULs and white space after its last ``%%EOF`` and that marker's end of line, as a transfer appends (the padding
    is no part of the document, ``without_padding``; a genuine registered document so padded had been said not to be
    the registered one: an examiner)."""
    if hashlib.sha256(pdf).hexdigest() == sha256:
        return True
    end = pdf.rfind(b"%%EOF")
    if end < 0 or pdf[end + 5 :].strip(_PADDING):
        return False
    end += 5
    ends = (eol for eol in (b"", b"\r", b"\n", b"\r\n") if pdf.startswith(eol, end))
    return any(hashlib.sha256(pdf[: end + len(eol)]).hexdigest() == sha256 for eol in ends)


MAX_READING_BYTES = 1536 * 1024
"""Bytes of a PDF's objects' syntax (dictionaries, arrays, numbers, strings: not the data of its streams) that one
reading of it parses at most, the checks, a seal and the analysis of what changed after a seal together
(``PdfTooComplex``); each object read counts ``_READING_BYTES_AN_OBJECT`` more. A license document takes some tens of
kilobytes, 3,000 pages some 350 KB, a form of 4,000 fields (835 KB) about 1 MB to seal or verify; pyHanko parses
1.5 MiB of numbers in some seconds (five times that on a loaded machine), where 65,000 pages in a 1.3 MB file had
taken it minutes."""
_READING_BYTES_AN_OBJECT = 32
"""What reading one object costs besides its bytes (finding it, its place in an object stream's header)."""


class _ObjectStreamHeader:
    """The header of one object stream (``/N`` pairs of object number and offset), read as far as has been asked for
    and no further, each pair once (``_Reader``)."""

    def __init__(self, stream: generic.StreamObject) -> None:
        self.stream = stream
        self.data = stream.read_data(DecodePurpose.OBJECT_STREAM)
        self.count = operator.index(stream["/N"])
        self.first = stream["/First"]
        self.found: dict[Any, tuple[int, Any]] = {}
        """Object number → (its index in the header, its offset after /First), the first pair naming it."""
        self._header = io.BytesIO(self.data)
        self._read = 0
        self._stopped: Exception | None = None
        """What ended the reading of the header before its /N pairs were read: a ValueError for a pair that is no
        numbers (pyHanko's "possibly corrupted"), anything else as pyHanko raised it."""

    def find(self, idnum: int) -> tuple[int, Any] | None:
        """(index, offset) of the first pair naming object ``idnum``, None when none does; raises what ended the
        reading of the header when that came before such a pair, as pyHanko does."""
        found = self.found.get(idnum)
        header = self._header
        skip: Any = misc.read_non_whitespace  # pyHanko leaves these unannotated
        number: Any = generic.NumberObject.read_from_stream
        while found is None and self._stopped is None and self._read < self.count:
            try:
                skip(header, seek_back=True)
                objnum = number(header)
                skip(header, seek_back=True)
                offset = number(header)
                skip(header, seek_back=True)
            except Exception as exc:  # kept, and raised again for every object not found before it
                self._stopped = exc
                break
            self.found.setdefault(objnum, (self._read, offset))
            self._read += 1
            found = self.found.get(idnum)
        if found is None and self._stopped is not None:
            raise self._stopped.with_traceback(None)
        return found


class _Reader(PdfFileReader):
    """pyHanko's reader, except that it reads the header of each object stream once.

    pyHanko 0.38's ``PdfFileReader._get_object_from_stream`` reads an object stream's header (its ``/N`` pairs of
    object number and offset) from the start each time it reads one object of the stream, up to that object's pair:
    reading all of a stream's objects costs time in the square of their number. A 1-page-content PDF of 8,000 page
    objects in one object stream (86 KB) took five minutes to read, and a 95 KB one got a gateway process stopped by
    its watchdog, sealing for every issuer waiting behind it (a review, R1). Here the pairs read are kept per stream
    and the header is read on from where it stopped, never from the start again; what an object's read answers
    (the object, a strict read's errors, a null when not strict) is pyHanko's, as is the reading of the object
    itself. (To be reported upstream; drop this when pyHanko keeps the offsets.)"""

    def __init__(self, stream: io.BytesIO, strict: bool = True, *, most: int | None = None) -> None:
        self._object_stream_headers: dict[int, _ObjectStreamHeader] = {}
        self.object_stream_headers_read = 0
        """Object stream headers begun (one a stream read, however many of its objects are): for the tests."""
        self.parsed = 0
        """Bytes of the objects' syntax parsed so far (``_parsed``)."""
        self._most = MAX_READING_BYTES if most is None else most
        super().__init__(stream, strict=strict)

    def _read_object(
        self, ref: generic.Reference, marker: Any, never_decrypt: bool = False, as_metadata_stream: bool = False
    ) -> Any:
        obj = super()._read_object(ref, marker, never_decrypt=never_decrypt, as_metadata_stream=as_metadata_stream)
        if isinstance(marker, int):  # written plainly in the file (one in an object stream: _get_object_from_stream)
            parsed = self.stream.tell() - marker
            if isinstance(obj, generic.StreamObject):  # a stream's data is sliced as it is, not parsed
                parsed -= len(obj.encoded_data)
            self._parsed(parsed)
        return obj

    def _parsed(self, count: int) -> None:
        """Count ``count`` bytes of an object's syntax parsed, and the object: PdfTooComplex past ``MAX_READING_BYTES``
        (pyHanko parses some microseconds a byte, a number or a hex digit at a time, and reads each object of a
        past revision again: what one reading parses is what it costs). Every reading of the PDF counts, the
        checks, the seal's and pyHanko's analysis of what changed after a seal, each object every time it is read."""
        self.parsed += max(count, 0) + _READING_BYTES_AN_OBJECT
        if self.parsed > self._most:
            raise PdfTooComplex(
                f"reading the PDF would parse more than {self._most:,} bytes of its objects (pages, fields…; its "
                "streams' data not counted), more than the gateway reads of one PDF"
            )

    def _get_object_from_stream(self, idnum: int, stmnum: int, idx: int) -> Any:
        stream = generic.Reference(stmnum, 0, self).get_object()
        assert isinstance(stream, generic.StreamObject)
        assert stream["/Type"] == "/ObjStm"
        if not (0 <= idx < stream["/N"]):
            if self.strict:
                raise misc.PdfStrictReadError("Object stream does not contain index")
            return generic.NullObject()
        header = self._object_stream_headers.get(stmnum)
        if header is None or header.stream is not stream:
            header = self._object_stream_headers[stmnum] = _ObjectStreamHeader(stream)
            self.object_stream_headers_read += 1
        try:
            found = header.find(idnum)
        except ValueError:
            if self.strict:
                raise misc.PdfStrictReadError("Object stream header possibly corrupted") from None
            return generic.NullObject()
        if found is None:
            if self.strict:
                raise misc.PdfStrictReadError("Object not found in stream, this is a fatal error in strict mode")
            return generic.NullObject()
        index, offset = found
        if self.strict and idx != index:
            raise misc.PdfStrictReadError("Object is in wrong index.")
        data = io.BytesIO(header.data)
        data.seek(header.first + offset)
        try:
            obj = generic.read_object(data, generic.Reference(idnum, 0, self))
        except (misc.PdfStreamError, misc.PdfReadError) as exc:
            if self.strict:
                raise misc.PdfStrictReadError(f"Can't read object stream: {exc}") from exc
            obj = generic.NullObject()
        self._parsed(data.tell() - header.first - offset)
        if isinstance(obj, generic.StreamObject | generic.IndirectObject):
            if self.strict:
                raise misc.PdfStrictReadError("Encountered forbidden object type in object stream")
            return obj
        generic.read_non_whitespace(data, seek_back=True, allow_eof=True)  # type: ignore[no-untyped-call]
        return obj


def _read(pdf: bytes, *, page_trees: bool = True) -> PdfFileReader:
    """Parse ``pdf``, telling apart the ways it can be unusable. ``page_trees``: check the page trees too
    (``_check_trees``); without, the caller checks them before anything walks them."""
    if b"%PDF-" not in pdf[:_HEADER_WINDOW]:
        raise NotAPdf("the data does not start with a %PDF- header")
    if b"%%EOF" not in pdf[-_HEADER_WINDOW:]:
        raise TruncatedPdf("the PDF has no %%EOF marker at its end; it was probably cut off")
    _check_declared_sizes(pdf)
    try:
        try:
            reader = _Reader(io.BytesIO(pdf), strict=True)
        except misc.PdfStrictReadError:
            # a structural quirk, not damage: poppler's pdfsig, for one, writes objects of generation 1 that were
            # never freed at generation 0; the checks on what changed after signing run all the same
            reader = _Reader(io.BytesIO(pdf), strict=False)
        encrypted = reader.encrypted
        if not encrypted:
            _ = reader.root["/Pages"]  # resolve the catalogue now, so damage shows here
    except _UNREADABLE as exc:
        raise DamagedPdf(f"the PDF cannot be parsed: {_why(exc)}") from exc
    if encrypted:
        raise EncryptedPdf("the PDF is encrypted; seal the plain document")
    if reader.xrefs.total_revisions > MAX_REVISIONS:
        raise TooManyRevisions(
            f"the PDF has {reader.xrefs.total_revisions} revisions; at most {MAX_REVISIONS} are read"
        )
    _check_cross_references(reader, pdf)
    _check_trees(reader, page_trees=page_trees)
    return reader


MAX_FORM_FIELDS = 4096
"""Form fields (and their widgets) one revision's form may have: a license document has a handful, a long
government form some hundreds; every one is read by each of pyHanko's walks of the form, several a verification."""
MAX_PAGE_TREE_NODES = 65536
"""Pages (and the page tree's nodes above them) one revision may have."""


def _check_trees(reader: PdfFileReader, *, forms: bool = True, page_trees: bool = True) -> None:
    """Refuse, before pyHanko walks them, a form or page tree that reaches an object twice, or has more nodes than
    are read (``MAX_FORM_FIELDS``, ``MAX_PAGE_TREE_NODES``), in any revision, and more filled signature fields than
    revisions are read (``MAX_REVISIONS``: each signature is made in a revision of its own).

    pyHanko remembers only the fields on the way down to the one it is at: a 2 KB file whose every field listed the
    same kid twice, 30 levels deep, would have taken it hours (a kid reached 2^30 times), in every verification and
    for an issuer's document, and the watchdog stopped the process; the analysis of what changed after a seal walks
    each revision's form so, and the annotation check each one's pages. A field or page tree is a tree (ISO 32000-1
    12.7.3.1, 7.7.3.2; pdf.js refuses a page reached twice). A widget with no kids of its own listed twice costs
    nothing more and is let be. Parts that cannot be read are left to pyHanko, which says so as it did.

    Each revision's objects are read through ``_RevisionObjects``, each definition of an object once for all the
    revisions that have it: through pyHanko's view of a revision (``HistoricalResolver``) every page was looked up
    in every cross-reference section and copied once a revision, and a 36,000-page file with 31 updates that each
    set a title took 230 s to read, past the watchdog (a review, R2).

    ``forms`` and ``page_trees`` say which trees to check: a verification looks for a signature, in the form, before
    it has the page trees checked, which no more than pyHanko's analysis of a seal walks."""
    objects = _RevisionObjects(reader)
    last = reader.xrefs.total_revisions - 1
    for revision in range(last + 1):
        tree = functools.partial(_Tree, resolve=functools.partial(objects.resolve, revision=revision))
        try:
            root = objects.resolve(reader.trailer.raw_get("/Root", revision=revision), revision)
            pages = root.raw_get("/Pages") if "/Pages" in root else None
        except _UNREADABLE:
            continue
        try:  # apart from the pages: a revision whose /AcroForm was no dictionary (``/AcroForm 42``) had been passed
            # over whole, and a page tree in it listing each level's node twice, 30 deep, walked by pyHanko's analysis
            # of what changed after a seal for minutes (a reviewer of the fixes, R1)
            form = objects.resolve(root.raw_get("/AcroForm"), revision) if "/AcroForm" in root else None
            listed = isinstance(form, generic.DictionaryObject) and "/Fields" in form
            fields_array = form.raw_get("/Fields") if listed and form is not None else None
        except _UNREADABLE:
            fields_array = None
        when = "" if revision == last else f" (in revision {revision + 1})"
        signatures = tree("form", "field", MAX_FORM_FIELDS, when).walk(fields_array) if forms else 0
        if revision == last and signatures > MAX_REVISIONS:
            raise TooManyRevisions(
                f"the PDF carries {signatures:,} signatures, each made in a revision of its own; at most "
                f"{MAX_REVISIONS} revisions are read"
            )
        if page_trees and pages is not None:
            tree("page tree", "page", MAX_PAGE_TREE_NODES, when).walk(generic.ArrayObject([pages]))


class _RevisionObjects:
    """The objects of a PDF as each of its revisions has them, each definition read once, however many revisions
    have it (``_check_trees``).

    A revision has an object as the last cross-reference section up to it that names the object's number defines it;
    so do all the revisions after it up to the next section that names the number. An object is read by pyHanko as
    the file has it now when no section after that one names it (from pyHanko's cache), as of the revision
    otherwise; what cannot be read raises again for every revision that has it so. Values are resolved here, never
    through the objects' own references (which read the last revision)."""

    def __init__(self, reader: PdfFileReader) -> None:
        self._reader = reader
        self._named: dict[int, list[int]] = {}
        """Object number → the revisions whose cross-reference section names it, in order."""
        for revision in range(reader.xrefs.total_revisions):
            data = reader.xrefs.get_xref_data(revision)
            sections = [data] if data.hybrid is None else [data, data.hybrid.xref_data]
            for section in sections:
                for idnum in (*section.standard_xrefs, *section.xrefs_in_objstm, *section.freed):
                    named = self._named.setdefault(idnum, [])
                    if not named or named[-1] != revision:
                        named.append(revision)
        self._read: dict[tuple[int, int, int], Any] = {}
        """(number, generation, revision of its definition or -1 for none) → the object, or what reading it raised."""

    def resolve(self, value: Any, revision: int) -> Any:
        """``value``, or the object it refers to as ``revision`` has it."""
        if not isinstance(value, generic.IndirectObject):
            return value
        ref = value.reference
        named = self._named.get(ref.idnum, [])
        at = bisect.bisect_right(named, revision) - 1
        defined = named[at] if at >= 0 else -1
        key = (ref.idnum, ref.generation, defined)
        try:
            found = self._read[key]
        except KeyError:
            try:
                if defined >= 0 and defined == named[-1]:
                    found = self._reader.get_object(ref)  # type: ignore[no-untyped-call]  # as the file has it now
                else:
                    found = self._reader.get_object(ref, revision=revision)  # type: ignore[no-untyped-call]
            except _UNREADABLE as exc:
                found = exc
            self._read[key] = found
        if isinstance(found, BaseException):
            raise found.with_traceback(None)
        return found


@dataclass(frozen=True, slots=True)
class _Tree:
    """A walk of a form's field tree or of a page tree (``_check_trees``)."""

    what: str
    """"form" or "page tree", as the refusal says."""
    node: str
    """"field" or "page"."""
    limit: int
    """The nodes read at most."""
    when: str
    """The revision, as the refusal says it ("" for the last)."""
    resolve: Callable[[Any], Any]
    """A value, or the object it refers to in the revision walked."""

    def walk(self, top: Any) -> int:
        """Walk the tree whose top level is the array ``top``, once, refusing as DamagedPdf a node reached twice (a
        field or a form node with kids; any page-tree node) or more than ``limit`` nodes; an entry that cannot be
        read is passed over. Returns the filled signature fields found (``/FT /Sig``, inherited, with a ``/V``)."""
        resolve = self.resolve
        seen: set[generic.Reference] = set()
        visited = signatures = 0
        waiting: list[tuple[Any, bool]] = [(top, False)]
        while waiting:
            array, signature_kind = waiting.pop()
            try:
                entries = list(resolve(array)) if array is not None else []
            except _UNREADABLE:
                continue
            for entry in entries:
                visited += 1
                if visited > self.limit:
                    raise DamagedPdf(
                        f"the PDF's {self.what} has more than {self.limit:,} {self.node}s{self.when}; no more are read"
                    )
                try:
                    node = resolve(entry)
                except _UNREADABLE:
                    continue
                if not isinstance(node, generic.DictionaryObject):
                    continue
                listed_once = self.node == "page" or "/Kids" in node or "/T" in node  # a bare widget may repeat
                if isinstance(entry, generic.IndirectObject) and listed_once:
                    if entry.reference in seen:
                        raise DamagedPdf(
                            f"the PDF's {self.what} reaches object {entry.reference.idnum} "
                            f"{entry.reference.generation} twice{self.when}: it is a tree, each {self.node} listed once"
                        )
                    seen.add(entry.reference)
                try:
                    kind = _value(node, "/FT", resolve) == "/Sig" if "/FT" in node else signature_kind
                    filled = kind and "/T" in node and bool(_value(node, "/V", resolve))
                    descends = "/Kids" in node and (self.node == "field" or _value(node, "/Type", resolve) == "/Pages")
                except _UNREADABLE:
                    continue
                signatures += filled
                if descends:
                    waiting.append((node.raw_get("/Kids"), kind))
        return signatures


def _value(node: generic.DictionaryObject, key: str, resolve: Callable[[Any], Any]) -> Any:
    """``node``'s ``key``, resolved by ``resolve``; None when it has none."""
    return resolve(node.raw_get(key)) if key in node else None


_XREF_TABLE = re.compile(
    # the keyword, then its end of line or (as qpdf, MuPDF, poppler and pdfium read it) the first subsection's header
    # on its line; subsections (a header line, 20-byte entries); blank lines; trailer
    rb"xref(?:[ \t]*(?:\r\n|\n|\r)|[ \t]+)"
    rb"((?:\d+ \d+[ \t]*(?:\r\n|\n|\r)(?:\d{10} \d{5} [nf](?:\r\n| \n| \r))*)+)[\x00\t\n\x0c\r ]*trailer"
)
_XREF_SUBSECTION = re.compile(rb"(\d+) (\d+)[ \t]*(?:\r\n|\n|\r)")
_XREF_ENTRY_BYTES = 20
_OBJECT_HEADER = re.compile(rb"[\x00\t\n\x0c\r ]*(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj\b")


def _check_cross_references(reader: PdfFileReader, pdf: bytes) -> None:
    """Refuse a file PDF viewers would not read by its cross-references, which they then rebuild by scanning the
    file, the last definition of each object winning: an update can so show a page that the seal's analysis, which
    read the cross-references as pyHanko forgives them, never saw. Each ``startxref`` and ``/Prev`` must point at
    its section; a table's entries must be written as ISO 32000 says (20 bytes each, type ``n`` or ``f``, as many as
    their subsection says); and every object a section places must be at the place it says."""
    _check_xref_pointers(reader, pdf)
    placed = {
        idnum
        for revision in range(reader.xrefs.total_revisions)
        for idnum in reader.xrefs.get_xref_data(revision).standard_xrefs
    }
    for revision in range(reader.xrefs.total_revisions):
        streams = {ref.obj_stream_id for ref in reader.xrefs.get_xref_data(revision).xrefs_in_objstm.values()}
        if missing := streams - placed:
            raise DamagedPdf(
                f"revision {revision + 1}'s cross-references place objects in object stream {min(missing)}, which"
                " is nowhere in the file: viewers would rebuild it and may show other objects"
            )
        section = reader.xrefs.get_xref_container_info(revision)
        if section.xref_section_type in (XRefSectionType.STANDARD, XRefSectionType.HYBRID_MAIN):
            _check_xref_table(pdf, section.declared_startxref, revision)
        for idnum, (generation, offset) in reader.xrefs.get_xref_data(revision).standard_xrefs.items():
            header = _OBJECT_HEADER.match(pdf, offset) if 0 <= offset < len(pdf) else None
            if header is None or (int(header[1]), int(header[2])) != (idnum, generation):
                raise DamagedPdf(
                    f"revision {revision + 1}'s cross-references place object {idnum} {generation} at {offset}, where"
                    " it is not: viewers would rebuild the file and may show other objects"
                )


def _check_xref_table(pdf: bytes, start: int, revision: int) -> None:
    table = _XREF_TABLE.match(pdf, start)
    sound = table is not None
    if table is not None:
        body, at = table[1], 0
        while at < len(body) and sound:
            subsection = _XREF_SUBSECTION.match(body, at)
            assert subsection is not None  # the table's pattern matched it
            # object 0 heads the free list, never in use
            heads_at_zero = int(subsection[1]) == 0 and int(subsection[2]) > 0
            free_zero = not heads_at_zero or body[subsection.end() + 17 : subsection.end() + 18] == b"f"
            at = subsection.end() + int(subsection[2]) * _XREF_ENTRY_BYTES
            sound = free_zero and at <= len(body) and (at == len(body) or _XREF_SUBSECTION.match(body, at) is not None)
    if not sound:
        raise DamagedPdf(
            f"revision {revision + 1}'s cross-reference table is not written as ISO 32000 says (entries of 20 bytes,"
            " type n or f, as many as each subsection counts, object 0 free): viewers would rebuild the file and may"
            " show other objects"
        )


def _check_xref_pointers(reader: PdfFileReader, pdf: bytes) -> None:
    """Refuse a file whose ``startxref`` or ``/Prev`` does not point at its cross-reference section. pyHanko, when
    not strict, finds a section a few bytes off and reads the file by it; PDF viewers (pdfium, poppler, MuPDF)
    instead rebuild the cross-references by scanning the file, where the last definition of each object wins. An
    update with a misplaced pointer can so show a page the seal's analysis never saw."""
    for revision in range(reader.xrefs.total_revisions):
        section = reader.xrefs.get_xref_container_info(revision)
        gap = pdf[section.declared_startxref : section.start_location]
        if section.xref_section_type in (XRefSectionType.STANDARD, XRefSectionType.HYBRID_MAIN):
            sound = gap.startswith(b"xref") and not gap[4:].strip(_WHITESPACE)  # exactly at it, as writers put it
        else:  # a stream's object: linearised files put whitespace before it
            sound = not gap.strip(_WHITESPACE)
        if not sound:
            raise DamagedPdf(
                f"revision {revision + 1}'s cross-reference pointer ({section.declared_startxref}) does not point at"
                " its cross-reference section: viewers would rebuild the file and may show other objects"
            )


def _page_count(writer: IncrementalPdfFileWriter) -> int:
    """The pages the PDF's page tree says it has (its root's /Count), 0 when that cannot be read."""
    try:
        return int(writer.root["/Pages"]["/Count"])
    except (misc.PdfError, ValueError, TypeError, KeyError):
        return 0


def _placement(
    writer: IncrementalPdfFileWriter, page: int, box: tuple[float, float, float, float] | None
) -> tuple[int, int, int, int]:
    try:
        page_ref, _ = writer.find_page_for_modification(page)  # type: ignore[no-untyped-call]
    except (misc.PdfError, ValueError, IndexError, KeyError) as exc:
        if _nested_too_deep(exc):  # a page whose dictionary nests too deep, raised as a key pyHanko could not read:
            # it had been "the PDF has no page 0" of a PDF that has it, where the same depth of arrays was damage (a
            # reviewer, security R2)
            raise DamagedPdf(f"cannot seal this PDF: {_why(exc)}") from exc
        if 0 < _page_count(writer) <= page:
            raise NoSuchPage(f"the PDF has no page {page}") from exc
        # no page at all, or a page tree naming one it lacks: the PDF is to fix, not the page asked for (a reviewer)
        raise BadPlacement(f"the PDF has no page {page}") from exc
    visible = _visible_box(page_ref.get_object())
    x1, y1, x2, y2 = visible
    if box is None:
        size, margin = _stamp_size(visible, page)
        box = _free_spot(visible, size, margin, _signature_widgets(page_ref.get_object(), visible))
    bx1, by1, bx2, by2 = box
    if not (x1 <= bx1 < bx2 <= x2 and y1 <= by1 < by2 <= y2):
        raise BadPlacement(f"the box {box} is not inside page {page} ({x1}, {y1}, {x2}, {y2})")
    return round(bx1), round(by1), round(bx2), round(by2)


Box = tuple[float, float, float, float]


def _stamp_size(visible: Box, page: int) -> tuple[float, float]:
    """The default stamp's size and its margin from the page's edges: ``SEAL_SIZE_PT`` (40 mm) ``SEAL_MARGIN_PT``
    (20 mm) in; on a page under 80 mm on its shorter side, half that side (at least ``MIN_SEAL_SIZE_PT``, 20 mm) a
    quarter of it in (less, to fit the smallest stamp). A card-sized page (85.6 × 54 mm, a card-style e-license) had
    been refused as "the box … is not inside page 0", a box its sender never sent (a reviewer, sealplace R4); one
    under 20 mm on a side is BadPlacement, saying so."""
    width, height = visible[2] - visible[0], visible[3] - visible[1]
    shorter = min(width, height)
    if shorter + 0.5 < MIN_SEAL_SIZE_PT:  # half a point of slack: a page of 20 mm written in rounded points
        mm = 25.4 / 72
        raise PageTooSmall(
            f"page {page} ({width * mm:.0f} × {height * mm:.0f} mm) is too small for a stamp: one is at least 20 mm"
            " across"
        )
    size = min(max(MIN_SEAL_SIZE_PT, min(SEAL_SIZE_PT, shorter / 2)), shorter)
    return size, min(SEAL_MARGIN_PT, (shorter - size) / 2)


def _free_spot(visible: Box, size: float, margin: float, taken: Sequence[Box]) -> Box:
    """Where the stamp (``size`` square) goes on a page whose visible box is ``visible``: the default, ``margin`` in
    from its bottom right corner, unless a signature already there (``taken``) is within ``SEAL_GAP_PT`` of it; then
    the rightmost spot clear of them on that row, ``margin`` in from the page's left edge at most, then on the rows
    above, ``SEAL_ROW_STEP_PT`` apart (``margin`` below the top). The default had been taken whatever was there: a
    second department's seal lay exactly on the first's, and a seal on a license document the gateway drew on the
    issuer's seal (a reviewer, sealplace R3). When no spot is clear, the default, as before."""
    x1, y1, x2, y2 = visible
    default = (x2 - margin - size, y1 + margin, x2 - margin, y1 + margin + size)
    bottom = default[1]
    while bottom == default[1] or bottom + size <= y2 - margin:
        top = bottom + size
        blocking = sorted(
            (tx1 - SEAL_GAP_PT, tx2 + SEAL_GAP_PT)
            for tx1, ty1, tx2, ty2 in taken
            if ty1 - SEAL_GAP_PT < top and bottom < ty2 + SEAL_GAP_PT
        )
        merged: list[list[float]] = []
        for left, right in blocking:
            if merged and left <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], right)
            else:
                merged.append([left, right])
        right = default[2]
        for left_edge, right_edge in reversed(merged):
            if left_edge >= right:
                continue  # right of the spot
            if right_edge <= right - size:
                break  # the spot is clear of it, and of everything left of it
            right = left_edge
        if right == default[2] or right - size >= x1 + margin:  # the spot is clear of them all
            return (right - size, bottom, right, top)
        bottom += SEAL_ROW_STEP_PT
    return default


def _signature_widgets(page: generic.DictionaryObject, visible: Box) -> list[Box]:
    """The boxes of the signature widgets on ``page`` (earlier seals, a license's issuer seal, unsigned signature
    fields), less those that cover half its visible area or more (a sharing copy's use watermark across the page: no
    spot is clear of it) and those of no area (invisible signatures); the first ``MAX_WIDGETS_AVOIDED`` are read, and
    one that cannot be read is left out."""
    x1, y1, x2, y2 = visible
    half_page = (x2 - x1) * (y2 - y1) / 2
    found: list[Box] = []
    try:
        annotations = page.get("/Annots")  # as written: an array of its own is read through its reference
        annotations = annotations.get_object() if annotations is not None else None
        annotations = list(annotations)[:MAX_WIDGETS_AVOIDED] if isinstance(annotations, generic.ArrayObject) else []
    except _UNREADABLE:
        return found
    for annotation in annotations:
        try:
            widget = annotation.get_object()
            if not isinstance(widget, generic.DictionaryObject) or widget.get("/Subtype") != "/Widget":
                continue
            if _field_type(widget) != "/Sig":
                continue
            wx1, wy1, wx2, wy2 = _rectangle(widget["/Rect"], "widget's /Rect")
        except (*_UNREADABLE, DamagedPdf):
            continue
        area = (wx2 - wx1) * (wy2 - wy1)
        if 0 < area < half_page:
            found.append((wx1, wy1, wx2, wy2))
    return found


def _field_type(widget: generic.DictionaryObject) -> object:
    """A widget's field type, /FT, on it (a field of one widget) or inherited from the fields above it (a few levels
    are read)."""
    node: Any = widget
    for _ in range(8):
        if not isinstance(node, generic.DictionaryObject):
            return None
        if "/FT" in node:
            return node["/FT"]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return None


def _own_annotations(writer: IncrementalPdfFileWriter, page_ref: generic.Reference) -> None:
    """Give the page an /Annots array of its own, with what it lists, when it names one by reference: pyHanko adds
    the stamp's widget to that array in place, and pages that share one (writers that duplicate a page make them)
    each showed the stamp, not only the page asked for (a reviewer, sealplace R6). The array, in the page's
    dictionary now, is written with it; an earlier seal's verification allows it (pyHanko's rule for a new
    signature's widget on a page). It stays an indirect array, a new one, as the page had it: a writer that later
    adds a comment by rewriting the page's array in place still touches that page's annotations only."""
    page_obj: Any = page_ref.get_object()
    annotations = page_obj.raw_get("/Annots") if "/Annots" in page_obj else None
    if isinstance(annotations, generic.IndirectObject):
        listed = annotations.get_object()  # type: ignore[no-untyped-call]
        if isinstance(listed, generic.ArrayObject):
            page_obj[generic.pdf_name("/Annots")] = writer.add_object(generic.ArrayObject(listed))
            writer.mark_update(page_ref)


def _other_pages(writer: IncrementalPdfFileWriter, page: int) -> list[generic.Reference]:
    """The pages of the PDF but ``page``, in order (``_page_count`` of them)."""
    found = []
    for index in range(_page_count(writer)):
        if index != page:
            try:
                page_ref, _ = writer.find_page_for_modification(index)  # type: ignore[no-untyped-call]
            except (misc.PdfError, ValueError, IndexError, KeyError) as exc:
                if _nested_too_deep(exc):  # as ``_placement``
                    raise DamagedPdf(f"cannot seal this PDF: {_why(exc)}") from exc
                raise BadPlacement(f"the PDF's page {index} cannot be read") from exc
            found.append(page_ref)
    return found


MAX_PAGE_TREE_DEPTH = 256
"""Levels of a page tree read above a page for an inherited attribute: writers nest a few (ISO 32000-1 7.7.3.4)."""


def _media_box(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    value = _inherited(page, "/MediaBox")
    if value is None:
        raise DamagedPdf("the page has no MediaBox")
    return _rectangle(value, "MediaBox")


def _visible_box(page: generic.DictionaryObject) -> tuple[float, float, float, float]:
    """The part of the page viewers show: its /CropBox (inherited) within its /MediaBox, or the /MediaBox when it has
    none or one that does not overlap it (ISO 32000-1 14.11.2: such a CropBox is taken as the MediaBox). The stamp
    had been placed by the /MediaBox, so on a page cropped above its bottom (a scan trimmed in a viewer, printer's
    margins) no viewer showed it (a reviewer). /Rotate is not accounted for: the default corner of a turned page is
    another corner as shown."""
    media = _media_box(page)
    value = _inherited(page, "/CropBox")
    if value is None:
        return media
    cx1, cy1, cx2, cy2 = _rectangle(value, "CropBox")
    x1, y1, x2, y2 = max(cx1, media[0]), max(cy1, media[1]), min(cx2, media[2]), min(cy2, media[3])
    return (x1, y1, x2, y2) if x1 < x2 and y1 < y2 else media


def _rectangle(value: Any, name: str) -> tuple[float, float, float, float]:
    """A PDF rectangle as (left, bottom, right, top); DamagedPdf when it is none."""
    try:
        x1, y1, x2, y2 = (float(v) for v in value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DamagedPdf(f"the page's {name} is not a rectangle of four numbers") from exc
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)):
        raise DamagedPdf(f"the page's {name} is not a rectangle of four numbers")
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _inherited(page: generic.DictionaryObject, key: str) -> Any:
    """The value of a page attribute that may be inherited from the page tree's nodes above it (/MediaBox,
    /CropBox, /Resources, /Rotate: ISO 32000-1 7.7.3.4), None when no node has it. The way up by /Parent is
    bounded: ``_check_trees`` walks the /Kids down, not /Parent up, and a node that was its own /Parent (or the page
    its own) had this loop for ever on the process's one PDF thread, every later seal of the process waiting behind
    it (a reviewer); a node reached twice, or more than ``MAX_PAGE_TREE_DEPTH`` levels, is DamagedPdf."""
    node: Any = page
    seen: set[object] = set()
    for _ in range(MAX_PAGE_TREE_DEPTH + 1):
        try:
            if key in node:
                return node[key]
            parent = node.raw_get("/Parent") if "/Parent" in node else None
            if isinstance(parent, generic.IndirectObject):
                if parent.reference in seen:
                    raise DamagedPdf(
                        f"the page tree's /Parent entries loop: looking up the page's {key}, object "
                        f"{parent.reference.idnum} {parent.reference.generation} was reached twice (each node's "
                        "/Parent is the node above it)"
                    )
                seen.add(parent.reference)
            node = None if parent is None else parent.get_object()
        except _UNREADABLE as exc:
            raise DamagedPdf(f"the page's {key} cannot be read: {_why(exc)}") from exc
        if not isinstance(node, generic.DictionaryObject):
            return None
    raise DamagedPdf(f"the page tree is more than {MAX_PAGE_TREE_DEPTH} levels deep above the page; no more are read")


def _field_names(reader: PdfFileReader) -> set[str]:
    try:
        form = reader.root.get("/AcroForm")
        if form is None:
            return set()
        return {str(f.get_object().get("/T", "")) for f in form.get_object().get("/Fields", [])}
    except _UNREADABLE as exc:
        raise DamagedPdf(f"the PDF's form cannot be read: {_why(exc)}") from exc


# --- verification ----------------------------------------------------------------------------------------------------


_PASSED = PASSED
IdentityCheck = Callable[[x509.Certificate, dt.datetime], Awaitable[IdentityFinding | None]]
"""(seal certificate, signing time) → the trust check's answer, or None to have it checked in full."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PdfVerification(SealCheck):
    """What verifying a sealed PDF found (验章结果): ``SealCheck``'s findings, for a PDF seal. Integrity:
    SIGNATURE_INVALID (signed bytes changed) or DOCUMENT_MODIFIED (more than signatures or form data added after
    sealing); issuer identity: ``check_certificate``'s reasons, CERT_*_NO_TRUSTED_TIME or SIGNING_TIME_IN_FUTURE;
    timestamp: NO_TIMESTAMP,
    TIMESTAMP_INVALID, TIMESTAMP_UNTRUSTED. A missing timestamp alone leaves a seal PASSED."""

    field_name: str
    """The signature field verified."""
    signed_revisions: tuple[tuple[str, str], ...] = ()
    """(field name, SHA-256 in hex of the file as it was when that signature was made: the bytes up to the end of
    its byte range) for each signature of the document, in file order. A document an applicant hands over is a
    registered one plus later updates when one of these is a registered document's hash."""
    shown_after_sealing: tuple[str, ...] = ()
    """Form fields signed or filled in after this seal that show on a page (a widget with an area), sorted: the
    modification analysis allows them, so integrity stays PASSED, but what they show is not covered by this seal —
    a visible second signature can be drawn over the sealed text. Invisible ones are not listed."""
    signer_subject: tuple[str, ...] = ()
    """Every value of the seal certificate's subject (O, OU, CN, organizationIdentifier, serialNumber, …), in order:
    what a viewer may show of the signer (``subject_name``, ``seal_name`` and ``uscc`` are each the first of one)."""
    annotated_after_sealing: tuple[str, ...] = ()
    """Comments and markings added to pages after this seal ("page 1: Text"): PDF annotations other than form
    widgets, which a reader adds without touching the sealed content (``_AnnotationRule``). Integrity stays PASSED,
    but what they draw is not covered by this seal, as for ``shown_after_sealing``."""


async def validate(
    pdf: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime | None = None,
    tsa_trust_roots: Sequence[x509.Certificate] | None = None,
    field_name: str | None = None,
    max_pdf_bytes: int = MAX_PDF_BYTES,
    identity_check: IdentityCheck | None = None,
) -> PdfVerification:
    """Verify the seal in ``field_name`` (default: the first signature) of ``pdf``; nothing is fetched.

    ``identity_check`` may answer the seal certificate's trust check from what the caller knows already (a cached
    chain check and the revocation time of a seal it issued, see ``signing.checks.identity_finding_at``); when it
    returns None, the full check runs (``async_check_certificate``).

    ``crls`` (DER) cover the seal certificates; ``at`` is "now" for seals without a trustworthy time (default: the
    system clock). ``tsa_trust_roots`` anchor timestamp authorities (default: ``trust_roots``). Raises PdfError
    for input that is no readable, unencrypted PDF or carries no such signature.
    """
    now = at if at is not None else dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("times must carry a time zone (use UTC)")
    if len(pdf) > max_pdf_bytes:
        raise PdfTooLarge(f"the PDF has {len(pdf)} bytes; the limit is {max_pdf_bytes}")
    pdf = without_padding(pdf)
    try:
        reader = _read(pdf, page_trees=False)
    except EncryptedPdf:  # _read's words are a sealer's
        raise EncryptedPdf(
            "the PDF is encrypted, so its seal cannot be checked: ask the applicant for the unencrypted original"
        ) from None
    try:
        embedded = _signature(reader, field_name)
    except NoSignature:
        # nothing to verify, said before the page trees are read: an unsigned 36,000-page PDF took 10 s to be
        # answered so (a review, R4). Only the analysis of a seal walks them.
        raise
    except PdfError:
        _check_trees(reader, forms=False)  # damage to a page tree is said first, as before
        raise
    _check_trees(reader, forms=False)
    _check_certificates_carried(embedded)
    try:
        embedded_certs = [_from_asn1(c) for c in embedded.other_embedded_certs]
    except SignatureValidationError as exc:  # it carries a certificate other than the one its signed attributes name
        return _not_intact(embedded, reader, pdf, 0, exc)
    except _UNREADABLE as exc:
        raise _unreadable_signature(exc) from exc
    # pyHanko checks the signature's integrity here; the seal certificate's trust is judged once, below, by
    # check_certificate (at the signing time, with the look-alike check). So pyHanko is told to trust the signing
    # certificate itself: its path is that one certificate, and the chain is not walked twice.
    try:
        signer_anchor = embedded.signer_cert
    except _UNREADABLE as exc:
        raise _unreadable_signature(exc) from exc
    _map_signed_revision(reader, embedded)
    signer_context = ValidationContext(trust_roots=[signer_anchor], allow_fetching=False, moment=now)
    ts_context = ValidationContext(
        trust_roots=[_to_asn1(c) for c in (trust_roots if tsa_trust_roots is None else tsa_trust_roots)],
        allow_fetching=False,
        moment=_stamped_at(embedded, now),
    )
    try:
        status: PdfSignatureStatus = await async_validate_pdf_signature(
            embedded,
            signer_validation_context=signer_context,
            ts_validation_context=ts_context,
            diff_policy=_DIFF_POLICY,
        )
    except SignatureValidationError as exc:  # read, and wrong: e.g. the certificate it carries is not the one signed
        return _not_intact(embedded, reader, pdf, signer_anchor.serial_number, exc)
    except _UNREADABLE as exc:
        raise _unreadable_signature(exc) from exc

    integrity = _integrity(status, lambda: _overwritten_after(reader, embedded))
    timestamp = _timestamp(status, crls)
    cert = _from_asn1(status.signing_cert)
    trusted_time = (
        status.timestamp_validity.timestamp
        if status.timestamp_validity is not None and timestamp.result is CheckResult.PASSED
        else None
    )
    known = await identity_check(cert, trusted_time or now) if identity_check is not None else None
    identity = known or await async_check_certificate(
        cert,
        trust_roots=trust_roots,
        intermediates=[*intermediates, *(c for c in embedded_certs if c != cert)],
        crls=crls,
        at=trusted_time or now,
    )
    if trusted_time is not None and trusted_time > now + CLOCK_SKEW:
        # the identity is judged at the timestamp's time, so one still to come fails it, as a GB/T 38540 stamp's
        # signing time does (signing.ses): a fast TSA clock had sealed documents that verified PASSED (a time tester)
        identity_finding = Finding(
            result=CheckResult.FAILED,
            reason="SIGNING_TIME_IN_FUTURE",
            detail=f"时间戳的签章时间晚于现在（the seal's timestamp says {trusted_time.isoformat()}, after now）",
        )
    elif trusted_time is None and identity.reason in ("CERT_REVOKED", "CERT_EXPIRED"):
        identity_finding = Finding(
            result=CheckResult.INDETERMINATE,
            reason=f"{identity.reason}_NO_TRUSTED_TIME",
            detail=_untimed(identity, cert),
        )
    elif identity.result is CheckResult.PASSED:
        identity_finding = _PASSED
    else:
        identity_finding = Finding(result=identity.result, reason=identity.reason, detail=identity.detail)

    result, reason = overall(integrity, identity_finding, timestamp)
    return PdfVerification(
        result=result,
        reason=reason,
        integrity=integrity,
        issuer_identity=identity_finding,
        timestamp=timestamp,
        field_name=str(embedded.field_name),
        signed_revisions=_signed_revisions(reader, pdf),
        shown_after_sealing=_shown_after_sealing(reader, status),
        annotated_after_sealing=(
            annotations_added(reader, embedded.signed_revision)
            if status.modification_level is ModificationLevel.ANNOTATIONS and integrity.result is CheckResult.PASSED
            else ()
        ),
        subject_name=identity.subject_name,
        seal_name=identity.seal_name,
        uscc=identity.uscc,
        signer_subject=tuple(
            value if isinstance(value := attribute.value, str) else value.decode("utf-8", "replace")
            for attribute in cert.subject
        ),
        serial=cert.serial_number,
        signing_time=trusted_time or status.signer_reported_dt,
        signing_time_trusted=trusted_time is not None,
    )


MIN_PATHS_MAPPED = 20_000
"""The paths to objects pyHanko maps in a signed revision before an update after it is analysed that are never
refused (``_map_signed_revision``)."""
PATHS_PER_OBJECT = 64
"""Above ``MIN_PATHS_MAPPED``, the paths to each object reached so far that pyHanko may map on average: a page's
fonts and images shared by every page are reached once a page (a 700-page document with 7 fonts: 21,019 paths to
about 2,100 objects), an array listed twice by one listed twice ever more often (30 levels: 2^30 paths to 30)."""
MOST_PATHS_MAPPED = 100_000
"""The paths pyHanko maps in a signed revision at the most, whatever it reaches (about 5 s; each signature after the
first has its revision mapped): a file that reaches many objects as well as an array listed twice by one listed
twice had otherwise been read for minutes. A 3,000-page document whose pages share 30 resources stays under it."""


class _TooManyPaths(Exception):
    """Raised out of pyHanko's mapping of a revision when it has read more objects than ``_map_signed_revision``
    allows."""


class PathBudget:
    """The reads of objects a mapping of a revision may make: any up to ``MIN_PATHS_MAPPED``, then ``PATHS_PER_OBJECT``
    a distinct object reached, and ``MOST_PATHS_MAPPED`` at the most; ``read`` raises _TooManyPaths past them. The
    budget had been 4 a declared object: a genuine 700-page document with a co-signature was refused, and a file
    declaring a million objects in a tiny object stream bought itself minutes of reads (a review, R1, R2)."""

    def __init__(self) -> None:
        self.reads = 0
        self.reached: set[object] = set()

    def read(self, ref: Any) -> None:
        self.reads += 1
        self.reached.add((getattr(ref, "idnum", ref), getattr(ref, "generation", 0)))
        if self.reads > MIN_PATHS_MAPPED and (
            self.reads > MOST_PATHS_MAPPED or self.reads > PATHS_PER_OBJECT * len(self.reached)
        ):
            raise _TooManyPaths


def _map_signed_revision(reader: PdfFileReader, embedded: EmbeddedPdfSignature) -> None:
    """Have pyHanko map every path from the trailer to each object of the signed revision, as its analysis of an
    update after the seal does first, with a budget (``PathBudget``): DamagedPdf past it. pyHanko remembers only the
    objects on the way down to the one it is at, so an array listing the same array twice, 30 levels deep anywhere
    in the document (no form, no page tree: ``_check_trees``), would have been read 2^30 times, after any update to
    a self-signed 9 KB file (16 levels: 20 s). The map is kept for the analysis that follows (pyHanko keeps a
    revision's view); what pyHanko cannot read here it meets again there and says so as it did."""
    try:
        revision = embedded.signed_revision
        if revision >= reader.xrefs.total_revisions - 1:
            return  # nothing after it: no analysis
        resolver = reader.get_historical_resolver(revision)
    except _UNREADABLE:
        return
    read = resolver.get_object
    budget = PathBudget()

    def counted(ref: Any, *args: Any, **kwargs: Any) -> Any:
        budget.read(ref)
        return read(ref, *args, **kwargs)

    resolver.get_object = counted  # type: ignore[method-assign]
    try:
        resolver._load_reverse_xref_cache()  # type: ignore[no-untyped-call]
    except _TooManyPaths:
        raise DamagedPdf(
            f"the PDF's {len(budget.reached):,} objects are reached by more than {budget.reads - 1:,} paths (an "
            "object listed twice by one listed twice, and so on): it is not read"
        ) from None
    except _UNREADABLE as exc:
        if isinstance(exc, misc.PdfReadError) and str(exc).startswith("Circular reference"):
            raise DamagedPdf(f"the PDF cannot be read: {exc}") from exc
    finally:
        del resolver.get_object


def _untimed(identity: IdentityFinding, cert: x509.Certificate) -> str:
    """Why a seal without a trusted time cannot be judged against its certificate's revocation or expiry (the
    check's own detail says "before it sealed", which without a time nobody knows)."""
    if identity.reason == "CERT_REVOKED":
        when = identity.revoked_at.isoformat() if identity.revoked_at is not None else ""
        said = f"印章证书已于{when}吊销" if when else "印章证书已吊销"
        what = f"the certificate was revoked{' at ' + when if when else ''}"
        before = "吊销"
    else:
        said = f"印章证书已于{cert.not_valid_after_utc.isoformat()}过期"
        what = f"the certificate expired at {cert.not_valid_after_utc.isoformat()}"
        before = "过期"
    return (
        f"{said}，签章没有有效的时间戳，无法确定签章是否在{before}之前"
        f"（{what}; with no valid timestamp it is unknown whether the seal was applied before）"
    )


def _not_intact(
    embedded: EmbeddedPdfSignature, reader: PdfFileReader, pdf: bytes, serial: int, why: Exception
) -> PdfVerification:
    """A signature that reads but does not validate (its signed attributes name another certificate than the one
    it carries, an algorithm it claims is not the one used): the seal does not vouch for the document, a finding
    (integrity FAILED / SIGNATURE_INVALID), not unreadable input. Nothing else is judged."""
    integrity = Finding(result=CheckResult.FAILED, reason="SIGNATURE_INVALID", detail=_invalid_signature(why))
    not_checked = Finding(
        result=CheckResult.INDETERMINATE,
        reason="NOT_CHECKED",
        detail="签章未通过完整性核验，此项未核验（the seal is not intact）",
    )
    return PdfVerification(
        result=CheckResult.FAILED,
        reason="SIGNATURE_INVALID",
        integrity=integrity,
        issuer_identity=not_checked,
        timestamp=not_checked,
        field_name=str(embedded.field_name),
        signed_revisions=_signed_revisions(reader, pdf),
        subject_name=None,
        seal_name=None,
        uscc=None,
        serial=serial,
        signing_time=None,
        signing_time_trusted=False,
    )


def _invalid_signature(why: Exception) -> str:
    """A signature that reads but does not validate, in the gateway's words: pyHanko's own (``Signing certificate
    attribute does not match selected signer's certificate for subject "…" [AdESIndeterminate.…]``) had been the whole
    detail a clerk was shown. Only its AdES sub-indication is kept, at the end, for whoever looks into it."""
    indication = (
        str(why.ades_subindication.standard_name) if isinstance(why, SignatureValidationError) else type(why).__name__
    )
    return (
        "签章签名无效：签名与签章证书不符，或签章在盖章后被改动"
        "（the signature does not verify: its signed attributes do not match the certificate it carries, or it was "
        f"changed after sealing; {indication}）"
    )


def validate_sync(
    pdf: bytes,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime | None = None,
    tsa_trust_roots: Sequence[x509.Certificate] | None = None,
    field_name: str | None = None,
    max_pdf_bytes: int = MAX_PDF_BYTES,
    identity_check: IdentityCheck | None = None,
) -> PdfVerification:
    """``validate`` for callers outside an event loop (CLI, scripts); raises RuntimeError inside one."""
    return asyncio.run(
        validate(
            pdf,
            trust_roots=trust_roots,
            intermediates=intermediates,
            crls=crls,
            at=at,
            tsa_trust_roots=tsa_trust_roots,
            field_name=field_name,
            max_pdf_bytes=max_pdf_bytes,
            identity_check=identity_check,
        )
    )


class _FormRule(FormUpdatingRule):
    """pyHanko's form rule, stricter on the form's defaults, and except that a field's appearance stream that is
    the same object, unchanged, in the sealed revision and a later one does not make the field count as changed.

    pyHanko lets an update change the form dictionary's ``/NeedAppearances``, ``/DA``, ``/Q`` and ``/DR`` (the
    default resources) and whatever ``/DR`` refers to. Set ``/NeedAppearances`` true and viewers draw every field
    anew: a seal's picture, the gateway's use stamp or a field's text disappeared from the page, or a field showed a
    value other than the one drawn when it was sealed, and the seal still verified (an independent tester's
    shadow attack). Here ``/NeedAppearances`` may not change after a seal, ``/DA`` and ``/Q`` may be added where the
    sealed form had none (as a desktop signer adds them with its field) but not changed, and ``/DR`` may only gain
    resources: what it held at the seal, and everything that refers to, stays as it was.

    pyHanko 0.38 takes an appearance stream for one rewritten in place unless it was last written in the signed
    revision itself: the appearance of a field filled in before sealing (written in the original file, revision 0)
    then counts as changed in every later update, and an issuer's filled-in form, once sealed, was reported
    CHANGED_AFTER_SEAL after any update at all (a second signature, validation data, a title). Its value, its
    dictionary and its appearance dictionary are judged as pyHanko judges them; a stream really rewritten, or one
    that uses objects made after the seal, still counts."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterator[tuple[ModificationLevel, FormUpdate]]:
        _sealed_defaults_kept(old, new)
        for level, update in super().apply(old, new):
            if (
                isinstance(update.context_checked, RelativeContext)
                and update.field_name is not None
                and not update.valid_when_locked
                and _unchanged(old, new, update.updated_ref)
            ):
                update = replace(update, valid_when_locked=True)
            yield level, update


def _sealed_defaults_kept(old: HistoricalResolver, new: HistoricalResolver) -> None:
    """SuspiciousModification unless the form's defaults are as they were at the seal: ``/NeedAppearances`` (read as
    false when absent), ``/DA`` and ``/Q`` where the sealed form had them; and the default resources (``/DR``) of the
    sealed revision all in the new one, each the same object, and every object they refer to unchanged (a font given
    another encoding would show a field's text as other letters)."""
    before = _form_dictionary(old)
    after = _form_dictionary(new)
    if before is None or after is None:
        return  # no form at the seal (pyHanko's rule judges one made since), or none any more (it refuses that)
    if bool(_entry(before, "/NeedAppearances")) != bool(_entry(after, "/NeedAppearances")):
        raise SuspiciousModification("the form's /NeedAppearances changed after sealing: viewers would redraw it")
    for key in ("/DA", "/Q"):
        sealed_default, default = _entry(before, key), _entry(after, key)
        if sealed_default is not None and (default is None or _written(sealed_default) != _written(default)):
            raise SuspiciousModification(f"the form's default {key} changed after sealing")
    sealed, now = _entry(before, "/DR"), _entry(after, "/DR")
    if not isinstance(sealed, generic.DictionaryObject):
        return
    if not isinstance(now, generic.DictionaryObject):
        raise SuspiciousModification("the form's default resources were removed after sealing")
    for category in sealed:
        entries, kept = _entry(sealed, category), _entry(now, category)
        if entries is None:
            continue
        if isinstance(entries, generic.DictionaryObject):
            if not isinstance(kept, generic.DictionaryObject) or any(
                name not in kept or kept.raw_get(name) != entries.raw_get(name) for name in entries
            ):
                raise SuspiciousModification(f"the form's default resources {category} changed after sealing")
        elif kept is None or _written(kept) != _written(entries):
            raise SuspiciousModification(f"the form's default resources {category} changed after sealing")
    for ref in old.collect_dependencies(before.raw_get("/DR")):
        if not _unchanged(old, new, ref):
            raise SuspiciousModification("an object the form's default resources refer to changed after sealing")


def _form_dictionary(revision: HistoricalResolver) -> generic.DictionaryObject | None:
    form = _entry(revision.root, "/AcroForm")
    return form if isinstance(form, generic.DictionaryObject) else None


def _entry(dictionary: generic.DictionaryObject, key: str) -> generic.PdfObject | None:
    """``dictionary[key]``, an indirect object read (pyHanko's ``get`` leaves it a reference); None when absent or
    null (PDF reads a null value as no entry; pyHanko's ``[]`` raises KeyError for it)."""
    try:
        value = dictionary[key]
    except KeyError:
        return None
    return None if isinstance(value, generic.NullObject) else value


def _unchanged(old: HistoricalResolver, new: HistoricalResolver, ref: generic.Reference) -> bool:
    """Whether ``ref`` reads the same in both revisions, compared as written (so that no loose comparison of
    pyHanko's objects can hide a change)."""
    return _written(old(ref)) == _written(new(ref))


def _written(obj: generic.PdfObject) -> bytes:
    """``obj`` as PDF writes it; a stream's dictionary is written entry by entry, because pyHanko's writer of streams
    sets and then deletes ``/Length`` in the dictionary it writes, which is here the reader's own."""
    out = io.BytesIO()
    if not isinstance(obj, generic.StreamObject):
        obj.write_to_stream(out)
        return out.getvalue()
    for key, value in obj.items():
        key.write_to_stream(out)
        out.write(b" ")
        value.write_to_stream(out)
        out.write(b"\n")
    return out.getvalue() + b"stream\n" + obj.encoded_data


class _MetadataRule(MetadataUpdateRule):
    """pyHanko's rule on XMP metadata, except that metadata left as it was needs no approval.

    pyHanko checks that the XMP is well-formed XML whenever the catalogue names it, changed or not: a document whose
    own XMP is not (Ghostscript 10.00 writes such at PDF 2.0) then counted as modified after its seal by any later
    update at all, the gateway's own use stamp on a sharing copy among them. Metadata written anew is checked as
    pyHanko checks it."""

    def apply(self, old: HistoricalResolver, new: HistoricalResolver) -> Iterator[ReferenceUpdate]:
        before: generic.Reference | None
        after: generic.Reference | None
        try:
            before = old.root.get_value_as_reference("/Metadata")
            after = new.root.get_value_as_reference("/Metadata")
        except (misc.IndirectObjectExpected, KeyError):
            before = after = None  # none, or not a reference: pyHanko's rule judges it
        if before is not None and before == after and _unchanged(old, new, after):
            return
        yield from super().apply(old, new)


MAX_ANNOTATION_OBJECTS = 256
"""Objects one added annotation may bring along (its appearance streams, a popup, their resources): a comment has
a handful; more are not cleared, and the document counts as modified."""


class _AnnotationRule(QualifiedWhitelistRule):
    """Comments and markings added to pages after the seal, as a reader's "add a comment, save" writes them: PDF
    annotations that are not form widgets, at pyHanko's ANNOTATIONS level (pyHanko has no rule for them: its known
    issues; every comment made a sealed document count as modified beyond repair).

    A page is cleared only when its dictionary is the same, written entry by entry, but for ``/Annots``; when the
    annotations it had are all still there; and when each one added is a new object (no object of the sealed revision
    re-used) that is not a widget (a form field's, judged by the form rule). The new objects an added annotation
    reaches (its appearance streams, a popup) are cleared with it; one it reaches that the sealed revision had and
    this update rewrote is not. What such an annotation draws is not covered by the seal: ``validate`` lists them
    (``annotated_after_sealing``) for the caller to judge, as it lists fields signed after the seal."""

    def apply_qualified(
        self, old: HistoricalResolver, new: HistoricalResolver
    ) -> Iterator[tuple[ModificationLevel, ReferenceUpdate]]:
        level = ModificationLevel.ANNOTATIONS
        try:
            pages = _page_refs(old.root["/Pages"])
            if pages != _page_refs(new.root["/Pages"]):
                return  # the page tree changed: not a comment
        except (*_UNREADABLE, AttributeError, TypeError, RecursionError):
            return
        for page_ref in pages:
            added = _annotations_added_to(old, new, page_ref)
            if not added:
                continue
            yield level, ReferenceUpdate(page_ref)
            annots = new(page_ref).raw_get("/Annots")
            if isinstance(annots, generic.IndirectObject):  # an array of its own: new, or the page's, rewritten
                before = old(page_ref).raw_get("/Annots") if "/Annots" in old(page_ref) else None
                if old.is_ref_unassignable(annots.reference):
                    yield level, ReferenceUpdate(annots.reference)
                elif isinstance(before, generic.IndirectObject) and before.reference == annots.reference:
                    context = RelativeContext(page_ref, RawPdfPath("/Annots"))  # as this page's /Annots only
                    yield level, ReferenceUpdate(annots.reference, context_checked=context)
            for ref in added:
                for made in _new_objects_of(old, new, ref, page_ref):
                    yield level, ReferenceUpdate(made)


def _page_refs(node: Any, depth: int = 0) -> list[generic.Reference]:
    """The page objects of a page tree, in order (a tree deeper than 32 levels counts as none)."""
    if depth > 32:
        raise TypeError("page tree too deep")
    found: list[generic.Reference] = []
    for kid in node["/Kids"]:
        kid_node = kid.get_object()
        if kid_node.get("/Type") == "/Pages":
            found.extend(_page_refs(kid_node, depth + 1))
        else:
            found.append(kid.reference)
    return found


def _annotations_added_to(
    old: HistoricalResolver, new: HistoricalResolver, page_ref: generic.Reference
) -> list[generic.Reference]:
    """The annotations added to the page at ``page_ref`` between ``old`` and ``new``, when that is the only change
    to the page and they are fresh objects that are not widgets; else none (what changed is left to the other rules,
    or to count as a modification)."""
    try:
        before, after = old(page_ref), new(page_ref)
        if not (isinstance(before, generic.DictionaryObject) and isinstance(after, generic.DictionaryObject)):
            return []
        keys = set(before.keys()) - {"/Annots"}
        if keys != set(after.keys()) - {"/Annots"}:
            return []
        if any(_written(before.raw_get(key)) != _written(after.raw_get(key)) for key in keys):
            return []
        had = _annotation_refs(before)
        has = _annotation_refs(after)
        if not set(had) <= set(has):
            return []  # an annotation removed
        added = [ref for ref in has if ref not in had]
        for ref in added:
            annotation = new(ref)
            if (
                not old.is_ref_unassignable(ref)
                or not isinstance(annotation, generic.DictionaryObject)
                or annotation.get("/Subtype") == "/Widget"
                or "/FT" in annotation
            ):
                return []
            owner = annotation.raw_get("/P") if "/P" in annotation else None
            if owner is not None and getattr(owner, "reference", None) != page_ref:
                return []  # said to be another page's
        return added
    except (*_UNREADABLE, AttributeError, TypeError, ValueError):
        return []


def _annotation_refs(page: generic.DictionaryObject) -> list[generic.Reference]:
    """A page's annotations, each an indirect object (a direct one in ``/Annots`` makes the page not comparable)."""
    if "/Annots" not in page:
        return []
    refs = []
    for item in page.raw_get("/Annots").get_object():
        if not isinstance(item, generic.IndirectObject):
            raise TypeError("a direct annotation")
        refs.append(item.reference)
    return refs


def _new_objects_of(
    old: HistoricalResolver, new: HistoricalResolver, ref: generic.Reference, page_ref: generic.Reference
) -> list[generic.Reference]:
    """``ref`` and the objects made after ``old`` that it reaches, not through the page it is on (at most
    ``MAX_ANNOTATION_OBJECTS``; an object of ``old`` is not followed, and if this update rewrote it, it stays
    unexplained)."""
    found: list[generic.Reference] = []
    waiting = [ref]
    while waiting and len(found) < MAX_ANNOTATION_OBJECTS:
        current = waiting.pop()
        if current in found or current == page_ref or not old.is_ref_unassignable(current):
            continue
        found.append(current)
        stack: list[Any] = [new(current)]
        while stack:
            item = stack.pop()
            if isinstance(item, generic.IndirectObject):
                waiting.append(item.reference)
            elif isinstance(item, generic.DictionaryObject):  # a stream's dictionary too
                stack.extend(item.raw_get(key) for key in item)
            elif isinstance(item, generic.ArrayObject):
                stack.extend(item)
    return found


def annotations_added(reader: PdfFileReader, revision: int) -> tuple[str, ...]:
    """The annotations (other than form widgets) on the pages of the file's last revision that ``revision`` did not
    have and that may show on a page (``_annotation_shown``), as "page N: Subtype", in page order."""
    try:
        old = reader.get_historical_resolver(revision)
        new = reader.get_historical_resolver(reader.xrefs.total_revisions - 1)
        pages = _page_refs(new.root["/Pages"])
    except (*_UNREADABLE, AttributeError, TypeError, RecursionError):
        return ()
    found = []
    for number, page_ref in enumerate(pages, 1):
        try:
            before = set(_annotation_refs(old(page_ref)))
            for ref in _annotation_refs(new(page_ref)):
                annotation = new(ref)
                if ref not in before and annotation.get("/Subtype") != "/Widget" and _annotation_shown(annotation):
                    found.append(f"page {number}: {str(annotation.get('/Subtype', '/Annot')).lstrip('/')}")
        except (*_UNREADABLE, AttributeError, TypeError, KeyError):
            continue
    return tuple(found)


_LTA = ModificationLevel.LTA_UPDATES
_DIFF_POLICY = StandardDiffPolicy(
    global_rules=[
        CatalogModificationRule(),  # type: ignore[no-untyped-call]  # pyHanko leaves its constructors untyped
        DocInfoRule().as_qualified(_LTA),
        XrefStreamRule().as_qualified(_LTA),
        ObjectStreamRule().as_qualified(_LTA),
        DSSCompareRule().as_qualified(_LTA),
        _MetadataRule().as_qualified(_LTA),  # type: ignore[no-untyped-call]
        _AnnotationRule(),
    ],
    form_rule=_FormRule(
        field_rules=[
            SigFieldCreationRule(),  # type: ignore[no-untyped-call]
            SigFieldModificationRule(),
            GenericFieldModificationRule(),
        ]
    ),
)
"""pyHanko's default analysis of what changed after a seal (``DEFAULT_DIFF_POLICY``, the same rules at the same
levels), with two rules corrected, ``_FormRule`` and ``_MetadataRule``, and one added, ``_AnnotationRule``."""


def _check_certificates_carried(embedded: EmbeddedPdfSignature) -> None:
    """UnreadableSignature for a seal whose signature and timestamp tokens carry, between them, more certificates
    than ``MAX_CARRIED_CERTIFICATES``, or one of them two different ones of the same name: said before any path is
    built, as each costs path building in the number of its look-alikes' orderings."""
    try:
        carried = [embedded.signed_data["certificates"] or ()]
        for attribute in embedded.signer_info["unsigned_attrs"] or ():
            if attribute["type"].native == "signature_time_stamp_token":
                carried.extend(token["content"]["certificates"] or () for token in attribute["values"])
        count = sum(len(certificates) for certificates in carried)
        problem = None if count > MAX_CARRIED_CERTIFICATES else next(filter(None, map(repeated_name, carried)), None)
    except _UNREADABLE as exc:
        raise _unreadable_signature(exc) from exc
    if count > MAX_CARRIED_CERTIFICATES:
        raise UnreadableSignature(
            f"the seal carries {count:,} certificates; a seal carries at most {MAX_CARRIED_CERTIFICATES}, so it was "
            "not checked (no seal of this registry carries more than a few)"
        )
    if problem is not None:
        raise UnreadableSignature(f"the seal or its timestamp: {problem}, so it was not checked")


def _signature(reader: PdfFileReader, field_name: str | None) -> EmbeddedPdfSignature:
    try:
        _check_signature_contents(reader)
        signatures: list[EmbeddedPdfSignature] = list(reader.embedded_regular_signatures)
    except _UNREADABLE as exc:
        raise _unreadable_signature(exc) from exc
    for signature in signatures:
        if field_name is None or signature.field_name == field_name:
            return signature
    raise NoSignature("the PDF carries no signature" if field_name is None else f"no signature in {field_name!r}")


_SUBFILTERS = frozenset(subfilter.value for subfilter in fields.SigSeedSubFilter)


def _check_signature_contents(reader: PdfFileReader) -> None:
    """MalformedDer (a ValueError) for a signature whose ``/Contents`` asn1crypto must not be given
    (``signing.der``: 1 MB of 0xFF took it 40 s, 2 MB minutes), checked before pyHanko reads the CMS of every
    signature it knows the kind of (``/SubFilter``) as ``embedded_regular_signatures`` lists them. A signature
    whose ``/Contents`` cannot even be had is left to pyHanko, which says so as it did."""
    for _, value, _ in fields.enumerate_sig_fields(reader, filled_status=True):
        signature = value.get_object()
        if signature.get("/SubFilter") not in _SUBFILTERS:
            continue
        try:
            contents = extract_contents(signature)
        except misc.PdfReadError:
            continue
        check_der(contents)


def _signed_revisions(reader: PdfFileReader, pdf: bytes) -> tuple[tuple[str, str], ...]:
    found = []
    for signature in reader.embedded_regular_signatures:
        try:
            _, _, start, length = (int(value) for value in signature.byte_range)
        except (*_UNREADABLE, AttributeError):  # a malformed byte range: its signature cannot be intact anyway
            continue
        found.append((str(signature.field_name), hashlib.sha256(pdf[: start + length]).hexdigest()))
    return tuple(found)


def _shown_after_sealing(reader: PdfFileReader, status: PdfSignatureStatus) -> tuple[str, ...]:
    """The fields the modification analysis found changed after the seal that may show on a page, in the last
    revision: a widget with an area, or with an appearance that draws something (pdfium draws one squeezed into a
    box of no height); a field that cannot be found counts as shown."""
    changed = getattr(status.diff_result, "changed_form_fields", None)  # None for a SuspiciousModification
    if not changed:
        return ()
    try:
        widgets = _widgets_shown(reader.root["/AcroForm"]["/Fields"], "")
    except (*_UNREADABLE, AttributeError):
        widgets = {}
    return tuple(sorted(name for name in changed if any(widgets.get(name, [True]))))


def _widgets_shown(fields_array: Any, parent: str, depth: int = 0) -> dict[str, list[bool]]:
    """Fully qualified field name → whether each of its widgets may show, from an AcroForm /Fields array."""
    found: dict[str, list[bool]] = {}
    if depth > 16:  # a form this deep is no license document's; what lies below counts as shown
        return found
    for ref in fields_array:
        field = ref.get_object()
        partial = field.get("/T")
        name = parent if partial is None else (f"{parent}.{partial}" if parent else str(partial))
        kids = field.get("/Kids")
        if kids is not None and any("/T" in kid.get_object() for kid in kids):
            for kid_name, shown in _widgets_shown(kids, name, depth + 1).items():
                found.setdefault(kid_name, []).extend(shown)
            continue
        boxes = [kid.get_object() for kid in kids] if kids is not None else [field]
        for box in boxes:
            x1, y1, x2, y2 = (float(v) for v in box.get("/Rect", (0, 0, 0, 0)))
            found.setdefault(name, []).append((x1 != x2 and y1 != y2) or _draws(box))
    return found


_HIDDEN, _PRINT, _NO_VIEW = 1 << 1, 1 << 2, 1 << 5
"""Annotation flags (ISO 32000-1, 12.5.3): Hidden is neither shown nor printed, NoView not shown, Print printed."""
_ICONS = frozenset({"/Text", "/FileAttachment", "/Sound"})
"""Annotations a viewer draws as an icon of its own size, whatever their box, when they carry no appearance."""


def _annotation_shown(annotation: Any) -> bool:
    """Whether an annotation may show on a page, judged as a field's widget is (``_widgets_shown``): not when a
    viewer neither shows nor prints it (Hidden; NoView without Print), nor when it has no area and no appearance
    that draws anything, but for a note's icon, drawn without one. Every annotation had counted as drawn, so a
    hidden link of no area failed a genuine document while an invisible signature passed (a reviewer, rfB R2).
    One that cannot be read counts as shown."""
    try:
        flags = int(annotation.get("/F", 0))
        if flags & _HIDDEN or (flags & _NO_VIEW and not flags & _PRINT):
            return False
        x1, y1, x2, y2 = (float(v) for v in annotation.get("/Rect", (0, 0, 0, 0)))
        icon = annotation.get("/Subtype") in _ICONS and "/AP" not in annotation
        return (x1 != x2 and y1 != y2) or icon or _draws(annotation)
    except (*_UNREADABLE, AttributeError, TypeError):
        return True


def _draws(widget: Any) -> bool:
    """Whether a widget's normal appearance draws anything (desktop signers give invisible signatures none, or an
    empty one)."""
    appearance = widget.get("/AP")
    normal = appearance.get("/N") if appearance is not None else None
    if normal is None:
        return False
    streams = [normal.get_object()]
    if not isinstance(streams[0], generic.StreamObject):  # appearance states: a dictionary of streams
        streams = [value.get_object() for value in streams[0].values()]
    return any(isinstance(stream, generic.StreamObject) and stream.data.strip() for stream in streams)


def _integrity(status: PdfSignatureStatus, overwritten: Callable[[], tuple[str, str] | None]) -> Finding:
    """``overwritten``: what an update after the seal replaced that is drawn (``_overwritten_after``), asked only of
    a document changed beyond signatures and form data."""
    if not status.intact:
        return Finding(
            result=CheckResult.FAILED,
            reason="SIGNATURE_INVALID",
            detail="签章所保护的内容与签名中的摘要不符：文件在盖章后被改动"
            "（the signed bytes do not match the digest in the signature: the document was altered）",
        )
    if not status.valid:
        return Finding(
            result=CheckResult.FAILED,
            reason="SIGNATURE_INVALID",
            detail="签章签名无效：签名值与印章证书的密钥不符"
            "（the signature value does not verify with the certificate's key）",
        )
    level = status.modification_level
    if status.coverage is None or status.coverage < SignatureCoverageLevel.ENTIRE_REVISION:
        return Finding(
            result=CheckResult.FAILED,
            reason="DOCUMENT_MODIFIED",
            detail="签章没有覆盖它所在的整个文件版本（the signature does not cover its whole revision）",
        )
    if level is None or level > ModificationLevel.ANNOTATIONS or status.docmdp_ok is False:
        name = "unknown" if level is None else level.name
        what = overwritten()
        if what is not None:
            said, said_en = what
            return Finding(
                result=CheckResult.FAILED,
                reason="DOCUMENT_MODIFIED",
                detail=f"文件在盖章后被改动：{said}（the document was changed after sealing: {said_en} ({name})）",
            )
        return Finding(
            result=CheckResult.FAILED,
            reason="DOCUMENT_MODIFIED",
            detail="文件在盖章后被改动，超出了签名和表单填写的范围"
            f"（the document was changed after sealing beyond signatures and form data ({name})）",
        )
    return _PASSED


_MOST_WALKED = 5000
"""Objects ``_drawn_by`` follows at most from one start: a license document's page or seal has tens."""


def _overwritten_after(reader: PdfFileReader, embedded: EmbeddedPdfSignature) -> tuple[str, str] | None:
    """What an update after the seal wrote again (or anew) among the objects drawn: the seal's picture (anything its
    widget's appearance draws, or the widget itself) or a page's content (its content streams and resources), in
    Chinese and English; None when neither, or when it cannot be read. A swapped seal image, a seal made
    transparent by its soft mask, a new appearance, a page painted over had all read "changed beyond signatures and
    form data (OTHER)", like any other change, though pyHanko's diff names the object (a reviewer, seals R3)."""
    try:
        later: set[generic.Reference] = set()
        for revision in range(embedded.signed_revision + 1, reader.xrefs.total_revisions):
            later |= reader.xrefs.explicit_refs_in_revision(revision)
        if not later:
            return None
        field = embedded.sig_field
        kids = field.raw_get("/Kids") if "/Kids" in field else None
        widgets = [field] if kids is None else [kids.raw_get(i) for i in range(len(kids))]
        seal: set[generic.Reference] = set()
        for widget in widgets:
            if isinstance(widget, generic.IndirectObject):
                seal.add(widget.reference)
            widget = widget.get_object()
            if isinstance(field.container_ref, generic.Reference) and widget is field:
                seal.add(field.container_ref)
            if "/AP" in widget:
                seal |= _drawn_by(widget.raw_get("/AP"))
        if seal & later:
            return "印章图案被替换", "the seal's picture was replaced"
        page_refs: set[generic.Reference] = set()
        for page in _pages(reader):
            for key in ("/Contents", "/Resources"):
                if key in page:
                    page_refs |= _drawn_by(page.raw_get(key))
        if page_refs & later:
            return "页面内容被改动", "a page's content was changed"
    except (*_UNREADABLE, AttributeError, TypeError, KeyError):
        return None
    return None


def _pages(reader: PdfFileReader) -> list[Any]:
    """The page dictionaries of the last revision, in order (at most ``_MOST_WALKED``)."""
    found: list[Any] = []
    stack = [reader.root["/Pages"].get_object()]
    while stack and len(found) < _MOST_WALKED:
        node = stack.pop()
        if node.get("/Type") == "/Pages" or "/Kids" in node:
            stack.extend(kid.get_object() for kid in reversed(list(node["/Kids"])))
        else:
            found.append(node)
    return found


def _drawn_by(start: Any) -> set[generic.Reference]:
    """The indirect objects reachable from ``start`` (a direct object or a reference), at most ``_MOST_WALKED``."""
    seen: set[generic.Reference] = set()
    stack = [start]
    while stack and len(seen) < _MOST_WALKED:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            ref = item.reference
            if ref in seen:
                continue
            seen.add(ref)
            item = ref.get_object()
        if isinstance(item, generic.DictionaryObject):  # a stream is one too
            stack.extend(item.raw_get(key) for key in item)
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item.raw_get(i) for i in range(len(item)))
    return seen


def _stamped_at(embedded: EmbeddedPdfSignature, now: dt.datetime) -> dt.datetime:
    """When the timestamp authority's certificate is judged: at the genTime the token claims, which its signature
    covers (a token whose signature or chain does not verify at that time is not trusted), not later than ``now``.

    Checked as of now, every seal whose certificate had ended lost its proof of time on the day the TSA certificate
    ended too, although the token was made while both were valid (a keys tester); a TSA certificate revoked at any
    time is not trusted (``_revoked_by``), so a leaked TSA key cannot back-date a seal past its revocation. Without a
    token, or with one that cannot be read here (pyHanko then reports it), ``now``."""
    try:
        for signed_data in extract_tst_data_iter(embedded.signer_info, signed=False):
            gen_time = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
            if isinstance(gen_time, dt.datetime) and gen_time.tzinfo is not None:
                return min(gen_time, now)
            break
    except _UNREADABLE:
        pass
    return now


def _revoked_by(certificate: asn1_x509.Certificate, crls: Sequence[bytes]) -> bool:
    """Whether one of ``crls`` (the caller's, trusted) lists ``certificate``, whatever the date or reason."""
    issuer = _from_asn1(certificate).issuer
    for der in crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            continue
        if crl.issuer == issuer and crl.get_revoked_certificate_by_serial_number(certificate.serial_number):
            return True
    return False


def _timestamp(status: PdfSignatureStatus, crls: Sequence[bytes] = ()) -> Finding:
    token = status.timestamp_validity
    if token is None:
        return Finding(
            result=CheckResult.INDETERMINATE,
            reason="NO_TIMESTAMP",
            detail="签章没有时间戳（the seal has no timestamp）",
        )
    if not (token.intact and token.valid):
        return Finding(
            result=CheckResult.FAILED,
            reason="TIMESTAMP_INVALID",
            detail="签章的时间戳与签名不符，或时间戳本身的签名无效"
            "（the timestamp token does not match the signature or its own signature is broken）",
        )
    if not token.trusted:
        problem = str(token.trust_problem_indic.standard_name) if token.trust_problem_indic is not None else "unknown"
        return Finding(
            result=CheckResult.FAILED,
            reason="TIMESTAMP_UNTRUSTED",
            detail=f"时间戳不是可信的时间戳机构签发的（the timestamp authority is not trusted ({problem})）",
        )
    if _revoked_by(token.signing_cert, crls):  # trusted at its genTime (``_stamped_at``), unless ever revoked
        return Finding(
            result=CheckResult.FAILED,
            reason="TIMESTAMP_UNTRUSTED",
            detail="时间戳机构的证书已吊销（the timestamp authority's certificate is revoked）",
        )
    return _PASSED


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _from_asn1(cert: asn1_x509.Certificate) -> x509.Certificate:
    return x509.load_der_x509_certificate(cert.dump())
