"""When the gateway's own certificates end: the receipt certificate (核验回执专用章, ``seal-ca/receipt.pem``), the
time-stamping certificate (``seal-ca/tsa.pem``) and the server's TLS certificate (``pki/server.pem``).

>>> ending("the receipt certificate", path, certificate, clock.now())  # doctest: +SKIP
Ending(what='the receipt certificate', ..., ended=False)

``zzgw init`` renews each one that ends within ``RENEW_BEFORE`` (or has ended); ``zzgw serve`` warns of one that
ends within it and refuses to start with one that has ended. The gateway had gone on signing receipts and timestamps
under certificates that had ended, which no checker accepts, and serving TLS that every client refused, without a
word (a keys tester).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

RENEW_BEFORE = dt.timedelta(days=90)
"""How long before its end `zzgw init` renews one of the gateway's certificates, and `zzgw serve` warns of it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ending:
    """One of the gateway's certificates that ends within ``RENEW_BEFORE``, or has ended."""

    what: str
    """What it is, for the operator (``the receipt certificate``)."""
    path: Path
    """Where the data directory holds it."""
    not_after: dt.datetime
    """Its end."""
    ended: bool
    """Whether it has ended."""

    def said(self) -> str:
        """The end in words: ``the receipt certificate (…/receipt.pem) ends on 2031-12-09``."""
        day = self.not_after.date().isoformat()
        if self.ended:
            return f"{self.what} ({self.path}) ended on {day}"
        return f"{self.what} ({self.path}) ends on {day}"


def ending(what: str, path: Path, certificate: x509.Certificate, now: dt.datetime) -> Ending | None:
    """``certificate``'s end when it is within ``RENEW_BEFORE`` of ``now`` or past, else None."""
    not_after = certificate.not_valid_after_utc
    if not_after - now > RENEW_BEFORE:
        return None
    return Ending(what=what, path=path, not_after=not_after, ended=not_after <= now)
