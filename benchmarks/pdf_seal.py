"""Seal time of ``signing.pdf.PdfSealer`` against pyHanko's stock ``SimpleSigner``, same key, same PDF, same stamp.

    .venv/bin/python -m benchmarks.pdf_seal [n]

Both sign a one-page PDF, PAdES B-B (no timestamp, so the TSA does not blur the comparison), with the seal image as
the visible stamp. ``SimpleSigner`` is measured as most code uses it (no ``bytes_reserved``, so pyHanko first signs
a dry run to size the placeholder) and with ``bytes_reserved`` set, to show where the difference comes from.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.pdf import BYTES_RESERVED, PdfSealer
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
BOX = (425, 57, 538, 170)


def one_page_pdf() -> bytes:
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
    contents = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 18 Tf 72 760 Td (Benchmark) Tj ET"))
    writer.insert_page(PageObject(contents=contents, media_box=(0, 0, 595, 842), resources=resources))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def median_ms(n: int, run: Callable[[], Awaitable[bytes]]) -> float:
    async def timed() -> list[float]:
        await run()  # warm-up: imports, caches
        times = []
        for _ in range(n):
            start = time.perf_counter()
            await run()
            times.append(time.perf_counter() - start)
        return times

    return statistics.median(asyncio.run(timed())) * 1000


def bench_seal(n: int = 20) -> None:
    """Print the median ms per seal for PdfSealer and SimpleSigner (with and without bytes_reserved), per key type."""
    pdf = one_page_pdf()
    ca = SealMakerCA.create("基准测试制章中心", NOW)
    png = draw_seal("济南市市场监督管理局", "电子证照专用章")
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    print(f"{'key':<26}{'PdfSealer':>11}{'SimpleSigner':>14}{'+reserved':>11}{'overhead':>10}")
    for algorithm in (ECDSA_P256_SHA256, RSA2048_SHA256):
        private_key = (
            ec.generate_private_key(ec.SECP256R1())
            if algorithm == ECDSA_P256_SHA256
            else rsa.generate_private_key(public_exponent=65537, key_size=2048)
        )
        key = SoftwareKey(private_key)
        cert = ca.issue_seal_certificate(
            issuer_name="济南市市场监督管理局",
            issuer_uscc="11370100MB0000000X",
            seal_name="济南市市场监督管理局电子证照专用章",
            public_key=private_key.public_key(),
            not_before=NOW,
            not_after=NOW + dt.timedelta(days=730),
        )
        sealer = PdfSealer(key, cert, [ca.intermediate], seal_png=png, timestamper=None)
        simple = signers.SimpleSigner(
            signing_cert=_asn1(cert),
            signing_key=asn1_keys.PrivateKeyInfo.load(
                private_key.private_bytes(
                    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            ),
            cert_registry=SimpleCertificateStore.from_certs([_asn1(ca.intermediate)]),
        )

        async def with_sealer(sealer: PdfSealer = sealer) -> bytes:
            return await sealer.seal(pdf, field_name="Seal1", box=BOX)

        def with_simple(reserved: int | None, simple: signers.SimpleSigner = simple) -> Callable[[], Awaitable[bytes]]:
            async def run() -> bytes:
                meta = signers.PdfSignatureMetadata(
                    field_name="Seal1",
                    subfilter=fields.SigSeedSubFilter.PADES,
                    md_algorithm="sha256",
                    use_pades_lta=False,
                    reason="电子证照签章",
                )
                pdf_signer = signers.PdfSigner(
                    meta,
                    simple,
                    stamp_style=StaticStampStyle(background=PdfImage(image), border_width=0),
                    new_field_spec=fields.SigFieldSpec(sig_field_name="Seal1", on_page=0, box=BOX),
                )
                out = io.BytesIO()
                await pdf_signer.async_sign_pdf(
                    IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=reserved, output=out
                )
                return out.getvalue()

            return run

        ours = median_ms(n, with_sealer)
        stock = median_ms(n, with_simple(None))
        reserved = median_ms(n, with_simple(BYTES_RESERVED))
        overhead = (ours - reserved) / reserved * 100
        print(f"{algorithm:<26}{ours:>9.1f}ms{stock:>12.1f}ms{reserved:>9.1f}ms{overhead:>+9.0f}%")
    print(f"(median of {n}; overhead = PdfSealer vs SimpleSigner with the same bytes_reserved)")


def interleaved_medians_ms(n: int, *runs: Callable[[], Awaitable[bytes]]) -> list[float]:
    """Median ms of each of ``runs``, called in turn (the order rotating) ``n`` times: drift hits them alike."""

    async def timed() -> list[list[float]]:
        times: list[list[float]] = [[] for _ in runs]
        for run in runs:
            await run()  # warm-up
        for i in range(n):
            for k in range(len(runs)):
                j = (i + k) % len(runs)
                start = time.perf_counter()
                await runs[j]()
                times[j].append(time.perf_counter() - start)
        return times

    return [statistics.median(t) * 1000 for t in asyncio.run(timed())]


def bench_validate(n: int = 20) -> None:
    """Median ms to validate one sealed PDF: ``signing.pdf.validate`` (integrity, issuer identity with the CRL and
    the look-alike check, timestamp) against pyHanko's ``async_validate_pdf_signature`` with the same trust roots and
    CRL, parsing the PDF each time in both."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from signing.checks import chain_identity, identity_finding_at
    from signing.pdf import validate

    pdf = one_page_pdf()
    ca = SealMakerCA.create("基准测试制章中心", NOW)
    png = draw_seal("济南市市场监督管理局", "电子证照专用章")
    at = NOW + dt.timedelta(days=1)
    crl = ca.crl(at, at + dt.timedelta(days=7))
    print(f"\n{'validate, key':<26}{'alone':>11}{'cached':>11}{'pyHanko':>11}{'alone':>10}{'cached':>10}")
    for algorithm in (ECDSA_P256_SHA256, RSA2048_SHA256):
        key = SoftwareKey.generate(algorithm)
        cert = ca.issue_seal_certificate(
            issuer_name="济南市市场监督管理局",
            issuer_uscc="11370100MB0000000X",
            seal_name="济南市市场监督管理局电子证照专用章",
            public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
            not_before=NOW,
            not_after=NOW + dt.timedelta(days=730),
        )
        sealer = PdfSealer(key, cert, [ca.intermediate], seal_png=png, timestamper=None)
        sealed = asyncio.run(sealer.seal(pdf, field_name="Seal1", box=BOX))

        async def ours(sealed: bytes = sealed) -> bytes:
            checked = await validate(sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at)
            assert checked.integrity.reason is None and checked.issuer_identity.reason is None, checked
            return sealed

        async def raw(sealed: bytes = sealed) -> bytes:
            embedded = PdfFileReader(io.BytesIO(sealed), strict=True).embedded_signatures[0]
            context = ValidationContext(
                trust_roots=[_asn1(ca.root)],
                other_certs=[_asn1(ca.intermediate)],
                crls=[crl],
                allow_fetching=False,
                moment=at,
            )
            status = await async_validate_pdf_signature(embedded, signer_validation_context=context)
            assert status.intact and status.valid and status.trusted, status
            return sealed

        base = chain_identity(cert, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl])

        async def known(
            seal_cert: x509.Certificate, moment: dt.datetime, cert: x509.Certificate = cert, base: Any = base
        ) -> Any:
            return identity_finding_at(base, seal_cert, at=moment, revoked_at=None) if seal_cert == cert else None

        async def cached(sealed: bytes = sealed) -> bytes:
            checked = await validate(
                sealed, trust_roots=[ca.root], intermediates=[ca.intermediate], crls=[crl], at=at, identity_check=known
            )
            assert checked.integrity.reason is None and checked.issuer_identity.reason is None, checked
            return sealed

        theirs, mine, gateway = interleaved_medians_ms(n, raw, ours, cached)
        print(
            f"{algorithm:<26}{mine:>9.1f}ms{gateway:>9.1f}ms{theirs:>9.1f}ms"
            f"{(mine - theirs) / theirs * 100:>+9.0f}%{(gateway - theirs) / theirs * 100:>+9.0f}%"
        )
    print(
        f"(median of {n} interleaved calls each; 'alone': signing.pdf.validate checking the seal certificate in full,"
    )
    print(" 'cached': with the chain check cached per certificate, as VerifyDocument does; overheads vs pyHanko)")


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "n",
        type=int,
        nargs="?",
        default=20,
        help="PDFs sealed, and validated, by each signer (default 20): the medians are reported",
    )
    count = parser.parse_args().n
    bench_seal(count)
    bench_validate(count)


if __name__ == "__main__":
    main()
