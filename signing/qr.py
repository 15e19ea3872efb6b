"""The verification QR code (核验二维码): a license's key facts, signed by the issuer, small enough to print.

>>> text = encode_qr(key, QrClaims.of(content, issued_at=clock.now()))      # doctest: +SKIP
>>> text[:4]                                                                 # doctest: +SKIP
'ZZ1:'
>>> check_qr(text, key.public_key_der, now=clock.now()).result               # doctest: +SKIP
<CheckResult.PASSED: 'PASSED'>
>>> png = qr_png(text)                                                       # doctest: +SKIP

The layout follows the EU digital COVID certificate: a CBOR map of claims is the payload of a COSE_Sign1 message
(RFC 9052, tag 18), which is zlib-compressed, base45-encoded (RFC 9285) and prefixed with ``ZZ1:``. Every character
of the result is in the QR alphanumeric set, so the code is printed in alphanumeric mode.

COSE_Sign1 is ``18([protected, {}, payload, signature])``: the protected header is the CBOR map ``{1: alg, 4: kid}``
with alg -7 (ES256, ECDSA P-256 with SHA-256, signature as raw ``r || s``), -65537 (SM2 with SM3, raw ``r || s``;
private use, as IANA registers no COSE value for SM2) or -257 (RS256, RSASSA-PKCS1-v1_5 with
SHA-256), and kid the first 8 bytes of the key id (SHA-256 of the SubjectPublicKeyInfo). The signature covers
``["Signature1", protected, b"", payload]``. The unprotected header is always empty.

The claims map has short integer keys (it is not a CWT). The license identifier (GB/T 36904) travels as its parts:
the constant root and the check character are left out, so the code stays short enough to scan from paper.

====  =============  =================================================================
key   claim          value
====  =============  =================================================================
1     serial         text, 流水号 of the license identifier
2     version        unsigned integer, 版本号, from 1
3     type code      text, 证照类型代码
4     issuer         text, 统一社会信用代码 of the issuing department
5     valid from     unsigned integer ``YYYYMMDD`` (date in China Standard Time)
6     valid until    unsigned integer ``YYYYMMDD``; absent when the license does not expire
7     holder name    text, masked: first character kept, the length hidden (``张**``)
8     holder code    text, masked: first and last four kept (``3701**********1234``)
9     issued at      unsigned integer, Unix seconds: when this code was made
====  =============  =================================================================

The holder is masked because a printed code is read by anyone who holds the paper; the code identifies the license,
it does not disclose the holder. It proves what the issuer stated at ``issued at``, not the license's current status:
a revoked license keeps a valid code, so checks that matter ask the gateway as well. docs/qr-codes.md specifies the
format and the offline check for checkers in other languages, with test vectors (``tests/vectors/qr-codes.json``).

``check_qr`` returns a ``QrVerification`` with two findings, integrity (decoding, key, signature) and validity
(dates), and never raises for bad input (a code naming SM2 under an ECDSA or RSA key is SIGNATURE_INVALID, SM2 or
not); only a code of an SM2 key on a process without SM2 raises ``signing.sm2.Sm2Unavailable``, as it cannot be
checked there. ``verify_qr`` returns the claims or raises ``InvalidSignature``. The
signature protects the content, not the spelling of the text: deflate can write the same bytes in more than one way,
so a rare one-character change to a code still decodes to exactly what the issuer signed, and passes.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import base45
import cbor2
import segno
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from gateway.domain.identifiers import LicenseId
from gateway.domain.model import CHINA_TZ, LicenseContent, mask
from signing.errors import InvalidSignature
from signing.keys import ECDSA_P256_SHA256, RSA2048_SHA256, SM2_SM3, KeyBackend, key_id_of, verify_signature
from signing.results import PASSED, CheckResult, Finding, decisive

PREFIX = "ZZ1:"
MAX_TEXT = 4096
"""Longest text ``check_qr`` reads; a QR code holds at most 4296 alphanumeric characters."""
MAX_PAYLOAD = 16384
"""Longest decompressed COSE message ``check_qr`` accepts (a zip bomb stops here)."""

_COSE_SIGN1_TAG = 18
_HEADER_ALG = 1
_HEADER_KID = 4
_KID_LENGTH = 8
_SM2_SM3_PRIVATE_USE = -65537  # IANA registers no COSE value for SM2; below -65536 is private use (RFC 9053)
_ALGORITHMS = {ECDSA_P256_SHA256: -7, RSA2048_SHA256: -257, SM2_SM3: _SM2_SM3_PRIVATE_USE}
_RAW_R_S = frozenset({ECDSA_P256_SHA256, SM2_SM3})  # COSE carries r || s, not DER
_ALGORITHM_NAMES = {alg: name for name, alg in _ALGORITHMS.items()}
_ES256_HALF = 32

_SERIAL, _VERSION, _TYPE_CODE, _ISSUER, _VALID_FROM, _VALID_UNTIL, _HOLDER_NAME, _HOLDER_CODE, _ISSUED_AT = range(1, 10)
_REQUIRED = frozenset({_SERIAL, _VERSION, _TYPE_CODE, _ISSUER, _VALID_FROM, _HOLDER_NAME, _HOLDER_CODE, _ISSUED_AT})
_BASE45 = re.compile(r"[0-9A-Z $%*+\-./:]+")


class _Malformed(Exception):
    """The text decodes to nothing this module wrote (reason ``MALFORMED`` or ``TOO_LARGE``)."""

    def __init__(self, reason: str = "MALFORMED"):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True, kw_only=True)
class QrClaims:
    """What a verification code states about one license version; the holder is masked."""

    license_id: str
    """电子证照标识; its type code, issuer and version are the next three attributes."""
    version: int
    """The license version, from 1."""
    type_code: str
    """证照类型代码."""
    issuer_code: str
    """统一社会信用代码 of the issuing department."""
    valid_from: dt.date
    """First day of validity (China Standard Time)."""
    valid_until: dt.date | None
    """Last day of validity, or None when the license does not expire."""
    holder_name: str
    """The holder's name, masked (``张**``)."""
    holder_code: str
    """The holder's code, masked (``3701**********1234``)."""
    issued_at: dt.datetime
    """When the code was made, timezone-aware, whole seconds."""

    def __post_init__(self) -> None:
        parts = LicenseId.parse(self.license_id)
        if (parts.type_code, parts.issuer_code, parts.version) != (self.type_code, self.issuer_code, self.version):
            raise ValueError("type_code, issuer_code and version differ from those in license_id")
        if "*" not in self.holder_name or "*" not in self.holder_code:
            raise ValueError("the holder must be masked (see gateway.domain.model.mask_name and mask)")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        if self.issued_at.tzinfo is None or self.issued_at.microsecond:
            raise ValueError("issued_at must be timezone-aware and in whole seconds")

    @classmethod
    def of(cls, content: LicenseContent, *, issued_at: dt.datetime) -> QrClaims:
        """The claims for ``content``, with the holder masked and ``issued_at`` cut to whole seconds."""
        return cls(
            license_id=content.license_id,
            version=content.version,
            type_code=content.type_code,
            issuer_code=content.issuer_code,
            valid_from=content.valid_from,
            valid_until=content.valid_until,
            holder_name=content.holder.masked_name,
            holder_code=mask(content.holder.code),
            issued_at=issued_at.replace(microsecond=0),
        )


def states(claims: QrClaims, content: LicenseContent) -> bool:
    """Whether ``claims`` state what a code drawn for ``content`` states, at whatever time they say: the same license
    version, type, issuer and dates, and the holder as a mask of the holder's name and code shows them (codes drawn
    before the masks changed show more or less of them than ``QrClaims.of`` now does, and are no less genuine)."""
    return (
        (claims.license_id, claims.version, claims.type_code, claims.issuer_code)
        == (content.license_id, content.version, content.type_code, content.issuer_code)
        and (claims.valid_from, claims.valid_until) == (content.valid_from, content.valid_until)
        and _shows(claims.holder_name, content.holder.name)
        and _shows(claims.holder_code, content.holder.code)
    )


def _shows(masked: str, value: str) -> bool:
    """Whether ``masked`` is ``value`` masked: ``value``'s own first and last characters around one run of ``*``,
    which hides at least one character (``张**`` of 张三丰, ``3701**********1234``), or ``*`` alone."""
    first, last = masked.find("*"), masked.rfind("*")
    if first < 0 or masked[first : last + 1].strip("*"):
        return False
    head, tail = masked[:first], masked[last + 1 :]
    return len(head) + len(tail) < len(value) and value.startswith(head) and value.endswith(tail)


_OK = PASSED
_NOT_CHECKED = Finding(result=CheckResult.INDETERMINATE, reason="NOT_CHECKED")


@dataclass(frozen=True, slots=True, kw_only=True)
class QrVerification:
    """What ``check_qr`` found."""

    claims: QrClaims | None
    """The claims as the code states them, None when unreadable; to be trusted only when ``integrity`` passed."""
    integrity: Finding
    """The text decodes, names the given key, and its signature verifies."""
    validity: Finding
    """The license is within its dates; ``NOT_CHECKED`` unless integrity passed."""

    @property
    def result(self) -> CheckResult:
        """FAILED if any finding failed, else INDETERMINATE if any is, else PASSED."""
        return self._decisive.result

    @property
    def reason(self) -> str | None:
        """The reason of the finding that decides ``result`` (integrity before validity)."""
        return self._decisive.reason

    @property
    def _decisive(self) -> Finding:
        return decisive((self.integrity, self.validity))


def encode_qr(key: KeyBackend, claims: QrClaims) -> str:
    """The ``ZZ1:`` text of ``claims`` signed by ``key``."""
    alg = _ALGORITHMS.get(key.algorithm)
    if alg is None:
        raise ValueError(f"algorithm {key.algorithm!r} has no COSE form here")
    protected = cbor2.dumps({_HEADER_ALG: alg, _HEADER_KID: bytes.fromhex(key.key_id)[:_KID_LENGTH]})
    payload = cbor2.dumps(_claims_map(claims))
    signature = key.sign(_sig_structure(protected, payload))
    if key.algorithm in _RAW_R_S:
        r, s = decode_dss_signature(signature)
        signature = r.to_bytes(_ES256_HALF, "big") + s.to_bytes(_ES256_HALF, "big")
    message = cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    encoded: bytes = base45.b45encode(zlib.compress(message, 9))
    return PREFIX + encoded.decode("ascii")


def check_qr(text: str, public_key_der: bytes, *, now: dt.datetime) -> QrVerification:
    """Check a scanned ``ZZ1:`` text against the issuer's public key (DER SubjectPublicKeyInfo) as of ``now``."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if len(text) > MAX_TEXT:
        return _failed("TOO_LARGE")
    if not text.startswith(PREFIX):
        return _failed("NOT_ZZ1")
    try:
        alg, kid, protected, payload, signature = _open(text[len(PREFIX) :])
    except _Malformed as exc:
        return _failed(exc.reason)
    try:
        claims: QrClaims | None = _claims_of(payload)
    except _Malformed:
        claims = None
    algorithm = _ALGORITHM_NAMES.get(alg)
    if algorithm is None:
        return _failed("UNSUPPORTED_ALGORITHM", claims)
    if kid != bytes.fromhex(key_id_of(public_key_der))[:_KID_LENGTH]:
        return _failed("KEY_MISMATCH", claims)
    if algorithm in _RAW_R_S:
        if len(signature) != 2 * _ES256_HALF:
            return _failed("SIGNATURE_INVALID", claims)
        r, s = int.from_bytes(signature[:_ES256_HALF], "big"), int.from_bytes(signature[_ES256_HALF:], "big")
        signature = encode_dss_signature(r, s)
    try:
        verify_signature(public_key_der, algorithm, _sig_structure(protected, payload), signature)
    except InvalidSignature:
        return _failed("SIGNATURE_INVALID", claims)
    if claims is None:
        return _failed("MALFORMED")
    return QrVerification(claims=claims, integrity=_OK, validity=_validity(claims, now))


def verify_qr(text: str, public_key_der: bytes, *, now: dt.datetime) -> QrClaims:
    """The claims of a code that passes ``check_qr``; InvalidSignature naming the reason otherwise."""
    verification = check_qr(text, public_key_der, now=now)
    if verification.result is not CheckResult.PASSED or verification.claims is None:
        raise InvalidSignature(f"the verification code does not pass: {verification.reason}")
    return verification.claims


@dataclass(frozen=True, slots=True, kw_only=True)
class QrEnvelope:
    """What a code says about itself before its signature is checked: enough to find the license and the key."""

    claims: QrClaims
    key_id_prefix: str
    """The first 8 bytes of the signing key's id, hex: names the seal whose certificate checks the code."""


def read_qr(text: str) -> QrEnvelope | str:
    """The unverified claims and key id of a ``ZZ1:`` text, or why it cannot be read (``TOO_LARGE``, ``NOT_ZZ1``,
    ``MALFORMED``, as ``check_qr`` says); trust nothing in it until ``check_qr`` passed with the key it names."""
    if len(text) > MAX_TEXT:
        return "TOO_LARGE"
    if not text.startswith(PREFIX):
        return "NOT_ZZ1"
    try:
        _, kid, _, payload, _ = _open(text[len(PREFIX) :])
        return QrEnvelope(claims=_claims_of(payload), key_id_prefix=kid.hex())
    except _Malformed as exc:
        return exc.reason


def read_pasted(text: str) -> tuple[str, QrEnvelope | str]:
    """``read_qr`` of a pasted code, and the text it read: spaces pasted after a code that does not read with them
    go when it reads without them (a space is a base45 character, so only then; its signature is checked as any
    code's, so no forgery passes by it)."""
    envelope = read_qr(text)
    if isinstance(envelope, str) and text.endswith(" "):
        trimmed = text.rstrip(" ")
        if not isinstance(read := read_qr(trimmed), str):
            return trimmed, read
    return text, envelope


def qr_png(text: str, *, scale: int = 4) -> bytes:
    """The code as a PNG image: alphanumeric mode, error correction level M or better, a 4-module quiet zone."""
    code = segno.make_qr(text, mode="alphanumeric", error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def _failed(reason: str, claims: QrClaims | None = None) -> QrVerification:
    return QrVerification(
        claims=claims, integrity=Finding(result=CheckResult.FAILED, reason=reason), validity=_NOT_CHECKED
    )


def _validity(claims: QrClaims, now: dt.datetime) -> Finding:
    today = now.astimezone(CHINA_TZ).date()
    if today < claims.valid_from:
        return Finding(result=CheckResult.FAILED, reason="NOT_YET_VALID")
    if claims.valid_until is not None and today > claims.valid_until:
        return Finding(result=CheckResult.FAILED, reason="EXPIRED")
    return _OK


def _sig_structure(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _claims_map(claims: QrClaims) -> dict[int, object]:
    values: dict[int, object] = {
        _SERIAL: LicenseId.parse(claims.license_id).serial,
        _VERSION: claims.version,
        _TYPE_CODE: claims.type_code,
        _ISSUER: claims.issuer_code,
        _VALID_FROM: _date_number(claims.valid_from),
        _HOLDER_NAME: claims.holder_name,
        _HOLDER_CODE: claims.holder_code,
        _ISSUED_AT: int(claims.issued_at.timestamp()),
    }
    if claims.valid_until is not None:
        values[_VALID_UNTIL] = _date_number(claims.valid_until)
    return dict(sorted(values.items()))


def _date_number(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


# --- decoding untrusted text: every failure becomes _Malformed ----------------------------------------------------


def _open(body: str) -> tuple[int, bytes, bytes, bytes, bytes]:
    """(alg, kid, protected, payload, signature) of a base45 body, checked for shape but not for the signature."""
    if not _BASE45.fullmatch(body):
        raise _Malformed()
    try:
        compressed: bytes = base45.b45decode(body)
    except ValueError:
        raise _Malformed() from None
    message = _inflate(compressed)
    tagged = _cbor(message, tag=_COSE_SIGN1_TAG)
    if not isinstance(tagged, cbor2.CBORTag) or tagged.tag != _COSE_SIGN1_TAG:
        raise _Malformed()
    parts = tagged.value  # cbor2 decodes a tagged item immutable: a tuple, maps as frozendict
    if not isinstance(parts, list | tuple) or len(parts) != 4:
        raise _Malformed()
    protected, unprotected, payload, signature = parts
    if not (isinstance(protected, bytes) and isinstance(payload, bytes) and isinstance(signature, bytes)):
        raise _Malformed()
    if not isinstance(unprotected, Mapping) or unprotected:
        raise _Malformed()
    header = _cbor(protected)
    if not isinstance(header, Mapping) or not _int_keys(header) or set(header) != {_HEADER_ALG, _HEADER_KID}:
        raise _Malformed()
    alg, kid = header[_HEADER_ALG], header[_HEADER_KID]
    if type(alg) is not int or not isinstance(kid, bytes) or len(kid) != _KID_LENGTH:
        raise _Malformed()
    return alg, kid, protected, payload, signature


def _inflate(compressed: bytes) -> bytes:
    """Decompress one whole zlib stream of at most MAX_PAYLOAD bytes with nothing after it."""
    inflater = zlib.decompressobj()
    try:
        message = inflater.decompress(compressed, MAX_PAYLOAD + 1)
    except zlib.error:
        raise _Malformed() from None
    if len(message) > MAX_PAYLOAD:
        raise _Malformed("TOO_LARGE")
    if not inflater.eof or inflater.unused_data:
        raise _Malformed()
    return message


def _cbor(data: bytes, *, tag: int | None = None) -> object:
    """The one CBOR item that ``data`` holds, nothing after it, no duplicate keys, definite lengths, and no tag but
    ``tag`` around the whole (COSE_Sign1's 18): a bignum (tag 2 or 3), which cbor2 reads as an int, is no "integer"
    of docs/qr-codes.md, nor any other tag (they had passed as integers; a reviewer)."""
    stream = io.BytesIO(data)
    try:
        decoder = cbor2.CBORDecoder(
            stream, read_size=1, max_depth=8, allow_duplicate_keys=False, allow_indefinite=False
        )
        item: object = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError):
        raise _Malformed() from None
    if stream.tell() != len(data):
        raise _Malformed()
    start = 0
    if tag is not None:
        major, number, start = _head(data, 0)
        if major != _MAJOR_TAG or number != tag:
            raise _Malformed()
    if _end_untagged(data, start) != len(data):
        raise _Malformed()
    return item


_MAJOR_BYTES, _MAJOR_TEXT, _MAJOR_ARRAY, _MAJOR_MAP, _MAJOR_TAG = 2, 3, 4, 5, 6


def _head(data: bytes, at: int) -> tuple[int, int, int]:
    """(major type, argument, where what follows begins) of the CBOR head at ``at``, of a definite length."""
    major, info = data[at] >> 5, data[at] & 31
    if info < 24:
        return major, info, at + 1
    if info > 27:
        raise _Malformed()  # an indefinite length or a reserved value: the decoder has refused them already
    size = 1 << (info - 24)
    return major, int.from_bytes(data[at + 1 : at + 1 + size], "big"), at + 1 + size


def _end_untagged(data: bytes, at: int) -> int:
    """Where the CBOR item at ``at`` ends; _Malformed if it holds a tag. The decoder has read it whole, at most 8 deep,
    so the lengths are there and the recursion is shallow."""
    major, argument, at = _head(data, at)
    if major == _MAJOR_TAG:
        raise _Malformed()
    if major in (_MAJOR_BYTES, _MAJOR_TEXT):
        return at + argument
    for _ in range(argument * 2 if major == _MAJOR_MAP else argument if major == _MAJOR_ARRAY else 0):
        at = _end_untagged(data, at)
    return at  # an integer, or a simple value or float (major 7), whose bytes _head has passed


def _int_keys(values: Mapping[object, object]) -> bool:
    """Every key is a CBOR integer: not true (== 1 in Python) nor 2.0 (== 2), which the key sets would match."""
    return all(type(key) is int for key in values)


def _claims_of(payload: bytes) -> QrClaims:
    values = _cbor(payload)
    if not isinstance(values, Mapping) or not _int_keys(values):
        raise _Malformed()
    if not _REQUIRED <= set(values) <= _REQUIRED | {_VALID_UNTIL}:
        raise _Malformed()
    try:
        license_id = LicenseId(
            type_code=_text(values[_TYPE_CODE]),
            issuer_code=_text(values[_ISSUER]),
            serial=_text(values[_SERIAL]),
            version=_number(values[_VERSION]),
        )
        return QrClaims(
            license_id=str(license_id),
            version=license_id.version,
            type_code=license_id.type_code,
            issuer_code=license_id.issuer_code,
            valid_from=_date(values[_VALID_FROM]),
            # absent when the license does not expire; present, a date and nothing else (docs/qr-codes.md): a CBOR
            # null had been taken as "no end date", which the page calls MALFORMED (found in review)
            valid_until=_date(values[_VALID_UNTIL]) if _VALID_UNTIL in values else None,
            holder_name=_text(values[_HOLDER_NAME]),
            holder_code=_text(values[_HOLDER_CODE]),
            issued_at=dt.datetime.fromtimestamp(_number(values[_ISSUED_AT]), dt.UTC),
        )
    except (ValueError, OverflowError, OSError):
        raise _Malformed() from None


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Malformed()
    return value


def _number(value: object) -> int:
    if type(value) is not int or value < 0:
        raise _Malformed()
    return value


def _date(value: object) -> dt.date:
    number = _number(value)
    return dt.date(number // 10000, number // 100 % 100, number % 100)
