"""PDF seals: sealing with a visible stamp (B-B and B-T), the three verification findings, and bad input.

The input PDF is generated here with pyHanko's writer and the timestamps come from pyHanko's ``DummyTimeStamper``
with a TSA made here, so there are no binary assets. The sealed PDF and a render of it go to ``artifacts/``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image, ImageChops
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm, SigFieldSpec, append_signature_field
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator.registry import SimpleCertificateStore
from reportlab.pdfgen import canvas

from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.pdf import (
    MAX_CARRIED_CERTIFICATES,
    MAX_READING_BYTES,
    MAX_REVISIONS,
    SEAL_MARGIN_PT,
    SEAL_SIZE_PT,
    BadPlacement,
    CheckResult,
    DamagedPdf,
    EncryptedPdf,
    Finding,
    NoSignature,
    NotAPdf,
    PdfError,
    PdfSealer,
    PdfTooLarge,
    PdfVerification,
    TimestampUnavailable,
    TooManyRevisions,
    TruncatedPdf,
    UnreadableSignature,
    provenance,
    revisions,
    validate,
    validate_sync,
)
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from signing.tsa import LocalTimeStamper, TimeStampAuthority

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
SIGNED_AT = NOW + dt.timedelta(days=10)
LATER = NOW + dt.timedelta(days=30)
CA_NAME = "济南市制章中心"
ISSUER = "济南市市场监督管理局"
USCC = "11370100MB0000000X"
SEAL_NAME = "电子证照专用章"
PAGE_SIZE = (595.0, 842.0)  # A4
PAGE_TEXT = b"Electronic license 0001"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

PASSED = Finding(result=CheckResult.PASSED)
NO_TIMESTAMP = Finding(
    result=CheckResult.INDETERMINATE, reason="NO_TIMESTAMP", detail="签章没有时间戳（the seal has no timestamp）"
)


# --- material --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tsa:
    root: x509.Certificate
    stamper: DummyTimeStamper


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create(CA_NAME, NOW)


@pytest.fixture(scope="module")
def seal_png() -> bytes:
    return draw_seal(ISSUER, SEAL_NAME, size_px=400)


@pytest.fixture(scope="module")
def tsa() -> Tsa:
    return make_tsa("Test TSA Root")


@pytest.fixture(scope="module")
def plain_pdf() -> bytes:
    return one_page_pdf()


def make_tsa(name: str) -> Tsa:
    """A TSA root and an RSA time-stamping certificate under it (DummyTimeStamper signs with RSA only)."""
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} TSU")]))
        .issuer_name(root_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    key_info = asn1_keys.PrivateKeyInfo.load(
        leaf_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    stamper = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(leaf.public_bytes(serialization.Encoding.DER)),
        tsa_key=key_info,
        fixed_dt=SIGNED_AT,
    )
    return Tsa(root=root, stamper=stamper)


def one_page_pdf(extra_bytes: int = 0) -> bytes:
    """An A4 page with one line of Helvetica text, written by pyHanko (uncompressed content stream)."""
    writer = PdfFileWriter(stream_xrefs=False)
    font = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/Font"),
            generic.pdf_name("/Subtype"): generic.pdf_name("/Type1"),
            generic.pdf_name("/BaseFont"): generic.pdf_name("/Helvetica"),
        }
    )
    resources = generic.DictionaryObject(
        {generic.pdf_name("/Font"): generic.DictionaryObject({generic.pdf_name("/F1"): writer.add_object(font)})}
    )
    text = b"BT /F1 18 Tf 72 760 Td (" + PAGE_TEXT + b") Tj ET" + b" " * extra_bytes
    contents = writer.add_object(generic.StreamObject(stream_data=text))
    writer.insert_page(PageObject(contents=contents, media_box=(0, 0, *PAGE_SIZE), resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def issue(ca: SealMakerCA, key: SoftwareKey) -> x509.Certificate:
    public_key = serialization.load_der_public_key(key.public_key_der)
    assert isinstance(public_key, rsa.RSAPublicKey) or hasattr(public_key, "curve")
    return ca.issue_seal_certificate(
        issuer_name=ISSUER,
        issuer_uscc=USCC,
        seal_name=ISSUER + SEAL_NAME,
        public_key=public_key,  # type: ignore[arg-type]
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=730),
    )


def seal(
    ca: SealMakerCA,
    pdf: bytes,
    seal_png: bytes,
    *,
    timestamper: TimeStamper | None,
    algorithm: str = ECDSA_P256_SHA256,
    key: SoftwareKey | None = None,
    cert: x509.Certificate | None = None,
) -> bytes:
    key = key or SoftwareKey.generate(algorithm)
    cert = cert or issue(ca, key)
    sealer = PdfSealer(key, cert, [ca.intermediate], seal_png=seal_png, timestamper=timestamper)
    return asyncio.run(sealer.seal(pdf, field_name="Seal1", location="济南"))


def check(ca: SealMakerCA, pdf: bytes, tsa: Tsa, *, at: dt.datetime = LATER) -> PdfVerification:
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))
    return validate_sync(
        pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at, tsa_trust_roots=[tsa.root]
    )


def findings(report: PdfVerification) -> tuple[object, ...]:
    def short(finding: Finding) -> tuple[CheckResult, str | None]:
        return finding.result, finding.reason

    return (
        report.result,
        report.reason,
        short(report.integrity),
        short(report.issuer_identity),
        short(report.timestamp),
    )


P = CheckResult.PASSED
F = CheckResult.FAILED
I = CheckResult.INDETERMINATE  # noqa: E741


# --- sealing and verifying -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_timestamped_seal_passes_with_the_timestamp_as_signing_time(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes, algorithm: str
) -> None:
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper, algorithm=algorithm)

    report = check(ca, sealed, tsa)

    assert sealed.startswith(plain_pdf)  # an incremental update: the original bytes stay as they were
    assert report.integrity == PASSED
    assert report.issuer_identity == PASSED
    assert report.timestamp == PASSED
    assert (report.result, report.reason) == (P, None)
    assert (report.subject_name, report.seal_name, report.uscc) == (ISSUER, ISSUER + SEAL_NAME, USCC)
    assert report.field_name == "Seal1"
    assert (report.signing_time, report.signing_time_trusted) == (SIGNED_AT, True)


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_seal_without_timestamp_passes_with_no_timestamp_finding(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes, algorithm: str
) -> None:
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None, algorithm=algorithm)

    report = check(ca, sealed, tsa)

    assert findings(report) == (P, None, (P, None), (P, None), (I, "NO_TIMESTAMP"))
    assert report.timestamp == NO_TIMESTAMP
    assert report.signing_time is not None and not report.signing_time_trusted


def test_validate_runs_inside_an_event_loop(ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes) -> None:
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper)
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))

    async def in_loop() -> PdfVerification:
        return await validate(
            sealed, trust_roots=[ca.root], intermediates=[], crls=[crl], at=LATER, tsa_trust_roots=[tsa.root]
        )

    # no intermediates given: the one embedded in the signature is used
    assert findings(asyncio.run(in_loop())) == (P, None, (P, None), (P, None), (P, None))


def test_a_flipped_byte_in_the_signed_range_fails_integrity(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    sealed = bytearray(seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper))
    at = sealed.index(PAGE_TEXT)  # in the page's content stream, signed by the seal
    sealed[at] ^= 0x01

    report = check(ca, bytes(sealed), tsa)

    assert findings(report) == (F, "SIGNATURE_INVALID", (F, "SIGNATURE_INVALID"), (P, None), (P, None))


def test_a_changed_certificate_in_the_signature_is_a_failed_seal_not_unreadable_input(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    """The seal's certificate travels in the signature's unsigned part; its signed attributes name it by hash. One
    changed there (here its serial number) reads as a certificate still, and the seal no longer vouches for it."""
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    cert = issue(ca, key)
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper, key=key, cert=cert)
    der = cert.public_bytes(serialization.Encoding.DER)

    def with_certificate_changed(at: int) -> bytes:
        changed = der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1 :]
        for case in (str.upper, str.lower):
            if (original := case(der.hex()).encode()) in sealed:
                return sealed.replace(original, case(changed.hex()).encode())
        raise AssertionError("the certificate's hex is not in the signature")

    # its end of validity (a UTCTime's last digit of the seconds: still a certificate, with the same issuer and
    # serial the signature names): the signed attributes' hash of the signer's certificate no longer matches
    until = cert.not_valid_after_utc.strftime("%y%m%d%H%M%SZ").encode()
    report = check(ca, with_certificate_changed(der.index(until) + len(until) - 2), tsa)
    assert findings(report)[:3] == (F, "SIGNATURE_INVALID", (F, "SIGNATURE_INVALID"))
    assert "certificate" in (report.integrity.detail or "")
    assert report.issuer_identity.result is I and report.field_name == "Seal1"

    # its serial number: the same
    serial = cert.serial_number.to_bytes((cert.serial_number.bit_length() + 8) // 8, "big")
    report = check(ca, with_certificate_changed(der.index(serial) + len(serial) - 1), tsa)
    assert findings(report)[:3] == (F, "SIGNATURE_INVALID", (F, "SIGNATURE_INVALID"))


def lookalike_intermediates(ca: SealMakerCA, n: int) -> list[x509.Certificate]:
    """``n`` CA certificates that copy the seal maker's intermediate name, each with a key of its own."""
    made = []
    for _ in range(n):
        key = ec.generate_private_key(ec.SECP256R1())
        made.append(
            x509.CertificateBuilder()
            .subject_name(ca.intermediate.subject)
            .issuer_name(ca.root.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
    return made


def test_a_seal_carrying_many_certificates_is_refused_before_any_is_checked(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """Each certificate a seal carries that copies a trusted CA's name is a candidate path to check: thousands of
    them cost half a minute a document (found by a black-box test). A seal may carry a few; past the limit its
    signature is not read further. Two different ones of the same name are refused too, however few: path building
    tries every ordering of look-alikes (a reviewer, rfA R1)."""
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    cert = issue(ca, key)
    carried = [ca.intermediate, *lookalike_intermediates(ca, MAX_CARRIED_CERTIFICATES)]  # its own certificate too
    many = PdfSealer(key, cert, carried, seal_png=seal_png, timestamper=None, bytes_reserved=65_536)
    with pytest.raises(UnreadableSignature, match=f"carries {MAX_CARRIED_CERTIFICATES + 2} certificates"):
        check(ca, asyncio.run(many.seal(plain_pdf, field_name="Seal1")), make_tsa("不用"))
    alike = PdfSealer(key, cert, carried[:2], seal_png=seal_png, timestamper=None)
    with pytest.raises(UnreadableSignature, match="carries two different certificates named 'Common Name: 济南"):
        check(ca, asyncio.run(alike.seal(plain_pdf, field_name="Seal1")), make_tsa("不用"))
    enough = PdfSealer(key, cert, [ca.intermediate, ca.root], seal_png=seal_png, timestamper=None)
    report = check(ca, asyncio.run(enough.seal(plain_pdf, field_name="Seal1")), make_tsa("不用"))
    assert report.result is CheckResult.PASSED


def test_a_carried_certificate_of_no_x509_version_is_an_unreadable_seal(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    """The CA's certificate a seal carries sits outside what the seal signs: one byte of it changed to version 4
    (``a0 03 02 01 03``), which cryptography will not load, had made verification an internal error."""
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper)
    der = ca.intermediate.public_bytes(serialization.Encoding.DER)
    broken = der.replace(bytes.fromhex("a003020102"), bytes.fromhex("a003020103"), 1)
    for case in (str.upper, str.lower):
        sealed = sealed.replace(case(der.hex()).encode(), case(broken.hex()).encode())
    assert broken.hex().encode() in sealed.lower()
    with pytest.raises(UnreadableSignature):
        check(ca, sealed, tsa)


def test_page_content_added_after_sealing_fails_as_document_modified(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper)
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    overlay = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 700 Td (VOID) Tj ET"))
    writer.add_stream_to_page(0, overlay)
    out = io.BytesIO()
    writer.write(out)

    report = check(ca, out.getvalue(), tsa)

    assert findings(report) == (F, "DOCUMENT_MODIFIED", (F, "DOCUMENT_MODIFIED"), (P, None), (P, None))


def test_a_second_seal_after_the_first_keeps_both_intact(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=tsa.stamper)
    first = asyncio.run(sealer.seal(plain_pdf, field_name="Seal1"))
    second = asyncio.run(sealer.seal(first, field_name="Seal2", box=(72, 72, 185, 185)))
    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))

    for field in ("Seal1", "Seal2"):
        report = validate_sync(
            second,
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[crl],
            at=LATER,
            tsa_trust_roots=[tsa.root],
            field_name=field,
        )
        assert (field, *findings(report)) == (field, P, None, (P, None), (P, None), (P, None))


def sign_invisibly(
    pdf: bytes,
    field_name: str,
    *,
    signed_as: tuple[ec.EllipticCurvePrivateKey, x509.Certificate] | None = None,
    chain: Sequence[x509.Certificate] = (),
    timestamper: TimeStamper | None = None,
    certified: MDPPerm | None = None,
) -> bytes:
    """``pdf`` with a second, invisible signature (a new field with no area) by a self-signed key of 某申请人 unless
    ``signed_as`` (key, certificate; ``chain`` carried along), timestamped by ``timestamper`` if given, as a desktop
    signer adds one: pyHanko's signer directly, not the sealer, which always draws its seal. ``certified``: an
    author's certification (DocMDP) allowing so much after it instead."""
    if signed_as is None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "某申请人")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW)
            .not_valid_after(NOW + dt.timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
    else:
        key, cert = signed_as
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain]
        ),
    )
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(
            field_name=field_name,
            md_algorithm="sha256",
            certify=certified is not None,
            docmdp_permissions=certified or MDPPerm.FILL_FORMS,
        ),
        signer,
        timestamper=timestamper,
        new_field_spec=SigFieldSpec(sig_field_name=field_name),
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


def test_a_second_signature_drawn_on_the_page_is_listed_as_shown_after_sealing(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    """pyHanko allows signatures added after a seal (integrity stays PASSED), but a visible one can be drawn over
    the sealed text: the first seal's verification names it; an invisible one and a metadata update are not named."""
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=tsa.stamper)
    first = asyncio.run(sealer.seal(plain_pdf, field_name="Seal1"))
    over_the_text = asyncio.run(sealer.seal(first, field_name="Seal2", box=(72, 740, 400, 790)))
    retitled = with_info(first, Title="改过的标题")

    def shown(pdf: bytes, field: str = "Seal1") -> tuple[object, ...]:
        found = validate_sync(
            pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER, field_name=field
        )
        return found.integrity.result, found.shown_after_sealing

    assert shown(first) == (P, ())
    assert shown(over_the_text) == (P, ("Seal2",))
    assert shown(over_the_text, "Seal2") == (P, ())
    assert shown(sign_invisibly(first, "Applicant")) == (P, ())
    assert shown(retitled) == (P, ())
    assert shown(sign_invisibly(over_the_text, "Applicant")) == (P, ("Seal2",))
    # a field of no height whose appearance draws: pdfium squeezes it onto the page all the same
    writer = IncrementalPdfFileWriter(io.BytesIO(first))
    append_signature_field(writer, SigFieldSpec("Flat", box=(72, 700, 400, 700)))
    flat = next(f.get_object() for f in writer.root["/AcroForm"]["/Fields"] if f.get_object().get("/T") == "Flat")
    box = generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 328, 40)])
    drawing = writer.add_object(generic.StreamObject({generic.NameObject("/BBox"): box}, stream_data=b"0 0 1 rg"))
    flat[generic.NameObject("/AP")] = generic.DictionaryObject({generic.NameObject("/N"): drawing})
    writer.update_container(flat)
    squeezed = io.BytesIO()
    writer.write(squeezed)
    assert shown(squeezed.getvalue()) == (P, ("Flat",))


def prefilled_form_pdf() -> bytes:
    """A page written by reportlab with a text field filled in before issue, as issuers' form-made PDFs have: the
    field's value and appearance are in the original file, before any signature."""
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=PAGE_SIZE, invariant=True)
    page.drawString(72, 760, PAGE_TEXT.decode())
    page.acroForm.textfield(name="holder", value="Zhang San", x=72, y=600, width=200, height=20)
    page.showPage()
    page.save()
    return out.getvalue()


def with_dss(pdf: bytes, ca: SealMakerCA) -> bytes:
    """``pdf`` with validation data (a DSS of the intermediate and a CRL) added by an incremental update, as an
    LTV tool adds it."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=[asn1_x509.Certificate.load(ca.intermediate.public_bytes(serialization.Encoding.DER))],
        crls=[asn1_crl.CertificateList.load(ca.crl(LATER, LATER + dt.timedelta(days=7)))],
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


LATER_UPDATES: list[tuple[str, Callable[[bytes, SealMakerCA, PdfSealer], bytes], tuple[str, ...]]] = [
    ("an invisible signature", lambda pdf, ca, sealer: sign_invisibly(pdf, "Applicant"), ()),
    ("a new title", lambda pdf, ca, sealer: with_info(pdf, Title="改过的标题"), ()),
    ("validation data", lambda pdf, ca, sealer: with_dss(pdf, ca), ()),
    (
        "a second seal away from the field",
        lambda pdf, ca, sealer: asyncio.run(sealer.seal(pdf, field_name="Seal2", box=(72, 72, 185, 185))),
        ("Seal2",),
    ),
]


@pytest.mark.parametrize(("update", "listed"), [(c[1], c[2]) for c in LATER_UPDATES], ids=[c[0] for c in LATER_UPDATES])
def test_a_field_filled_in_before_sealing_is_not_listed_after_a_later_update(
    ca: SealMakerCA,
    seal_png: bytes,
    update: Callable[[bytes, SealMakerCA, PdfSealer], bytes],
    listed: tuple[str, ...],
) -> None:
    """pyHanko took the untouched appearance of a field filled in before the seal for one rewritten after it, so
    any later update of a sealed form (a signature, validation data, a title) was CHANGED_AFTER_SEAL."""
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    sealed = asyncio.run(sealer.seal(prefilled_form_pdf(), field_name="Seal1"))

    found = validate_sync(
        update(sealed, ca, sealer), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER
    )

    assert (found.field_name, found.integrity, found.shown_after_sealing) == ("Seal1", PASSED, listed)


def refill(pdf: bytes, change: Callable[[IncrementalPdfFileWriter, generic.DictionaryObject], None]) -> bytes:
    """``pdf`` with its ``holder`` field changed by ``change`` in an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    field = next(f.get_object() for f in writer.root["/AcroForm"]["/Fields"] if f.get_object()["/T"] == "holder")
    change(writer, field)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def new_value(writer: IncrementalPdfFileWriter, field: generic.DictionaryObject, *, drawn: bool = True) -> None:
    field[generic.NameObject("/V")] = generic.TextStringObject("Li Si")
    if drawn:
        box = generic.ArrayObject([generic.NumberObject(n) for n in (0, 0, 200, 20)])
        drawing = generic.StreamObject({generic.NameObject("/BBox"): box}, stream_data=b"BT 2 5 Td (Li Si) Tj ET")
        field[generic.NameObject("/AP")] = generic.DictionaryObject(
            {generic.NameObject("/N"): writer.add_object(drawing)}
        )
    writer.update_container(field)


def appearance_in_place(writer: IncrementalPdfFileWriter, field: generic.DictionaryObject, *, same: bool) -> None:
    """The field's appearance stream written again under its own object number: with other text, or as it was."""
    ref = field["/AP"].raw_get("/N")
    if same:
        writer.mark_update(ref)
        return
    old = ref.get_object()
    drawing = generic.StreamObject({generic.NameObject("/BBox"): old["/BBox"]}, stream_data=b"BT 2 5 Td (Li Si) Tj ET")
    for key in ("/Type", "/Subtype", "/Resources"):
        if key in old:
            drawing[generic.NameObject(key)] = old.raw_get(key)
    writer.objects[(ref.generation, ref.idnum)] = drawing


@pytest.mark.parametrize(
    ("change", "listed"),
    [
        (new_value, ("holder",)),
        (lambda writer, field: new_value(writer, field, drawn=False), ("holder",)),
        (lambda writer, field: appearance_in_place(writer, field, same=False), ("holder",)),
        (lambda writer, field: appearance_in_place(writer, field, same=True), ()),
    ],
    ids=["a new value and appearance", "a new value only", "its appearance redrawn in place", "its appearance copied"],
)
def test_a_field_filled_in_again_after_sealing_is_listed(
    ca: SealMakerCA,
    seal_png: bytes,
    change: Callable[[IncrementalPdfFileWriter, generic.DictionaryObject], None],
    listed: tuple[str, ...],
) -> None:
    """What the seal does not cover is still named, after a later update too: a field whose value or appearance
    changed after the seal (an appearance stream copied as it was changes nothing)."""
    sealed = seal(ca, prefilled_form_pdf(), seal_png, timestamper=None)
    changed = refill(sealed, change)

    for pdf in (changed, sign_invisibly(changed, "Applicant")):
        found = validate_sync(pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER)
        assert (found.integrity, found.shown_after_sealing) == (PASSED, listed)


def test_a_lookalike_ca_with_the_same_names_fails_issuer_identity(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    impostor = SealMakerCA.create(CA_NAME, NOW)
    assert (impostor.root.subject, impostor.intermediate.subject) == (ca.root.subject, ca.intermediate.subject)
    key = SoftwareKey.generate()
    cert = issue(impostor, key)
    sealer = PdfSealer(key, cert, [impostor.intermediate], seal_png=seal_png, timestamper=tsa.stamper)
    sealed = asyncio.run(sealer.seal(plain_pdf, field_name="Seal1"))

    report = check(ca, sealed, tsa)

    assert findings(report) == (F, "LOOKALIKE_CA", (P, None), (F, "LOOKALIKE_CA"), (P, None))


def test_revocation_after_the_timestamped_sealing_keeps_the_seal_valid(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    key = SoftwareKey.generate()
    cert = issue(ca, key)
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper, key=key, cert=cert)
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT + dt.timedelta(days=5))

    report = check(ca, sealed, tsa)

    assert findings(report) == (P, None, (P, None), (P, None), (P, None))


def test_revocation_before_the_timestamped_sealing_fails_as_revoked(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    key = SoftwareKey.generate()
    cert = issue(ca, key)
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT - dt.timedelta(days=1))
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper, key=key, cert=cert)

    report = check(ca, sealed, tsa)

    assert findings(report) == (F, "CERT_REVOKED", (P, None), (F, "CERT_REVOKED"), (P, None))


def test_a_revoked_certificate_without_timestamp_is_indeterminate(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    key = SoftwareKey.generate()
    cert = issue(ca, key)
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None, key=key, cert=cert)
    ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT + dt.timedelta(days=5))

    report = check(ca, sealed, tsa)

    expected = (
        I,
        "CERT_REVOKED_NO_TRUSTED_TIME",
        (P, None),
        (I, "CERT_REVOKED_NO_TRUSTED_TIME"),
        (I, "NO_TIMESTAMP"),
    )
    assert findings(report) == expected
    revoked = (SIGNED_AT + dt.timedelta(days=5)).isoformat()
    assert report.issuer_identity.detail == (
        f"印章证书已于{revoked}吊销，签章没有有效的时间戳，无法确定签章是否在吊销之前"
        f"（the certificate was revoked at {revoked}; with no valid timestamp it is unknown whether the seal was "
        "applied before）"
    )  # not "before it sealed": without a time nobody knows


def test_a_timestamp_from_an_untrusted_tsa_fails_the_timestamp(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    rogue = make_tsa("Rogue TSA Root")
    sealed = seal(ca, plain_pdf, seal_png, timestamper=rogue.stamper)

    report = check(ca, sealed, tsa)

    # with no trusted time, the certificate is judged as of `at`, when it is valid
    assert findings(report) == (F, "TIMESTAMP_UNTRUSTED", (P, None), (P, None), (F, "TIMESTAMP_UNTRUSTED"))
    assert not report.signing_time_trusted


@dataclass(frozen=True)
class _FixedClock:
    moment: dt.datetime

    def now(self) -> dt.datetime:
        return self.moment


FUTURE_TIMESTAMPS = [
    ("6 minutes ahead", dt.timedelta(minutes=6),
     (F, "SIGNING_TIME_IN_FUTURE", (P, None), (F, "SIGNING_TIME_IN_FUTURE"), (P, None))),
    ("45 minutes ahead", dt.timedelta(minutes=45),
     (F, "SIGNING_TIME_IN_FUTURE", (P, None), (F, "SIGNING_TIME_IN_FUTURE"), (P, None))),
    ("4 minutes ahead: clocks differ", dt.timedelta(minutes=4), (P, None, (P, None), (P, None), (P, None))),
]  # fmt: skip


@pytest.mark.parametrize(("what", "ahead", "expected"), FUTURE_TIMESTAMPS, ids=[c[0] for c in FUTURE_TIMESTAMPS])
def test_a_timestamp_more_than_five_minutes_after_now_fails_the_issuer_identity(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes, what: str, ahead: dt.timedelta, expected: tuple[object, ...]
) -> None:
    """A TSA whose clock runs fast gives a genTime still to come, at which the certificate is judged: such a seal had
    verified PASSED, where a GB/T 38540 stamp whose signing time is more than 5 minutes after now fails its issuer
    identity (a time tester). The token is a real one, from ``signing.tsa``'s TSA with its clock ahead."""
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    public_key = serialization.load_der_public_key(key.public_key_der)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    cert = ca.issue_tsa_certificate(
        name="时钟偏快的时间戳服务", public_key=public_key, not_before=NOW, not_after=NOW + dt.timedelta(days=3650)
    )
    fast = TimeStampAuthority(
        cert=cert, key=key, chain=[ca.intermediate], clock=_FixedClock(LATER + ahead), serials=lambda: 7
    )
    sealed = seal(ca, plain_pdf, seal_png, timestamper=LocalTimeStamper(fast))

    crl = ca.crl(LATER, LATER + dt.timedelta(days=7))
    report = validate_sync(
        sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=LATER, tsa_trust_roots=[ca.root]
    )

    assert findings(report) == expected, what
    assert (report.signing_time, report.signing_time_trusted) == (LATER + ahead, True)


# --- the visible stamp -----------------------------------------------------------------------------------------------


def test_the_seal_image_is_drawn_in_the_stamp_box_and_nowhere_else(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, plain_pdf: bytes
) -> None:
    sealed = seal(ca, plain_pdf, seal_png, timestamper=tsa.stamper)
    scale = 2
    document = pdfium.PdfDocument(sealed)
    try:
        document.init_forms()  # signature widgets are form fields: pdfium draws them only with forms loaded
        image = document[0].render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
    finally:
        document.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "sealed.pdf").write_bytes(sealed)
    image.save(ARTIFACTS / "sealed-page0.png")

    width, height = PAGE_SIZE
    x2, y1 = width - SEAL_MARGIN_PT, SEAL_MARGIN_PT
    x1, y2 = x2 - SEAL_SIZE_PT, y1 + SEAL_SIZE_PT
    # PDF y grows upwards, image rows downwards; one pixel of slack for rounding
    box = (int(x1 * scale) - 2, int((height - y2) * scale) - 2, int(x2 * scale) + 2, int((height - y1) * scale) + 2)
    inside = red_pixels(image.crop(box))
    outside = red_pixels(image) - inside

    assert inside > 2000, inside
    assert outside == 0


def red_pixels(image: Image.Image) -> int:
    """How many pixels are strongly red (the seal's ink is #D0021B)."""
    red, green, blue = image.split()
    mask = ImageChops.multiply(
        ImageChops.multiply(red.point(lambda v: 255 if v > 150 else 0), green.point(lambda v: 255 if v < 90 else 0)),
        blue.point(lambda v: 255 if v < 90 else 0),
    )
    return mask.histogram()[255]


# --- bad input -------------------------------------------------------------------------------------------------------


def encrypted_pdf() -> bytes:
    writer = PdfFileWriter()
    contents = writer.add_object(generic.StreamObject(stream_data=b"BT ET"))
    writer.insert_page(PageObject(contents=contents, media_box=(0, 0, *PAGE_SIZE)))
    writer.encrypt("owner-secret", "user-secret")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_provenance_recognises_a_sealed_revision_whatever_follows_its_end_marker(
    ca: SealMakerCA, seal_png: bytes
) -> None:
    """The digests a registry of sealed documents is asked about: the sealed file's, with its last byte dropped, its
    line end rewritten, or an update after either (which leaves the seal's byte range reaching past its revision)."""
    sealed = seal(ca, with_info(one_page_pdf(), Subject="1.2.156.3005.2.X"), seal_png, timestamper=None)
    digest = hashlib.sha256(sealed).hexdigest()
    for tail in (b"", b"\r\n", b"\r", b" \n"):
        for copy in (sealed[:-1] + tail, with_info(sealed[:-1] + tail, Title="again")):
            found = provenance(copy)
            assert digest in found.digests and found.subject == "1.2.156.3005.2.X", tail
    assert digest not in provenance(one_page_pdf()).digests and provenance(one_page_pdf()).subject is None


def test_padding_a_transfer_appended_after_the_end_is_left_out_of_sealing_as_of_verifying(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """5,000 NULs and a line break after the end marker (a block-padded transfer): ``validate`` left them out, while
    sealing called the same complete file cut off (TRUNCATED_PDF)."""
    padded = plain_pdf + b"\0" * 5000 + b"  \r\n"
    assert revisions(padded) == revisions(plain_pdf) == 1
    sealed = seal(ca, padded, seal_png, timestamper=None)
    assert sealed.startswith(plain_pdf) and b"\0" * 5000 not in sealed  # the document, without what was appended
    report = validate_sync(sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER)
    assert report.integrity == PASSED
    junk = plain_pdf + b"\n%" + b"x" * 2000 + b"\n"  # something other than padding: no PDF's end, for both
    with pytest.raises(TruncatedPdf):
        seal(ca, junk, seal_png, timestamper=None)
    with pytest.raises(TruncatedPdf):
        validate_sync(junk, trust_roots=[ca.root], intermediates=[], crls=[], at=LATER)


BAD_INPUT: list[tuple[str, Callable[[bytes], bytes], type[PdfError], str]] = [
    ("not_a_pdf", lambda pdf: b"PK\x03\x04 this is a zip file, not a PDF", NotAPdf, "NOT_A_PDF"),
    ("empty", lambda pdf: b"", NotAPdf, "NOT_A_PDF"),
    ("truncated", lambda pdf: pdf[: len(pdf) // 2], TruncatedPdf, "TRUNCATED_PDF"),
    ("garbage_body", lambda pdf: b"%PDF-1.7\n" + b"x" * 100 + b"\n%%EOF\n", DamagedPdf, "DAMAGED_PDF"),
    ("encrypted", lambda pdf: encrypted_pdf(), EncryptedPdf, "ENCRYPTED_PDF"),
]


@pytest.mark.parametrize(("case", "make", "error", "reason"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_refused_by_seal_and_validate(
    ca: SealMakerCA,
    seal_png: bytes,
    plain_pdf: bytes,
    case: str,
    make: Callable[[bytes], bytes],
    error: type[PdfError],
    reason: str,
) -> None:
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    data = make(plain_pdf)

    with pytest.raises(error) as sealing:
        asyncio.run(sealer.seal(data, field_name="Seal1"))
    with pytest.raises(error):
        validate_sync(data, trust_roots=[ca.root], intermediates=[], crls=[], at=LATER)

    assert type(sealing.value) is error
    assert sealing.value.reason == reason


def with_info(pdf: bytes, **entries: str) -> bytes:
    """``pdf`` with entries of its document information (``Title="…"``) written by an incremental update."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    info = writer.trailer.raw_get("/Info")
    for name, value in entries.items():
        info.get_object()[generic.NameObject(f"/{name}")] = generic.TextStringObject(value)
    writer.mark_update(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def padded(pdf: bytes, size: int) -> bytes:
    """``pdf`` grown to exactly ``size`` bytes by an incremental update adding a stream of random bytes to its
    catalog: incompressible, so it weighs as much in a gRPC message as on disk, and quick to make."""
    grow = size - len(pdf) - 1024
    for _ in range(3):  # the update's own bytes vary a little with the stream's length (its digits)
        grown = _with_stream(pdf, random.Random(size).randbytes(grow))
        if len(grown) == size:
            return grown
        grow += size - len(grown)
    raise AssertionError(f"cannot pad {len(pdf)} bytes to {size}")


def _with_stream(pdf: bytes, data: bytes) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    writer.root[generic.NameObject("/ZzgwPadding")] = writer.add_object(generic.StreamObject(stream_data=data))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _moved_startxref(pdf: bytes, by: int) -> bytes:
    """``pdf`` with its last ``startxref`` pointing ``by`` bytes off its cross-reference section."""
    at = pdf.rindex(b"startxref") + len(b"startxref\n")
    end = pdf.index(b"\n", at)
    return pdf[:at] + str(int(pdf[at:end]) + by).encode() + pdf[end:]


@pytest.mark.parametrize("by", [2, -2, 1])
def test_a_cross_reference_pointer_off_its_section_is_damage_not_a_guess(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes, by: int
) -> None:
    """pyHanko would find the section a few bytes off and read the update by it; viewers rebuild the file by
    scanning it instead, and show whatever an update defined last (a forged page no cross-reference lists)."""
    updated = with_info(seal(ca, plain_pdf, seal_png, timestamper=None), Title="x")
    assert validate_sync(updated, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[]).integrity == PASSED
    with pytest.raises(DamagedPdf, match="cross-reference pointer"):
        validate_sync(_moved_startxref(updated, by), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[])


def test_a_pdf_of_too_many_revisions_or_objects_nested_too_deep_is_refused(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """Their analysis would cost seconds to hours (time in the square of the revisions) or blow the stack."""
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None)
    many = sealed
    for n in range(MAX_REVISIONS - 2):  # the plain PDF and the seal are two
        many = with_info(many, Title=str(n))
    assert validate_sync(many, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[]).integrity == PASSED
    with pytest.raises(TooManyRevisions, match=f"{MAX_REVISIONS + 1} revisions"):
        validate_sync(with_info(many, Title="x"), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[])

    for nested in (b"[" * 3000 + b"]" * 3000, b"<</A " * 3000 + b"1" + b">>" * 3000):  # arrays, dictionaries
        deep = new_info_by_hand(sealed, b"<< /Title (x) /Nested %s >>" % nested)
        with pytest.raises(DamagedPdf, match="nest too deep") as caught:
            validate_sync(deep, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[])
        assert type(caught.value) is DamagedPdf  # not an unreadable seal: the seal is intact (dictionaries were)
        assert "recursion" not in str(caught.value)  # said for the sender, not in Python's words


def test_a_pdf_sealed_stays_readable_and_one_nested_too_deep_is_damage(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """A seal that would take a PDF past the revisions that are read is refused; one nested 600 deep made the sealer
    recurse until INTERNAL (and ended a whole batch)."""
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    full = plain_pdf
    while revisions(full) < MAX_REVISIONS - 1:
        full = with_info(full, Title="again")
    sealed = asyncio.run(sealer.seal(full, field_name="Seal1"))
    assert revisions(sealed) == MAX_REVISIONS
    assert validate_sync(sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[]).integrity == PASSED
    with pytest.raises(TooManyRevisions, match=f"more than the {MAX_REVISIONS} that are read"):
        asyncio.run(sealer.seal(sealed, field_name="Seal2", box=(72, 72, 185, 185)))
    with pytest.raises(DamagedPdf):
        deep = new_info_by_hand(plain_pdf, b"<< /Title (x) /Nested %s%s >>" % (b"[" * 600, b"]" * 600))
        asyncio.run(sealer.seal(deep, field_name="Seal1"))


def new_info_by_hand(
    pdf: bytes,
    info: bytes,
    *,
    entry: bytes = b"%010d 00000 n \n",
    offset_by: int = 0,
    trailer_extra: bytes = b"",
    first_subsection: bytes = b"",
    keyword: bytes = b"xref\n",
) -> bytes:
    """``pdf`` with an update, written byte by byte, whose one object is a new document information dictionary: what
    pyHanko's own writer cannot write (objects its reader cannot read, tables ISO 32000 does not allow)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    size, root = int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root")
    at = len(pdf)
    body = b"%d 0 obj\n%s\nendobj\n" % (size, info)
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    table = keyword + first_subsection + b"%d 1\n" % size + entry % (at + offset_by)
    trailer = b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /Prev %d %s>>\n" % (
        size + 1,
        root.idnum,
        size,
        prev,
        trailer_extra,
    )
    return pdf + body + table + trailer + b"startxref\n%d\n%%%%EOF\n" % (at + len(body))


def test_a_pdf_whose_xmp_is_not_well_formed_is_sealed_with_its_xmp_left_as_it_is(
    ca: SealMakerCA, seal_png: bytes
) -> None:
    """Ghostscript 10.00 writes such XMP at PDF 2.0 (tests/vectors/pdf/README.md); sealing it answered INTERNAL."""
    produced = (Path(__file__).resolve().parents[1] / "vectors" / "pdf" / "ghostscript-10.00-pdf20.pdf").read_bytes()
    sealed = seal(ca, produced, seal_png, timestamper=None)
    assert sealed.startswith(produced)
    assert findings(check(ca, sealed, make_tsa("unused")))[:4] == (P, None, (P, None), (P, None))


def test_a_pdf_whose_xmp_is_not_well_formed_keeps_its_seal_through_later_updates(
    ca: SealMakerCA, seal_png: bytes
) -> None:
    """pyHanko checked the XMP's syntax whenever the catalogue names it, changed or not: any update after the seal of
    such a document (the gateway's use stamp on a sharing copy, a new title) failed the seal as DOCUMENT_MODIFIED.
    XMP written anew after the seal is still judged: not well-formed, it fails the seal."""
    produced = (Path(__file__).resolve().parents[1] / "vectors" / "pdf" / "ghostscript-10.00-pdf20.pdf").read_bytes()
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    sealed = asyncio.run(sealer.seal(produced, field_name="Seal1"))
    stamped = asyncio.run(sealer.seal(sealed, field_name="Seal2", box=(72, 72, 185, 185)))
    retitled = new_info_by_hand(sealed, b"<< /Title (x) >>")
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    writer._update_meta = lambda: None  # type: ignore[method-assign]  # pyHanko's writer cannot parse this XMP
    metadata = writer.root.raw_get("/Metadata")
    writer.objects[(metadata.generation, metadata.idnum)] = generic.StreamObject(
        {generic.NameObject("/Type"): generic.NameObject("/Metadata")}, stream_data=b"<x:xmpmeta><Title>x</x:xmpmeta>"
    )
    rewritten = io.BytesIO()
    writer.write(rewritten)

    def integrity(pdf: bytes) -> Finding:
        found = validate_sync(pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], field_name="Seal1")
        return found.integrity

    assert integrity(stamped) == PASSED
    assert integrity(retitled) == PASSED
    assert (integrity(rewritten.getvalue()).result, integrity(rewritten.getvalue()).reason) == (F, "DOCUMENT_MODIFIED")


@pytest.mark.parametrize(
    ("info", "trailer_extra"),
    [
        (b"<< /Title (x) >>", b"/ID [(a)] "),
        (b"<< /Title (x) >>", b"/ID 5 "),
        (b"<< /Title (x) >>", b"/Root << /Type /Catalog >> "),
        (b"[1 2 3]", b""),
        (b"<< >>\nstream\nabc\nendstream", b""),
    ],
    ids=[
        "an ID of one string",
        "an ID that is a number",
        "a direct catalog",
        "info an array",
        "info a stream",
    ],
)
def test_malformed_objects_are_damage_when_sealing_and_verifying(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes, info: bytes, trailer_extra: bytes
) -> None:
    """Each made Python raise something of its own inside pyHanko (TypeError, AttributeError, KeyError…), which the
    gateway answered as INTERNAL; in a batch it ended the stream. Sealing and verifying either work or say the PDF
    is damaged; nothing else escapes."""
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None)
    answers = []
    for attempt in (
        lambda: asyncio.run(
            sealer.seal(new_info_by_hand(plain_pdf, info, trailer_extra=trailer_extra), field_name="S")
        ),
        lambda: validate_sync(
            new_info_by_hand(sealed, info, trailer_extra=trailer_extra),
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[],
        ),
    ):
        try:
            answers.append(type(attempt()).__name__)
        except DamagedPdf:
            answers.append("DamagedPdf")
    assert set(answers) <= {"bytes", "PdfVerification", "DamagedPdf"}, answers


def xref_stream_update(pdf: bytes, index: Callable[[int, int], list[int]], extra: bytes = b"") -> bytes:
    """``pdf`` with an update, written by hand, of a new document information dictionary listed by a cross-reference
    stream whose ``/Index`` is ``index(info object, stream object)``; its rows place the two, then object 1 as it is."""
    reader = PdfFileReader(io.BytesIO(pdf))
    size, root = int(reader.trailer["/Size"]), reader.trailer.raw_get("/Root")
    info_at = len(pdf)
    body = b"%d 0 obj\n<< /Title (x) >>\nendobj\n" % size
    stream_at = info_at + len(body)
    first = [m.start() for m in re.finditer(rb"(?<![0-9])1 0 obj", pdf)][-1]
    rows = b"".join(b"\x01" + at.to_bytes(4, "big") + b"\x00\x00" for at in (info_at, stream_at, first))
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    stream = b"<< /Type /XRef /Size %d /Root %d 0 R /Info %d 0 R /Prev %d /W [1 4 2] /Index [%s] /Length %d %s>>" % (
        size + 2,
        root.idnum,
        size,
        prev,
        b" ".join(b"%d" % n for n in index(size, size + 1)),
        len(rows),
        extra,
    )
    xref = b"%d 0 obj\n" % (size + 1) + stream + b"\nstream\n" + rows + b"\nendstream\nendobj\n"
    return pdf + body + xref + b"startxref\n%d\n%%%%EOF\n" % stream_at


def test_cross_reference_streams_pyhanko_trips_or_overspends_on_are_damage(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """Subsections out of order tripped an assertion in pyHanko's reader (INTERNAL on every path); a subsection of
    99,999,999 objects in a file of some kilobytes made it allocate until the kernel killed the gateway (24 GB)."""
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None)
    sound = xref_stream_update(sealed, lambda info, stream: [info, 2])  # the info and the stream, in order
    assert validate_sync(sound, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[]).integrity == PASSED
    in_order: Callable[[int, int], list[int]] = lambda info, stream: [info, 2]  # noqa: E731
    for index, extra in (
        (lambda info, stream: [info, 1, stream, 1, 1, 1], b""),
        (lambda info, stream: [0, 99_999_999], b""),
        (in_order, b"/Filter /NoSuchFilter "),  # pyHanko has no decoder for it
        (in_order, b"/Filter /FlateDecode "),  # zlib.error: the rows are not compressed
    ):
        with pytest.raises(DamagedPdf):
            validate_sync(
                xref_stream_update(sealed, index, extra),
                trust_roots=[ca.root],
                intermediates=[ca.intermediate],
                crls=[],
            )


@pytest.mark.parametrize(
    "written_as",
    [
        {"trailer_extra": b"/Size -1 "},
        {"trailer_extra": b"/Size 999999999999 "},
        {"first_subsection": b"0 1\n0000999999 65535 n \n"},
    ],
    ids=["a size of -1", "a size past the file", "object 0 in use"],
)
def test_a_trailer_or_table_mupdf_would_rebuild_is_damage(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes, written_as: dict[str, bytes]
) -> None:
    """MuPDF says "trailer Size entry out of range" (or the like), rebuilds the file and shows what an update defined
    without listing it, while the seal's analysis passed."""
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None)
    with pytest.raises(DamagedPdf):
        validate_sync(
            new_info_by_hand(sealed, b"<< /Title (x) >>", **written_as),  # type: ignore[arg-type]
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[],
        )


@pytest.mark.parametrize(
    ("entry", "offset_by"),
    [(b"%010d 00000 n\n", 0), (b"%010d 00000 x \n", 0), (b"%010d 00000 n \n", 3)],
    ids=["19-byte entry", "entry of type x", "offset off its object"],
)
def test_a_cross_reference_table_viewers_would_rebuild_is_damage(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes, entry: bytes, offset_by: int
) -> None:
    """pyHanko forgives these tables; pdfium (a 19-byte entry), poppler and MuPDF (a type other than n or f)
    rebuild the file by scanning it instead, and an update's objects no table lists then show."""
    sealed = seal(ca, plain_pdf, seal_png, timestamper=None)
    for written_as in (b"%010d 00000 n \n", b"%010d 00000 n\r\n\n"):  # a blank line before the trailer: MuPDF's
        sound = new_info_by_hand(sealed, b"<< /Title (x) >>", entry=written_as)
        found = validate_sync(sound, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[])
        assert found.integrity == PASSED
    with pytest.raises(DamagedPdf, match="cross-reference"):
        validate_sync(
            new_info_by_hand(sealed, b"<< /Title (x) >>", entry=entry, offset_by=offset_by),
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[],
        )


def test_a_table_header_on_the_keywords_line_is_read_as_viewers_read_it(
    ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes
) -> None:
    """``xref 0 7`` on one line: qpdf, MuPDF, poppler and pdfium read the table so (none rebuilds the file, which a
    later, unlisted definition of the page's content would show), and it was refused as damage. A keyword run into
    its header is still damage."""
    one_line = plain_pdf.replace(b"xref\n0 ", b"xref 0 ")
    sealed = seal(ca, one_line, seal_png, timestamper=None)
    updated = new_info_by_hand(sealed, b"<< /Title (x) >>", keyword=b"xref ")

    assert revisions(one_line) == 1
    found = validate_sync(updated, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[])
    assert found.integrity == PASSED
    with pytest.raises(DamagedPdf, match="cross-reference"):
        validate_sync(
            new_info_by_hand(sealed, b"<< /Title (x) >>", keyword=b"xref"),
            trust_roots=[ca.root],
            intermediates=[ca.intermediate],
            crls=[],
        )


def test_a_pdf_over_the_limit_is_refused(ca: SealMakerCA, seal_png: bytes) -> None:
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [], seal_png=seal_png, timestamper=None, max_pdf_bytes=4096)
    big = one_page_pdf(extra_bytes=4096)

    with pytest.raises(PdfTooLarge) as caught:
        asyncio.run(sealer.seal(big, field_name="Seal1"))

    assert caught.value.reason == "PDF_TOO_LARGE"


def test_an_unsigned_pdf_has_no_signature_to_verify(ca: SealMakerCA, plain_pdf: bytes) -> None:
    with pytest.raises(NoSignature):
        validate_sync(plain_pdf, trust_roots=[ca.root], intermediates=[], crls=[], at=LATER)


def broken_signatures(sealed: bytes) -> dict[str, bytes]:
    """The seal's signature dictionary rewritten in place (offsets kept) so that no signature can be read from it:
    universal signature forgery's shapes that pyHanko refuses to read rather than judges."""
    found = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", sealed)
    assert found is not None
    start, end = int(found.group(2)), int(found.group(3))  # the /Contents hex string

    def put(at: int, until: int, new: bytes) -> bytes:
        return sealed[:at] + new.ljust(until - at) + sealed[until:]

    return {
        "no byte range": put(found.start(), found.end(), b""),
        "a byte range that is no array": put(found.start(), found.end(), b"/ByteRange 5"),
        "contents null": put(start, end, b"null"),
        "contents all zeros": put(start, end, b"<" + b"0" * (end - start - 2) + b">"),
        "contents a tag number that never ends": put(start, end, b"<" + b"f" * (end - start - 2) + b">"),
    }


def test_a_signature_that_cannot_be_read_is_said_in_plain_words(
    ca: SealMakerCA, seal_png: bytes, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    sealed = seal(ca, one_page_pdf(), seal_png, timestamper=None)
    for shape, broken in broken_signatures(sealed).items():
        with pytest.raises(UnreadableSignature) as caught:
            validate_sync(broken, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER)
        assert caught.value.reason == "SIGNATURE_UNREADABLE", shape
        assert str(caught.value).endswith("its byte range or its contents are malformed"), shape  # no Python's words
    assert long_tags_kept_from_asn1crypto == []


def test_contents_that_would_keep_asn1crypto_reading_for_minutes_are_unreadable_before_it_reads_them(
    ca: SealMakerCA, seal_png: bytes, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """2 MiB of 0xFF as a seal's /Contents, in a PDF under the request limit, is one tag number that never ends:
    asn1crypto had read it for minutes on a handler thread, until the watchdog stopped the gateway. Its 4 MiB of hex
    digits are more than a reading of a PDF parses (``MAX_READING_BYTES``): it is refused as too complex before the
    contents are read; 512 KiB of them are read, and found unreadable before asn1crypto reads them."""
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    for reserved in (2 * 1024 * 1024, 512 * 1024):
        sealer = PdfSealer(
            key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None, bytes_reserved=reserved
        )
        sealed = asyncio.run(sealer.seal(one_page_pdf(), field_name="Seal1"))
        broken = broken_signatures(sealed)["contents a tag number that never ends"]
        with pytest.raises(PdfError) as caught:
            validate_sync(broken, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER)
        expected = "PDF_TOO_COMPLEX" if reserved > MAX_READING_BYTES // 2 else "SIGNATURE_UNREADABLE"
        assert caught.value.reason == expected, reserved
    assert long_tags_kept_from_asn1crypto == []


def hidden_long_tags(tag_octets: int) -> dict[str, bytes]:
    """TSTInfos (a timestamp token's eContent, which pyHanko and ``_stamped_at`` parse) that hide a long tag number
    behind a header asn1crypto reads and goes on from."""
    long_tag = b"\x1f" + b"\xff" * tag_octets + b"\x7f\x00"
    after_long_length = b"\x02\x01\x01" + long_tag
    after_long_tag = b"\x02\x01\x01\x3f\x81\x80\x80\x80\x00\x00" + long_tag
    return {
        "behind a length in 127 octets": b"\x30\xff" + len(after_long_length).to_bytes(127, "big") + after_long_length,
        "behind a tag number of 5 octets": b"\x30" + bytes([len(after_long_tag)]) + after_long_tag,
    }


def spliced(der: bytes, old: bytes, new: bytes) -> bytes:
    """DER (of one-octet identifiers and definite lengths) with its element ``old`` put in place of by ``new``, the
    lengths of the constructed elements around it written anew; asn1crypto, which would parse ``new``, is not
    used."""
    assert der.count(old) == 1
    at = der.index(old)

    def element(start: int) -> tuple[bytes, int]:
        length, contents = der[start + 1], start + 2
        if length & 0x80:
            contents += length & 0x7F
            length = int.from_bytes(der[start + 2 : contents], "big")
        end = contents + length
        if start == at:
            return new, end
        if not start < at < end:
            return der[start:end], end
        pieces, offset = [], contents
        while offset < end:
            piece, offset = element(offset)
            pieces.append(piece)
        inner = b"".join(pieces)
        size = len(inner).to_bytes((len(inner).bit_length() + 7) // 8, "big")
        header = bytes([der[start], len(inner)]) if len(inner) < 0x80 else bytes([der[start], 0x80 | len(size)]) + size
        return header + inner, end

    return element(0)[0]


@pytest.mark.parametrize("shape", hidden_long_tags(40).keys())
def test_a_long_tag_number_hidden_in_a_timestamp_token_is_unreadable_before_asn1crypto_reads_it(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, shape: str, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """The TSTInfo is the contents of an OCTET STRING, which ``check_der`` reads as far as asn1crypto would: it
    had stopped there without a refusal, and asn1crypto went on to the tag number behind (a reviewer: 400,000 of its
    octets took a minute of ``validate``)."""
    from asn1crypto import cms

    sealed = seal(ca, one_page_pdf(), seal_png, timestamper=tsa.stamper)
    found = re.search(rb"/ByteRange \[(\d+) (\d+) (\d+) (\d+)\]", sealed)
    assert found is not None
    start, end = int(found.group(2)), int(found.group(3))
    der = bytes.fromhex(sealed[start + 1 : end - 1].decode())
    token = cms.ContentInfo.load(der)["content"]["signer_infos"][0]["unsigned_attrs"][0]["values"][0]
    tst_info = token["content"]["encap_content_info"]["content"].dump()
    hidden = hidden_long_tags(40)[shape]
    hexed = spliced(der, tst_info, b"\x04\x81" + bytes([len(hidden)]) + hidden).hex().encode()
    broken = sealed[:start] + b"<" + hexed.ljust(end - start - 2, b"0") + b">" + sealed[end:]
    with pytest.raises(UnreadableSignature) as caught:
        validate_sync(
            broken, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[], at=LATER,
            tsa_trust_roots=[tsa.root],
        )  # fmt: skip
    assert caught.value.reason == "SIGNATURE_UNREADABLE"
    assert long_tags_kept_from_asn1crypto == []


class FailingTimeStamper(TimeStamper):
    """A TSA that is down."""

    async def async_request_tsa_response(self, req: object) -> object:
        raise ConnectionRefusedError("connection refused: tsa.example:318")


def test_a_failing_timestamper_raises_timestamp_unavailable(ca: SealMakerCA, seal_png: bytes, plain_pdf: bytes) -> None:
    key = SoftwareKey.generate()
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=FailingTimeStamper())

    with pytest.raises(TimestampUnavailable) as caught:
        asyncio.run(sealer.seal(plain_pdf, field_name="Seal1"))

    assert caught.value.reason == "TIMESTAMP_UNAVAILABLE"
    assert "connection refused" in str(caught.value)


def test_a_read_error_that_says_nothing_is_named() -> None:
    """Some of pyHanko's errors carry no message: "the PDF cannot be parsed: " ended in nothing."""
    from signing.pdf import _why

    assert _why(ValueError()) == "ValueError in its structure"
    assert _why(ValueError("xref entry malformed")) == "xref entry malformed"
    assert _why(RecursionError("maximum recursion depth exceeded")) == "its objects nest too deep to be read"


# --- the gateway's own TSA after its certificate ended ---------------------------------------------------------------


def test_a_timestamp_of_the_gateways_own_tsa_proves_the_sealing_time_after_its_certificate_ended(
    seal_png: bytes, plain_pdf: bytes
) -> None:
    """A timestamp is judged at its genTime: checked as of now, every seal whose certificate had ended turned
    CERT_EXPIRED_NO_TRUSTED_TIME on the day the TSA certificate ended too, though made while both were valid (a keys
    tester). A TSA certificate revoked (a leaked key could back-date seals) proves no time, whenever revoked."""
    from signing.tsa import LocalTimeStamper, TimeStampAuthority

    ca = SealMakerCA.create(CA_NAME, NOW)
    tsa_key = SoftwareKey.generate(ECDSA_P256_SHA256)
    tsa_cert = ca.issue_tsa_certificate(
        name="zzgw 时间戳服务 (TSA)",
        public_key=serialization.load_der_public_key(tsa_key.public_key_der),  # type: ignore[arg-type]
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=20),
    )
    own_tsa = TimeStampAuthority(
        cert=tsa_cert, key=tsa_key, chain=[ca.intermediate], clock=_At(SIGNED_AT), serials=x509.random_serial_number
    )
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    cert = ca.issue_seal_certificate(
        issuer_name=ISSUER,
        issuer_uscc=USCC,
        seal_name=ISSUER + SEAL_NAME,
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=15),
    )
    sealed = seal(ca, plain_pdf, seal_png, timestamper=LocalTimeStamper(own_tsa), key=key, cert=cert)
    years_later = NOW + dt.timedelta(days=2000)  # both the seal's and the TSA's certificates have ended

    def judged(at: dt.datetime) -> PdfVerification:
        crl = ca.crl(at, at + dt.timedelta(days=7))
        return validate_sync(sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at)

    report = judged(years_later)
    assert findings(report) == (P, None, (P, None), (P, None), (P, None))
    assert (report.signing_time, report.signing_time_trusted) == (SIGNED_AT, True)

    ca.revoke(tsa_cert.serial_number, x509.ReasonFlags.key_compromise, NOW + dt.timedelta(days=30))
    report = judged(years_later)
    assert findings(report) == (
        F,
        "TIMESTAMP_UNTRUSTED",
        (P, None),
        (I, "CERT_EXPIRED_NO_TRUSTED_TIME"),
        (F, "TIMESTAMP_UNTRUSTED"),
    )
    assert "the timestamp authority's certificate is revoked" in (report.timestamp.detail or "")


@dataclass(frozen=True)
class _At:
    moment: dt.datetime

    def now(self) -> dt.datetime:
        return self.moment


def test_a_padded_copy_is_the_document_and_anything_else_after_it_is_not(plain_pdf: bytes) -> None:
    """``is_padded_copy``: the document byte for byte, or followed by NULs and white space only (a transfer's), is it;
    anything else after its end, or less of it, is not."""
    from signing.pdf import is_padded_copy

    document = plain_pdf
    assert document.endswith(b"%%EOF\n")
    digest = hashlib.sha256(document).hexdigest()
    for padding in (b"", b"\0", b"\0" * 3, b"\r\n", b" \t\x0c", b"\0" * 2000):
        assert is_padded_copy(document + padding, digest), padding
    for other in (document + b"%", document + b"\0x", document + b"\n%%EOF\n", document[:-1] + b"\r", document[:-1]):
        assert not is_padded_copy(other, digest), other[-8:]


def cropped_pdf(crop: bytes, *, inherited: bool = False) -> bytes:
    """A US-letter page whose visible area (/CropBox) is ``crop``, on the page or (``inherited``) on its page tree
    node, as a scan trimmed in a viewer or a page with printer's margins has."""
    from tests.api.test_documents import by_hand

    crop_box = b"/CropBox [%s]" % crop
    content = b"BT /F1 24 Tf 72 700 Td (visible part) Tj ET"
    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 %s >>" % (crop_box if inherited else b""),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s /Contents 4 0 R /Resources << >> >>"
        % (b"" if inherited else crop_box),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    )


@pytest.mark.parametrize("inherited", [False, True], ids=["on the page", "inherited"])
def test_the_stamp_is_placed_in_the_pages_visible_area(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, inherited: bool
) -> None:
    """By default the bottom right corner of the /CropBox (what viewers show), not of the /MediaBox: on a page cropped
    above its bottom the stamp had been drawn where no viewer shows it (a reviewer's R4); an explicit box is held to
    the /CropBox too."""
    pdf = cropped_pdf(b"0 200 612 792", inherited=inherited)
    sealed = seal(ca, pdf, seal_png, timestamper=None)
    page = PdfFileReader(io.BytesIO(sealed)).root["/Pages"]["/Kids"][0].get_object()
    widget = next(a.get_object() for a in page["/Annots"] if a.get_object().get("/FT") == "/Sig")
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    assert 0 <= x1 < x2 <= 612 and 200 <= y1 < y2 <= 792
    assert abs(612 - x2 - SEAL_MARGIN_PT) < 1 and abs(y1 - 200 - SEAL_MARGIN_PT) < 1
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    with pytest.raises(BadPlacement, match="not inside page 0"):
        asyncio.run(sealer.seal(pdf, field_name="Low", box=(72, 72, 185, 185)))


# --- where the stamp goes: clear of other seals, on small pages, on its page only -------------------------------------


def seal_widgets(pdf: bytes, index: int = 0) -> dict[str, tuple[float, float, float, float]]:
    """The signature widgets on page ``index`` of ``pdf``, by field name: their /Rect as (left, bottom, right, top)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    page = reader.root["/Pages"]["/Kids"][index].get_object()
    found = {}
    annotations = page.get("/Annots")
    for ref in annotations.get_object() if annotations is not None else []:
        widget = ref.get_object()
        field = widget["/Parent"].get_object() if "/Parent" in widget else widget
        if field.get("/FT") == "/Sig":
            x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
            found[str(field["/T"])] = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
    return found


def overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def seal_as(
    ca: SealMakerCA, pdf: bytes, seal_png: bytes, name: str, *, page: int = 0, box: tuple[float, ...] | None = None
) -> bytes:
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_png=seal_png, timestamper=None)
    return asyncio.run(sealer.seal(pdf, field_name=name, page=page, box=box))  # type: ignore[arg-type]


def a4_page_with_its_annotations_apart() -> bytes:
    """An A4 page whose /Annots is an object of its own (a link in it), not in the page's dictionary."""
    from tests.api.test_documents import by_hand

    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> /Annots 4 0 R >>",
        b"[5 0 R]",
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 300 720] /A << /S /URI /URI (https://x.cn) >> >>",
    )


@pytest.mark.parametrize("annotations_apart", [False, True], ids=["in the page", "an object of their own"])
def test_joint_seals_are_set_side_by_side_not_one_on_the_other(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, annotations_apart: bool
) -> None:
    """联合盖章: a second and a third department sealing the same PDF had their stamps drawn exactly on the first's
    (the same default box), one illegible merged seal (a reviewer, sealplace R3). Each goes to the left of those
    there, on the same line, 3 mm apart."""
    pdf = a4_page_with_its_annotations_apart() if annotations_apart else one_page_pdf()
    for name in ("Seal1", "Seal2", "Seal3"):
        pdf = seal_as(ca, pdf, seal_png, name)
    widgets = seal_widgets(pdf)
    first, second, third = widgets["Seal1"], widgets["Seal2"], widgets["Seal3"]
    width, _ = PAGE_SIZE
    assert abs(width - first[2] - SEAL_MARGIN_PT) < 1 and abs(first[1] - SEAL_MARGIN_PT) < 1  # the corner, as before
    for a, b in ((first, second), (first, third), (second, third)):
        assert not overlap(a, b), (a, b)
    assert second[1] == first[1] == third[1] and third[2] < second[0] < second[2] < first[0]
    assert 7 <= first[0] - second[2] <= 10 and abs((second[2] - second[0]) - SEAL_SIZE_PT) < 1
    assert check(ca, pdf, tsa).integrity == PASSED


def test_a_seal_on_a_license_document_keeps_clear_of_the_issuers_seal(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa
) -> None:
    """A license document the gateway drew carries the issuer's seal at ``render.SEAL_BOX``, which the default box
    covered by 85 % when a department sealed the document again (a certified copy; a reviewer, sealplace R3). A
    watermark across the page (a sharing copy's use stamp) is no seal to keep clear of: no spot is."""
    from signing.render import SEAL_BOX

    issued = seal_as(ca, one_page_pdf(), seal_png, "Issuer", box=SEAL_BOX)
    copy = seal_as(ca, issued, seal_png, "UseStamp", box=(1, 1, PAGE_SIZE[0] - 1, PAGE_SIZE[1] - 1))
    for document in (issued, copy):
        resealed = seal_as(ca, document, seal_png, "Department")
        widgets = seal_widgets(resealed)
        assert not overlap(widgets["Department"], SEAL_BOX), widgets
        assert widgets["Department"][2] <= SEAL_BOX[0] and abs(widgets["Department"][1] - SEAL_MARGIN_PT) < 1
        assert check(ca, resealed, tsa).integrity == PASSED
    # a box asked for is where the stamp goes, whatever is there
    assert seal_widgets(seal_as(ca, issued, seal_png, "Again", box=SEAL_BOX))["Again"] == SEAL_BOX


def test_a_page_full_of_seals_has_the_stamp_in_the_corner(ca: SealMakerCA, seal_png: bytes) -> None:
    """When no spot of the page is clear of the seals on it, the stamp goes to the default corner, as it did."""
    pdf = cropped_pdf(b"0 0 200 200")  # room for one stamp
    pdf = seal_as(ca, pdf, seal_png, "Seal1")
    widgets = seal_widgets(seal_as(ca, pdf, seal_png, "Seal2"))
    assert widgets["Seal2"] == widgets["Seal1"]


MM = 72 / 25.4


def page_of(width_mm: float, height_mm: float) -> bytes:
    """One page of ``width_mm`` × ``height_mm`` with a line of text."""
    from tests.api.test_documents import by_hand

    content = b"BT /F1 8 Tf 10 10 Td (card) Tj ET"
    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents 4 0 R /Resources << >> >>"
        % (width_mm * MM, height_mm * MM),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
    )


@pytest.mark.parametrize(
    ("width", "height", "seal_mm", "margin_mm"),
    [
        (
            85.6,
            54,
            27,
            13.5,
        ),  # 居民身份证, CR80: refused as "the box … is not inside page 0" (a reviewer, sealplace R4)
        (90, 54, 27, 13.5),  # a business card
        (54, 85.6, 27, 13.5),  # upright
        (88, 60, 30, 15),  # had the 40 mm stamp flush with its top edge
        (30, 100, 20, 5),  # narrower than a stamp of half its width: the smallest stamp, in less margin
        (20, 20, 20, 0),
        (148, 210, 40, 20),  # A5 and larger: as before
    ],
)
def test_a_small_page_has_a_smaller_stamp(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa, width: float, height: float, seal_mm: float, margin_mm: float
) -> None:
    """A page under 80 mm on its shorter side (a card-style e-license) has a stamp half that side across, at least
    20 mm, a quarter of it in from the bottom right corner (less when the stamp is the smallest)."""
    sealed = seal_as(ca, page_of(width, height), seal_png, "Seal1")
    x1, y1, x2, y2 = seal_widgets(sealed)["Seal1"]
    assert abs((x2 - x1) - seal_mm * MM) <= 1 and abs((y2 - y1) - seal_mm * MM) <= 1, (x1, y1, x2, y2)
    assert abs(width * MM - x2 - margin_mm * MM) <= 1 and abs(y1 - margin_mm * MM) <= 1, (x1, y1, x2, y2)
    assert check(ca, sealed, tsa).integrity == PASSED


def test_a_page_too_small_for_the_smallest_stamp_is_refused_as_such(ca: SealMakerCA, seal_png: bytes) -> None:
    """Under 20 mm on a side no stamp fits: the refusal says the page is too small, not that a box the caller never
    sent is outside it (a reviewer, sealplace R4)."""
    with pytest.raises(BadPlacement, match=r"page 0 \(19 × 60 mm\) is too small for a stamp: one is at least 20 mm"):
        seal_as(ca, page_of(19, 60), seal_png, "Seal1")


def two_pages_sharing_their_annotations() -> bytes:
    """Two A4 pages whose /Annots are one array (a link on each), as writers that duplicate a page make them."""
    from tests.api.test_documents import by_hand

    content = b"BT /F1 18 Tf 72 760 Td (" + PAGE_TEXT + b") Tj ET"
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 5 0 R /Resources << >> /Annots 6 0 R >>"
    return by_hand(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>",
        page,
        page,
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"[7 0 R]",
        b"<< /Type /Annot /Subtype /Link /Rect [72 700 300 720] /A << /S /URI /URI (https://x.cn) >> >>",
    )


def red_on_pages(pdf: bytes) -> list[int]:
    document = pdfium.PdfDocument(pdf)
    try:
        document.init_forms()
        return [
            red_pixels(document[i].render(scale=1, may_draw_forms=True).to_pil().convert("RGB"))
            for i in range(len(document))
        ]
    finally:
        document.close()


def test_the_stamp_is_on_its_page_only_when_pages_share_their_annotations(
    ca: SealMakerCA, seal_png: bytes, tsa: Tsa
) -> None:
    """pyHanko appends the stamp's widget to its page's /Annots array in place: when pages share one array, the stamp
    was on each of them, not only on the page asked for (a reviewer, sealplace R6). The page gets an array of its own,
    with what the shared one had; an earlier seal stays valid."""
    pdf = two_pages_sharing_their_annotations()
    on_second = seal_as(ca, pdf, seal_png, "Seal1", page=1)
    assert list(seal_widgets(on_second, 0)) == [] and list(seal_widgets(on_second, 1)) == ["Seal1"]
    first, second = red_on_pages(on_second)
    assert first == 0 and second > 500, (first, second)
    assert check(ca, on_second, tsa).integrity == PASSED
    reader = PdfFileReader(io.BytesIO(on_second))
    for page in reader.root["/Pages"]["/Kids"]:
        assert any(a.get_object()["/Subtype"] == "/Link" for a in page.get_object()["/Annots"])  # the link kept

    both = seal_as(ca, seal_as(ca, pdf, seal_png, "Seal1", page=0), seal_png, "Seal2", page=1)
    assert list(seal_widgets(both, 0)) == ["Seal1"] and list(seal_widgets(both, 1)) == ["Seal2"]
    report = check(ca, both, tsa)  # the first seal's: the second page's new array is no change it forbids
    assert report.integrity == PASSED and report.field_name == "Seal1"


def test_a_use_watermark_is_drawn_once_on_each_page_when_pages_share_their_annotations(ca: SealMakerCA) -> None:
    """A sharing copy's watermark puts a widget on every page: with one /Annots array for two pages, each page listed
    both widgets, the watermark drawn twice over (sealplace R6); each page lists its own."""
    from signing.seal_image import find_cjk_font
    from signing.watermark import watermark_pdf

    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    page, box = watermark_pdf(["用证事由：测试"], (1, 1, 594, 841), find_cjk_font())
    sealer = PdfSealer(key, issue(ca, key), [ca.intermediate], seal_pdf=page, timestamper=None)
    stamped = asyncio.run(
        sealer.seal(two_pages_sharing_their_annotations(), field_name="Use", box=box, every_page=True)
    )
    reader = PdfFileReader(io.BytesIO(stamped))
    for page_ref in reader.root["/Pages"]["/Kids"]:
        listed = [a.get_object()["/Subtype"] for a in page_ref.get_object()["/Annots"]]
        assert sorted(listed) == ["/Link", "/Widget"], listed
