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
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from gateway import metrics
from gateway.certificate_ends import WARN_BEFORE, ending
from gateway.config import Settings
from gateway.domain.model import Clock
from gateway.store.database import Database, driver_error
from gateway.threads import name_this_thread

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
    ends: Mapping[str, dt.datetime | None], names: Mapping[str, str], now: dt.datetime
) -> list[tuple[int, str]]:
    """Log (``zzgw.members``) each certificate of ``ends`` that has ended (ERROR) or ends within ``WARN_BEFORE``
    (WARNING), naming the member by its code and name (an organisation's: no personal data); returns what was said
    as (level, line). The gauge is set for every end known, and loses the series of a member whose end is not (any
    more)."""
    metrics.member_certificate_ends({code: end.timestamp() for code, end in ends.items() if end is not None})
    said: list[tuple[int, str]] = []
    renew = "renew it: `zzgw members --revoke CODE`, `--restore CODE`, `zzgw init` (docs/departments.md, Renewing)"
    for code, end in ends.items():
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


def watch_certificate_ends(settings: Settings, db: Database, clock: Clock) -> threading.Thread:
    """Check at once, then every ``CHECK_SECONDS`` (``RETRY_SECONDS`` after the store did not answer), on a daemon
    thread of its own (``zzgw-certificates``), for the process's life."""

    def run() -> None:
        name_this_thread("zzgw-certificates")
        while True:
            try:
                with db.unit_of_work() as uow:
                    names = {member.code: member.name for member in uow.members.all()}
                warn_of_ends(certificate_ends(settings, db), names, clock.now())
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
