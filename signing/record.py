"""Record seals: a signature by the issuer's key over the canonical encoding of one license version.

>>> seal = seal_record(key, content.record_mapping())                                # doctest: +SKIP
>>> verify_record_seal(key.public_key_der, content.record_mapping(), seal)          # doctest: +SKIP

What is signed is ``b"zzgw-record/1\\n"`` followed by ``canonical_json(record)`` (see ``signing.canonical``); the
prefix names the encoding so that a signature can never be read as one over some other kind of message, and so
that a later encoding can be introduced beside this one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping

from gateway.domain.model import RecordSeal
from signing.canonical import canonical_json
from signing.errors import InvalidSignature
from signing.keys import KeyBackend, key_id_of, verify_signature

ENCODING = "zzgw-record/1"
_PREFIX = ENCODING.encode() + b"\n"
_MEMO_PREFIX = b"zzgw-seal-memo/1\n"


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


class SealMemos:
    """The gateway's own note that a record seal is good, kept beside the record: an HMAC-SHA-256, under a secret
    of the gateway's key store, of the seal (the sealed record's digest, algorithm, key and signature). The gateway
    writes it when it seals a record; a check with empty caches (a restart, another worker or replica) that finds
    a matching memo skips verifying the signature (~70 µs of ECDSA P-256, more for RSA and SM2).

    What is still checked every time: the record's bytes against the seal's digest, so a record changed behind the
    gateway's back fails as before. Changing the seal too needs a signature by the issuer's key *and* a memo under
    the secret; without the memo (or with a wrong one) the signature is verified as if there were none. Whoever can
    make memos holds the key store, which holds the issuers' record keys anyway.
    """

    def __init__(self, secret: bytes):
        if len(secret) < 32:
            raise ValueError("a seal memo secret has at least 32 bytes")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)
        """The HMAC with the key's pads already hashed: each memo copies it (half the cost of ``hmac.digest``)."""

    def memo(self, seal: RecordSeal) -> bytes:
        mac = self._keyed.copy()
        mac.update(_memo_message(seal))
        return mac.digest()

    def vouches(self, seal: RecordSeal, memo: bytes) -> bool:
        """Whether ``memo`` is this gateway's memo of ``seal`` (an empty memo never is)."""
        return bool(memo) and hmac.compare_digest(memo, self.memo(seal))

    def status(
        self, license_id: str, status: str, reason: str, changed_at: dt.datetime, created_at: dt.datetime
    ) -> bytes:
        """The memo of what the issuer's record seal does not cover and the gateway stored beside it: the license's
        status (it changes without a new version) and the time the gateway sealed the record (``created_at``, the
        time a seal revoked since is judged at). Same secret, another message prefix."""
        mac = self._keyed.copy()
        mac.update(_status_message(_STATUS_PREFIX, license_id, status, reason, changed_at) + b"\n" + _utc(created_at))
        return mac.digest()

    def vouches_status(
        self,
        license_id: str,
        status: str,
        reason: str,
        changed_at: dt.datetime,
        created_at: dt.datetime,
        memo: bytes,
    ) -> bool:
        """Whether ``memo`` is this gateway's memo of that status and sealing time (an empty memo never is). A memo
        made before the sealing time was added (``zzgw-status-memo/1``) still vouches for the status alone."""
        if not memo:
            return False
        if hmac.compare_digest(memo, self.status(license_id, status, reason, changed_at, created_at)):
            return True
        mac = self._keyed.copy()
        mac.update(_status_message(_STATUS_PREFIX_V1, license_id, status, reason, changed_at))
        return hmac.compare_digest(memo, mac.digest())

    def document(
        self,
        license_id: str,
        sha256: str,
        seal_id: str,
        created_at: dt.datetime,
        printed: frozenset[str] | None = None,
    ) -> bytes:
        """The memo of a registered license document: which license version the PDF of ``sha256`` is, by which
        seal and when the gateway sealed it. VerifyDocument finds a license by its document's hash; without this a
        row of the registry moved to another license (its PDF then naming a license it is not) went unnoticed.
        ``printed``, the keys of the fields a document the gateway drew prints (sharing judges a consumer's permit
        against them), is part of the memo when known (``zzgw-document-memo/2``): edited to print nothing, it had a
        consumer given a document printing fields its matter may not read. Unknown (a supplied document, one stored
        before schema 0034): the memo of version 1, which names none."""
        parts = [license_id.encode(), sha256.encode(), seal_id.encode(), _utc(created_at)]
        if printed is None:
            message = b"\n".join((_DOCUMENT_PREFIX_V1, *parts))
        else:
            keys = json.dumps(sorted(printed), ensure_ascii=False, separators=(",", ":"))
            message = b"\n".join((_DOCUMENT_PREFIX, *parts, keys.encode()))
        mac = self._keyed.copy()
        mac.update(message)
        return mac.digest()

    def vouches_document(
        self,
        license_id: str,
        sha256: str,
        seal_id: str,
        created_at: dt.datetime,
        memo: bytes,
        printed: frozenset[str] | None = None,
    ) -> bool:
        """Whether ``memo`` is this gateway's memo of that document, printing ``printed`` (an empty memo never is)."""
        return bool(memo) and hmac.compare_digest(memo, self.document(license_id, sha256, seal_id, created_at, printed))

    def form(self, license_id: str, sha256: str) -> bytes:
        """The memo of the printed form a license's document is to be drawn from (``license_events.form``): which
        license, and the SHA-256 of the form's text. The hash alone vouched for nothing: a form written into the
        store under its own hash had been drawn and sealed as the license's document."""
        mac = self._keyed.copy()
        mac.update(b"\n".join((_FORM_PREFIX, license_id.encode(), sha256.encode())))
        return mac.digest()

    def vouches_form(self, license_id: str, sha256: str, memo: bytes) -> bool:
        """Whether ``memo`` is this gateway's memo of that license's form (an empty memo never is)."""
        return bool(memo) and hmac.compare_digest(memo, self.form(license_id, sha256))


def _utc(at: dt.datetime) -> bytes:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds").encode()


def _status_message(prefix: bytes, license_id: str, status: str, reason: str, changed_at: dt.datetime) -> bytes:
    return b"\n".join((prefix, license_id.encode(), status.encode(), _utc(changed_at), reason.encode()))


_STATUS_PREFIX = b"zzgw-status-memo/2"
_STATUS_PREFIX_V1 = b"zzgw-status-memo/1"
_DOCUMENT_PREFIX = b"zzgw-document-memo/2"
_DOCUMENT_PREFIX_V1 = b"zzgw-document-memo/1"
_FORM_PREFIX = b"zzgw-form-memo/1"
"""Status memos and seal memos share the secret; their messages never coincide (``_MEMO_PREFIX`` differs)."""


def _memo_message(seal: RecordSeal) -> bytes:
    return (
        b"\n".join(
            (_MEMO_PREFIX + seal.encoding.encode(), seal.algorithm.encode(), seal.key_id.encode(), seal.record_digest)
        )
        + b"\n"
        + seal.signature
    )
