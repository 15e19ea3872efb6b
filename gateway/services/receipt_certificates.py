"""Every certificate the gateway's receipt key has had, so that what it signed stays checkable after a change.

A receipt, and an audit checkpoint, is checked with the certificate whose key signed it. The receipt key's
certificate changes now and then: renewed before its five years run out, or made anew with a new key. Receipts
that departments keep and rely on (首办核验、接办免收) must still check out afterwards, when fetched again
(``GetReceipt``, ``ListCaseReceipts``) as when kept as a file; so the store keeps each certificate the key has had
(``receipt_certificates``, recorded by ``record`` when a gateway starts with it) and a stored receipt is handed out
with the one whose key verifies it. Which one that is, is found by verifying: receipts carry no key id, and those
stored before the table existed have nothing else to go by; a renewal keeps the key, so of the certificates whose
key verifies a receipt it gets the one valid when it was issued. A batch's receipts share one signature, so the
answer is kept per signature.

A new key retires the key before (`zzgw init` revokes its certificates as superseded): a process still signing with
the retired one, a replica restarted before seal-ca/ and keys/ were copied to it, makes receipts that every checker
rejects (CERT_REVOKED) for good. The store tells it: a certificate of another key recorded after the latest of this
process's key (``retired_by``). `zzgw serve` refuses to start then, and a process already serving learns it from the
readiness check (``check``, a read every ``READ_EVERY_SECONDS``) and signs no more receipts (``refuse_if_retired``, no
read per receipt; a receipts reviewer, R2).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import math
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from cachetools import LRUCache
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy.exc import IntegrityError

from gateway.domain.errors import UpstreamUnavailableError
from gateway.domain.model import Clock
from gateway.store.database import Database
from signing.errors import InvalidSignature
from signing.receipts import certificate_key_id, check_receipt

READ_EVERY_SECONDS = 5.0
"""How often the readiness check reads the store's receipt certificates (``check``), as ``CatalogPin`` reads the
store's catalog."""


class _Recorded(NamedTuple):
    certificate: x509.Certificate
    since: dt.datetime
    """When a gateway first started with it."""


class ReceiptCertificates:
    """The current receipt certificate and the earlier ones, from the store."""

    def __init__(
        self,
        db: Database,
        current: x509.Certificate,
        *,
        every: float = READ_EVERY_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self._db = db
        self._every = every
        self._monotonic = monotonic
        self._checked_at = -math.inf
        self._retired_by: x509.Certificate | None = None
        """The certificate of another key recorded after this key's latest (as last read): this key is retired."""
        self.current = current
        self.current_der = current.public_bytes(Encoding.DER)
        self._fingerprint = hashlib.sha256(self.current_der).hexdigest()
        self._key_id = certificate_key_id(current)
        self._since: dt.datetime | None = None
        """When the current certificate was recorded; None until ``record``."""
        self._earlier: list[_Recorded] = []
        self._signers: LRUCache[bytes, x509.Certificate] = LRUCache(maxsize=4096)
        self._lock = threading.Lock()

    def record(self, clock: Clock, *, new_key_only: bool = False) -> None:
        """Store the current certificate unless it is stored already (another process may store it first): a gateway
        process starting to sign with it (``Gateway.start``). ``new_key_only``: only a certificate of a key the store
        holds none of (`zzgw init`'s, for a new key, which retires the processes still on the key before, or the
        first).

        A renewal keeps the key, and the processes still running sign with the certificate before until they are
        restarted (docs/receipts.md: one at a time if you like): recorded by the init that made it, their receipts
        were handed out with the renewed one (``signer_of``, the latest recorded before a receipt), which is not the
        one in the file the department kept (a receipt-keys reviewer, R1)."""
        with contextlib.suppress(IntegrityError), self._db.unit_of_work(write=True) as uow:
            stored = uow.receipt_certificates.all()
            if self._fingerprint in stored:
                self._since = stored[self._fingerprint][1]
                return
            if new_key_only and any(
                certificate_key_id(x509.load_der_x509_certificate(der)) == self._key_id for der, _ in stored.values()
            ):
                return
            now = clock.now()
            uow.receipt_certificates.add(self._fingerprint, self._key_id, self.current_der, now)
            uow.commit()
            self._since = now

    def earlier(self) -> list[x509.Certificate]:
        """The certificates the key had before the current one, the latest recorded first, read from the store."""
        return [recorded.certificate for recorded in self._read()]

    def _read(self) -> list[_Recorded]:
        with self._db.unit_of_work() as uow:
            stored = uow.receipt_certificates.all()
        found = [
            _Recorded(x509.load_der_x509_certificate(der), since)
            for fingerprint, (der, since) in stored.items()
            if fingerprint != self._fingerprint
        ]
        since = stored[self._fingerprint][1] if self._fingerprint in stored else None
        ours = [r.since for r in found if certificate_key_id(r.certificate) == self._key_id]
        latest = max([*ours, *([since] if since is not None else [])], default=None)
        # a certificate not recorded yet is this process's start (``record``): nothing newer than it retires it
        newer = [
            r
            for r in found
            if latest is not None and r.since > latest and certificate_key_id(r.certificate) != self._key_id
        ]
        with self._lock:
            self._earlier = found
            if since is not None:
                self._since = since
            self._retired_by = max(newer, key=lambda r: r.since).certificate if newer else None
        return found

    def retired_by(self) -> x509.Certificate | None:
        """The certificate of another key recorded in the store after this key's latest, read now: the store's
        gateways sign with that key, and this one was retired by the `zzgw init` that made it; else None."""
        self._read()
        self._checked_at = self._monotonic()
        return self._retired_by

    def check(self) -> x509.Certificate | None:
        """``retired_by`` as read at most every ``every`` seconds (the readiness check's; a failed read raises, and is
        tried at the next check)."""
        if self._monotonic() - self._checked_at >= self._every:
            return self.retired_by()
        return self._retired_by

    def refuse_if_retired(self) -> None:
        """UNAVAILABLE / ``RECEIPT_KEY_RETIRED`` once this process's key is retired (as last read): a receipt it
        signed would check CERT_REVOKED for every checker. Retried at a gateway process with the new key, it is
        answered."""
        if self._retired_by is not None:
            raise UpstreamUnavailableError(
                "本网关实例的回执专用章密钥已被更换，不再签发核验回执，请改由其他网关实例办理或稍后重试（this gateway "
                "process's receipt key was replaced by a later `zzgw init`: it signs no more receipts; retry at "
                "another gateway process, or later）",
                reason="RECEIPT_KEY_RETIRED",
            )

    def of_key(self, key_id: str) -> x509.Certificate | None:
        """A certificate of the key ``key_id`` (an audit checkpoint names its key), None for a key never had."""
        if key_id == self._key_id:
            return self.current
        for candidates in (lambda: list(self._earlier), self._read):  # the store is read only on a miss
            for recorded in candidates():
                if certificate_key_id(recorded.certificate) == key_id:
                    return recorded.certificate
        return None

    def signer_of(self, statement: bytes, signature: bytes, algorithm: str, proof: bytes) -> x509.Certificate:
        """The certificate a stored receipt is checked with: of those whose key verifies it and that were valid
        when it was issued, the one the gateway was using then (the latest recorded before it; a renewal keeps the
        key). The current one is taken without reading the store when it was in use already; a receipt no
        certificate verifies (changed in the store) gets the current one, and its check fails, as it should."""
        with self._lock:
            known = self._signers.get(signature)
        if known is not None:
            return known
        issued = _issued_at(self.current, statement, signature, algorithm, proof)
        if issued is not None and self._since is not None and self._since <= issued:
            return self._remember(signature, self.current)
        earlier = self._read()  # which also learns when the current one was recorded
        since = self._since or dt.datetime.min.replace(tzinfo=dt.UTC)
        in_use: list[_Recorded] = []  # valid at the receipt's issue and recorded by then
        later: list[_Recorded] = []  # valid then, recorded after it (a store upgraded after the receipt)
        for recorded in (_Recorded(self.current, since), *earlier):
            certificate = recorded.certificate
            at = (
                issued
                if certificate is self.current
                else _issued_at(certificate, statement, signature, algorithm, proof)
            )
            if at is not None and certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
                (in_use if recorded.since <= at else later).append(recorded)
        if in_use:
            return self._remember(signature, max(in_use, key=lambda r: r.since).certificate)
        if later:
            return self._remember(signature, min(later, key=lambda r: r.since).certificate)
        return self.current

    def handed_out_with(
        self, certificate: bytes, statement: bytes, signature: bytes, algorithm: str, proof: bytes
    ) -> bool:
        """Whether a stored receipt may have been handed out with ``certificate`` (DER): the current one or one
        recorded, whose key verifies it and that was valid when it was issued. A renewal keeps the key, and while the
        processes are restarted one at a time some still hand their receipts out with the certificate before, which
        ``signer_of`` may not pick: the file a department kept is the archive's all the same, not one to be refused
        as changed (a receipt-keys reviewer, R1)."""
        if certificate == self.current_der:
            candidate = self.current
        else:
            digest = hashlib.sha256(certificate).hexdigest()
            with self._db.unit_of_work() as uow:
                stored = uow.receipt_certificates.all()
            if digest not in stored:
                return False
            candidate = x509.load_der_x509_certificate(stored[digest][0])
        at = _issued_at(candidate, statement, signature, algorithm, proof)
        return at is not None and candidate.not_valid_before_utc <= at <= candidate.not_valid_after_utc

    def _remember(self, signature: bytes, certificate: x509.Certificate) -> x509.Certificate:
        with self._lock:
            self._signers[signature] = certificate
        return certificate


def _issued_at(
    certificate: x509.Certificate, statement: bytes, signature: bytes, algorithm: str, proof: bytes
) -> dt.datetime | None:
    """When the receipt says it was issued, if ``certificate``'s key verifies it; else None."""
    try:
        parsed = check_receipt(statement, signature, certificate=certificate, algorithm=algorithm, proof=proof)
    except InvalidSignature:
        return None
    issued = parsed.get("issued_at")
    try:
        at = dt.datetime.fromisoformat(issued) if isinstance(issued, str) else None
    except ValueError:
        return None
    return at if at is not None and at.tzinfo is not None else None
