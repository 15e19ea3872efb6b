"""The seal-maker CA's time-stamping certificate: the RFC 3161 profile and the same limits as seal certificates."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.errors import KeyStoreError
from signing.seal_ca import SealMakerCA

NOW = dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def ca() -> SealMakerCA:
    return SealMakerCA.create("济南市制章中心", NOW)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(ca: SealMakerCA, key: ec.EllipticCurvePrivateKey, **overrides: object) -> x509.Certificate:
    arguments: dict[str, object] = {
        "name": "zzgw 时间戳服务",
        "public_key": key.public_key(),
        "not_before": NOW,
        "not_after": NOW + dt.timedelta(days=3 * 365),
    }
    arguments.update(overrides)
    return ca.issue_tsa_certificate(**arguments)  # type: ignore[arg-type]


def test_profile_is_rfc_3161(ca: SealMakerCA, key: ec.EllipticCurvePrivateKey) -> None:
    cert = issue(ca, key)

    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical
    assert list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature and usage.value.content_commitment
    assert not (usage.value.key_cert_sign or usage.value.crl_sign or usage.value.key_encipherment)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "zzgw 时间戳服务"
    assert cert.issuer == ca.intermediate.subject
    cert.verify_directly_issued_by(ca.intermediate)
    assert cert.not_valid_before_utc == NOW


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "name must not be empty"),
        ({"not_after": NOW}, "not_before must precede not_after"),
        ({"not_after": NOW + dt.timedelta(days=20 * 365)}, "outlive the issuing CA"),
        ({"not_before": dt.datetime(2025, 3, 1)}, "time zone"),
    ],
)
def test_refuses_bad_arguments(
    ca: SealMakerCA, key: ec.EllipticCurvePrivateKey, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        issue(ca, key, **overrides)


def test_a_verification_only_ca_cannot_issue(ca: SealMakerCA, key: ec.EllipticCurvePrivateKey) -> None:
    verifier = SealMakerCA(root=ca.root, intermediate=ca.intermediate, root_key=None, intermediate_key=None)

    with pytest.raises(KeyStoreError):
        issue(verifier, key)
