"""docs/api.md's "Checking a sealed PDF outside the gateway", run as printed there: pyHanko with the trust material
of the HTTP side (root, intermediate, CRL) gives the gateway's answers on the PDFs it sealed. With pyHanko's defaults
a seal certificate, which names no CRL distribution point, was never checked for revocation: a forgery made with a
revoked seal's key after its revocation was valid and trusted; required for the whole chain, every seal was
undecided; required for the seal but judged now, every document of a seal retired in a 换章 read revoked (review
seals, R1)."""

from __future__ import annotations

import asyncio
import io
import re
import urllib.request
from pathlib import Path
from typing import Any

from pyhanko.keys import load_certs_from_pemder_data
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from protos.zzgw.v1 import seal_pb2, verification_pb2
from tests.api.test_documents import document_of
from tests.api.test_identity_reasons import sealer_of
from tests.api.test_seals import register, seals
from tests.api.test_verification import FAILED, PASSED, USE, issue, printout, verifier
from tests.conftest import MARKET, RunningGateway, http_side

API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECTION = "### Checking a sealed PDF outside the gateway"


def documented_check() -> Any:
    """``check_sealed_pdf`` as the section's code block defines it."""
    text = API.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ")]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(API), "exec"), namespace)
    return namespace["check_sealed_pdf"]


def fetched(base: str, path: str) -> bytes:
    with urllib.request.urlopen(base + path, timeout=10) as response:
        return bytes(response.read())


def test_the_documented_pyhanko_check_tells_genuine_seals_from_a_revoked_seals_forgery(
    running: RunningGateway,
) -> None:
    check = documented_check()
    old = register(running, name="电子证照专用章")  # MARKET's newest: it seals the next license's document
    license_id = issue(running, 81).license.license_id
    genuine = document_of(running, license_id).pdf
    register(running, name="电子证照专用章")  # 换章: a new seal, the old one retired
    seals(running, MARKET).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=old.seal_id, reason="换章", crl_reason="superseded")
    )
    current = issue(running, 82).license.license_id
    fresh = document_of(running, current).pdf  # sealed with the new seal
    forged = asyncio.run(  # the retired seal's key, kept by someone, after the revocation, with a genuine timestamp
        sealer_of(running, old).seal(printout(license_id, "FOOD PERMIT  holder: somebody else"), field_name="forged")
    )
    with http_side(running) as base:
        root, intermediate, crl = (
            fetched(base, path)
            for path in (
                "/certificates/seal-maker-root.pem",
                "/certificates/seal-maker-intermediate.pem",
                "/crl/seal-maker.crl",
            )
        )

    answers = {
        name: check(pdf, root, intermediate, crl)
        for name, pdf in (("fresh", fresh), ("before the 换章", genuine), ("forged", forged))
    }
    for name in ("fresh", "before the 换章"):
        status = answers[name]
        assert (status.bottom_line, status.trusted, status.revoked) == (True, True, False), (name, status)
    status = answers["forged"]
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted  # a genuine timestamp
    assert (status.bottom_line, status.trusted, status.revoked) == (False, False, True), status

    # pyHanko's defaults, given the CRL, never look for the seal's revocation (its certificate names no CRL
    # distribution point): the forgery is valid and trusted, as the section warns
    plain = ValidationContext(
        trust_roots=list(load_certs_from_pemder_data(root)),
        other_certs=list(load_certs_from_pemder_data(intermediate)),
        crls=[crl],
        allow_fetching=False,
        revocation_mode="hard-fail",
    )
    embedded = PdfFileReader(io.BytesIO(forged)).embedded_signatures[0]
    unchecked = validate_pdf_signature(embedded, plain, ts_validation_context=plain)
    assert (unchecked.bottom_line, unchecked.revoked) == (True, False), unchecked

    # the gateway's own answers, which the check matches
    stub = verifier(running)
    for pdf, identity in ((fresh, (PASSED, "")), (genuine, (PASSED, "")), (forged, (FAILED, "CERT_REVOKED"))):
        report = stub.VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
        assert (report.issuer_identity.result, report.issuer_identity.reason) == identity
