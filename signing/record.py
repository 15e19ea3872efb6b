"""Record seals: a signature by the issuer's key over the canonical encoding of one license version.

>>> seal = seal_record(key, content.record_mapping())                                # doctest: +SKIP
>>> verify_record_seal(key.public_key_der, content.record_mapping(), seal)          # doctest: +SKIP

What is signed is ``b"zzgw-record/1\\n"`` followed by ``canonical_json(record)`` (see ``signing.canonical``); the
prefix names the encoding so that a signature can never be read as one over some other kind of message, and so
that a later encoding can be introduced beside this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from gateway.domain.model import RecordSeal
from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, key_id_of, verify_signature

ENCODING = "zzgw-record/1"
_PREFIX = ENCODING.encode() + b"\n"


def record_bytes(record: Mapping[str, object]) -> bytes:
    """The exact bytes a record seal signs. ``record`` is a ``LicenseContent.record_mapping()``."""
    return _PREFIX + canonical_json(record, trusted=True)


def seal_record(key: KeyBackend, record: Mapping[str, object]) -> RecordSeal:
    data = record_bytes(record)
    return RecordSeal(
        algorithm=key.algorithm,
        key_id=key.key_id,
        signature=key.sign(data),
        record_digest=hashlib.sha256(data).digest(),
        encoding=ENCODING,
    )


def verify_record_seal(public_key_der: bytes, record: Mapping[str, object], seal: RecordSeal) -> None:
    """Return None when ``seal`` is a valid seal of ``record`` by that key; raise InvalidSignature otherwise."""
    if seal.encoding != ENCODING:
        raise InvalidSignature(f"unknown record encoding {seal.encoding!r}")
    if seal.key_id != key_id_of(public_key_der):
        raise InvalidSignature("the seal names another key")
    data = record_bytes(record)
    if hashlib.sha256(data).digest() != seal.record_digest:
        raise InvalidSignature("the record differs from the one that was sealed")
    verify_signature(public_key_der, seal.algorithm, data, seal.signature)
