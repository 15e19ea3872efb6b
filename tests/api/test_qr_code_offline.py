"""A ``ZZ1:`` code the gateway prints on a license, checked offline as docs/qr-codes.md says: read from the PDF as a
scan reads it, with the seal certificate the PDF's own signature carries and the seal maker's trust material, by the
page's reading in ``tests.signing.test_qr_vectors`` (nothing of ``signing.qr``). And what the page says only the
gateway knows: a license revoked since keeps a code that passes offline, while ``VerifyLicense`` by the code says
REVOKED (a partner-province tester, D4)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.reader import PdfFileReader

from adapters.demo import qr_code_of
from protos.zzgw.v1 import issuance_pb2
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256
from tests.api.test_documents import document_of, new_request, stub
from tests.api.test_verification import FAILED, PASSED, change, qr_for, verify
from tests.conftest import MARKET, RunningGateway
from tests.signing.test_qr_vectors import Trust, check, claims_of, open_code
from tests.vectors.make_qr_codes import _signed


def _certificates_in(pdf: bytes) -> list[x509.Certificate]:
    """The certificates the PDF's signatures carry (their CMS ``certificates``)."""
    reader = PdfFileReader(io.BytesIO(pdf), strict=False)
    return [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for signature in reader.embedded_signatures
        for choice in signature.signed_data["certificates"]
    ]


def _kid(certificate: x509.Certificate) -> bytes:
    """docs/qr-codes.md: the first 8 bytes of the SHA-256 of the certificate's SubjectPublicKeyInfo."""
    spki = certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()[:8]


def test_a_printed_code_checks_offline_with_the_certificate_its_pdf_carries(running: RunningGateway) -> None:
    issued = stub(running).IssueLicense(new_request(71)).license
    pdf = document_of(running, issued.license_id).pdf
    code = qr_code_of(pdf)
    kid = open_code(code).kid
    (certificate,) = [c for c in _certificates_in(pdf) if _kid(c) == kid]
    (uscc,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    assert uscc.value == MARKET
    seals = running.gateway.seals
    assert seals is not None
    trust = Trust(seals.ca.root, seals.ca.intermediate, seals.crl())  # /certificates/…, /crl/seal-maker.crl
    now = dt.datetime.now(dt.UTC)
    answer = check(code, certificate, now, trust)
    assert (answer["result"], answer["reason"]) == ("PASSED", ""), answer
    claims = claims_of(open_code(code).payload)
    assert claims["license_id"] == issued.license_id and claims["issuer"] == issued.issuer_code
    assert claims["valid_from"] == dt.date.fromisoformat(issued.valid_from)

    # revoked since: the paper's code still passes offline; only the gateway knows the status
    change(running, issued.license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    assert check(code, certificate, now, trust)["result"] == "PASSED"
    report = verify(running, qr_code=code)
    assert (report.verdict, report.reason) == (FAILED, "REVOKED")


def test_a_code_signed_with_a_null_end_date_is_malformed_as_the_page_says(running: RunningGateway) -> None:
    """docs/qr-codes.md: key 6 is absent when the license does not expire, and a value of another type is MALFORMED.
    ``VerifyLicense`` had taken a CBOR null there as "no end date" and passed the code, where a checker written from
    the page says MALFORMED (found in review). Only a seal's holder can sign one: the gateway never makes it."""
    issued = stub(running).IssueLicense(new_request(72)).license
    key = running.gateway.seals.record_key(MARKET)  # type: ignore[union-attr]
    alg = {ECDSA_P256_SHA256: -7, RSA2048_SHA256: -257}[key.algorithm]
    kid = bytes.fromhex(key.key_id)[:8]
    genuine, _ = qr_for(running, issued.license_id)
    claims = cbor2.loads(open_code(genuine).payload)
    assert verify(running, qr_code=_signed(key, alg, kid, cbor2.dumps(claims))).verdict == PASSED  # as made
    for changed in ({**claims, 6: None}, {**claims, 3: claims[3][:17] + "A" + claims[3][18:]}):
        report = verify(running, qr_code=_signed(key, alg, kid, cbor2.dumps(changed)))
        assert (report.verdict, report.reason, report.integrity.reason) == (FAILED, "MALFORMED", "MALFORMED")
        assert not report.HasField("license")
