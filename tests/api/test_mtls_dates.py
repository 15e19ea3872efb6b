"""A client certificate of the member CA out of its dates is turned away in the TLS handshake: the client sees
``UNAVAILABLE`` with no reason, as without a certificate, not ``UNAUTHENTICATED`` (docs/departments.md tells a
department not to retry that for ever, but to look at its certificate's dates)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_status import rpc_status

from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc
from signing.pki import CertificateAuthority, Issued
from tests.api.test_mtls import TIMEOUT, channel_with
from tests.conftest import RunningGateway, start_gateway


@pytest.fixture(scope="module")
def production(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    gw = start_gateway(tmp_path_factory.mktemp("prod-dates"), database_url, mode="production")
    try:
        yield gw
    finally:
        gw.server.stop(0)
        gw.gateway.close()


def dated(issued: Issued, ca: Issued, *, before: dt.datetime, after: dt.datetime) -> Issued:
    """``issued`` signed again by the member CA, valid from ``before`` to ``after`` only."""
    cert = x509.load_pem_x509_certificate(issued.cert_pem)
    key = serialization.load_pem_private_key(ca.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    builder = (
        x509.CertificateBuilder()
        .subject_name(cert.subject)
        .issuer_name(cert.issuer)
        .public_key(cert.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(before)
        .not_valid_after(after)
    )
    for extension in cert.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return Issued(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), issued.key_pem)


@pytest.mark.parametrize("when", ["expired", "not yet valid"])
def test_a_member_ca_certificate_out_of_its_dates_fails_the_handshake(production: RunningGateway, when: str) -> None:
    ca = Issued.read(production.data_dir / "pki", "ca")
    fresh = CertificateAuthority.from_issued(ca).issue_client(code="913701000000000033", name="某公司")
    now = dt.datetime.now(dt.UTC)
    days = dt.timedelta(days=1)
    window = (now - 900 * days, now - days) if when == "expired" else (now + days, now + 900 * days)
    stub = catalog_pb2_grpc.CatalogServiceStub(
        channel_with(production, dated(fresh, ca, before=window[0], after=window[1]))
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert rpc_status.from_call(caught.value) is None  # type: ignore[arg-type]  # no reason: the handshake's own

    # the same certificate in its dates reaches the gateway, which says it belongs to no member
    stub = catalog_pb2_grpc.CatalogServiceStub(channel_with(production, fresh))
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=TIMEOUT)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
