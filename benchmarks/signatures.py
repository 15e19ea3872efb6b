"""Record seals per second, and a license document end to end: render from the template + seal + timestamp.

    .venv/bin/python -m benchmarks.signatures [n]

Record seals: ``signing.record.seal_record`` / ``verify_record_seal`` on a real 营业执照 record, against the bare
``cryptography`` signature of the same bytes in the same run (the baseline). The license document: render the PDF
(``signing.render``), seal it with ``PdfSealer`` and a timestamp from the gateway's own TSA in process
(``signing.tsa.LocalTimeStamper``) — the work an issuer that sends only data triggers — timed per stage.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import time
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from gateway.bootstrap import samples
from gateway.domain.model import LicenseContent, SystemClock
from gateway.services.members import load_bootstrap_catalog
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey, verify_signature
from signing.pdf import PdfSealer
from signing.qr import QrClaims, encode_qr
from signing.record import record_bytes, seal_record, verify_record_seal
from signing.render import render_license_pdf
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from signing.tsa import LocalTimeStamper, TimeStampAuthority

ISSUER = "11370100993701011T"


def content(n: int) -> LicenseContent:
    return samples.license_content(samples.business_license(n), ISSUER, serial=f"{n:010d}")


def rate(n: int, work: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(n):
        work()
    return n / (time.perf_counter() - started)


def record_seals(n: int) -> None:
    record = content(1).record_mapping()
    data = record_bytes(record)
    print(f"record seals ({n} each; ops/s)")
    print(f"{'algorithm':<26}{'seal_record':>12}{'bare sign':>11}{'verify_record_seal':>20}{'bare verify':>13}")
    for algorithm in (ECDSA_P256_SHA256, RSA2048_SHA256):
        key = SoftwareKey.generate(algorithm)
        seal = seal_record(key, record)
        signature = key.sign(data)
        public = key.public_key_der
        sealing = rate(n, lambda: seal_record(key, record))  # noqa: B023 - called before the loop moves on
        signing = rate(n, lambda: key.sign(data))  # noqa: B023
        checking = rate(n, lambda: verify_record_seal(public, record, seal))  # noqa: B023
        verifying = rate(n, lambda: verify_signature(public, algorithm, data, signature))  # noqa: B023
        print(f"{algorithm:<26}{sealing:>12,.0f}{signing:>11,.0f}{checking:>20,.0f}{verifying:>13,.0f}")


def license_documents(n: int) -> None:
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("bench 制章者", now)
    seal_key, tsa_key = SoftwareKey.generate(), SoftwareKey.generate()

    def certify(key: SoftwareKey, tsa: bool) -> x509.Certificate:
        public = serialization.load_der_public_key(key.public_key_der)
        window = {"not_before": now - dt.timedelta(minutes=5), "not_after": now + dt.timedelta(days=30)}
        if tsa:
            return ca.issue_tsa_certificate(name="bench TSA", public_key=public, **window)  # type: ignore[arg-type]
        return ca.issue_seal_certificate(
            issuer_name="济南市市场监督管理局",
            issuer_uscc=ISSUER,
            seal_name="电子证照专用章",
            public_key=public,  # type: ignore[arg-type]
            **window,
        )

    authority = TimeStampAuthority(
        cert=certify(tsa_key, True),
        key=tsa_key,
        chain=[ca.intermediate],
        clock=SystemClock(),
        serials=x509.random_serial_number,
    )
    sealer = PdfSealer(
        seal_key,
        certify(seal_key, False),
        [ca.intermediate],
        seal_png=draw_seal("济南市市场监督管理局", "电子证照专用章"),
        timestamper=LocalTimeStamper(authority),
    )
    license_type = load_bootstrap_catalog().license_type(samples.BUSINESS_LICENSE)
    render_ms, seal_ms = [], []

    async def run() -> None:
        for i in range(n):
            c = content(i)
            started = time.perf_counter()
            qr = encode_qr(seal_key, QrClaims.of(c, issued_at=now))
            pdf = render_license_pdf(c, license_type, issuer_name="济南市市场监督管理局", qr_text=qr, drawn_at=now)
            rendered = time.perf_counter()
            await sealer.seal(pdf, field_name="zzgw-seal")
            render_ms.append((rendered - started) * 1000)
            seal_ms.append((time.perf_counter() - rendered) * 1000)

    started = time.perf_counter()
    asyncio.run(run())
    total = time.perf_counter() - started
    print(
        f"\nlicense documents ({n}, one 营业执照 each): render + QR {statistics.median(render_ms):.1f} ms, "
        f"seal + timestamp {statistics.median(seal_ms):.1f} ms (medians); {n / total:.1f} documents/s end to end"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "n",
        type=int,
        nargs="?",
        default=2000,
        help="record seals made and verified per algorithm (default 2000); license documents: n/100, at least 10",
    )
    n = parser.parse_args().n
    record_seals(n)
    license_documents(max(10, n // 100))


if __name__ == "__main__":
    main()
