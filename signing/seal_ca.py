"""The seal-maker CA (制章者): a root and an issuing intermediate that certify electronic seals, their CRL, and the
trust check of a seal certificate.

>>> ca = SealMakerCA.create("济南市制章中心", now)                                             # doctest: +SKIP
>>> cert = ca.issue_seal_certificate(issuer_name="济南市市场监督管理局", issuer_uscc="11370100MB0000000X",
...     seal_name="济南市市场监督管理局电子证照专用章", public_key=seal_key.public_key(),
...     not_before=now, not_after=now + dt.timedelta(days=730))                           # doctest: +SKIP
>>> ca.revoke(cert.serial_number, x509.ReasonFlags.key_compromise, at=now)                 # doctest: +SKIP
>>> finding = check_certificate(cert, trust_roots=[ca.root], intermediates=[ca.intermediate],
...     crls=[ca.crl(now, next_update=now + dt.timedelta(days=7))], at=signing_time)      # doctest: +SKIP

This is a different authority from the member mTLS CA in ``signing.pki``: its certificates name the organisation
that owns a seal, and they are checked long after issue, at the time a seal was applied.

Seal certificates carry the owner's 统一社会信用代码 (USCC) in ``organizationIdentifier`` (2.5.4.97), the X.520
attribute for an organisation's registered identifier (as eIDAS qualified seals use it); ``serialNumber`` names a
device or a person's serial in most profiles, so it is only read, as a fall-back, in certificates from other CAs.

The check uses pyhanko-certvalidator rather than ``cryptography.x509.verification``: the latter has no revocation
checking at all (no CRLs) and only TLS server/client policies, while a seal check needs CRLs and a point-in-time
answer ("was the certificate valid and not revoked when the seal was applied?"). pyHanko already validates seals
in PDFs with the same library, so both checks agree.

``create(..., algorithm=SM2_SM3)`` makes an SM2 CA (root and intermediate keys on the SM2 curve) whose
certificates and CRLs are signed SM3withSM2 through ``signing.sm2_x509``; its keys are ``signing.sm2.Sm2Key`` and
are saved as encrypted PKCS#8 like the others. It certifies keys given as DER SubjectPublicKeyInfo, SM2 or not; an
ECDSA or RSA CA cannot certify an SM2 key. The check reads SM2 certificates and CRLs with the same validator.

Files written by ``save`` (keys encrypted PKCS#8, mode 0600)::

    root.pem  root.key.pem  intermediate.pem  intermediate.key.pem  revocations.json
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import (
    DisallowedAlgorithmError,
    ExpiredError,
    InsufficientRevinfoError,
    InvalidCertificateError,
    NotYetValidError,
    PathBuildingError,
    PathValidationError,
    RevokedError,
    StaleRevinfoError,
    ValidationError,
)
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy, RevocationCheckingRule

from signing import sm2_x509
from signing.errors import KeyStoreError, SigningError
from signing.keys import ALGORITHMS, ECDSA_P256_SHA256, RSA2048_SHA256, SM2_SM3
from signing.pki import make_private_directory, write_private, write_public
from signing.results import CheckResult
from signing.sm2 import Sm2Key

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | Sm2Key
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
SubjectKey = PublicKey | bytes
"""A key to certify: a ``cryptography`` public key, or DER SubjectPublicKeyInfo (the only form of an SM2 key)."""

_ROOT_VALIDITY = dt.timedelta(days=20 * 365)
_INTERMEDIATE_VALIDITY = dt.timedelta(days=10 * 365)
_BACKDATE = dt.timedelta(minutes=5)
_STATE_FILE = "revocations.json"
_RESTORE = "restore the directory from the gateway it was copied from (README: deployment beyond one machine)"
# certificateHold can be lifted (removeFromCRL); the check reads later CRLs retroactively, which is only sound
# when a revocation is final, so holds are refused.
_REFUSED_REASONS = frozenset({x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl})


@dataclass(frozen=True, slots=True, kw_only=True)
class Revocation:
    """One revoked seal certificate (吊销的印章证书)."""

    serial: int
    """Serial number of the revoked certificate."""
    reason: x509.ReasonFlags
    """Why it was revoked; written to the CRL entry unless ``unspecified``."""
    revoked_at: dt.datetime
    """When it stopped being valid (UTC); seals applied before this time stay valid."""


class SealMakerCA:
    """The root and the issuing intermediate of the seal-maker, with the intermediate's revocation list.

    Without the intermediate's key (``import_external(..., None)``) the CA only supplies trust material: its
    certificates and the revocations already recorded; issuing and signing CRLs raise KeyStoreError.
    """

    def __init__(
        self,
        *,
        root: x509.Certificate,
        intermediate: x509.Certificate,
        root_key: PrivateKey | None,
        intermediate_key: PrivateKey | None,
        revocations: Iterable[Revocation] = (),
        crl_number: int = 0,
        directory: Path | None = None,
        listed: Iterable[int] | Mapping[int, Revocation | None] | None = None,
    ):
        _require_issued_by(intermediate, root)
        if intermediate_key is not None and not _holds(intermediate_key, intermediate):
            raise KeyStoreError("the intermediate key does not belong to the intermediate certificate")
        if root_key is not None and not _holds(root_key, root):
            raise KeyStoreError("the root key does not belong to the root certificate")
        self.root = root
        self.intermediate = intermediate
        self._root_key = root_key
        self._intermediate_key = intermediate_key
        self._revocations: dict[int, Revocation] = {}
        for revocation in revocations:  # a serial twice (an entry added by hand): from the earlier time, as _refresh
            kept = self._revocations.get(revocation.serial)  # takes it; at the same time, the later entry's reason
            if kept is None or revocation.revoked_at <= kept.revoked_at:
                self._revocations[revocation.serial] = revocation
        # the serials of the revocations the gateway made or took (``listed``), each with the revocation as made or
        # taken (None: taken from a file written before that was kept, as it is): an entry added to revocations.json
        # by hand is not among them until `zzgw init` has checked it and said so (``unlisted``, ``take_listed``), nor
        # one that makes a listed serial's revocation another (a leak entry for a receipt certificate a key change
        # had revoked as superseded had been taken unsaid, its serial listed already; a receipt-keys reviewer, R3)
        self._listed: dict[int, Revocation | None] = (
            dict(self._revocations)
            if listed is None
            else dict(listed)
            if isinstance(listed, Mapping)
            else dict.fromkeys(listed)
        )
        self._keeps_listed = listed is not None
        self._crl_number = crl_number
        self._directory = directory
        self._lock = threading.Lock()

    # --- making, saving, loading ---------------------------------------------------------------------------------

    @classmethod
    def create(cls, name: str, now: dt.datetime, *, algorithm: str = ECDSA_P256_SHA256) -> SealMakerCA:
        """Make a new root (pathlen 1) and issuing intermediate (pathlen 0) named after the seal-maker ``name``.

        ``algorithm`` is ECDSA_P256_SHA256, RSA2048_SHA256 or SM2_SM3 (certificates and CRLs signed SM3withSM2).
        """
        _require_aware(now)
        root_key = _generate(algorithm)
        intermediate_key = _generate(algorithm)
        root_name = _ca_name(name, f"{name} Seal Root CA")
        intermediate_name = _ca_name(name, f"{name} Seal Issuing CA")
        root = _ca_certificate(
            subject=root_name,
            public_key=_public_of(root_key),
            issuer=None,
            signing_key=root_key,
            path_length=1,
            not_before=now - _BACKDATE,
            not_after=now + _ROOT_VALIDITY,
        )
        intermediate = _ca_certificate(
            subject=intermediate_name,
            public_key=_public_of(intermediate_key),
            issuer=root,
            signing_key=root_key,
            path_length=0,
            not_before=now - _BACKDATE,
            not_after=now + _INTERMEDIATE_VALIDITY,
        )
        return cls(root=root, intermediate=intermediate, root_key=root_key, intermediate_key=intermediate_key)

    @classmethod
    def import_external(
        cls,
        root_pem: bytes,
        intermediate_pem: bytes,
        intermediate_key_pem: bytes | None,
        *,
        key_passphrase: bytes | None = None,
    ) -> SealMakerCA:
        """Take over an existing seal-maker CA; with no key it can only validate (its certificates, its CRLs)."""
        try:
            root = x509.load_pem_x509_certificate(root_pem)
            intermediate = x509.load_pem_x509_certificate(intermediate_pem)
        except ValueError as exc:
            raise SigningError(f"cannot read the CA certificates: {exc}") from exc
        what = "the intermediate key"
        key = None if intermediate_key_pem is None else _load_key(intermediate_key_pem, key_passphrase, what)
        return cls(root=root, intermediate=intermediate, root_key=None, intermediate_key=key)

    def save(self, directory: Path, passphrase: bytes) -> None:
        """Write the certificates, the keys we hold (encrypted with ``passphrase``) and the revocations.

        From then on every revocation and CRL number is also written to ``directory``.
        """
        if not passphrase:
            raise KeyStoreError("the seal-maker CA needs a passphrase for its keys")
        make_private_directory(directory)
        write_public(directory / "root.pem", self.root.public_bytes(serialization.Encoding.PEM))
        write_public(directory / "intermediate.pem", self.intermediate.public_bytes(serialization.Encoding.PEM))
        for stem, key in (("root", self._root_key), ("intermediate", self._intermediate_key)):
            if key is not None:
                write_private(directory / f"{stem}.key.pem", _encrypted_pem(key, passphrase))
        with self._lock, held_directory(directory):
            self._directory = directory
            self._write_state(merge=False)  # a new CA's: what a file there holds is not its own

    @classmethod
    def load(cls, directory: Path, passphrase: bytes) -> SealMakerCA:
        """Read a CA written by ``save``, with the intermediate's key (a missing key file yields a verification-only
        CA). A directory whose files cannot be read or do not belong together is KeyStoreError, naming the file.

        The root's key (``root.key.pem``) is not read: it certified the intermediate when the CA was made, and
        nothing the CA does since needs it, so it may be kept offline (a replica needs no copy of it)."""
        certificates = {}
        for stem in ("root", "intermediate"):
            path = directory / f"{stem}.pem"
            try:
                certificates[stem] = x509.load_pem_x509_certificate(path.read_bytes())
            except FileNotFoundError:
                raise KeyStoreError(f"no seal-maker CA in {directory}: {path} is missing") from None
            except ValueError:
                raise KeyStoreError(f"{path} is not a PEM certificate: {_RESTORE}") from None
        path = directory / "intermediate.key.pem"
        # named by its path: "cannot decrypt the intermediate key" had said neither the file nor which CA's
        intermediate_key = _load_key(path.read_bytes(), passphrase, str(path)) if path.exists() else None
        revocations, crl_number, listed = _read_state(directory / _STATE_FILE)
        try:
            return cls(
                root=certificates["root"],
                intermediate=certificates["intermediate"],
                root_key=None,
                intermediate_key=intermediate_key,
                revocations=revocations,
                crl_number=crl_number,
                directory=directory,
                listed=listed,
            )
        except KeyStoreError:
            raise
        except SigningError as exc:  # certificates of two CAs, or keys of another: files mixed up in a copy
            raise KeyStoreError(f"the seal-maker CA in {directory} does not hold together: {exc}; {_RESTORE}") from None

    @property
    def can_issue(self) -> bool:
        """Whether the intermediate's private key is held (else the CA only validates)."""
        return self._intermediate_key is not None

    # --- issuing -------------------------------------------------------------------------------------------------

    def issue_seal_certificate(
        self,
        *,
        issuer_name: str,
        issuer_uscc: str,
        seal_name: str,
        public_key: SubjectKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
    ) -> x509.Certificate:
        """Certify a seal key (制章): O=issuer name, CN=seal name, organizationIdentifier=USCC, C=CN.

        ``public_key`` may be DER SubjectPublicKeyInfo; an SM2 key needs an SM2 CA.
        """
        signing_key = self._issuing_key()
        _require_aware(not_before)
        _require_aware(not_after)
        if not (issuer_name and issuer_uscc and seal_name):
            raise ValueError("issuer_name, issuer_uscc and seal_name must not be empty")
        if not not_before < not_after:
            raise ValueError("not_before must precede not_after")
        if not_after > self.intermediate.not_valid_after_utc:
            raise ValueError("the seal certificate would outlive the issuing CA")
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer_name),
                x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, issuer_uscc),
                x509.NameAttribute(NameOID.COMMON_NAME, seal_name),
            ]
        )
        return self._end_entity(signing_key, subject, public_key, not_before, not_after, extended_usage=None)

    def issue_tsa_certificate(
        self, *, name: str, public_key: SubjectKey, not_before: dt.datetime, not_after: dt.datetime
    ) -> x509.Certificate:
        """Certify the gateway's time-stamping key (时间戳服务): C=CN, CN=name.

        RFC 3161 section 2.3 requires the one extended key usage id-kp-timeStamping, marked critical; OpenSSL and
        pyHanko refuse a token signed under any other profile.
        """
        signing_key = self._issuing_key()
        _require_aware(not_before)
        _require_aware(not_after)
        if not name:
            raise ValueError("name must not be empty")
        if not not_before < not_after:
            raise ValueError("not_before must precede not_after")
        if not_after > self.intermediate.not_valid_after_utc:
            raise ValueError("the time-stamping certificate would outlive the issuing CA")
        subject = x509.Name(
            [x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"), x509.NameAttribute(NameOID.COMMON_NAME, name)]
        )
        return self._end_entity(
            signing_key, subject, public_key, not_before, not_after, extended_usage=ExtendedKeyUsageOID.TIME_STAMPING
        )

    def _end_entity(
        self,
        signing_key: PrivateKey,
        subject: x509.Name,
        public_key: SubjectKey,
        not_before: dt.datetime,
        not_after: dt.datetime,
        *,
        extended_usage: x509.ObjectIdentifier | None,
    ) -> x509.Certificate:
        """An end-entity certificate from the intermediate: digitalSignature + nonRepudiation, no CA. It begins no
        earlier than the intermediate: a seal's chain is checked at the time it sealed, at the earliest its start, and
        a certificate backdated (for clocks a little behind) past an intermediate made minutes ago — an imported CA —
        would leave every seal it certifies NOT_YET_VALID for good."""
        not_before = max(not_before, self.intermediate.not_valid_before_utc)
        if not not_before < not_after:
            raise ValueError("the certificate would end before the issuing CA begins")
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (_key_usage(digital_signature=True, content_commitment=True), True),
        ]
        if extended_usage is not None:
            extensions.append((x509.ExtendedKeyUsage([extended_usage]), True))
        extensions += [(_ski(public_key), False), (_aki(self.intermediate), False)]
        return _certificate(
            subject=subject,
            issuer=self.intermediate.subject,
            public_key=public_key,
            not_before=not_before,
            not_after=not_after,
            extensions=extensions,
            signing_key=signing_key,
        )

    # --- revocation ----------------------------------------------------------------------------------------------

    def revoke(self, serial: int, reason: x509.ReasonFlags, at: dt.datetime) -> Revocation:
        """Revoke a seal certificate (吊销) from ``at`` on, rounded up to the whole second (``whole_second_up``).
        Revoking it again keeps, and returns, the first record."""
        _require_aware(at)
        if reason in _REFUSED_REASONS:
            raise ValueError(f"{reason.value} is not supported: seal revocations are final")
        with self._lock, held_directory(self._directory):
            self._refresh()  # another worker's revocation of it, made since this process last read
            existing = self._revocations.get(serial)
            if existing is not None:
                return existing
            revocation = Revocation(serial=serial, reason=reason, revoked_at=whole_second_up(at))
            self._revocations[serial] = revocation
            self._listed[serial] = revocation
            self._write_state()
        return revocation

    def take(self, revocations: Iterable[Revocation]) -> None:
        """Record those of ``revocations`` this process does not hold (each from its time rounded up to the whole
        second, as ``revoke`` would; a serial held keeps its first record), reading and writing ``revocations.json``
        once for all of them, and not at all when every one is held. The CRL takes in the store's revocations at
        each request: one ``revoke`` each had read the whole file once per revoked seal, under the directory's
        ``flock`` (quadratic in the revocations, and every worker sharing it waited; a reviewer)."""
        wanted = list(revocations)
        for revocation in wanted:
            _require_aware(revocation.revoked_at)
            if revocation.reason in _REFUSED_REASONS:
                raise ValueError(f"{revocation.reason.value} is not supported: seal revocations are final")
        with self._lock:
            if all(r.serial in self._revocations for r in wanted):
                return
            with held_directory(self._directory):
                self._refresh()  # other workers' revocations of them, made since this process last read
                for revocation in wanted:
                    if revocation.serial not in self._revocations:
                        self._revocations[revocation.serial] = dataclasses.replace(
                            revocation, revoked_at=whole_second_up(revocation.revoked_at)
                        )
                        self._listed[revocation.serial] = self._revocations[revocation.serial]
                self._write_state(merge=False)  # read just now, under the same flock

    def recorded(self, serial: int) -> Revocation | None:
        """The revocation of ``serial`` as this process or ``revocations.json`` holds it now (the file read under the
        directory's lock: another worker's record, made since this process last read), or None: what a revocation
        of it must keep, being final. Nothing is written."""
        with self._lock, held_directory(self._directory):
            self._refresh()
            return self._revocations.get(serial)

    def revocation(self, serial: int) -> Revocation | None:
        """The revocation of ``serial``, or None if it is not revoked."""
        with self._lock:
            return self._revocations.get(serial)

    def unlisted(self) -> tuple[Revocation, ...]:
        """The revocations added to ``revocations.json`` by hand since the gateway last wrote it (the leak procedure
        for the receipt or TSA certificate), in serial order: not yet checked and said by `zzgw init`; a serial
        listed whose revocation an entry made another (another reason, an earlier time) too. A file written before
        the gateway kept the list (no ``listed`` in it) has every entry listed."""
        with self._lock:
            return tuple(
                revocation
                for serial, revocation in sorted(self._revocations.items())
                if serial not in self._listed or self._listed[serial] not in (None, revocation)
            )

    def listed_as(self, serial: int) -> Revocation | None:
        """The revocation of ``serial`` as the gateway made or last took it, or None (not listed, or taken from a
        file written before that was kept)."""
        with self._lock:
            return self._listed.get(serial)

    def keep_listed_as(self) -> None:
        """Record each listed revocation as it is now where the file does not say how it was taken (written by a
        version before that was kept), writing the file; nothing when it says of each."""
        with self._lock:
            unsaid = [s for s, r in self._listed.items() if r is None and s in self._revocations]
        if unsaid:
            self.take_listed(unsaid)

    def take_listed(self, serials: Iterable[int]) -> None:
        """Record ``serials`` as listed (checked and said), as their revocations are now, writing the file."""
        with self._lock, held_directory(self._directory):
            self._refresh()
            self._listed.update((s, self._revocations[s]) for s in serials if s in self._revocations)
            self._keeps_listed = True
            self._write_state()

    @property
    def keeps_listed(self) -> bool:
        """Whether ``revocations.json`` says which entries are listed: not one written before the gateway kept the
        list (or since by a version before it), until `zzgw init` records them (``take_listed``)."""
        with self._lock:
            return self._keeps_listed

    def revocation_time(self, serial: int) -> dt.datetime | None:
        """When ``serial`` was revoked, or None if it is not."""
        with self._lock:
            revocation = self._revocations.get(serial)
        return None if revocation is None else revocation.revoked_at

    @property
    def revocations(self) -> tuple[Revocation, ...]:
        """All revocations, in serial order."""
        with self._lock:
            return tuple(self._revocations[s] for s in sorted(self._revocations))

    def crl(self, now: dt.datetime, next_update: dt.datetime) -> bytes:
        """A CRL (DER) signed by the intermediate, listing every revocation; each call takes a greater CRL number.

        RFC 5280 (5.2.3) wants CRL numbers unique and increasing for the CA, whichever process of whichever
        replica issues the CRL; a counter of each process's own (a file in each data directory) gave numbers that
        went back and forth between replicas, and were reused by workers sharing a directory. The number is the
        count of revocations above the microseconds of the system clock: a CRL listing more revocations always
        outranks one listing fewer, and between those the later one outranks the earlier (and within a process
        each call outranks the one before). Two processes in the same microsecond with the same revocations make
        the same CRL, as RFC 5280 allows one number to. At most 13 octets (the RFC allows 20)."""
        signing_key = self._issuing_key()
        _require_aware(now)
        _require_aware(next_update)
        if not now < next_update:
            raise ValueError("next_update must follow now")
        with self._lock:  # a time recorded to the microsecond (before ``whole_second_up``) is listed rounded up too
            revoked = [
                dataclasses.replace(r, revoked_at=whole_second_up(r.revoked_at))
                for r in (self._revocations[s] for s in sorted(self._revocations))
            ]
            number = max(self._crl_number + 1, (len(revoked) << 64) | (time.time_ns() // 1000))
            self._crl_number = number
        if isinstance(signing_key, Sm2Key):
            return sm2_x509.build_crl(
                issuer=self.intermediate.subject,
                this_update=now,
                next_update=next_update,
                revoked=[
                    (r.serial, r.revoked_at, None if r.reason is x509.ReasonFlags.unspecified else r.reason)
                    for r in revoked
                ],
                extensions=[(x509.CRLNumber(number), False), (_aki(self.intermediate), False)],
                signing_key=signing_key,
            )
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.intermediate.subject)
            .last_update(now)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(_aki(self.intermediate), critical=False)
        )
        for revocation in revoked:
            entry = (
                x509.RevokedCertificateBuilder().serial_number(revocation.serial).revocation_date(revocation.revoked_at)
            )
            # RFC 5280 5.3.1: reasonCode unspecified SHOULD be absent
            if revocation.reason is not x509.ReasonFlags.unspecified:
                entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(signing_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    # --- internals -----------------------------------------------------------------------------------------------

    def _issuing_key(self) -> PrivateKey:
        if self._intermediate_key is None:
            raise KeyStoreError("this seal-maker CA was imported without its intermediate key: it can only validate")
        return self._intermediate_key

    def _refresh(self) -> None:
        """Take in what ``revocations.json`` holds that this process does not: a revocation another gateway worker
        sharing the directory made (or one added by hand), the earlier time of a serial both have, its listed
        serials. Each worker had read the file once and written its own map whole, so a revocation through one
        worker was erased from the file by the next through another (a reviewer). A seal's revocation is recorded
        here once the store has committed it (``SealService.revoke``); the other processes go by the store (the
        CRL takes its revocations in at each request). The caller holds ``_lock`` and ``_held``. A file that cannot
        be read is left to `zzgw init` to say: what this process holds stays, and is written."""
        if self._directory is None:
            return
        path = self._directory / _STATE_FILE
        try:
            revocations, crl_number, listed = _read_state(path)
        except KeyStoreError:
            return
        for revocation in revocations:
            mine = self._revocations.get(revocation.serial)
            if mine is None or revocation.revoked_at < mine.revoked_at:  # revoked from the earliest time recorded
                self._revocations[revocation.serial] = revocation
        if listed is None:  # a file from before the list was kept: each entry in it was listed
            for revocation in revocations:
                self._listed.setdefault(revocation.serial, None)
        else:
            for serial, taken in listed.items():
                # as the file says it was taken where this process does not know, or where the file's is how it
                # stands now (taken by `zzgw init` since this process read it): not put back as it was before
                mine = self._listed.get(serial)
                now = self._revocations.get(serial)
                if mine is None or (taken is not None and taken == now and mine != now):
                    self._listed[serial] = taken
            self._keeps_listed = True
        self._crl_number = max(self._crl_number, crl_number)

    def _write_state(self, *, merge: bool = True) -> None:
        """Persist revocations and the CRL number, with what the file holds that this process does not
        (``_refresh``, unless not ``merge``): the caller holds ``_lock`` and the directory (``_held``), so no other
        worker writes between the read and the rename."""
        if self._directory is None:
            return
        if merge:
            self._refresh()
        state = {
            "crl_number": self._crl_number,  # read back only by versions that counted CRLs in this file
            "revocations": [
                {"serial": format(r.serial, "x"), "reason": r.reason.value, "revoked_at": r.revoked_at.isoformat()}
                for r in (self._revocations[s] for s in sorted(self._revocations))
            ],
            # written by the gateway, never by hand: the revocations it made or `zzgw init` took and said, and each as
            # it was made or taken (``unlisted``: an entry that changes one is said too)
            "listed": [format(s, "x") for s in sorted(self._listed.keys() & self._revocations.keys())],
            "listed_as": [
                {"serial": format(s, "x"), "reason": r.reason.value, "revoked_at": r.revoked_at.isoformat()}
                for s, r in sorted(self._listed.items())
                if r is not None and s in self._revocations
            ],
        }
        path = self._directory / _STATE_FILE
        # a temporary file of this writer's own, renamed over the file: a crash leaves the old or the new list
        fd, temporary = tempfile.mkstemp(dir=self._directory, prefix=f".{_STATE_FILE}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(state, indent=1) + "\n")
                out.flush()
                os.fsync(out.fileno())  # on disk before the rename: a power cut leaves no empty list
            os.replace(temporary, path)  # atomic: a crash leaves the old or the new list, never half of one
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


@contextlib.contextmanager
def held_directory(directory: Path | None) -> Iterator[None]:
    """Hold ``directory`` (an exclusive ``flock`` of it, let go when the process ends however it ends): the seal-maker
    CA's while ``revocations.json`` there is read and written again, so that gateway workers sharing it take turns;
    ``pki/`` for member renewals (``gateway.member_certificates.one_at_a_time``). Without a directory (a CA kept in
    memory, or one not saved yet) or with one that cannot be opened, nothing is held."""
    if directory is None:
        yield
        return
    try:
        held: int | None = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        held = None
    if held is None:
        yield
        return
    try:
        fcntl.flock(held, fcntl.LOCK_EX)
        yield
    finally:
        os.close(held)


def whole_second_up(at: dt.datetime) -> dt.datetime:
    """``at`` (UTC) rounded up to the next whole second, unless it is one: the time a seal's revocation is recorded
    from. A CRL carries whole seconds (RFC 5280 5.1.2.6), and had carried the time rounded down while the store and
    the CA kept microseconds: a seal applied at 10.2 s and revoked at 10.7 s passed the gateway's record checks and
    read CERT_REVOKED to every check by the CRL (offline, receipts, VerifyStamp), against api.md's "revoked before it
    sealed" (a reviewer). Rounded up, the store, the CA and the CRL agree, and a seal revoked at 10.7 s is revoked
    from 11 s: what it sealed in the same second before the call took its time stays valid everywhere (RevokeSeal
    holds the seal's row until then, so no record sealed after it is stored, and answers once it has come)."""
    at = at.astimezone(dt.UTC)
    whole = at.replace(microsecond=0)
    return whole if whole == at else whole + dt.timedelta(seconds=1)


# --- the trust check -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityFinding:
    """What the trust check found about one seal certificate."""

    result: CheckResult
    """PASSED, FAILED or INDETERMINATE."""
    reason: str | None
    """Stable code when not PASSED: UNTRUSTED_ROOT, LOOKALIKE_CA, CERT_REVOKED, CERT_EXPIRED, CERT_NOT_YET_VALID,
    BAD_KEY_USAGE, NOT_END_ENTITY, WEAK_ALGORITHM, INVALID_CHAIN, CRL_MISSING, CRL_STALE, MALFORMED_CERTIFICATE.
    The certificate's own validity and revocation carry the CERT_ prefix: a report's reason must never read as a
    license status (REVOKED, EXPIRED, NOT_YET_VALID are those of the license)."""
    detail: str
    """Human-readable explanation (from the validator), for logs and clerks; empty when PASSED."""
    subject_name: str | None
    """The organisation that owns the seal (subject O)."""
    seal_name: str | None
    """The seal's name (subject CN)."""
    uscc: str | None
    """The owner's 统一社会信用代码 (organizationIdentifier, else serialNumber)."""
    serial: int
    """The certificate's serial number."""
    revoked_at: dt.datetime | None = None
    """When the certificate was revoked, if the CRL said so and that was before ``at``."""

    def __post_init__(self) -> None:
        if (self.result is CheckResult.PASSED) != (self.reason is None):
            raise ValueError("a finding has a reason exactly when it did not pass")


MAX_CARRIED_CERTIFICATES = 16
"""Certificates a seal's signature and its timestamp may carry between them: a seal of this registry carries its own,
its CA's and the timestamp authority's. A forged one with thousands (all copying a trusted CA's name) cost seconds
of path building per hundred, up to 30 s a document, and held up every other call."""


def repeated_name(certificates: Iterable[cms.CertificateChoices]) -> str | None:
    """Why the certificates one signature or one timestamp token carries are not looked at, or None: two different
    ones of the same name. pyHanko builds a path through every ordering of certificates named alike (self-issued
    ones, each naming itself its issuer), so 8 of them in a 20 KB PDF cost 37 s and 14, within
    ``MAX_CARRIED_CERTIFICATES``, hours; a CA's certificate names a CA once."""
    seen: dict[object, bytes] = {}
    for choice in certificates:
        if choice.name != "certificate":  # attribute and other certificates are on no path
            continue
        cert = choice.chosen
        subject, der = cert.subject, cert.dump()
        if seen.setdefault(subject.hashable, der) != der:
            return f"it carries two different certificates named {subject.human_friendly!r}"
    return None


def check_certificate(
    cert: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime,
) -> IdentityFinding:
    """Check that ``cert`` chained to a trust root and was valid, for seals, and not revoked at ``at``.

    Synchronous wrapper over ``async_check_certificate``; do not call it from a running event loop.
    """
    return asyncio.run(
        async_check_certificate(cert, trust_roots=trust_roots, intermediates=intermediates, crls=crls, at=at)
    )


async def async_check_certificate(
    cert: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime,
) -> IdentityFinding:
    """Check ``cert`` as at ``at`` (the time the seal was applied), with only the material given: nothing is fetched.

    ``crls`` (DER) may be issued after ``at``: a certificate revoked after ``at`` passes, one revoked before fails
    with CERT_REVOKED. The seal certificate must be covered by a CRL (else INDETERMINATE, CRL_MISSING); CA certificates
    are checked only when they declare a CRL distribution point.
    """
    _require_aware(at)
    try:
        return await _check_certificate(cert, trust_roots=trust_roots, intermediates=intermediates, crls=crls, at=at)
    except (ValueError, UnicodeDecodeError) as exc:  # a name or extension that does not decode
        return IdentityFinding(
            result=CheckResult.FAILED,
            reason="MALFORMED_CERTIFICATE",
            detail=f"印章证书无法读取（the certificate cannot be read: {_short(exc)}）",
            subject_name=None,
            seal_name=None,
            uscc=None,
            serial=cert.serial_number,
        )


async def _check_certificate(
    cert: x509.Certificate,
    *,
    trust_roots: Sequence[x509.Certificate],
    intermediates: Sequence[x509.Certificate],
    crls: Sequence[bytes],
    at: dt.datetime,
) -> IdentityFinding:
    subject_name, seal_name, uscc = _identity(cert)

    def finding(
        result: CheckResult, reason: str | None, detail: str = "", revoked_at: dt.datetime | None = None
    ) -> IdentityFinding:
        return IdentityFinding(
            result=result,
            reason=reason,
            detail=detail,
            subject_name=subject_name,
            seal_name=seal_name,
            uscc=uscc,
            serial=cert.serial_number,
            revoked_at=revoked_at,
        )

    if is_ca(cert):
        said = "签章用的不是印章证书，而是CA证书（a seal certificate must not be a CA certificate）"
        return finding(CheckResult.FAILED, "NOT_END_ENTITY", said)
    if not trust_roots:
        return finding(CheckResult.FAILED, "UNTRUSTED_ROOT", "没有可信的根证书可供核验（no trust roots were given）")
    context = ValidationContext(
        signature_validator=sm2_x509.Sm2SignatureValidator(),
        trust_roots=[_to_asn1(c) for c in trust_roots],
        other_certs=[_to_asn1(c) for c in intermediates],
        crls=list(crls),
        allow_fetching=False,
        moment=at,
        # hard-fail for the CAs (check a CRL they declare), but a CRL is required for the seal certificate itself;
        # later CRLs count (retroactive), which is sound because holds are never issued (see _REFUSED_REASONS)
        revinfo_policy=CertRevTrustPolicy(
            RevocationCheckingPolicy(
                ee_certificate_rule=RevocationCheckingRule.CRL_REQUIRED,
                intermediate_ca_cert_rule=RevocationCheckingRule.CHECK_IF_DECLARED,
            ),
            retroactive_revinfo=True,
        ),
    )
    validator = CertificateValidator(_to_asn1(cert), validation_context=context)
    # pyhanko-certvalidator's messages ("The path could not be validated because …") are said in the gateway's
    # words, Chinese first; where they tell more than the reason, they follow, short, in the English
    try:
        # pyhanko-certvalidator leaves this method unannotated
        await validator.async_validate_usage(  # type: ignore[no-untyped-call]
            {"digital_signature", "non_repudiation"}, extended_optional=False
        )
    # the English is the validator's own (which certificate of the path, the CRL's reason); the moment checked is
    # in neither half: a stamp's certificate is checked at the time of the call too, and a receipt's detail must not
    # change from one call to the next (found in review)
    except RevokedError as exc:
        when = exc.revocation_dt.isoformat()
        said = f"{_whose(exc)}已于{when}吊销（{_short(exc)}）"
        return finding(CheckResult.FAILED, "CERT_REVOKED", said, revoked_at=exc.revocation_dt)
    except ExpiredError as exc:
        said = f"{_whose(exc)}已于{exc.expired_dt.isoformat()}过期（{_short(exc)}）"
        return finding(CheckResult.FAILED, "CERT_EXPIRED", said)
    except NotYetValidError as exc:
        said = f"{_whose(exc)}自{exc.valid_from.isoformat()}起才生效（{_short(exc)}）"
        return finding(CheckResult.FAILED, "CERT_NOT_YET_VALID", said)
    except StaleRevinfoError as exc:
        said = f"吊销列表已过期，无法确认印章证书是否已吊销（the CRL is out of date: {_short(exc)}）"
        return finding(CheckResult.INDETERMINATE, "CRL_STALE", said)
    except InsufficientRevinfoError as exc:
        said = (
            "缺少吊销列表，无法确认印章证书是否已吊销"
            f"（no CRL tells whether the certificate is revoked: {_short(exc)}）"
        )
        return finding(CheckResult.INDETERMINATE, "CRL_MISSING", said)
    except DisallowedAlgorithmError as exc:
        said = f"印章证书使用的算法不安全（the certificate's chain uses a disallowed algorithm: {_short(exc)}）"
        return finding(CheckResult.FAILED, "WEAK_ALGORITHM", said)
    except (PathBuildingError, PathValidationError) as exc:
        # the path builder matches issuers by name, so a look-alike CA surfaces as a bad signature on the path
        # or as no path at all; telling it apart from a merely unknown CA takes a look at the chain's signatures
        if (lookalike := _lookalike_of(cert, trust_roots, intermediates)) is not None:
            return finding(CheckResult.FAILED, "LOOKALIKE_CA", _lookalike_detail(lookalike))
        if isinstance(exc, PathBuildingError):  # said in the gateway's words, naming the unknown issuer
            detail = (
                "印章证书不是可信的制章机构签发的"
                f"（issued under {_named(cert.issuer)}, which chains to none of the trusted CAs）"
            )
            return finding(CheckResult.FAILED, "UNTRUSTED_ROOT", detail)
        said = f"印章证书链无效（the certificate chain does not validate: {_short(exc)}）"
        return finding(CheckResult.FAILED, "INVALID_CHAIN", said)
    except InvalidCertificateError as exc:
        # pyhanko-certvalidator says so of a self-signed certificate that is no trust root too, before any path
        if cert.issuer == cert.subject and signed_by(cert, cert):
            if (lookalike := _lookalike_of(cert, trust_roots, intermediates)) is not None:
                return finding(CheckResult.FAILED, "LOOKALIKE_CA", _lookalike_detail(lookalike))
            detail = (
                "印章证书是自签名的，不是可信的制章机构签发的"
                f"（self-signed ({_named(cert.subject)}): issued under none of the trusted CAs）"
            )
            return finding(CheckResult.FAILED, "UNTRUSTED_ROOT", detail)
        said = f"印章证书不能用于签章（the certificate may not be used for seals: {_short(exc)}）"
        return finding(CheckResult.FAILED, "BAD_KEY_USAGE", said)
    except ValidationError as exc:
        said = f"印章证书链无效（the certificate chain does not validate: {_short(exc)}）"
        return finding(CheckResult.FAILED, "INVALID_CHAIN", said)
    return finding(CheckResult.PASSED, None)


def _lookalike_detail(lookalike: x509.Name) -> str:
    return (
        "印章证书的签发者冒用了可信制章机构的名称，却不是用该机构的密钥签发的，系伪造"
        f"（issued under {_named(lookalike)}, which copies the name of a trusted CA but not its key）"
    )


_NAMED = 240
"""Characters of a certificate's name a finding quotes: a forger chooses it (600 attributes), and the detail,
bounded (``signing.results.MAX_DETAIL``), must keep its Chinese and its English whole."""
_SHORT = 200
"""Characters of a library's message a finding keeps, after the gateway's own words."""


def _named(name: x509.Name) -> str:
    text = name.rfc4514_string()
    return text if len(text) <= _NAMED else text[: _NAMED - 1] + "…"


def _whose(exc: PathValidationError) -> str:
    """Which certificate of the path a validator's error is about, in Chinese (its English is the error's own)."""
    return "印章证书" if exc.is_ee_cert else "印章证书链上的CA证书"


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "failure_msg", "") or exc) or type(exc).__name__
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"


def _identity(cert: x509.Certificate) -> tuple[str | None, str | None, str | None]:
    """Owner (O), seal name (CN) and USCC (organizationIdentifier, else serialNumber) from the subject."""
    subject = cert.subject
    uscc = _attribute(subject, NameOID.ORGANIZATION_IDENTIFIER) or _attribute(subject, NameOID.SERIAL_NUMBER)
    return _attribute(subject, NameOID.ORGANIZATION_NAME), _attribute(subject, NameOID.COMMON_NAME), uscc


def _attribute(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    values = name.get_attributes_for_oid(oid)
    if not values:
        return None
    value = values[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _lookalike_of(
    cert: x509.Certificate, trust_roots: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate]
) -> x509.Name | None:
    """The name of a trusted CA that some certificate up the chain claims as issuer without being signed by it.

    The chain is followed through ``intermediates`` by name and signature; the trusted CAs are the roots and the
    intermediates that chain to them.
    """
    trusted = [c for c in intermediates if _chains_to(c, trust_roots, intermediates)] + list(trust_roots)
    current = cert
    for _ in range(len(intermediates) + 1):
        if _issued_by_any(current, trusted):
            return None  # the break lies elsewhere (e.g. a CA certificate of its own)
        if any(t.subject == current.issuer for t in trusted):
            return current.issuer
        parents = [c for c in intermediates if c != current and signed_by(current, c)]
        if not parents:
            return None
        current = parents[0]
    return None


def _chains_to(
    cert: x509.Certificate, trust_roots: Sequence[x509.Certificate], intermediates: Sequence[x509.Certificate]
) -> bool:
    current = cert
    for _ in range(len(intermediates) + 1):
        if _issued_by_any(current, trust_roots):
            return True
        parents = [c for c in intermediates if c != current and signed_by(current, c)]
        if not parents:
            return False
        current = parents[0]
    return False


def _issued_by_any(cert: x509.Certificate, issuers: Iterable[x509.Certificate]) -> bool:
    return any(signed_by(cert, issuer) for issuer in issuers)


def signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``cert``'s signature verifies with ``issuer``'s key (SM3withSM2 too); signed_by(c, c): self-signed."""
    if sm2_x509.is_sm2_signed(cert):
        return sm2_x509.signed_by(cert, issuer)
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, _CryptoInvalidSignature, UnsupportedAlgorithm):  # Unsupported: an SM2 issuer
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """Whether ``cert`` is a CA's (basic constraints, cA true)."""
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def _to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


# --- certificate and key helpers -------------------------------------------------------------------------------------


def _require_aware(moment: dt.datetime) -> None:
    if moment.tzinfo is None:
        raise ValueError("times must carry a time zone (use UTC)")


def _generate(algorithm: str) -> PrivateKey:
    if algorithm == ECDSA_P256_SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == RSA2048_SHA256:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == SM2_SM3:
        return Sm2Key.generate()
    raise KeyStoreError(f"unknown algorithm {algorithm!r}; use one of {', '.join((*ALGORITHMS, SM2_SM3))}")


def _ca_name(organisation: str, common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, digital_signature: bool = False, content_commitment: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=content_commitment,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _ca_certificate(
    *,
    subject: x509.Name,
    public_key: SubjectKey,
    issuer: x509.Certificate | None,
    signing_key: PrivateKey,
    path_length: int,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=True, path_length=path_length), True),
        (_key_usage(ca=True), True),
        (_ski(public_key), False),
    ]
    if issuer is not None:
        extensions.append((_aki(issuer), False))
    return _certificate(
        subject=subject,
        issuer=subject if issuer is None else issuer.subject,
        public_key=public_key,
        not_before=not_before,
        not_after=not_after,
        extensions=extensions,
        signing_key=signing_key,
    )


def _certificate(
    *,
    subject: x509.Name,
    issuer: x509.Name,
    public_key: SubjectKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
    signing_key: PrivateKey,
) -> x509.Certificate:
    """A certificate signed with SHA-256 by an ECDSA or RSA key, or SM3withSM2 by an Sm2Key."""
    if isinstance(signing_key, Sm2Key):
        return sm2_x509.build_certificate(
            subject=subject,
            issuer=issuer,
            public_key_der=_spki(public_key),
            serial=x509.random_serial_number(),
            not_before=not_before,
            not_after=not_after,
            extensions=extensions,
            signing_key=signing_key,
        )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(_cryptography_key(public_key))
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def _public_of(key: PrivateKey) -> SubjectKey:
    return key.public_key_der if isinstance(key, Sm2Key) else key.public_key()


def _spki(key: SubjectKey) -> bytes:
    if isinstance(key, bytes):
        return key
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _cryptography_key(key: SubjectKey) -> PublicKey:
    if not isinstance(key, bytes):
        return key
    try:
        loaded = serialization.load_der_public_key(key)
    except UnsupportedAlgorithm:
        raise ValueError("an ECDSA or RSA CA cannot certify an SM2 key: create the CA with algorithm=SM2_SM3") from None
    if not isinstance(loaded, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ValueError("only EC and RSA keys are certified")
    return loaded


def _ski(key: SubjectKey) -> x509.SubjectKeyIdentifier:
    if isinstance(key, bytes):
        return sm2_x509.subject_key_identifier(key)
    return x509.SubjectKeyIdentifier.from_public_key(key)


def _require_issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> None:
    if issuer.issuer != issuer.subject or not signed_by(issuer, issuer):
        raise SigningError(
            f"the root certificate ({issuer.subject.rfc4514_string()}) is not self-signed: it is issued by "
            f"{issuer.issuer.rfc4514_string()}; give the CA's own root, which checkers trust"
        )
    if sm2_x509.public_key_der(cert) == sm2_x509.public_key_der(issuer):
        # its key would then be the root's, held online to certify seals: the root's key must stay offline
        what = "is the root certificate itself" if cert == issuer else "carries the root's key"
        raise SigningError(
            f"the intermediate certificate {what}: give the issuing CA's certificate, which the root signed for a "
            "key of its own; the root's key stays offline"
        )
    if not signed_by(cert, issuer):
        self_signed = cert.issuer == cert.subject and signed_by(cert, cert)
        alone = " (it is self-signed, a root of its own)" if self_signed else ""
        raise SigningError(f"the intermediate certificate is not issued by the root certificate{alone}")
    if not is_ca(cert) or not is_ca(issuer):
        raise SigningError("the root and the intermediate must both be CA certificates")


def _holds(key: PrivateKey, cert: x509.Certificate) -> bool:
    """Whether ``key`` is the private half of ``cert``'s public key."""
    if isinstance(key, Sm2Key):
        return key.public_key_der == sm2_x509.public_key_der(cert)
    try:
        public = cert.public_key()
    except UnsupportedAlgorithm:  # an SM2 certificate
        return False
    encoding, form = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return _spki(key.public_key()) == public.public_bytes(encoding, form)


def _encrypted_pem(key: PrivateKey, passphrase: bytes) -> bytes:
    if isinstance(key, Sm2Key):
        return key.to_encrypted_pem(passphrase)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _load_key(pem: bytes, passphrase: bytes | None, what: str) -> PrivateKey:
    """The private key in ``pem``; ``what`` names it in a KeyStoreError (its file's path, or "the intermediate key")."""
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot decrypt {what}: wrong passphrase or damaged file") from exc
    except UnsupportedAlgorithm:  # cryptography decrypts an SM2 key, then refuses its curve
        if passphrase is None:
            raise KeyStoreError(f"{what} is an SM2 key: it must be encrypted") from None
        try:
            return Sm2Key.from_encrypted_pem(pem, passphrase)
        except KeyStoreError as exc:  # "cannot decrypt the key: …", named as the others are
            said = str(exc)
            raise KeyStoreError(said.replace("the key", what, 1) if "the key" in said else f"{what}: {said}") from None
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key
    raise KeyStoreError(f"{what} must be ECDSA P-256, RSA-2048 or SM2")


_STATE_FORM = (
    '{"revocations": [{"serial": "<hex>", "reason": "<keyCompromise, superseded, cessationOfOperation, '
    'affiliationChanged, cACompromise, privilegeWithdrawn or unspecified>", "revoked_at": "<ISO 8601 with offset>"}, '
    "…]}"
)


def _read_state(path: Path) -> tuple[list[Revocation], int, dict[int, Revocation | None] | None]:
    """The revocations, CRL number and listed serials (None in a file written before they were kept), each with its
    revocation as listed (None in a file written before that was kept), of ``revocations.json``; KeyStoreError
    naming the file and the entry that cannot be read (one edited by hand with RevokeSeal's spelling of a reason,
    ``key_compromise``, had stopped `zzgw serve` with a traceback; a keys tester)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return [], 0, {}
    except ValueError as exc:
        raise KeyStoreError(f"{path} is damaged: {exc}") from exc
    if not isinstance(state, dict) or not isinstance(state.get("revocations"), list):
        raise KeyStoreError(f"{path} is damaged: it holds no list of revocations ({_STATE_FORM})")
    revocations = [_read_revocation(path, number, item) for number, item in enumerate(state["revocations"], 1)]
    crl_number = state.get("crl_number", 0)
    if type(crl_number) is not int or not 0 <= crl_number < 2**159:  # as written; no bool, float or string
        raise KeyStoreError(f"{path} is damaged: its crl_number is not a number from 0 of 159 bits at most")
    listed = state.get("listed")
    if listed is None:
        return revocations, crl_number, None
    listed_as = state.get("listed_as", [])
    try:
        if not isinstance(listed, list) or not isinstance(listed_as, list):
            raise TypeError
        serials = {int(serial, 16) for serial in listed}
    except (TypeError, ValueError, AttributeError):
        raise KeyStoreError(
            f"{path} is damaged: its listed is not the list of serials (hex) the gateway writes; restore the file from "
            "the data directory's backup"
        ) from None
    taken = [_read_revocation(path, number, item, "listed_as") for number, item in enumerate(listed_as, 1)]
    as_taken = {revocation.serial: revocation for revocation in taken}
    return revocations, crl_number, {serial: as_taken.get(serial) for serial in serials}


def _read_revocation(path: Path, number: int, item: Any, where: str = "revocation") -> Revocation:
    """Entry ``number`` of ``revocations.json``'s ``revocations`` (or ``listed_as``); KeyStoreError naming it."""
    try:
        revoked_at = dt.datetime.fromisoformat(item["revoked_at"])
        _require_aware(revoked_at)
        revocation = Revocation(
            serial=int(item["serial"], 16),
            reason=x509.ReasonFlags(item["reason"]),
            revoked_at=revoked_at.astimezone(dt.UTC),
        )
        if revocation.reason in _REFUSED_REASONS:
            raise ValueError(f"{revocation.reason.value} is not a final revocation")
        if not 0 < revocation.serial < 2**159:  # RFC 5280's: every CRL had failed to be made, at each check
            raise ValueError("a serial is positive and of 159 bits at most")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise KeyStoreError(
            f"{path} is damaged: {where} {number} ({json.dumps(item, ensure_ascii=False)[:200]}) cannot be "
            f"read: {why}; each is as in {_STATE_FORM}"
        ) from None
    return revocation
