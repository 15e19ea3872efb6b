"""The verification code vectors (tests/vectors/qr-codes.json, docs/qr-codes.md). The gateway's own checks give each
case its expected answer. A reading of docs/qr-codes.md written here from that page alone gives the same answers and
decodes the same claims; it uses base45 and CBOR readers of its own, zlib and ``cryptography``, and nothing of
``signing.qr`` or ``signing.checks``. A partner province's checker in another language is expected to do what it does
(a partner-province tester, D4)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from signing.checks import chain_identity, check_qr_seal
from signing.results import CheckResult

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "vectors" / "qr-codes.json").read_text(encoding="utf-8")
)
TRUST = VECTORS["trust"]
ROOT = x509.load_pem_x509_certificate(TRUST["seal_maker_root_pem"].encode())
INTERMEDIATE = x509.load_pem_x509_certificate(TRUST["seal_maker_intermediate_pem"].encode())
CRL = base64.b64decode(TRUST["crl_der_base64"])
SEALS = {name: x509.load_pem_x509_certificate(s["certificate_pem"].encode()) for name, s in VECTORS["seals"].items()}
CASES = {case["name"]: case for case in VECTORS["cases"]}


def _at(case: dict[str, Any]) -> dt.datetime:
    return dt.datetime.strptime(case["at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)


# --- the gateway's own checks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_the_gateways_checks_give_each_vector_its_findings(name: str) -> None:
    """``check_qr_seal`` on the certificate's chain, with the CRL's revocation: the findings ``expect`` states (the
    owner check, SEALED_BY_ANOTHER, is VerifyLicense's and is made by the reading below)."""
    case = CASES[name]
    certificate = SEALS[case["seal"]]
    base = chain_identity(certificate, trust_roots=[ROOT], intermediates=[INTERMEDIATE], crls=[CRL])
    entry = x509.load_der_x509_crl(CRL).get_revoked_certificate_by_serial_number(certificate.serial_number)
    revoked_at = entry.revocation_date_utc if entry is not None else None
    check, verification = check_qr_seal(
        case["code"], certificate=certificate, base=base, revoked_at=revoked_at, now=_at(case)
    )
    expect = case["expect"]
    assert (check.integrity.result.value, check.integrity.reason or "") == tuple(expect["integrity"].values())
    if expect["issuer_identity"]["reason"] != "SEALED_BY_ANOTHER":
        identity = check.issuer_identity
        assert (identity.result.value, identity.reason or "") == tuple(expect["issuer_identity"].values())
    if check.integrity.result is CheckResult.PASSED:
        validity = verification.validity
        assert (validity.result.value, validity.reason or "") == tuple(expect["validity"].values())


def test_without_the_crl_a_passing_code_is_undecided() -> None:
    certificate = SEALS["issuer"]
    base = chain_identity(certificate, trust_roots=[ROOT], intermediates=[INTERMEDIATE], crls=[])
    case = CASES["valid, ES256"]
    check, _ = check_qr_seal(case["code"], certificate=certificate, base=base, revoked_at=None, now=_at(case))
    assert (check.result, check.reason) == (CheckResult.INDETERMINATE, "CRL_MISSING")


def test_the_vectors_cover_the_ways_a_code_fails() -> None:
    answers = [(case["expect"]["result"], case["expect"]["reason"]) for case in CASES.values()]
    assert answers.count(("PASSED", "")) == 4
    assert {reason for _, reason in answers} == {
        "",
        "EXPIRED",
        "NOT_YET_VALID",
        "SIGNATURE_INVALID",
        "KEY_MISMATCH",
        "SEALED_BY_ANOTHER",
        "CERT_REVOKED_NO_TRUSTED_TIME",
        "CERT_REVOKED",
        "CERT_NOT_YET_VALID",
        "LOOKALIKE_CA",
        "MALFORMED",
        "NOT_ZZ1",
        "TOO_LARGE",
        "UNSUPPORTED_ALGORITHM",
    }
    assert {case["decoded"]["alg"] for case in CASES.values() if case["decoded"]} >= {-7, -257}
    assert any("6" not in case["decoded"]["claims"] for case in CASES.values() if case["decoded"])
    # where the page had said less than the gateway checks (found in review): both MALFORMED, by both readings
    for name in (
        "validly signed claims with a null end date",
        "validly signed claims whose type code fails its check character",
        "validly signed claims keyed by true",
        "validly signed claims with a bignum version",
    ):
        assert (CASES[name]["expect"]["result"], CASES[name]["expect"]["reason"]) == ("FAILED", "MALFORMED")
        assert CASES[name]["decoded"] is None


# --- a reading of docs/qr-codes.md, from the page alone -------------------------------------------------------------

_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CHINA = dt.timezone(dt.timedelta(hours=8))
_SKEW = dt.timedelta(minutes=5)


class Unreadable(Exception):
    def __init__(self, reason: str = "MALFORMED"):
        super().__init__(reason)
        self.reason = reason


def b45decode(text: str) -> bytes:
    """RFC 9285: each 3 characters are 2 bytes (c + 45 d + 45² e), the last 2 characters 1 byte."""
    if any(c not in _BASE45 for c in text) or len(text) % 3 == 1:
        raise Unreadable()
    values = [_BASE45.index(c) for c in text]
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        n = sum(v * 45**k for k, v in enumerate(chunk))
        size = 2 if len(chunk) == 3 else 1
        if n >= 256**size:
            raise Unreadable()
        out += n.to_bytes(size, "big")
    return bytes(out)


class Tag(NamedTuple):
    number: int
    value: object


def cbor(data: bytes) -> object:
    """One CBOR item (RFC 8949) of definite lengths, nothing after it, no map key twice."""
    item, end = _item(data, 0, 0)
    if end != len(data):
        raise Unreadable()
    return item


def _item(data: bytes, i: int, depth: int) -> tuple[object, int]:
    if depth > 8 or i >= len(data):
        raise Unreadable()
    major, info = data[i] >> 5, data[i] & 31
    i += 1
    if info < 24:
        argument = info
    elif info <= 27:
        size = 1 << (info - 24)
        if i + size > len(data):
            raise Unreadable()
        argument, i = int.from_bytes(data[i : i + size], "big"), i + size
    else:
        raise Unreadable()  # indefinite lengths: the gateway writes none
    if major == 0:
        return argument, i
    if major == 1:
        return -1 - argument, i
    if major in (2, 3):
        if i + argument > len(data):
            raise Unreadable()
        raw = data[i : i + argument]
        try:
            return (raw if major == 2 else raw.decode("utf-8")), i + argument
        except UnicodeDecodeError:
            raise Unreadable() from None
    if major == 4:
        items = []
        for _ in range(argument):
            item, i = _item(data, i, depth + 1)
            items.append(item)
        return items, i
    if major == 5:
        mapping: dict[object, object] = {}
        for _ in range(argument):
            key, i = _item(data, i, depth + 1)
            value, i = _item(data, i, depth + 1)
            if not isinstance(key, int | str | bytes) or key in mapping:
                raise Unreadable()
            mapping[key] = value
        return mapping, i
    if major == 6:
        value, i = _item(data, i, depth + 1)
        return Tag(argument, value), i
    raise Unreadable()  # floats and simple values: no code holds one


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    size = next(s for s in (1, 2, 4, 8) if n < 256**s)
    return bytes([major << 5 | {1: 24, 2: 25, 4: 26, 8: 27}[size]]) + n.to_bytes(size, "big")


def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The CBOR of ["Signature1", protected, h'', payload]."""
    array = _head(4, 4) + _head(3, 10) + b"Signature1"  # a 4-array, then the 10-character text
    return array + _head(2, len(protected)) + protected + _head(2, 0) + _head(2, len(payload)) + payload


@dataclass(frozen=True)
class Code:
    alg: int
    kid: bytes
    protected: bytes
    payload: bytes
    signature: bytes


def open_code(text: str) -> Code:
    """Integrity steps 1 and 2: the text, base45, zlib and the COSE_Sign1's shape."""
    if len(text) > 4096:
        raise Unreadable("TOO_LARGE")
    if not text.startswith("ZZ1:"):
        raise Unreadable("NOT_ZZ1")
    inflater = zlib.decompressobj()
    try:
        message = inflater.decompress(b45decode(text[4:]), 16385)
    except zlib.error:
        raise Unreadable() from None
    if len(message) > 16384:
        raise Unreadable("TOO_LARGE")
    if not inflater.eof or inflater.unused_data:
        raise Unreadable()
    tagged = cbor(message)
    if not isinstance(tagged, Tag) or tagged.number != 18 or not isinstance(tagged.value, list):
        raise Unreadable()
    if len(tagged.value) != 4:
        raise Unreadable()
    protected, unprotected, payload, signature = tagged.value
    if not all(isinstance(part, bytes) for part in (protected, payload, signature)) or unprotected != {}:
        raise Unreadable()
    header = cbor(protected)  # type: ignore[arg-type]
    if not isinstance(header, dict) or set(header) != {1, 4}:
        raise Unreadable()
    alg, kid = header[1], header[4]
    if not isinstance(alg, int) or not isinstance(kid, bytes) or len(kid) != 8:
        raise Unreadable()
    return Code(alg, kid, protected, payload, signature)  # type: ignore[arg-type]


def _uscc_holds(code: str) -> bool:
    if not re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}", code):
        return False
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(code[:17], _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31] == code[17]


def license_id(type_code: str, issuer: str, serial: str, version: int) -> str:
    """1.2.156.3005.2.{3}.{4}.{1}.{2:03}.{check}, check ISO/IEC 7064 MOD 37,36 over the four parts."""
    p = 36
    for c in f"{type_code}{issuer}{serial}{version:03d}":
        s = (p + _ALPHANUMERIC.index(c)) % 36 or 36
        p = s * 2 % 37
    return f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version:03d}.{_ALPHANUMERIC[(37 - p) % 36]}"


def _day(number: object) -> dt.date:
    if type(number) is not int or number < 0:
        raise Unreadable()
    try:
        return dt.date(number // 10000, number // 100 % 100, number % 100)
    except ValueError:
        raise Unreadable() from None


def claims_of(payload: bytes) -> dict[str, object]:
    """Integrity step 6: the claims as the table says, and what a checker makes of them."""
    claims = cbor(payload)
    required = {1, 2, 3, 4, 5, 7, 8, 9}
    if not isinstance(claims, dict) or not required <= set(claims) <= required | {6}:
        raise Unreadable()
    if not all(isinstance(claims[k], str) for k in (1, 3, 4, 7, 8)):
        raise Unreadable()
    if not all(type(claims[k]) is int and claims[k] >= 0 for k in (2, 9)):
        raise Unreadable()
    serial, version, type_code, issuer = claims[1], claims[2], claims[3], claims[4]
    valid_from = _day(claims[5])
    valid_until = _day(claims[6]) if 6 in claims else None
    if not (
        re.fullmatch(r"[0-9A-Z]{1,32}", serial)  # type: ignore[arg-type]
        and 1 <= version <= 999  # type: ignore[operator]
        and re.fullmatch(r"[0-9A-HJ-NPQRTUWXY]{18}\d{3}", type_code)  # type: ignore[arg-type]
        and _uscc_holds(type_code[:18])  # type: ignore[index]
        and _uscc_holds(issuer)  # type: ignore[arg-type]
        and "*" in claims[7]  # type: ignore[operator]
        and "*" in claims[8]  # type: ignore[operator]
        and (valid_until is None or valid_until >= valid_from)
    ):
        raise Unreadable()
    return {
        "issuer": issuer,
        "license_id": license_id(type_code, issuer, serial, version),  # type: ignore[arg-type]
        "valid_from": valid_from,
        "valid_until": valid_until,
        "issued_at": dt.datetime.fromtimestamp(claims[9], dt.UTC),  # type: ignore[arg-type]
    }


def _spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def integrity(text: str, certificate: x509.Certificate) -> tuple[str, dict[str, object] | None]:
    """Integrity's reason ("" when it passes) and the claims."""
    try:
        code = open_code(text)
    except Unreadable as refused:
        return refused.reason, None
    try:
        claims: dict[str, object] | None = claims_of(code.payload)
    except Unreadable:
        claims = None
    if code.alg not in (-7, -257, -65537):
        return "UNSUPPORTED_ALGORITHM", None
    if code.kid != hashlib.sha256(_spki(certificate)).digest()[:8]:
        return "KEY_MISMATCH", None
    key, signed = certificate.public_key(), sig_structure(code.protected, code.payload)
    try:
        if code.alg == -7 and isinstance(key, ec.EllipticCurvePublicKey) and len(code.signature) == 64:
            r, s = int.from_bytes(code.signature[:32], "big"), int.from_bytes(code.signature[32:], "big")
            key.verify(encode_dss_signature(r, s), signed, ec.ECDSA(hashes.SHA256()))
        elif code.alg == -257 and isinstance(key, rsa.RSAPublicKey):
            key.verify(code.signature, signed, padding.PKCS1v15(), hashes.SHA256())
        else:
            return "SIGNATURE_INVALID", None  # SM2 (-65537) is not read here: no vector uses it
    except InvalidSignature:
        return "SIGNATURE_INVALID", None
    if claims is None:
        return "MALFORMED", None
    return "", claims


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class Trust(NamedTuple):
    root: x509.Certificate
    intermediate: x509.Certificate
    crl: bytes


VECTOR_TRUST = Trust(ROOT, INTERMEDIATE, CRL)


def chain(certificate: x509.Certificate, at: dt.datetime, trust: Trust) -> tuple[str, str]:
    """Identity step 1, for what the vectors hold: the path root → intermediate → seal, the key usage, no CA, and the
    intermediate's CRL current at ``at`` (the time of the check)."""
    root, intermediate = trust.root, trust.intermediate
    if certificate.issuer == intermediate.subject and not _issued_by(certificate, intermediate):
        return "FAILED", "LOOKALIKE_CA"
    if not (_issued_by(certificate, intermediate) and _issued_by(intermediate, root) and _issued_by(root, root)):
        return "FAILED", "UNTRUSTED_ROOT"
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    if not (usage.digital_signature or usage.content_commitment):
        return "FAILED", "BAD_KEY_USAGE"
    if certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
        return "FAILED", "NOT_END_ENTITY"
    crl = x509.load_der_x509_crl(trust.crl)
    if not crl.is_signature_valid(intermediate.public_key()):  # type: ignore[arg-type]
        return "INDETERMINATE", "CRL_MISSING"
    if crl.next_update_utc is None or crl.next_update_utc < at:
        return "INDETERMINATE", "CRL_STALE"
    return "PASSED", ""


def identity(
    certificate: x509.Certificate, claims: dict[str, object], at: dt.datetime, trust: Trust
) -> tuple[str, str]:
    """Identity steps 1 to 3: the chain, the claimed time T against the certificate and the CRL, the owner."""
    found = chain(certificate, at, trust)
    if found[0] == "PASSED":
        t = claims["issued_at"]
        assert isinstance(t, dt.datetime)
        entry = x509.load_der_x509_crl(trust.crl).get_revoked_certificate_by_serial_number(certificate.serial_number)
        revoked = entry.revocation_date_utc if entry is not None else None
        if t < certificate.not_valid_before_utc:
            found = ("FAILED", "CERT_NOT_YET_VALID")
        elif revoked is not None and t > revoked + _SKEW:
            found = ("FAILED", "CERT_REVOKED")
        elif t > certificate.not_valid_after_utc:
            found = ("INDETERMINATE", "CERT_EXPIRED_NO_TRUSTED_TIME")
        elif revoked is not None:
            found = ("INDETERMINATE", "CERT_REVOKED_NO_TRUSTED_TIME")
    (uscc,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    owner = ("PASSED", "") if uscc.value == claims["issuer"] else ("FAILED", "SEALED_BY_ANOTHER")
    for result in ("FAILED", "INDETERMINATE"):
        for finding in (found, owner):
            if finding[0] == result:
                return finding
    return "PASSED", ""


def validity(claims: dict[str, object], at: dt.datetime) -> tuple[str, str]:
    today = at.astimezone(_CHINA).date()
    valid_from, valid_until = claims["valid_from"], claims["valid_until"]
    assert isinstance(valid_from, dt.date)
    if today < valid_from:
        return "FAILED", "NOT_YET_VALID"
    if isinstance(valid_until, dt.date) and today > valid_until:
        return "FAILED", "EXPIRED"
    return "PASSED", ""


def check(text: str, certificate: x509.Certificate, at: dt.datetime, trust: Trust = VECTOR_TRUST) -> dict[str, object]:
    """What docs/qr-codes.md says a checker answers."""
    reason, claims = integrity(text, certificate)
    if claims is None:
        not_checked = {"result": "INDETERMINATE", "reason": "NOT_CHECKED"}
        return {
            "result": "FAILED",
            "reason": reason,
            "integrity": {"result": "FAILED", "reason": reason},
            "issuer_identity": not_checked,
            "validity": not_checked,
        }
    findings = [("PASSED", ""), identity(certificate, claims, at, trust), validity(claims, at)]
    decided = next((f for f in findings if f[0] == "FAILED"), None)
    decided = decided or next((f for f in findings[:2] if f[0] == "INDETERMINATE"), ("PASSED", ""))
    named = ("integrity", "issuer_identity", "validity")
    return {
        "result": decided[0],
        "reason": decided[1],
        **{name: {"result": f[0], "reason": f[1]} for name, f in zip(named, findings, strict=True)},
    }


@pytest.mark.parametrize("name", list(CASES))
def test_a_reading_of_the_page_answers_each_vector_as_expected(name: str) -> None:
    case = CASES[name]
    assert check(case["code"], SEALS[case["seal"]], _at(case)) == case["expect"]


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case["decoded"]])
def test_a_reading_of_the_page_decodes_each_readable_vector(name: str) -> None:
    case, decoded = CASES[name], CASES[name]["decoded"]
    code = open_code(case["code"])
    assert (code.alg, code.kid.hex()) == (decoded["alg"], decoded["kid_hex"])
    assert sig_structure(code.protected, code.payload).hex() == decoded["signed_hex"]
    raw = cbor(code.payload)
    assert isinstance(raw, dict)
    assert {str(key): value for key, value in raw.items()} == decoded["claims"]
    claims = claims_of(code.payload)
    valid_until = claims["valid_until"]
    assert claims["license_id"] == decoded["license_id"]
    assert (claims["valid_from"].isoformat(), valid_until.isoformat() if valid_until else "") == (  # type: ignore[attr-defined]
        decoded["valid_from"],
        decoded["valid_until"],
    )
    assert claims["issued_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == decoded["issued_at"]  # type: ignore[attr-defined]


def test_a_seals_kid_is_its_key_ids_first_eight_bytes() -> None:
    for name, seal in VECTORS["seals"].items():
        key_id = hashlib.sha256(_spki(SEALS[name])).hexdigest()
        assert (key_id, key_id[:16]) == (seal["key_id"], seal["kid_hex"])


def test_the_identifier_is_rebuilt_as_the_page_says() -> None:
    """The page's example, and the check character as the gateway computes it."""
    from gateway.domain.identifiers import LicenseId

    rebuilt = license_id("11100000991000051R001", "11370100993701070X", "0MXAJCIO8KY1DJJP4F5U", 1)
    assert rebuilt == "1.2.156.3005.2.11100000991000051R001.11370100993701070X.0MXAJCIO8KY1DJJP4F5U.001.A"
    for serial, version in (("1", 1), ("ZZZZ", 999), ("0MX0001", 17)):
        made = license_id("11100000991000051R001", "11370100993701011T", serial, version)
        assert str(LicenseId.parse(made)) == made
