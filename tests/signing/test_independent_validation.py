"""Sealed PDFs and an independent implementation, both ways, with the seal-maker CA as the only trust root.

- poppler's pdfsig (NSS) validates the seals we make;
- ``signing.pdf.validate`` validates PDFs that pdfsig signed, with a key and certificate from a SealMakerCA made here.

Debian's poppler-utils and libnss3-tools (scripts/install-system-deps). Without them the tests skip, except in CI.

What pdfsig 22.12 (Debian 12) can make, as found here: adbe.pkcs7.detached signatures with ECDSA P-256 and RSA-2048
keys, in a new field (``-add-signature``) or in an empty one (``-sign``). ``-etsi`` is refused with
``-add-signature`` ("not supported yet") and, with ``-sign``, still writes the same adbe.pkcs7.detached signature, so
there is no ETSI.CAdES.detached case.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields

from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.pdf import CheckResult, Finding, PdfSealer, validate_sync
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from tests.signing.test_pdf import PAGE_TEXT
from tests.signing.test_pdf import one_page_pdf as simple_pdf

TOOLS = ("pdfsig", "certutil", "pk12util")
missing = [tool for tool in TOOLS if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(missing) and not os.environ.get("CI"),
    reason=f"{', '.join(missing)} not installed: scripts/install-system-deps",
)


def nss_db(directory: Path, trusted: list[bytes], known: list[bytes]) -> str:
    directory.mkdir()
    db = f"sql:{directory}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    for number, pem in enumerate(trusted + known):
        path = directory / f"{number}.pem"
        path.write_bytes(pem)
        trust = "CT,C,C" if number < len(trusted) else ",,"
        subprocess.run(["certutil", "-A", "-d", db, "-n", f"c{number}", "-t", trust, "-i", str(path)], check=True)
    return db


def pdfsig(db: str, pdf: Path) -> str:
    return subprocess.run(["pdfsig", "-nssdir", db, str(pdf)], capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("algorithm", [ECDSA_P256_SHA256, RSA2048_SHA256])
def test_pdfsig_validates_our_seal_with_the_ca_as_trust_root(tmp_path: Path, algorithm: str) -> None:
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("独立核验测试 制章者", now)
    key = SoftwareKey.generate(algorithm)
    cert = ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc="11370100993701011T",
        seal_name="电子证照专用章",
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=30),
    )
    sealer = PdfSealer(
        key, cert, [ca.intermediate], seal_png=draw_seal("济南市市场监督管理局", "电子证照专用章"), timestamper=None
    )
    sealed = asyncio.run(sealer.seal(simple_pdf(), field_name="zzgw-seal"))
    good = tmp_path / "sealed.pdf"
    good.write_bytes(sealed)
    pem = serialization.Encoding.PEM
    trusting = nss_db(tmp_path / "trusting", [ca.root.public_bytes(pem)], [ca.intermediate.public_bytes(pem)])
    report = pdfsig(trusting, good)
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate Validation: Certificate is Trusted." in report
    assert "OID.2.5.4.97=11370100993701011T" in report and "Total document signed" in report

    stranger = nss_db(tmp_path / "stranger", [], [])
    assert "Certificate Validation: Certificate is Trusted." not in pdfsig(stranger, good)

    tampered = bytearray(sealed)
    tampered[len(simple_pdf()) // 2] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    assert "Signature Validation: Signature is Valid." not in pdfsig(trusting, bad)


# --- the other direction: PDFs signed by pdfsig, validated here ------------------------------------------------------


@dataclass(frozen=True)
class PdfsigSigned:
    """A PDF that pdfsig signed with a key whose certificate our seal-maker CA issued."""

    ca: SealMakerCA
    cert: x509.Certificate
    pdf: bytes
    field_name: str
    signed_at: dt.datetime
    crl: bytes


PDFSIG_PLACEMENTS = {
    # pdfsig makes a new, invisible signature field (and embeds a font for its appearance)
    "new-field": ("pdfsig-seal", ["-add-signature", "-new-signature-field-name", "pdfsig-seal"]),
    # pdfsig fills an empty signature field that the document already has (made here with pyHanko)
    "existing-field": ("Seal1", ["-sign", "Seal1"]),
}
PDFSIG_ATTEMPTS = 40  # see _pdfsig_sign: an ECDSA attempt succeeds about 3 times in 8


def _private_key(algorithm: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    if algorithm == ECDSA_P256_SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _with_empty_signature_field(pdf: bytes, name: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    fields.append_signature_field(writer, fields.SigFieldSpec(sig_field_name=name, on_page=0, box=(400, 60, 510, 170)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdfsig_sign(db: str, nickname: str, placement: list[str], source: Path, target: Path) -> None:
    """Sign ``source`` into ``target`` with pdfsig.

    With an ECDSA key poppler 22.12 gives up about 5 times in 8 (exit 3, "signDocument: unable update signature",
    a broken signature left in ``target``): its /Contents placeholder varies in size from run to run, as if sized
    from a trial signature, and a DER ECDSA signature is 70 to 72 bytes long. That failure, and only that one, is
    retried; with RSA keys the placeholder is constant and the first attempt succeeds.
    """
    reason = ["-reason", "独立签章工具签署"]
    for _ in range(PDFSIG_ATTEMPTS):
        run = subprocess.run(
            ["pdfsig", "-nssdir", db, *placement, "-nick", nickname, *reason, str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if run.returncode == 0:
            return
        if "unable update signature" not in run.stderr:
            break
    pytest.fail(f"pdfsig could not sign: exit {run.returncode}: {run.stderr}")


@pytest.fixture(
    scope="module",
    params=[
        (algorithm, placement) for algorithm in (ECDSA_P256_SHA256, RSA2048_SHA256) for placement in PDFSIG_PLACEMENTS
    ],
    ids=lambda param: f"{param[0]}-{param[1]}",
)
def pdfsig_signed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PdfsigSigned:
    algorithm, placement = request.param
    work = tmp_path_factory.mktemp("pdfsig-signs")
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("独立签章测试 制章者", now, algorithm=algorithm)
    key = _private_key(algorithm)
    cert = ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc="11370100993701011T",
        seal_name="电子证照专用章",
        public_key=key.public_key(),
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=30),
    )
    # the key with its certificate and the issuing CA, as a seal holder would get them
    p12 = work / "seal.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"seal", key, cert, [ca.intermediate], serialization.BestAvailableEncryption(b"p12-password")
        )
    )
    db = nss_db(work / "signer", [], [])
    subprocess.run(["pk12util", "-i", str(p12), "-d", db, "-W", "p12-password"], check=True, capture_output=True)

    field_name, arguments = PDFSIG_PLACEMENTS[placement]
    pdf = simple_pdf() if placement == "new-field" else _with_empty_signature_field(simple_pdf(), field_name)
    source, target = work / "unsigned.pdf", work / "signed.pdf"
    source.write_bytes(pdf)
    signed_at = dt.datetime.now(dt.UTC)
    _pdfsig_sign(db, "seal", arguments, source, target)
    return PdfsigSigned(
        ca=ca,
        cert=cert,
        pdf=target.read_bytes(),
        field_name=field_name,
        signed_at=signed_at,
        crl=ca.crl(now, now + dt.timedelta(days=7)),
    )


def short(finding: Finding) -> tuple[CheckResult, str | None]:
    return finding.result, finding.reason


def assert_validates_with_its_ca_only(signed: PdfsigSigned) -> None:
    """What ``validate`` finds in a pdfsig signature: trusted with its CA, untrusted with another, broken if altered."""
    ca = signed.ca
    report = validate_sync(signed.pdf, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[signed.crl])
    assert (report.result, report.reason) == (CheckResult.PASSED, None)
    assert short(report.integrity) == (CheckResult.PASSED, None)
    assert short(report.issuer_identity) == (CheckResult.PASSED, None)
    # no RFC 3161 token: a B-B signature, which leaves the result PASSED
    assert short(report.timestamp) == (CheckResult.INDETERMINATE, "NO_TIMESTAMP")
    assert report.field_name == signed.field_name
    assert (report.subject_name, report.seal_name, report.uscc, report.serial) == (
        "济南市市场监督管理局",
        "电子证照专用章",
        "11370100993701011T",
        signed.cert.serial_number,
    )
    # the time pdfsig claims (/M: no signing-time attribute), to the second, and untrusted
    assert report.signing_time is not None and not report.signing_time_trusted
    assert abs(report.signing_time - signed.signed_at) < dt.timedelta(minutes=1)

    # pdfsig embeds the issuing CA from the PKCS#12: the root alone is enough
    alone = validate_sync(signed.pdf, trust_roots=[ca.root], intermediates=[], crls=[signed.crl])
    assert (alone.result, alone.reason) == (CheckResult.PASSED, None)

    # another seal-maker's CA, complete with its intermediate and CRL, does not vouch for it
    now = dt.datetime.now(dt.UTC)
    other = SealMakerCA.create("另一制章者", now)
    untrusted = validate_sync(
        signed.pdf,
        trust_roots=[other.root],
        intermediates=[other.intermediate],
        crls=[other.crl(now, now + dt.timedelta(days=7))],
    )
    assert short(untrusted.integrity) == (CheckResult.PASSED, None)
    assert short(untrusted.issuer_identity) == (CheckResult.FAILED, "UNTRUSTED_ROOT")
    assert (untrusted.result, untrusted.reason) == (CheckResult.FAILED, "UNTRUSTED_ROOT")

    # one bit of the page text, inside the first signed range, flipped
    at = signed.pdf.index(PAGE_TEXT)
    assert at < signed.pdf.index(b"/ByteRange")
    tampered = bytearray(signed.pdf)
    tampered[at] ^= 0x01
    altered = validate_sync(bytes(tampered), trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[signed.crl])
    assert short(altered.integrity) == (CheckResult.FAILED, "SIGNATURE_INVALID")
    assert (altered.result, altered.reason) == (CheckResult.FAILED, "SIGNATURE_INVALID")
    assert short(altered.issuer_identity) == (CheckResult.PASSED, None)


def test_a_pdfsig_signature_validates_here_with_its_ca_as_trust_root(pdfsig_signed: PdfsigSigned) -> None:
    assert_validates_with_its_ca_only(pdfsig_signed)


def test_our_seal_goes_on_top_of_a_pdfsig_signature(pdfsig_signed: PdfsigSigned) -> None:
    """pdfsig's incremental update carries objects of generation 1 never freed at generation 0: read, not refused.

    Where pdfsig made the field, both signatures hold. In a field made empty beforehand, pdfsig leaves /SigFlags at
    1 and pyHanko's writer sets it to 3 when it adds our seal, which pyHanko's change analysis (rightly strict)
    counts against the earlier signature: that is reported, not hidden.
    """
    ca = pdfsig_signed.ca
    key = SoftwareKey.generate(ECDSA_P256_SHA256)
    now = dt.datetime.now(dt.UTC)
    cert = ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc="11370100993701011T",
        seal_name="电子证照专用章",
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=5),
        not_after=now + dt.timedelta(days=30),
    )
    image = draw_seal("济南市市场监督管理局", "电子证照专用章")
    sealer = PdfSealer(key, cert, [ca.intermediate], seal_png=image, timestamper=None)
    both = asyncio.run(sealer.seal(pdfsig_signed.pdf, field_name="zzgw-on-top"))
    crls = [ca.crl(now, now + dt.timedelta(days=1))]

    def check(field: str) -> tuple[tuple[CheckResult, str | None], tuple[CheckResult, str | None]]:
        found = validate_sync(both, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=crls, field_name=field)
        return short(found.integrity), short(found.issuer_identity)

    passed = (CheckResult.PASSED, None)
    assert check("zzgw-on-top") == (passed, passed)
    if pdfsig_signed.field_name == "pdfsig-seal":
        assert check(pdfsig_signed.field_name) == (passed, passed)
    else:
        assert check(pdfsig_signed.field_name) == ((CheckResult.FAILED, "DOCUMENT_MODIFIED"), passed)


def test_pdfsig_validates_both_signatures_of_a_copy_watermarked_on_every_page(tmp_path: Path) -> None:
    """A sharing copy's use stamp has a widget on every page now (a reviewer, R4): the issuer's seal and the stamp
    both still validate for poppler, the stamp covering the whole document."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    from signing.seal_image import find_cjk_font
    from signing.watermark import watermark_pdf

    writer = PdfFileWriter(stream_xrefs=False)
    for _ in range(2):
        contents = writer.add_object(generic.StreamObject(stream_data=b"0 0 0 rg 100 100 50 50 re f"))
        writer.insert_page(
            PageObject(contents=contents, media_box=(0, 0, 595, 842), resources=generic.DictionaryObject())
        )
    out = io.BytesIO()
    writer.write(out)
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("独立核验测试 制章者", now)

    def sealer(seal_name: str, *, page: bytes | None = None) -> PdfSealer:
        key = SoftwareKey.generate(ECDSA_P256_SHA256)
        cert = ca.issue_seal_certificate(
            issuer_name="济南市市场监督管理局",
            issuer_uscc="11370100993701011T",
            seal_name=seal_name,
            public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
            not_before=now - dt.timedelta(minutes=5),
            not_after=now + dt.timedelta(days=30),
        )
        if page is not None:
            return PdfSealer(key, cert, [ca.intermediate], seal_pdf=page, timestamper=None)
        return PdfSealer(
            key, cert, [ca.intermediate], seal_png=draw_seal("济南市市场监督管理局", seal_name), timestamper=None
        )

    sealed = asyncio.run(sealer("电子证照专用章").seal(out.getvalue(), field_name="zzgw-seal"))
    page, box = watermark_pdf(["用证事由：测试", "仅供本次用证使用，他用无效"], (1, 1, 594, 841), find_cjk_font())
    copy = asyncio.run(
        sealer("核验回执专用章", page=page).seal(sealed, field_name="zzgw-use-1", box=box, every_page=True)
    )
    path = tmp_path / "copy.pdf"
    path.write_bytes(copy)
    pem = serialization.Encoding.PEM
    report = pdfsig(nss_db(tmp_path / "db", [ca.root.public_bytes(pem)], [ca.intermediate.public_bytes(pem)]), path)
    assert report.count("Signature Validation: Signature is Valid.") == 2, report
    assert "Total document signed" in report
