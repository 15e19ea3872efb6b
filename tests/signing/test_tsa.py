"""The gateway's RFC 3161 time-stamping authority: tokens pyHanko and OpenSSL accept, rejections for bad requests."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import itertools
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from signing.errors import KeyStoreError, SigningError
from signing.keys import SoftwareKey
from signing.seal_ca import SealMakerCA
from signing.tsa import (
    MAX_REQUEST_BYTES,
    ZZGW_TSA_POLICY_OID,
    LocalTimeStamper,
    TimeStampAuthority,
    TimeStampResp,
)

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
STAMPED_AT = dt.datetime(2025, 6, 1, 12, 30, 15, 654321, tzinfo=dt.UTC)
GEN_TIME = STAMPED_AT
DATA = "电子营业执照 11370100MB0000000X".encode()


@dataclasses.dataclass
class FixedClock:
    moment: dt.datetime

    def now(self) -> dt.datetime:
        return self.moment


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create("济南市制章中心", NOW)


@pytest.fixture(scope="module", params=["ecdsa", "rsa"])
def tsa_key(request: pytest.FixtureRequest) -> SoftwareKey:
    if request.param == "ecdsa":
        return SoftwareKey(ec.generate_private_key(ec.SECP256R1()))
    return SoftwareKey(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def tsa_cert(ca: SealMakerCA, tsa_key: SoftwareKey) -> x509.Certificate:
    public_key = serialization.load_der_public_key(tsa_key.public_key_der)
    assert isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
    return ca.issue_tsa_certificate(
        name="zzgw 时间戳服务",
        public_key=public_key,
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=5 * 365),
    )


@pytest.fixture
def tsa(ca: SealMakerCA, tsa_key: SoftwareKey, tsa_cert: x509.Certificate) -> TimeStampAuthority:
    return TimeStampAuthority(
        cert=tsa_cert,
        key=tsa_key,
        chain=[ca.intermediate],
        clock=FixedClock(STAMPED_AT),
        serials=itertools.count(1000).__next__,
    )


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def make_request(
    digest: bytes | None = None, algorithm: str = "sha256", *, nonce: int | None = 0x0123456789ABCDEF, **fields: Any
) -> bytes:
    """A TimeStampReq built field by field, to carry the defects pyHanko's builder cannot."""
    message = {"hash_algorithm": {"algorithm": algorithm}, "hashed_message": digest or hashlib.sha256(DATA).digest()}
    request: dict[str, Any] = {"version": "v1", "message_imprint": message, "cert_req": True, **fields}
    if nonce is not None:
        request["nonce"] = nonce
    der: bytes = tsp.TimeStampReq(request).dump()
    return der


def parse(response_der: bytes) -> TimeStampResp:
    response = TimeStampResp.load(response_der, strict=True)
    response.native  # noqa: B018  # parse every field, so a malformed reply fails here
    return response


def tst_info(response: TimeStampResp) -> tsp.TSTInfo:
    return response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed


def validate(ca: SealMakerCA, token: cms.ContentInfo, digest: bytes) -> TimestampSignatureStatus:
    context = ValidationContext(trust_roots=[asn1(ca.root)], allow_fetching=False, moment=GEN_TIME)
    status = asyncio.run(validate_tst_signed_data(token["content"], context, lambda _algorithm: digest))
    return TimestampSignatureStatus(**status)


# --- granted -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["sha256", "sha384", "sha512"])
def test_pyhanko_request_is_granted_and_the_token_validates(
    ca: SealMakerCA, tsa: TimeStampAuthority, algorithm: str
) -> None:
    digest = hashlib.new(algorithm, DATA).digest()
    nonce, request = TimeStamper().request_cms(digest, algorithm)

    response = parse(tsa.respond(request.dump()))

    assert response["status"]["status"].native == "granted"
    info = tst_info(response)
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == algorithm
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["nonce"].native == nonce
    status = validate(ca, response["time_stamp_token"], digest)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp == GEN_TIME


def test_tst_info_fields(tsa: TimeStampAuthority, tsa_cert: x509.Certificate) -> None:
    info = tst_info(parse(tsa.respond(make_request())))

    assert info["version"].native == "v1"
    assert info["policy"].dotted == ZZGW_TSA_POLICY_OID
    assert info["gen_time"].native == GEN_TIME  # the clock's time in UTC, to the microsecond
    assert info["gen_time"].dump()[2:] == b"20250601123015.654321Z"
    assert info["accuracy"].native == {"seconds": 1, "millis": None, "micros": None}
    assert info["nonce"].native == 0x0123456789ABCDEF
    assert info["serial_number"].native == 1000
    assert info["tsa"].chosen == asn1(tsa_cert).subject
    assert info["ordering"].native is False


def test_signed_attributes_name_the_tsa_certificate(tsa: TimeStampAuthority, tsa_cert: x509.Certificate) -> None:
    signed_data = parse(tsa.respond(make_request()))["time_stamp_token"]["content"]
    attributes = {a["type"].native: a["values"][0] for a in signed_data["signer_infos"][0]["signed_attrs"]}

    assert set(attributes) == {"content_type", "message_digest", "signing_certificate_v2"}
    assert attributes["content_type"].native == "tst_info"
    tst_info_der = signed_data["encap_content_info"]["content"].contents
    assert attributes["message_digest"].native == hashlib.sha256(tst_info_der).digest()
    cert_id = attributes["signing_certificate_v2"]["certs"][0]
    assert cert_id["cert_hash"].native == hashlib.sha256(tsa_cert.public_bytes(serialization.Encoding.DER)).digest()
    assert cert_id["hash_algorithm"]["algorithm"].native == "sha256"


def test_serials_are_unique(tsa: TimeStampAuthority) -> None:
    serials = {tst_info(parse(tsa.respond(make_request())))["serial_number"].native for _ in range(5)}

    assert len(serials) == 5


def test_certificates_only_when_requested(ca: SealMakerCA, tsa: TimeStampAuthority, tsa_cert: x509.Certificate) -> None:
    with_certs = parse(tsa.respond(make_request(cert_req=True)))["time_stamp_token"]["content"]
    without = parse(tsa.respond(make_request(cert_req=False)))["time_stamp_token"]["content"]

    # a SET OF: DER orders it by encoding, not as given
    assert {c.chosen.dump() for c in with_certs["certificates"]} == {
        asn1(tsa_cert).dump(),
        asn1(ca.intermediate).dump(),
    }
    assert without["certificates"].native is None


def test_no_nonce_in_request_none_in_token(tsa: TimeStampAuthority) -> None:
    info = tst_info(parse(tsa.respond(make_request(nonce=None))))

    assert info["nonce"].native is None


def test_a_request_for_our_own_policy_is_granted(tsa: TimeStampAuthority) -> None:
    response = parse(tsa.respond(make_request(req_policy=ZZGW_TSA_POLICY_OID)))

    assert response["status"]["status"].native == "granted"


# --- rejected ----------------------------------------------------------------------------------------------------


def _oversize() -> bytes:
    return make_request(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"\0" * MAX_REQUEST_BYTES}])


class _LooseAlgorithm(core.Sequence):
    _fields = [("algorithm", algos.DigestAlgorithmId), ("parameters", core.Any, {"optional": True})]  # noqa: RUF012


class _LooseImprint(core.Sequence):
    _fields = [("hash_algorithm", _LooseAlgorithm), ("hashed_message", core.OctetString)]  # noqa: RUF012


class _LooseRequest(core.Sequence):
    _fields = [("version", core.Integer), ("message_imprint", _LooseImprint)]  # noqa: RUF012


def _with_hash_parameters() -> bytes:
    """SHA-256 with an OCTET STRING as parameters, which RFC 5754 forbids (absent or NULL only)."""
    algorithm = {"algorithm": "sha256", "parameters": core.OctetString(b"x")}
    imprint = {"hash_algorithm": algorithm, "hashed_message": hashlib.sha256(DATA).digest()}
    der: bytes = _LooseRequest({"version": 1, "message_imprint": imprint}).dump()
    return der


REJECTIONS: list[tuple[str, Callable[[], bytes], str]] = [
    ("sha1", lambda: make_request(hashlib.sha1(DATA).digest(), "sha1"), "bad_alg"),
    ("md5", lambda: make_request(hashlib.md5(DATA).digest(), "md5"), "bad_alg"),
    ("hash parameters", _with_hash_parameters, "bad_data_format"),
    ("garbage", lambda: b"this is not DER", "bad_data_format"),
    ("empty", lambda: b"", "bad_data_format"),
    ("truncated", lambda: make_request()[:-3], "bad_data_format"),
    ("trailing bytes", lambda: make_request() + b"\0\0", "bad_data_format"),
    ("a certificate, not a request", lambda: b"0\x03\x02\x01\x01", "bad_data_format"),
    ("version 2", lambda: make_request(version=2), "bad_data_format"),
    ("oversize", _oversize, "bad_data_format"),
    ("oversize garbage", lambda: b"\x30\x82\xff\xff" + b"\0" * 70000, "bad_data_format"),
    ("short imprint", lambda: make_request(hashlib.sha256(DATA).digest()[:20]), "bad_request"),
    ("sha512 length under sha256", lambda: make_request(hashlib.sha512(DATA).digest()), "bad_request"),
    ("foreign policy", lambda: make_request(req_policy="1.2.3.4.5"), "unaccepted_policy"),
    (
        "extension",
        lambda: make_request(extensions=[{"extn_id": "1.2.3.4", "extn_value": b"\x05\x00"}]),
        "unaccepted_extensions",
    ),
]


@pytest.mark.parametrize(("defect", "build", "failure"), REJECTIONS, ids=[r[0] for r in REJECTIONS])
def test_bad_request_is_rejected_not_raised(
    tsa: TimeStampAuthority, defect: str, build: Callable[[], bytes], failure: str
) -> None:
    response = parse(tsa.respond(build()))

    assert response["status"]["status"].native == "rejection"
    assert response["status"]["fail_info"].native == {failure}
    assert response["status"]["status_string"].native
    assert response["time_stamp_token"].native is None


def test_a_query_asn1crypto_would_read_in_the_square_of_its_size_is_rejected_before_it_reads_it(
    tsa: TimeStampAuthority, long_tags_kept_from_asn1crypto: list[int]
) -> None:
    """A query of 0xFF bytes is one tag number that never ends (the 4 KB a query may have cost asn1crypto 10 ms; 4
    MiB of it in a stamp, hours)."""
    response = parse(tsa.respond(b"\xff" * MAX_REQUEST_BYTES))
    assert response["status"]["fail_info"].native == {"bad_data_format"}
    assert long_tags_kept_from_asn1crypto == []


def test_serials_are_not_spent_on_rejections(tsa: TimeStampAuthority) -> None:
    tsa.respond(b"garbage")

    assert tst_info(parse(tsa.respond(make_request())))["serial_number"].native == 1000


# --- the TSA's own faults --------------------------------------------------------------------------------------


def test_key_must_match_the_certificate(ca: SealMakerCA, tsa_cert: x509.Certificate) -> None:
    with pytest.raises(KeyStoreError, match="does not belong"):
        TimeStampAuthority(
            cert=tsa_cert, key=SoftwareKey.generate(), chain=[], clock=FixedClock(NOW), serials=lambda: 1
        )


def test_certificate_must_be_for_time_stamping(ca: SealMakerCA) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    seal_cert = ca.issue_seal_certificate(
        issuer_name="济南市市场监督管理局",
        issuer_uscc="11370100MB0000000X",
        seal_name="济南市市场监督管理局电子证照专用章",
        public_key=key.public_key(),
        not_before=NOW,
        not_after=NOW + dt.timedelta(days=365),
    )

    with pytest.raises(SigningError, match="timeStamping"):
        TimeStampAuthority(cert=seal_cert, key=SoftwareKey(key), chain=[], clock=FixedClock(NOW), serials=lambda: 1)


def test_naive_clock_raises(tsa_cert: x509.Certificate, tsa_key: SoftwareKey) -> None:
    tsa = TimeStampAuthority(
        cert=tsa_cert, key=tsa_key, chain=[], clock=FixedClock(dt.datetime(2025, 6, 1)), serials=lambda: 1
    )

    with pytest.raises(ValueError, match="aware"):
        tsa.respond(make_request())


def test_non_positive_serial_raises(tsa_cert: x509.Certificate, tsa_key: SoftwareKey) -> None:
    tsa = TimeStampAuthority(cert=tsa_cert, key=tsa_key, chain=[], clock=FixedClock(STAMPED_AT), serials=lambda: 0)

    with pytest.raises(SigningError, match="positive"):
        tsa.respond(make_request())


# --- pyHanko in-process ------------------------------------------------------------------------------------------


def test_local_time_stamper_token_validates(ca: SealMakerCA, tsa: TimeStampAuthority) -> None:
    digest = hashlib.sha256(DATA).digest()

    token = asyncio.run(LocalTimeStamper(tsa).async_timestamp(digest, "sha256"))

    status = validate(ca, token, digest)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp == GEN_TIME


def test_local_time_stamper_reports_a_rejection(tsa: TimeStampAuthority) -> None:
    with pytest.raises(TimestampRequestError, match="bad_alg"):
        asyncio.run(LocalTimeStamper(tsa).async_timestamp(hashlib.sha1(DATA).digest(), "sha1"))


# --- OpenSSL -----------------------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is not installed")
def test_openssl_verifies_a_reply_to_its_own_query(
    tmp_path: Path, ca: SealMakerCA, tsa_cert: x509.Certificate, tsa_key: SoftwareKey
) -> None:
    # OpenSSL checks the chain at the present time, so the clock is the present here
    tsa = TimeStampAuthority(
        cert=tsa_cert,
        key=tsa_key,
        chain=[ca.intermediate],
        clock=FixedClock(dt.datetime.now(dt.UTC)),
        serials=itertools.count(1).__next__,
    )
    data = tmp_path / "license.json"
    data.write_bytes(DATA)
    query = tmp_path / "request.tsq"
    reply = tmp_path / "response.tsr"
    root = tmp_path / "root.pem"
    root.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))

    subprocess.run(
        ["openssl", "ts", "-query", "-data", data, "-sha256", "-cert", "-out", query], check=True, capture_output=True
    )
    reply.write_bytes(tsa.respond(query.read_bytes()))
    verified = subprocess.run(
        ["openssl", "ts", "-verify", "-in", reply, "-queryfile", query, "-CAfile", root],
        capture_output=True,
        text=True,
    )
    by_data = subprocess.run(
        ["openssl", "ts", "-verify", "-in", reply, "-data", data, "-CAfile", root], capture_output=True, text=True
    )

    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert by_data.returncode == 0, by_data.stdout + by_data.stderr
    assert "Verification: OK" in by_data.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl binary is not installed")
def test_openssl_reads_a_rejection(tmp_path: Path, tsa: TimeStampAuthority) -> None:
    reply = tmp_path / "response.tsr"
    reply.write_bytes(tsa.respond(b"garbage"))

    shown = subprocess.run(
        ["openssl", "ts", "-reply", "-in", reply, "-text"], capture_output=True, text=True, check=True
    )

    assert "Status: Rejected" in shown.stdout
    assert "Failure info: the data submitted has the wrong format" in shown.stdout
