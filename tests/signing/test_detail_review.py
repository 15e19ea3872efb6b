"""Findings of a review of the Chinese-first details (d06e48d): a certificate check's detail never names the moment
it was checked at (a stamp's certificate is checked at the time of the call, and a receipt's detail must not change
from one call to the next), keeps the validator's English (the CRL's reason), and names the seal maker's certificate
as the maker's; a long CHANGED_AFTER_SEAL detail keeps its closing bracket."""

from __future__ import annotations

import datetime as dt

from cryptography import x509

from gateway.services.verification import _signed_in_the_issuers_name
from signing.results import MAX_DETAIL
from tests.signing.test_ses import CHECKED_AT, SIGNED_AT, make_world


def test_a_stamp_checked_twice_has_the_same_detail() -> None:
    world = make_world()
    world.ca.revoke(
        world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT + dt.timedelta(days=1)
    )
    stamp = world.stamp()
    first = world.check(stamp, at=CHECKED_AT).issuer_identity
    second = world.check(stamp, at=CHECKED_AT + dt.timedelta(seconds=1)).issuer_identity
    assert first.reason == second.reason == "SIGNER_REVOKED_NO_TRUSTED_TIME"
    assert first.detail == second.detail and CHECKED_AT.isoformat() not in first.detail
    assert first.detail.startswith("签章人证书已于")


def test_a_revoked_certificates_detail_keeps_the_crls_reason() -> None:
    world = make_world()
    world.ca.revoke(
        world.holder_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT - dt.timedelta(days=1)
    )
    detail = world.check(world.stamp()).issuer_identity.detail
    assert "compromised key" in detail and detail.endswith("）")


def test_the_seal_makers_revoked_certificate_is_said_to_be_the_makers() -> None:
    world = make_world()
    world.ca.revoke(
        world.maker_cert.serial_number, x509.ReasonFlags.key_compromise, at=SIGNED_AT - dt.timedelta(days=1)
    )
    found = world.check(world.stamp()).issuer_identity
    assert found.reason.startswith("MAKER_") and found.detail.startswith("制章者证书已于")


def test_a_long_changed_after_seal_detail_keeps_its_closing_bracket() -> None:
    finding = _signed_in_the_issuers_name([("x" * 64, "UNTRUSTED_ROOT")] * 6)
    assert len(finding.detail) <= MAX_DETAIL and finding.detail.endswith("…）")
    assert finding.detail.startswith("签章完好") and "rely on" not in finding.detail
    short = _signed_in_the_issuers_name([("张三", "UNTRUSTED_ROOT")]).detail
    assert short.endswith("rely on the registry's summary）")
