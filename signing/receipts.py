"""Verification receipts (核验回执): a verification's statement, signed by the gateway, checkable offline.

>>> signed = sign_receipt(key, {"receipt_id": "R1", "verdict": "PASSED"})                  # doctest: +SKIP
>>> check_receipt(signed.statement, signed.signature, certificate=cert)["verdict"]      # doctest: +SKIP
'PASSED'

The statement is the canonical JSON (``signing.canonical``) of a mapping of strings, numbers, booleans, lists and
mappings; what is signed is ``b"zzgw-receipt/1\\n"`` followed by the statement, so a receipt signature can never be
read as a record seal (``zzgw-record/1``) or anything else. Anyone holding the statement, the signature and the
gateway's receipt certificate can check it; whether to trust that certificate (it is issued by the seal-maker CA)
is the usual chain check, ``signing.seal_ca.check_certificate``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, key_id_of, verify_signature
from signing.sm2_x509 import public_key_der

ENCODING = "zzgw-receipt/1"
_PREFIX = ENCODING.encode() + b"\n"
MAX_STATEMENT = 64 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedReceipt:
    statement: bytes
    """UTF-8 canonical JSON."""
    signature: bytes
    algorithm: str
    key_id: str


def sign_receipt(key: KeyBackend, statement: Mapping[str, object], *, trusted: bool = False) -> SignedReceipt:
    """Sign ``statement``; ``trusted`` skips the check that it holds only JCS-safe values (see
    ``signing.canonical.canonical_json``), for statements the caller built from typed values."""
    data = canonical_json(statement, trusted=trusted)
    return SignedReceipt(statement=data, signature=key.sign(_PREFIX + data), algorithm=key.algorithm, key_id=key.key_id)


def check_receipt(
    statement: bytes, signature: bytes, *, certificate: x509.Certificate, algorithm: str
) -> Mapping[str, Any]:
    """The statement of a receipt whose signature verifies with ``certificate``'s key; InvalidSignature otherwise."""
    if len(statement) > MAX_STATEMENT:
        raise InvalidSignature("the statement is larger than any receipt")
    public_key = public_key_der(certificate)
    verify_signature(public_key, algorithm, _PREFIX + statement, signature)
    try:
        parsed = json.loads(statement)
    except ValueError as exc:
        raise InvalidSignature(f"the statement is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or canonical_json(parsed) != statement:
        raise InvalidSignature("the statement is not in canonical form")
    return parsed


def certificate_key_id(certificate: x509.Certificate) -> str:
    return key_id_of(public_key_der(certificate))
