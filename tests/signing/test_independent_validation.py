"""Sealed PDFs checked by an independent implementation: poppler's pdfsig with NSS, the seal-maker CA as trust root.

Debian's poppler-utils and libnss3-tools (scripts/install-system-deps). Without them the test skips, except in CI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SoftwareKey
from signing.pdf import PdfSealer
from signing.seal_ca import SealMakerCA
from signing.seal_image import draw_seal
from tests.signing.test_pdf import one_page_pdf as simple_pdf

TOOLS = ("pdfsig", "certutil")
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
