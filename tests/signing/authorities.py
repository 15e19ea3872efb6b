"""Time-stamping services for tests: a real TSA (``signing.tsa``) under a CA of its own."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.domain.model import Clock
from signing.keys import SoftwareKey
from signing.seal_ca import SealMakerCA
from signing.tsa import TimeStampAuthority


def tsa_under_its_own_ca(
    *, ca_name: str, name: str, since: dt.datetime, days: int, clock: Clock
) -> tuple[SealMakerCA, TimeStampAuthority]:
    """A TSA (ECDSA P-256, as the gateway's under its ECDSA seal-maker CA) whose certificate ``name``, valid ``days``
    from ``since``, is issued by a new CA ``ca_name`` (its root not the gateway's); its clock ``clock``."""
    ca = SealMakerCA.create(ca_name, since)
    private = ec.generate_private_key(ec.SECP256R1())
    certificate = ca.issue_tsa_certificate(
        name=name, public_key=private.public_key(), not_before=since, not_after=since + dt.timedelta(days=days)
    )
    authority = TimeStampAuthority(
        cert=certificate,
        key=SoftwareKey(private),
        chain=[ca.intermediate],
        clock=clock,
        serials=x509.random_serial_number,
    )
    return ca, authority
