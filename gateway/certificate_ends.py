"""When a certificate ends: the gateway's own (the receipt certificate, 核验回执专用章, ``seal-ca/receipt.pem``; the
time-stamping certificate, ``seal-ca/tsa.pem``; the server's TLS certificate, ``pki/server.pem``; the member CA,
``pki/ca.pem``) and the members' client certificates (``gateway.member_certificates``), each said the same way, its
day in Beijing time. And the trust anchors a department or partner province is handed (``trust_anchors``), with the
SHA-256 fingerprint to compare out of band.

>>> ending("the receipt certificate", path, certificate.not_valid_after_utc, clock.now(), within=RENEW_BEFORE)
... # doctest: +SKIP
Ending(what='the receipt certificate', ..., ended=False, days_left=12)

``zzgw init`` renews each of its own that ends within ``RENEW_BEFORE`` (or has ended); ``zzgw serve`` warns of one
that ends within it and refuses to start with one that has ended. The gateway had gone on signing receipts and
timestamps under certificates that had ended, which no checker accepts, and serving TLS that every client refused,
without a word (a keys tester). ``zzgw serve`` warns of a member's that ends within ``WARN_BEFORE``, and logs an
ERROR for one that has ended (its department's calls fail in the TLS handshake, whose log line names nobody). It
warns of the member CA from ``CA_WARN_BEFORE`` before its end, and logs an ERROR once it has ended, but serves on
(its HTTP side, the console and the trust material, needs no member certificate): no command renews the CA, whose
every certificate, and whose trust at every partner, would have to be replaced (docs/departments.md).

A gateway left running is watched too (``watch_own_certificates``): its own certificates were looked at only when
`zzgw serve` started, and one running for months past the 90 days (under systemd, the normal case) went on serving
an ended server certificate every client refused, and signing receipts under an ended receipt certificate that check
``INVALID`` for good, ready all along, with no word in its log and no metric (a renewal tester, D1). Each certificate
the process serves (``OwnCertificates``, read at start: the process reads its certificates at start only) is looked
at again daily and at its end, said as at start (a WARNING within its time, an ERROR once ended), and its end kept in
the gauge ``zzgw_gateway_certificate_expiry_seconds{certificate}``; once the server or the receipt certificate has
ended, readiness says ``CERTIFICATE_ENDED`` (``OwnCertificates.ended``).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from gateway import metrics
from gateway.config import ConfigError, Settings
from gateway.domain.counts import counted
from gateway.domain.model import CHINA_TZ, Clock, beijing_day
from gateway.threads import name_this_thread
from signing.errors import KeyStoreError

log = logging.getLogger("zzgw")

RENEW_BEFORE = dt.timedelta(days=90)
"""How long before its end `zzgw init` renews one of the gateway's certificates, and `zzgw serve` warns of it."""
WARN_BEFORE = dt.timedelta(days=30)
"""How long before its end `zzgw serve` warns of a member's client certificate."""
CA_WARN_BEFORE = dt.timedelta(days=365)
"""How long before its end `zzgw serve` warns of the member CA: replacing it takes every department and partner
province trusting a new CA, which is not done in a few weeks."""
MEMBER_CA_WHAT = "the member CA"


@dataclass(frozen=True, slots=True, kw_only=True)
class Ending:
    """A certificate that ends within the time asked of ``ending``, or has ended."""

    what: str
    """What it is, for the operator (``the receipt certificate``)."""
    path: Path | None
    """Where the data directory holds it, when said."""
    not_after: dt.datetime
    """Its end."""
    ended: bool
    """Whether it has ended."""
    days_left: int
    """Days from today to the day of its end, both in Beijing time, as its day is said (0 on that day, or once
    ended): whole 24-hour periods had told an operator at 23:00 on 12-07 of an end at 01:00 on 12-09 "in 1 day" (a
    reviewer, R3)."""

    def said(self) -> str:
        """The end in words: ``the receipt certificate (…/receipt.pem) ends on 2031-12-09 (Beijing time), in 12
        days`` (``tomorrow``, ``today``), or ``… ended on 2031-12-09 (Beijing time)``."""
        where = f"{self.what} ({self.path})" if self.path is not None else self.what
        day = f"{beijing_day(self.not_after)} (Beijing time)"
        if self.ended:
            return f"{where} ended on {day}"
        left = {0: "today", 1: "tomorrow"}.get(self.days_left) or f"in {counted(self.days_left, 'day')}"
        return f"{where} ends on {day}, {left}"


def ending(
    what: str, path: Path | None, not_after: dt.datetime, now: dt.datetime, *, within: dt.timedelta
) -> Ending | None:
    """The end ``not_after`` of a certificate when it is ``within`` of ``now`` or past, else None."""
    left = not_after - now
    if left > within:
        return None
    ended = left <= dt.timedelta(0)
    days = (not_after.astimezone(CHINA_TZ).date() - now.astimezone(CHINA_TZ).date()).days
    return Ending(what=what, path=path, not_after=not_after, ended=ended, days_left=0 if ended else days)


OWN_CHECK_SECONDS = 24 * 3600.0
"""How often a serving process looks again at its own certificates (and at each one's end)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class OwnCertificate:
    """One of the gateway's own certificates as this process serves it."""

    name: str
    """Its ``certificate`` label in ``zzgw_gateway_certificate_expiry_seconds``: ``server``, ``receipt``, ``tsa``,
    ``member-ca``."""
    what: str
    """What it is, for the operator (``the receipt certificate``)."""
    path: Path
    """Its file in the data directory."""
    not_after: dt.datetime
    """Its end."""
    within: dt.timedelta
    """How long before its end it is warned of."""
    after: str
    """What its end does (``every client refuses the connection``)."""
    todo: str
    """What to do, said once it ends within ``within`` or has ended."""
    stops_serving: bool = False
    """Whether the process is not ready once it has ended (the server and the receipt certificates)."""

    def said(self, now: dt.datetime) -> tuple[int, str] | None:
        """Its end in words, with the log level to say it at: None before ``within`` of it."""
        ends = ending(self.what, self.path, self.not_after, now, within=self.within)
        if ends is None:
            return None
        if ends.ended:
            return logging.ERROR, f"{ends.said()}, and {self.after}: {self.todo}"
        return logging.WARNING, f"{ends.said()}, after which {self.after}: {self.todo}"


class OwnCertificates:
    """The gateway's own certificates this process serves, set once it has checked them at start (``serve``);
    none before (`zzgw init`'s process serves none)."""

    def __init__(self) -> None:
        self.served: Sequence[OwnCertificate] = ()

    def serve(self, certificates: Sequence[OwnCertificate]) -> None:
        self.served = tuple(certificates)

    def ended(self, now: dt.datetime) -> tuple[str, str] | None:
        """Readiness: ``CERTIFICATE_ENDED`` and why, once the server certificate served has ended by ``now``, or
        ``RECEIPT_CERTIFICATE_ENDED`` (the reason of each call the process then refuses, ``gateway.services.
        verification.receipt_certificate_ended``) once the receipt certificate has; else None."""
        for certificate in self.served:
            if certificate.stops_serving and certificate.not_after < now:  # valid through its notAfter
                said = certificate.said(now)
                assert said is not None
                return ("RECEIPT_CERTIFICATE_ENDED" if certificate.name == "receipt" else "CERTIFICATE_ENDED"), said[1]
        return None


def warn_of_own_ends(
    certificates: Sequence[OwnCertificate], now: dt.datetime, said_on: dict[str, tuple[int, str]] | None = None
) -> list[tuple[int, str]]:
    """Log (``zzgw``) each of ``certificates`` that ends within its time (WARNING) or has ended (ERROR), and set the
    gauge of their ends; what was said, as (level, line). With ``said_on`` (a certificate's name: the level and
    Beijing day it was last said at, kept by the caller), a certificate is said once a day at one level: the look a
    second after one end had said every other again (the receipt and TSA certificates, made together, end seconds
    apart: each ERROR twice; a review of the watch, R2)."""
    metrics.gateway_certificate_ends({c.name: c.not_after.timestamp() for c in certificates})
    said = []
    for certificate in certificates:
        if (line := certificate.said(now)) is None:
            continue
        when = (line[0], beijing_day(now))
        if said_on is not None:
            if said_on.get(certificate.name) == when:
                continue
            said_on[certificate.name] = when
        log.log(line[0], "%s", line[1])
        said.append(line)
    return said


def next_own_look(certificates: Sequence[OwnCertificate], now: dt.datetime) -> float:
    """Seconds until the next look: ``OWN_CHECK_SECONDS``, or sooner, a second after the next end to come, so that
    an end is said (ERROR) when it comes, not up to a day after."""
    wait = OWN_CHECK_SECONDS
    for certificate in certificates:
        left = (certificate.not_after - now).total_seconds()
        if left >= 0:
            wait = min(wait, left + 1.0)
    return wait


def watch_own_certificates(
    own: OwnCertificates, clock: Clock, *, sleep: Callable[[float], object] = time.sleep
) -> threading.Thread:
    """Set the gauge at once (`zzgw serve` said the ends at start), then look again every ``next_own_look``, for
    the process's life, on a daemon thread of its own (``zzgw-own-certs``)."""

    metrics.gateway_certificate_ends({c.name: c.not_after.timestamp() for c in own.served})

    said_on = {c.name: (said[0], beijing_day(clock.now())) for c in own.served if (said := c.said(clock.now()))}

    def run() -> None:  # what the start said (``_check_own_certificates``) is not said again the same day
        name_this_thread("zzgw-own-certs")
        while True:
            sleep(next_own_look(own.served, clock.now()))
            try:
                warn_of_own_ends(own.served, clock.now(), said_on)
            except Exception:  # never the end of the watch, as the members' watch beside it (a review, R3)
                log.exception("the look at the gateway's own certificates failed: tried again at the next")

    thread = threading.Thread(target=run, name="zzgw-own-certs", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustAnchor:
    """A root certificate a department or partner province trusts, as the operator hands it over."""

    name: str
    """Its name in ``zzgw certificates`` (``member-ca``), and on the HTTP side when it is served there."""
    what: str
    """What it is for, Chinese first."""
    path: Path
    """Where the data directory holds it."""
    fingerprint: str
    """SHA-256 of its DER, as ``openssl x509 -noout -fingerprint -sha256`` prints it (``AB:CD:…``)."""
    not_after: dt.datetime
    """Its end."""


_RESTORE_IT = (
    "restore it from the data directory's backup, or copy it from the gateway whose data directory this one was "
    "copied from (README: deployment beyond one machine)"
)


class UnreadableFile(KeyStoreError, ValueError):
    """A certificate or key of the data directory that is there and is not what it should be (empty, cut short by a
    full disk, a copy that stopped midway), named (``read_certificate``, ``read_private_key``). A KeyStoreError, said
    in one line with exit status 2 as a damaged ``seal-ca/root.pem`` is; and a ValueError, as cryptography's own
    refusal is, so that the checks that pass over a file they cannot read (``contextlib.suppress(OSError,
    ValueError)``, where the one that needs it names it) still do."""


def read_certificate(path: Path) -> x509.Certificate:
    """The PEM certificate at ``path``; ``UnreadableFile`` naming a file that is not one, FileNotFoundError when there
    is none. `zzgw init`, `zzgw serve` and the commands that open the store had ended in a traceback for the server's,
    a member's, the receipt, time-stamping or SM2 seal maker's certificate damaged, one not even naming the file for
    ``pki/ca.pem`` (a reviewer, R1)."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        raise UnreadableFile(f"{path} is not a PEM certificate (empty, cut short or damaged): {_RESTORE_IT}") from None


def read_private_key(path: Path) -> PrivateKeyTypes:
    """The unencrypted PEM private key at ``path`` (``pki/ca.key``, ``pki/server.key``); ``UnreadableFile`` naming a
    file that is not one, FileNotFoundError when there is none."""
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):  # TypeError: an encrypted key, which the gateway never writes here
        raise UnreadableFile(f"{path} is not a PEM private key (empty, cut short or damaged): {_RESTORE_IT}") from None


class UnreadableAnchor(ConfigError):
    """A trust anchor's file that is there and cannot be read as a certificate (``trust_anchors``), named."""


def trust_anchors(settings: Settings) -> list[TrustAnchor]:
    """The data directory's roots that a department or partner province trusts: the member CA (TLS with the gateway),
    the seal-maker CA's root (receipts, seals, sealed PDFs, timestamps: the receipt and time-stamping certificates
    chain to it) and, with SM2 seals, the SM2 seal maker's root; those that exist. A partner had only the HTTP side to
    fetch the seal-maker root from, and no fingerprint to check it by (a partner-province tester). ``UnreadableAnchor``
    names a file that is there and is not a PEM certificate (a copy that stopped midway): `zzgw certificates`, the
    command run on a replica whose copy looks wrong, had died with a traceback naming no file (a reviewer, R4)."""
    anchors = []
    for name, what, path in (
        (
            "member-ca",
            "成员 CA：与网关的 TLS 连接所信任的根（the member CA: the root to trust for TLS with the gateway）",
            settings.pki_dir / "ca.pem",
        ),
        (
            "seal-maker-root",
            "制章者根证书：核验回执、电子印章与签章 PDF 所信任的根（the seal maker's root: the root to trust for "
            "receipts, seals and sealed PDFs）",
            settings.seal_ca_dir / "root.pem",
        ),
        (
            "seal-maker-sm2-root",
            "SM2 制章者根证书：SM2 电子印章所信任的根（the SM2 seal maker's root: the root to trust for SM2 seals）",
            settings.sm2_seal_ca_dir / "root.pem",
        ),
    ):
        if not path.exists():
            continue
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except OSError as exc:
            raise UnreadableAnchor(f"{path} cannot be read: {exc.strerror}") from None
        except ValueError:
            raise UnreadableAnchor(
                f"{path} is not a PEM certificate (empty, cut short or damaged): copy it again from the data "
                "directory's backup, or from the gateway whose data directory this one was copied from"
            ) from None
        anchors.append(
            TrustAnchor(
                name=name,
                what=what,
                path=path,
                fingerprint=certificate.fingerprint(hashes.SHA256()).hex(":").upper(),
                not_after=certificate.not_valid_after_utc,
            )
        )
    return anchors
