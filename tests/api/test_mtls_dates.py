"""A client certificate of the member CA out of its dates is turned away in the TLS handshake: the client sees
``UNAVAILABLE`` with no reason, as without a certificate, not ``UNAUTHENTICATED`` (docs/departments.md tells a
department not to retry that for ever, but to look at its certificate's dates). One that ends while its connection
is open is refused by the gateway, call by call and on open streams: ``UNAUTHENTICATED`` / ``CERTIFICATE_EXPIRED``."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterator

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_status import rpc_status

from adapters.client import MemberCredentials, connect
from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.model import beijing_time
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, issuance_pb2, issuance_pb2_grpc
from signing.pki import CertificateAuthority, Issued
from tests.api.test_mtls import TIMEOUT, channel_with
from tests.api.test_sharing import PARTNER, SettableClock
from tests.conftest import POLICE, RunningGateway, error_details, start_gateway


@pytest.fixture(scope="module")
def production(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A production gateway on a clock of its own (``SettableClock``)."""
    gw = start_gateway(tmp_path_factory.mktemp("prod-dates"), database_url, mode="production", clock=SettableClock())
    try:
        yield gw
    finally:
        gw.stop()


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


_cards = itertools.count(7100)


def issue_id_card(gw: RunningGateway) -> str:
    """A 居民身份证 issued by the police over mTLS: a type the partner's matter (440100-SBZY-001) uses."""
    record = {**samples.id_card(next(_cards)), "request_id": f"id-{uuid.uuid4().hex}"}
    with connect(gw.address, MemberCredentials.production(gw.data_dir, POLICE)) as channel:
        issued = issuance_pb2_grpc.IssuanceServiceStub(channel).IssueLicense(issue_request(record), timeout=TIMEOUT)
    return issued.license.license_id


def expired_lines(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str, str]]:
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"]
    return [(line["member"], line["code"], line.get("reason", "")) for line in logged if line["member"] == PARTNER]


def test_a_certificate_that_ends_on_an_open_connection_is_refused_by_its_calls_and_streams(
    production: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """The handshake checks the dates when a connection opens, and a connection lasts as long as its client keeps
    it: a partner's certificate that ended had gone on reading data on its connection, and its watch stream on
    receiving events (a partner-gateway tester). The partner's registered certificate here ends in ten minutes (by
    the operating system's clock, which the handshake reads); the gateway's clock is then moved past its end."""
    clock = production.gateway.clock
    assert isinstance(clock, SettableClock)
    ca = Issued.read(production.data_dir / "pki", "ca")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ends = now + dt.timedelta(minutes=10)
    fresh = CertificateAuthority.from_issued(ca).issue_client(code=PARTNER, name="广州市政务服务和数据管理局")
    short = dated(fresh, ca, before=now - dt.timedelta(minutes=1), after=ends)
    (partner,) = [m for m in production.gateway.members.list() if m.code == PARTNER]
    der = x509.load_pem_x509_certificate(short.cert_pem).public_bytes(serialization.Encoding.DER)
    with production.gateway.db.unit_of_work() as uow:  # registered over the certificate read, as `zzgw init` does
        registered = uow.members.certificate_digests()[PARTNER]
    production.gateway.members.register(
        [partner], issue_tokens=False, certificates={PARTNER: der}, checked={PARTNER: registered}
    )

    channel = channel_with(production, short)  # one connection, opened while the certificate is in its dates
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    assert catalog.ListMatters(catalog_pb2.ListMattersRequest(), timeout=TIMEOUT).matters
    stream = issuance_pb2_grpc.IssuanceServiceStub(channel).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(), timeout=15
    )
    before = issue_id_card(production)
    assert next(stream).event.license_id == before  # open, and delivering

    caplog.set_level(logging.INFO, logger="zzgw.access")
    caplog.clear()  # an earlier test in this process may have left the access log on: only the lines from here count
    clock.advance(ends - now + dt.timedelta(seconds=1))  # a second past its notAfter, by the gateway's clock
    started = time.monotonic()
    after = issue_id_card(production)
    with pytest.raises(grpc.RpcError) as ended:
        for reply in stream:
            assert reply.event.license_id != after, "an event delivered after the certificate ended"
    assert time.monotonic() - started < 5  # at the stream's next recheck, not when its deadline passes
    with pytest.raises(grpc.RpcError) as refused:
        catalog.ListMatters(catalog_pb2.ListMattersRequest(), timeout=TIMEOUT)
    for error in (ended.value, refused.value):
        info, _ = error_details(error)
        assert (error.code(), info.reason) == (grpc.StatusCode.UNAUTHENTICATED, "CERTIFICATE_EXPIRED")
        assert dict(info.metadata) == {"member": PARTNER, "not_after": f"{ends:%Y-%m-%dT%H:%M:%SZ}"}
        assert error.details() == (
            f"成员 {PARTNER} 的客户端证书已于 {beijing_time(ends)}过期，请向证照网关的管理员申请新证书，"
            f"用新证书重新连接（the client certificate of member {PARTNER} ended at {ends:%Y-%m-%dT%H:%M:%SZ}: ask "
            "the gateway's administrator for a renewed one, and connect with it）"
        )
    assert expired_lines(caplog) == [(PARTNER, "UNAUTHENTICATED", "CERTIFICATE_EXPIRED")] * 2  # the stream, the call
    channel.close()
