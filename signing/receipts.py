"""Verification receipts (核验回执): a verification's statement, signed by the gateway, checkable offline.

>>> [signed] = sign_receipts(key, [canonical_json({"receipt_id": "R1", "verdict": "PASSED"})])  # doctest: +SKIP
>>> check_receipt(signed.statement, signed.signature, certificate=cert, algorithm=signed.algorithm,
...               proof=signed.proof)["verdict"]                                                  # doctest: +SKIP
'PASSED'

The statement is the canonical JSON (``signing.canonical``) of a mapping of strings, numbers, booleans, lists and
mappings. Receipts are signed a group commit at a time (``zzgw-receipt/2``, ADR 0004): each statement is a leaf of
a Merkle tree (RFC 9162 §2.1, ``signing.merkle``) whose leaf data is ``b"zzgw-receipt/2\\n"`` followed by the
statement, and one signature covers the batch:

    signed bytes = b"zzgw-receipt-batch/2\\n" ‖ tree size (8 bytes, big-endian) ‖ tree root (32 bytes)

A receipt carries that signature and its **proof**: its leaf index and the tree size (4 bytes each, big-endian),
then its inclusion path (32 bytes a hash). Checking folds the statement's leaf hash with the path up to the root
and verifies the signature over the root and size, so anyone holding the statement, signature, proof and the
gateway's receipt certificate can check one receipt without seeing the others of its batch. Whether to trust that
certificate (issued by the seal-maker CA) is the usual chain check, ``signing.seal_ca.check_certificate``.

A receipt with an empty proof is of the first form (``zzgw-receipt/1``): the signature is over
``b"zzgw-receipt/1\\n"`` followed by the statement. ``check_receipt`` still accepts those.

``check_receipt_offline`` is the whole check a third party makes with only the gateway's published trust material
(``zzgw receipt check``; the format for implementers in other languages, with test vectors, is docs/receipts.md).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm

from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, key_id_of, verify_signature
from signing.merkle import HASH_SIZE, all_paths, leaf_hash, root_from_path
from signing.results import CheckResult
from signing.seal_ca import IdentityFinding, check_certificate
from signing.sm2_x509 import public_key_der

ENCODING = "zzgw-receipt/2"
_LEAF_PREFIX = ENCODING.encode() + b"\n"
_BATCH_PREFIX = b"zzgw-receipt-batch/2\n"
_V1_PREFIX = b"zzgw-receipt/1\n"
RECEIPT_SEAL_NAME = "核验回执专用章"
"""The seal name (certificate subject CN) of the gateway's receipt key: a receipt is made by no other seal."""
MAX_STATEMENT = 64 * 1024
"""Bytes of a statement at most: a checker fails a larger one (``SIGNATURE_INVALID``), so none is signed."""
ISSUED_AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")
"""The form of a statement's ``issued_at`` a checker accepts: RFC 3339's date-time (upper-case ``T``, seconds, up to
microseconds, ``Z`` or an offset), as the gateway writes it; anything else is ``ISSUED_AT_MISSING``."""
ISSUED_SINCE, ISSUED_BEFORE = dt.datetime(1, 1, 2, tzinfo=dt.UTC), dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
"""The instants an ``issued_at`` may name: a day clear of either end of the years 1 to 9999 a date holds. No
receipt is issued at them, and the chain check's arithmetic there overflowed (9999-12-31T23:59:59Z in a receipt of
anyone's own CA had made an OverflowError traceback, "a defect of zzgw": a receipt-check reviewer); such a time is
``ISSUED_AT_MISSING``."""
MAX_DEPTH = 64
"""Arrays and objects one in the other a statement holds at most, the statement itself counted: a checker fails a
deeper one (``SIGNATURE_INVALID``) before parsing it. The gateway's statements nest 3 deep; a statement of anyone's
making nesting 30 000 deep had made the parser raise RecursionError, a traceback in ``zzgw receipt check`` and an
HTTP 500 in the console (a receipts reviewer, R2)."""
MAX_BATCH = 1 << 16
_PROOF_HEAD = struct.Struct(">II")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedReceipt:
    statement: bytes
    """UTF-8 canonical JSON."""
    signature: bytes
    """The signature over the batch's tree size and root."""
    proof: bytes
    """Leaf index and tree size (4 bytes each, big-endian) and the inclusion path."""
    algorithm: str
    key_id: str


def sign_receipts(key: KeyBackend, statements: Sequence[bytes]) -> list[SignedReceipt]:
    """Sign a batch of canonical statements with one signature; each receipt gets its proof. ValueError for a
    statement no checker takes (``signable``): a genuine receipt that checks as forged is worse than none."""
    if not statements or len(statements) > MAX_BATCH:
        raise ValueError(f"a batch holds 1 to {MAX_BATCH} statements")
    for statement in statements:
        signable(statement)
    size = len(statements)
    root, paths = all_paths([leaf_hash(_LEAF_PREFIX + s) for s in statements])
    signature = key.sign(batch_bytes(size, root))
    return [
        SignedReceipt(
            statement=statement,
            signature=signature,
            proof=_PROOF_HEAD.pack(index, size) + b"".join(path),
            algorithm=key.algorithm,
            key_id=key.key_id,
        )
        for index, (statement, path) in enumerate(zip(statements, paths, strict=True))
    ]


def signable(statement: bytes) -> bytes:
    """``statement``, if a checker would take it: ValueError for one over ``MAX_STATEMENT`` bytes, which every checker
    fails (``check_receipt``). A gateway had signed and stored such receipts, and its own console had then told the
    clerk its archive was tampered with (a receipts tester)."""
    if len(statement) > MAX_STATEMENT:
        raise ValueError(
            f"a statement of {len(statement)} bytes is larger than any receipt ({MAX_STATEMENT}): checkers refuse it"
        )
    if too_deep(statement):
        raise ValueError(f"a statement nesting deeper than {MAX_DEPTH} arrays and objects: checkers refuse it")
    return statement


_STRING = re.compile(rb'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
"""A JSON string, or one never closed, to the end: so every quote begins a match that never fails (a pattern of
closed strings alone tried each of 32,000 quotes of an unclosed string to the end again, 24 s of CPU holding the GIL
for one 64 KiB statement, and a clerk's 查验回执 upload stopped the process that long; a reviewer)."""
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def too_deep(statement: bytes) -> bool:
    """Whether ``statement`` (JSON, or bytes that claim to be) nests arrays and objects more than ``MAX_DEPTH`` deep,
    told without parsing it: brackets inside strings are not counted. Bytes that are no JSON may be told too deep;
    they are no statement either."""
    if statement.count(b"[") + statement.count(b"{") <= MAX_DEPTH:  # a genuine statement's case: no scan
        return False
    depth = 0
    for bracket in _STRING.sub(b"", statement).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def sign_receipt(key: KeyBackend, statement: Mapping[str, object], *, trusted: bool = False) -> SignedReceipt:
    """One receipt (a batch of one); ``trusted`` skips the check that ``statement`` holds only JCS-safe values
    (see ``signing.canonical.canonical_json``), for statements the caller built from typed values."""
    return sign_receipts(key, [canonical_json(statement, trusted=trusted)])[0]


def batch_bytes(size: int, root: bytes) -> bytes:
    """What a batch signature signs."""
    return _BATCH_PREFIX + size.to_bytes(8, "big") + root


def check_receipt(
    statement: bytes, signature: bytes, *, certificate: x509.Certificate, algorithm: str, proof: bytes = b""
) -> Mapping[str, Any]:
    """The statement of a receipt whose signature (and proof) verify with ``certificate``'s key; InvalidSignature
    otherwise."""
    if len(statement) > MAX_STATEMENT:
        raise InvalidSignature("the statement is larger than any receipt")
    if too_deep(statement):  # before the parser, whose recursion it would exhaust
        raise InvalidSignature(f"the statement nests deeper than {MAX_DEPTH} arrays and objects: no receipt does")
    public_key = public_key_der(certificate)
    if proof:
        verify_signature(public_key, algorithm, _batch_signed(statement, proof), signature)
    else:
        verify_signature(public_key, algorithm, _V1_PREFIX + statement, signature)
    try:
        # strict UTF-8, as the depth was counted: json.loads would read UTF-16 and UTF-32 bytes too, whose brackets
        # too_deep does not count, and a canonical statement is UTF-8
        parsed = json.loads(statement.decode("utf-8"))
    except RecursionError:  # not reached (``too_deep``), unless called already deep in the stack
        raise InvalidSignature("the statement nests too deep") from None
    except ValueError as exc:
        raise InvalidSignature(f"the statement is not JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise InvalidSignature("the statement is not a JSON object")
    try:
        canonical = canonical_json(parsed) == statement
    except TypeError:  # a value with no canonical form (a float, a non-ASCII key): no receipt holds one
        canonical = False
    if not canonical:
        raise InvalidSignature("the statement is not in canonical form")
    return parsed


def _revoked_with_its_key(
    certificate: x509.Certificate,
    pinned: Sequence[x509.Certificate],
    authorities: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime,
) -> tuple[int, dt.datetime] | None:
    """The serial and revocation time of another of ``pinned`` (the receipt certificates the receipt key has had)
    on ``certificate``'s key that a CRL signed by one of ``authorities`` lists as revoked before ``at`` (at the very
    instant is not yet, as for the certificate's own revocation, which the path validation decides), if any: a
    renewal keeps the key, so the key that leaked signs under the certificate before the revoked one as well, and
    revoking one certificate of a key for its key (``_SAYS_THE_KEY``) revokes them all (a reviewer). A certificate
    retired otherwise (``superseded``, as after a renewal) says nothing of the key: the receipts of the certificates
    after it had been refused CERT_REVOKED (a reviewer)."""
    key = public_key_der(certificate)
    others = [other for other in pinned if other != certificate and public_key_der(other) == key]
    for der in crls if others else ():
        try:
            crl = x509.load_der_x509_crl(der)
            signed = any(
                authority.subject == crl.issuer and crl.is_signature_valid(authority.public_key())  # type: ignore[arg-type]
                for authority in authorities
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):  # not a CRL, or one of an SM2 CA's: not the seal maker's
            continue
        for other in others if signed else ():
            listed = crl.get_revoked_certificate_by_serial_number(other.serial_number)
            if (
                other.issuer == crl.issuer
                and listed is not None
                and listed.revocation_date_utc < at
                and _reason_of(listed) in _SAYS_THE_KEY
            ):
                return other.serial_number, listed.revocation_date_utc
    return None


_SAYS_THE_KEY = frozenset({None, x509.ReasonFlags.unspecified, x509.ReasonFlags.key_compromise})
"""Revocation reasons that may be the key's (none given, unspecified, keyCompromise): a certificate so revoked revokes
every certificate of its key."""


def _reason_of(revoked: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def _batch_signed(statement: bytes, proof: bytes) -> bytes:
    """The bytes the batch signature must cover if ``proof`` places ``statement`` in the batch."""
    if len(proof) < _PROOF_HEAD.size or (len(proof) - _PROOF_HEAD.size) % HASH_SIZE:
        raise InvalidSignature("the proof is not an index, a size and whole hashes")
    index, size = _PROOF_HEAD.unpack_from(proof)
    body = proof[_PROOF_HEAD.size :]
    path = [body[i : i + HASH_SIZE] for i in range(0, len(body), HASH_SIZE)]
    root = root_from_path(leaf_hash(_LEAF_PREFIX + statement), index, size, path)
    if root is None:
        raise InvalidSignature("the proof does not fit a batch of its size")
    return batch_bytes(size, root)


def certificate_key_id(certificate: x509.Certificate) -> str:
    return key_id_of(public_key_der(certificate))


@dataclass(frozen=True, slots=True, kw_only=True)
class ReceiptCheck:
    """What checking one receipt with the gateway's published trust material found."""

    result: CheckResult
    reason: str | None
    """When not PASSED: SIGNATURE_INVALID (signature, proof or canonical form), RECEIPT_ID_MISMATCH,
    NOT_A_RECEIPT_SEAL, NOT_THE_PINNED_CERTIFICATE, ISSUED_AT_MISSING, or the certificate check's own reason
    (UNTRUSTED_ROOT, CERT_REVOKED, CERT_EXPIRED, CRL_MISSING, …: ``signing.seal_ca.IdentityFinding``)."""
    detail: str
    statement: Mapping[str, Any] | None
    """The statement, once its signature verified (also when the certificate then fails)."""
    signer: IdentityFinding | None
    """The receipt certificate's check, when it was made."""


UNREADABLE_CERTIFICATE = ReceiptCheck(
    result=CheckResult.FAILED,
    reason="CERTIFICATE_UNREADABLE",
    detail="回执的证书无法读取（the receipt's certificate is not a readable X.509 certificate）",
    statement=None,
    signer=None,
)
"""A receipt whose certificate cannot be read: not one anyone can rely on."""


def receipt_certificate(der: bytes) -> x509.Certificate | None:
    """A receipt's certificate, or None for bytes that are none (``UNREADABLE_CERTIFICATE``): not DER, or of no
    X.509 version (one byte changed in a genuine certificate), which cryptography will not load."""
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, x509.InvalidVersion):
        return None


def check_receipt_offline(
    receipt_id: str,
    statement: bytes,
    signature: bytes,
    *,
    certificate: x509.Certificate,
    algorithm: str,
    proof: bytes,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
    crls: Sequence[bytes] = (),
    pinned: Sequence[x509.Certificate] = (),
) -> ReceiptCheck:
    """Check a receipt as anyone holding the gateway's trust material can: the signature and proof over the
    canonical statement (``check_receipt``), the statement naming the receipt's id, and the certificate — a
    核验回执专用章 (or one of ``pinned`` exactly) chaining to one of ``trust_roots`` and not revoked (``crls``) when the
    statement says the receipt was issued. Without a CRL covering the certificate the result is INDETERMINATE
    (CRL_MISSING)."""

    def failed(reason: str, detail: str, parsed: Mapping[str, Any] | None = None) -> ReceiptCheck:
        return ReceiptCheck(result=CheckResult.FAILED, reason=reason, detail=detail, statement=parsed, signer=None)

    try:
        parsed = check_receipt(statement, signature, certificate=certificate, algorithm=algorithm, proof=proof)
    except InvalidSignature as exc:
        return failed("SIGNATURE_INVALID", f"回执的签名与内容不符，回执被改动或伪造（{exc}）")
    if parsed.get("receipt_id") != receipt_id:
        return failed(
            "RECEIPT_ID_MISMATCH", "回执编号与签名的内容不符（the signed statement names another receipt）", parsed
        )
    if pinned and certificate not in pinned:
        said = "回执不是用本网关的回执专用章证书签的（signed with another certificate than those trusted）"
        return failed("NOT_THE_PINNED_CERTIFICATE", said, parsed)
    issued = parsed.get("issued_at")
    try:
        at = dt.datetime.fromisoformat(issued) if isinstance(issued, str) and ISSUED_AT.fullmatch(issued) else None
    except ValueError:  # the form, but no such date or time (a 30th of February)
        at = None
    if at is None or not ISSUED_SINCE <= at < ISSUED_BEFORE:  # compared as instants, none made: nothing overflows
        return failed(
            "ISSUED_AT_MISSING", "回执没有带时区的签发时间（the statement has no time of issue with its zone）", parsed
        )
    signer = check_certificate(certificate, trust_roots=trust_roots, intermediates=intermediates, crls=crls, at=at)
    if signer.result is not CheckResult.FAILED and (
        revoked := _revoked_with_its_key(certificate, pinned, [*trust_roots, *intermediates], crls, at)
    ):
        serial, when = revoked
        return ReceiptCheck(
            result=CheckResult.FAILED,
            reason="CERT_REVOKED",
            detail=f"回执证书的密钥已随它的另一张证书（序列号{serial:x}）于{when.isoformat()}吊销"
            f"（the key's certificate {serial:x} was revoked, and with it the key)",
            statement=parsed,
            signer=signer,
        )
    if signer.result is not CheckResult.FAILED and signer.seal_name != RECEIPT_SEAL_NAME:  # known without a CRL
        return ReceiptCheck(
            result=CheckResult.FAILED,
            reason="NOT_A_RECEIPT_SEAL",
            detail=f"签名用的不是{RECEIPT_SEAL_NAME}"
            f"（signed by the seal {signer.seal_name!r}, not a {RECEIPT_SEAL_NAME}）",
            statement=parsed,
            signer=signer,
        )
    return ReceiptCheck(
        result=signer.result, reason=signer.reason, detail=signer.detail, statement=parsed, signer=signer
    )
