"""When a certificate ends: the gateway's own (the receipt certificate, 核验回执专用章, ``seal-ca/receipt.pem``; the
time-stamping certificate, ``seal-ca/tsa.pem``; the server's TLS certificate, ``pki/server.pem``) and the members'
client certificates (``gateway.member_certificates``), each said the same way, its day in Beijing time.

>>> ending("the receipt certificate", path, certificate.not_valid_after_utc, clock.now(), within=RENEW_BEFORE)
... # doctest: +SKIP
Ending(what='the receipt certificate', ..., ended=False, days_left=12)

``zzgw init`` renews each of its own that ends within ``RENEW_BEFORE`` (or has ended); ``zzgw serve`` warns of one
that ends within it and refuses to start with one that has ended. The gateway had gone on signing receipts and
timestamps under certificates that had ended, which no checker accepts, and serving TLS that every client refused,
without a word (a keys tester). ``zzgw serve`` warns of a member's that ends within ``WARN_BEFORE``, and logs an
ERROR for one that has ended (its department's calls fail in the TLS handshake, whose log line names nobody).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from gateway.domain.model import beijing_day

RENEW_BEFORE = dt.timedelta(days=90)
"""How long before its end `zzgw init` renews one of the gateway's certificates, and `zzgw serve` warns of it."""
WARN_BEFORE = dt.timedelta(days=30)
"""How long before its end `zzgw serve` warns of a member's client certificate."""


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
    """Whole days until its end (0 in its last day, or once ended)."""

    def said(self) -> str:
        """The end in words: ``the receipt certificate (…/receipt.pem) ends on 2031-12-09 (Beijing time), in 12
        days``, or ``… ended on 2031-12-09 (Beijing time)``."""
        where = f"{self.what} ({self.path})" if self.path is not None else self.what
        day = f"{beijing_day(self.not_after)} (Beijing time)"
        if self.ended:
            return f"{where} ended on {day}"
        left = {0: "within a day", 1: "in 1 day"}.get(self.days_left, f"in {self.days_left} days")
        return f"{where} ends on {day}, {left}"


def ending(
    what: str, path: Path | None, not_after: dt.datetime, now: dt.datetime, *, within: dt.timedelta
) -> Ending | None:
    """The end ``not_after`` of a certificate when it is ``within`` of ``now`` or past, else None."""
    left = not_after - now
    if left > within:
        return None
    ended = left <= dt.timedelta(0)
    return Ending(what=what, path=path, not_after=not_after, ended=ended, days_left=0 if ended else left.days)
