"""When the members' client certificates end: ``zzgw members`` lists each end, ``zzgw serve`` warns of them.

>>> ends = certificate_ends(settings, db)                    # doctest: +SKIP
>>> said = warn_of_ends(ends, {m.code: m.name for m in members}, now)   # doctest: +SKIP

A department's client certificate lasts 825 days (docs/departments.md). The day it ends, the department's calls fail
in the TLS handshake, inside gRPC's core: its log line names neither the member nor the peer, and no zzgw logger,
access line or metric hears of it (gRPC's Python API offers no hook there), so an on-call could not tell which
department was down, nor why (found by an on-call tester). The gateway says it beforehand instead: ``zzgw serve``,
at start and then every ``CHECK_SECONDS``, logs a WARNING for each registered member whose certificate ends within
``WARN_BEFORE`` and an ERROR for one whose certificate has ended, each naming the member and the day in Beijing time
(``gateway.certificate_ends``, which says the gateway's own certificates' ends too), and keeps the gauge
``zzgw_member_certificate_expiry_seconds{member}`` (``gateway.metrics``) at each end.

A member's certificate is read from ``pki/members/CODE.pem`` when it is the one the store registered (the store keeps
only its SHA-256): one that is not there (a replica given no copy), or another, has no end said.

Renewing overlaps (``zzgw members --renew CODE``, ``renew_certificate``): a new certificate is issued and
registered, on a key made here or on the department's own (a certificate signing request), while the one before
stays accepted, as ``pki/members/CODE.previous.pem``, until ``zzgw members --retire CODE`` (``retire_certificate``)
or its end. Renewing had meant ``--revoke`` first, and a partner province was locked out from then until the new key
had reached it (a partner-province tester). The previous certificate's end is said as the registered one's is
(``warn_of_ends``), and one that has ended is retired by the next renewal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway import metrics
from gateway.certificate_ends import WARN_BEFORE, ending
from gateway.config import Settings
from gateway.domain.model import Clock
from gateway.services.members import MemberService
from gateway.store.database import Database, driver_error
from gateway.threads import name_this_thread
from signing.pki import CertificateAuthority, Issued, csr_public_key, write_private, write_public
from signing.seal_ca import held_directory

log = logging.getLogger("zzgw.members")

CHECK_SECONDS = 24 * 3600.0
"""How often ``zzgw serve`` looks again."""
RETRY_SECONDS = 3600.0
"""How soon it looks again when the store did not answer."""


def certificate_ends(settings: Settings, db: Database) -> dict[str, dt.datetime | None]:
    """The end (notAfter, UTC) of each registered member's client certificate, by member code; None for one whose
    registered certificate is not in ``pki/members/``. Revoked members have none registered, and are not listed."""
    with db.unit_of_work() as uow:
        registered = uow.members.certificate_digests()
    directory = settings.pki_dir / "members"
    ends: dict[str, dt.datetime | None] = {}
    for code, digest in sorted(registered.items()):
        try:
            certificate = x509.load_pem_x509_certificate((directory / f"{code}.pem").read_bytes())
        except (OSError, ValueError):
            ends[code] = None
            continue
        ours = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest() == digest
        ends[code] = certificate.not_valid_after_utc if ours else None
    return ends


def warn_of_ends(
    ends: Mapping[str, dt.datetime | None],
    names: Mapping[str, str],
    now: dt.datetime,
    previous: Mapping[str, dt.datetime | None] | None = None,
) -> list[tuple[int, str]]:
    """Log (``zzgw.members``) each certificate of ``ends`` that has ended (ERROR) or ends within ``WARN_BEFORE``
    (WARNING), naming the member by its code and name (an organisation's: no personal data); returns what was said
    as (level, line). The gauge is set for every end known, and loses the series of a member whose end is not (any
    more).

    ``previous`` (``previous_certificate_ends``) are the ends of the certificates a renewal keeps accepted until
    retired: each is said too, a WARNING from ``WARN_BEFORE`` before its end and once it has ended, until it is
    retired. A renewal made as the warning said had silenced it, though its department may still be on the old
    pair, which stops at its end with no word (a reviewer). The gauge stays the registered certificate's: an alert
    on it is for a department with nothing to move to."""
    metrics.member_certificate_ends({code: end.timestamp() for code, end in ends.items() if end is not None})
    said = _warn_of_previous_ends(previous or {}, names, now)
    for code, end in ends.items():
        renew = f"renew it: `zzgw members --renew {code}` (docs/departments.md, Renewing)"
        what = f"the client certificate of member {code} ({names.get(code, '?')})"
        said_end = None if end is None else ending(what, None, end, now, within=WARN_BEFORE)
        if said_end is None:
            continue
        if said_end.ended:
            level, then = logging.ERROR, "its calls fail in the TLS handshake, which the log cannot name"
        else:
            level, then = logging.WARNING, "its calls will fail in the TLS handshake from then on"
        line = f"{said_end.said()}: {then}; {renew}"
        log.log(level, "%s", line)
        said.append((level, line))
    return said


def _warn_of_previous_ends(
    ends: Mapping[str, dt.datetime | None], names: Mapping[str, str], now: dt.datetime
) -> list[tuple[int, str]]:
    """``warn_of_ends`` of the previous certificates, all WARNINGs: one ended refuses only a department that did not
    move to its new pair, which the gateway cannot tell."""
    said: list[tuple[int, str]] = []
    for code, end in ends.items():
        what = f"the previous client certificate of member {code} ({names.get(code, '?')}), kept by its renewal,"
        said_end = None if end is None else ending(what, None, end, now, within=WARN_BEFORE)
        if said_end is None:
            continue
        if said_end.ended:
            then = (
                "its department's calls with the old pair fail in the TLS handshake, which the log cannot name, "
                f"the new pair being the one to use; retire it: `zzgw members --retire {code}`"
            )
        else:
            then = (
                "a department still on the old pair fails in the TLS handshake from then on: hand it the new pair "
                f"(docs/departments.md, Renewing), and once it connects with that, `zzgw members --retire {code}`"
            )
        line = f"{said_end.said()}: {then}"
        log.warning("%s", line)
        said.append((logging.WARNING, line))
    return said


def watch_certificate_ends(settings: Settings, db: Database, clock: Clock) -> threading.Thread:
    """Check at once, then every ``CHECK_SECONDS`` (``RETRY_SECONDS`` after the store did not answer), on a daemon
    thread of its own (``zzgw-certificates``), for the process's life."""

    def run() -> None:
        name_this_thread("zzgw-certificates")
        while True:
            try:
                with db.unit_of_work() as uow:
                    names = {member.code: member.name for member in uow.members.all()}
                ends, previous = certificate_ends(settings, db), previous_certificate_ends(settings, db)
                warn_of_ends(ends, names, clock.now(), previous)
                wait = CHECK_SECONDS
            except Exception as exc:  # the store out of reach, most likely: said, and tried again in a while
                log.warning(
                    "cannot read the members' registered certificates (%s): looking again in %d minutes",
                    driver_error(exc),
                    RETRY_SECONDS // 60,
                )
                wait = RETRY_SECONDS
            time.sleep(wait)

    thread = threading.Thread(target=run, name="zzgw-certificates", daemon=True)
    thread.start()
    return thread


PREVIOUS = "previous"
"""``pki/members/CODE.previous.pem`` (and ``.key``, when the gateway made it): a member's certificate before its
renewal, accepted until retired."""


class RenewalRefused(Exception):
    """Why ``renew_certificate`` did nothing, for the operator."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Renewed:
    """What ``renew_certificate`` did."""

    certificate: Path
    """The new certificate, ``pki/members/CODE.pem``."""
    key: Path | None
    """Its key, made here (``CODE.key``); None when the department sent a request, keeping its key."""
    not_after: dt.datetime
    """The new certificate's end."""
    previous: Path | None
    """The certificate before, ``CODE.previous.pem``, accepted until retired (None: it was not here)."""
    previous_not_after: dt.datetime | None
    """Its end, when it stops being accepted anyway."""
    retired: Path | None = None
    """Where the certificate before that one was put aside (``put_previous_aside``), retired by this renewal as it
    had ended; None when there was none."""
    retired_not_after: dt.datetime | None = None
    """When that one ended."""


def renew_certificate(
    settings: Settings,
    members: MemberService,
    code: str,
    *,
    request: bytes | None = None,
    now: dt.datetime | None = None,
) -> Renewed:
    """Issue member ``code`` a new client certificate and register it, its registered one staying accepted
    beside it (``MemberService.renew``). The new key is made here, or is the department's own when ``request``, a
    certificate signing request it made, is given (``signing.pki.csr_public_key``): then its key never leaves it.
    Needs the member CA's key (``pki/ca.key``), and ``pki/members/CODE.pem`` being the certificate registered, or
    none (lost here: the store knows the one registered by its digest).

    A previous certificate still registered from the renewal before that has ended by ``now`` (read from
    ``CODE.previous.pem``) is no overlap: it is retired with this renewal (``MemberService.renew``'s ``ended``), no
    --retire needed first.

    The new pair is written beside the old one (``CODE.next.*``), registered, and only then put in place, the old one
    moved to ``CODE.previous.*``: a renewal refused by the store leaves the files as they were.

    One renewal or retirement at a time on a data directory (``one_at_a_time``): two started at once had both written
    ``CODE.next.*``, and the one the store took put in place the other's pair, which no store registered (a reviewer,
    R6). The second waits, and then finds the first's renewal (``RENEWAL_OVERLAPS``)."""
    with one_at_a_time(settings.pki_dir):
        return _renew_certificate(settings, members, code, request=request, now=now)


def _renew_certificate(
    settings: Settings, members: MemberService, code: str, *, request: bytes | None, now: dt.datetime | None
) -> Renewed:
    """``renew_certificate``, the data directory held."""
    pki = settings.pki_dir
    directory = pki / "members"
    current = directory / f"{code}.pem"
    before = members.previous_certificates().get(code)
    ended_at = None if before is None else _end_if(directory / f"{code}.{PREVIOUS}.pem", before)
    ended = before if ended_at is not None and ended_at < (now or dt.datetime.now(dt.UTC)) else None
    registered = members.renewable(code, ended=ended)  # the member's state first: revoked, none registered, overlap
    (member,) = [m for m in members.list() if m.code == code]
    try:
        here: str | None = hashlib.sha256(_certificate(current).public_bytes(Encoding.DER)).hexdigest()
    except FileNotFoundError:  # lost here (the store knows it by its digest): renewed all the same
        here = None
    except (OSError, ValueError) as exc:
        said = f"{current} cannot be read ({exc}): copy it back from the data directory's backup"
        raise RenewalRefused(said) from None
    if here is not None and here != registered:
        raise RenewalRefused(
            f"{current} is not the client certificate the store has registered for {code} (a copy of pki/ older than "
            "the store's?): renew on the gateway that issued the registered one, or copy its pki/members/ here"
        )
    if not (pki / "ca.key").exists():
        raise RenewalRefused(
            f"{pki / 'ca.key'} is needed to issue a certificate: bring the member CA's key back for this run"
        )
    public_key = None
    if request is not None:
        try:
            public_key = csr_public_key(request)
        except ValueError as exc:
            raise RenewalRefused(f"the certificate signing request will not do: {exc}") from None
        if here is not None and _key_der(public_key) == _key_der(_certificate(current).public_key()):
            raise RenewalRefused(
                "the certificate signing request is for the key of the certificate registered now: a renewal is "
                "for a new key (make one, and a request for it)"
            )
        had = {registered, *([before] if before is not None else []), *members.revoked_certificates()}
        if refusal := _key_had(directory, code, _key_der(public_key), had, members):
            raise RenewalRefused(refusal)
    ca = CertificateAuthority.from_issued(Issued.read(pki, "ca"))
    if public_key is None:
        issued = ca.issue_client(code=code, name=member.name)
    else:
        issued = Issued(ca.certify_client(code=code, name=member.name, public_key=public_key), b"")
    made = [".pem", ".key"] if issued.key_pem else [".pem"]
    write_public(directory / f"{code}.next.pem", issued.cert_pem)
    if issued.key_pem:
        write_private(directory / f"{code}.next.key", issued.key_pem)
    try:
        members.renew(code, issued.cert_der, ended=ended)
    except BaseException:
        for suffix in made:
            (directory / f"{code}.next{suffix}").unlink(missing_ok=True)
        raise
    retired = put_previous_aside(settings, code, ended) if ended is not None else None
    previous = directory / f"{code}.{PREVIOUS}.pem"
    # CODE.pem missing here, the registered one may be CODE.previous.pem still (a renewal whose renames stopped
    # midway, pki/ restored from a copy newer than the database): kept as the record of the certificate it is
    kept = here is None and _end_if(previous, registered) is not None
    for suffix in (".pem", ".key"):
        old, aside = directory / f"{code}{suffix}", directory / f"{code}.{PREVIOUS}{suffix}"
        if old.exists():
            old.replace(aside)
        elif not kept:  # the department's key, deleted here once handed over: no stale key beside the previous one
            aside.unlink(missing_ok=True)
    for suffix in made:
        (directory / f"{code}.next{suffix}").replace(directory / f"{code}{suffix}")
    return Renewed(
        certificate=current,
        key=directory / f"{code}.key" if ".key" in made else None,
        not_after=x509.load_pem_x509_certificate(issued.cert_pem).not_valid_after_utc,
        previous=previous if here is not None or kept else None,
        previous_not_after=_certificate(previous).not_valid_after_utc if here is not None or kept else None,
        retired=retired,
        retired_not_after=ended_at if retired is not None else None,
    )


def _key_had(directory: Path, code: str, key: bytes, had: set[str], members: MemberService) -> str:
    """Why a request for the key ``key`` (its SubjectPublicKeyInfo, DER) is refused, when a client certificate the
    member ``code`` had, in ``directory`` other than ``CODE.pem``, has it, else "": one ``--revoke`` or ``--retire``
    put aside (``CODE.revoked-<time>[.previous].pem``), or any other ``CODE.*.pem`` whose SHA-256 is one of ``had``,
    the certificates the store knows the member had (registered, previous, taken: ``REVOKED_CERTIFICATE``). A key
    ``--revoke`` took (one that may have leaked) had been certified again by a renewal on a request for it, and the
    holder of the leaked key connected as the member; so had a retired one (a reviewer, R2). A ``CODE.next.pem`` no
    store took (a renewal killed before its registration) was never the member's: it had refused the same renewal
    run again, for good (a reviewer)."""
    for path in sorted(directory.glob(f"{code}.*.pem")):
        try:
            certificate = _certificate(path)
        except (OSError, ValueError):  # a damaged file has no key to compare
            continue
        if _key_der(certificate.public_key()) != key:
            continue
        digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
        if not path.name.startswith(f"{code}.revoked-") and digest not in had:
            continue
        revoked = path.name.startswith(f"{code}.revoked-") and not path.name.endswith(f".{PREVIOUS}.pem")
        if revoked or members.taken_by_revoke(digest):
            return (
                f"the certificate signing request is for the key of a client certificate --revoke took ({path}): a "
                "key that may have leaked is never certified again; the department makes a new key, and a request "
                "for it"
            )
        return (
            f"the certificate signing request is for the key of a client certificate the member had before ({path}): "
            "a renewal is for a new key (make one, and a request for it)"
        )
    return ""


def retire_certificate(settings: Settings, members: MemberService, code: str) -> Path | None:
    """Stop accepting member ``code``'s previous certificate (``MemberService.retire``: never registered again), and
    move ``CODE.previous.*`` aside as a revocation does, its digest, as the store had it, recorded beside them
    (``put_previous_aside``); their new names' stem. One at a time with a renewal (``one_at_a_time``)."""
    with one_at_a_time(settings.pki_dir):
        return put_previous_aside(settings, code, members.retire(code))


@contextlib.contextmanager
def one_at_a_time(pki: Path) -> Iterator[None]:
    """Hold ``pki`` (an exclusive ``flock`` of the directory, let go when the process ends however it ends) while a
    renewal, retirement or revocation (``zzgw members --revoke``) writes ``pki/members/``; another waits for it.
    Without the directory, nothing is held: the command then says what is missing."""
    with held_directory(pki):
        yield


def put_previous_aside(settings: Settings, code: str, digest: str | None) -> Path | None:
    """Move ``pki/members/CODE.previous.*`` to ``CODE.revoked-<UTC time>.previous.*`` (``retire_certificate``, and
    ``zzgw members --revoke``, which takes the previous certificate too); the new names' stem, or None when there
    was none here and no ``digest``. ``digest`` is the SHA-256 the store had of the previous certificate taken: when
    no ``CODE.previous.pem`` here is that certificate (a renewal made while ``CODE.pem`` was missing here), it is
    recorded as ``CODE.revoked-<time>.previous.sha256`` (``record_taken``), as a file put aside records it: ``zzgw
    init`` holds a restored database against these records, and a retirement had left none (a reviewer)."""
    directory = settings.pki_dir / "members"
    stem = f"{code}.revoked-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.{PREVIOUS}"
    moved = None
    for suffix in (".pem", ".key"):
        previous = directory / f"{code}.{PREVIOUS}{suffix}"
        if previous.exists():
            previous.replace(directory / f"{stem}{suffix}")
            moved = directory / stem
    if digest is not None and record_taken(directory / stem, digest):
        moved = directory / stem
    return moved


TAKEN_RECORD = ".sha256"
"""``pki/members/CODE.revoked-<time>[.previous].sha256``: the SHA-256 (hex, one line) of a client certificate
``--revoke`` or ``--retire`` took that was not in the data directory to be put aside (``record_taken``)."""


def record_taken(stem: Path, digest: str) -> bool:
    """Record beside ``stem`` (``CODE.revoked-<time>[.previous]``) the client certificate ``digest`` that ``zzgw
    members --revoke`` or ``--retire`` took from the store, unless the directory records it already (``stem.pem``
    put aside just now, or an earlier record of CODE's): as ``stem.sha256``, which ``zzgw init`` and ``zzgw serve``
    read as they read a certificate put aside (``taken_digest``), refusing a database restored from a copy taken
    before that still trusts it. Whether a record was written."""
    code = stem.name.split(".revoked-", 1)[0]
    for path in sorted(stem.parent.glob(f"{code}.revoked-*")):
        if path.suffix not in (".pem", TAKEN_RECORD):
            continue
        with contextlib.suppress(OSError, ValueError):  # a damaged file records nothing
            if taken_digest(path) == digest:
                return False
    write_public(stem.with_name(stem.name + TAKEN_RECORD), (digest + "\n").encode("ascii"))
    return True


def taken_digest(path: Path) -> str:
    """The SHA-256 of the client certificate that ``path`` records as taken: a certificate put aside
    (``CODE.revoked-<time>[.previous].pem``), or a ``record_taken`` record (``.sha256``). OSError or ValueError when
    it records none."""
    if path.name.endswith(TAKEN_RECORD):
        digest = path.read_text(encoding="ascii").strip()
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            raise ValueError(f"{path} is no SHA-256")
        return digest
    return hashlib.sha256(_certificate(path).public_bytes(Encoding.DER)).hexdigest()


def previous_certificate_ends(settings: Settings, db: Database) -> dict[str, dt.datetime | None]:
    """The end of each member's previous certificate still accepted beside its renewal, by member code; None for
    one that is not ``pki/members/CODE.previous.pem`` here."""
    with db.unit_of_work() as uow:
        registered = uow.members.previous_certificate_digests()
    return {
        code: _end_if(settings.pki_dir / "members" / f"{code}.{PREVIOUS}.pem", digest)
        for code, digest in sorted(registered.items())
    }


def _end_if(path: Path, digest: str) -> dt.datetime | None:
    """The end of the certificate at ``path`` when its SHA-256 is ``digest``, else None."""
    try:
        certificate = _certificate(path)
    except (OSError, ValueError):
        return None
    ours = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest() == digest
    return certificate.not_valid_after_utc if ours else None


def _key_der(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())
