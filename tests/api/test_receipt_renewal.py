"""A renewal of the receipt certificate keeps the key, and the processes still running sign with the certificate
before until they are restarted (docs/receipts.md: one at a time if you like). A receipt one of them made is the
archive's, with the certificate it was handed out with: `GetReceipt` hands it out with that one when the renewal's
init ran before it (the renewed certificate is recorded when a process first starts with it), and the console takes
the file a department kept as the archive's whichever of the two it carries (a receipt-keys reviewer, R1)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.receipt_file import receipt_json
from gateway.authorities import RECEIPT_CERT
from gateway.server import initialise
from protos.zzgw.v1 import verification_pb2
from signing.receipts import RECEIPT_SEAL_NAME
from tests.api.test_receipt_key_retirement import rotate, settings_of
from tests.api.test_verification import MARKET, batch_issue, published, verifier, verify
from tests.conftest import RunningGateway, backend_params, fresh_database, http_side, start_gateway


@contextmanager
def console_of(running: RunningGateway) -> Iterator[str]:
    """The clerk's console of ``running``, on its HTTP side over a real socket: its base URL."""
    with http_side(running) as base:
        yield f"{base}/console"


def review_file(running: RunningGateway, receipt: verification_pb2.Receipt) -> dict[str, Any]:
    """The console's 查验回执 of ``receipt`` as a file, by the 市场监管局's window."""
    with console_of(running) as console:
        request = urllib.request.Request(
            f"{console}/api/receipt",
            data=json.dumps({"file": receipt_json(receipt), "operator": "窗口"}).encode(),
            headers={"Authorization": f"Bearer {running.tokens[MARKET]}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 200
            return json.loads(answer.read())


def certificates_of(running: RunningGateway) -> list[bytes]:
    """The receipt certificates ``running`` publishes (receipt-certificates.pem), DER, current first."""
    pem = published(running.gateway, "receipt-certificates.pem")
    return [c.public_bytes(serialization.Encoding.DER) for c in x509.load_pem_x509_certificates(pem)]


def get_receipt(running: RunningGateway, receipt_id: str) -> verification_pb2.Receipt:
    return verifier(running).GetReceipt(verification_pb2.GetReceiptRequest(receipt_id=receipt_id)).receipt


@pytest.mark.parametrize("backend", backend_params())
def test_a_receipt_made_before_the_restart_after_a_renewal_keeps_its_certificate(backend: str, tmp_path: Path) -> None:
    """`zzgw init` renews the certificate while the gateway serves; it signs on with the one before until restarted.
    After the restart `GetReceipt` hands that receipt out with the certificate it was made with, not the renewed one,
    and the file kept is the archive's (the init had recorded the renewed certificate, dated before the receipt)."""
    data = tmp_path / "var"
    with fresh_database(backend, tmp_path) as url:
        first = start_gateway(data, url)
        try:
            license_id = batch_issue(first, 41)
            before = verify(first, license_id=license_id).receipt
            (data / "seal-ca" / RECEIPT_CERT).unlink()
            initialise(settings_of(data, url))  # the renewal, the gateway still serving
            renewed = x509.load_pem_x509_certificate((data / "seal-ca" / RECEIPT_CERT).read_bytes())
            renewed_der = renewed.public_bytes(serialization.Encoding.DER)
            assert renewed_der != before.certificate
            held = verify(first, license_id=license_id).receipt  # signed with the certificate before
            assert held.certificate == before.certificate
            assert certificates_of(first) == [before.certificate]  # the renewed one is no process's yet
        finally:
            first.stop()
        second = start_gateway(data, url)  # the restart
        try:
            assert certificates_of(second) == [renewed_der, before.certificate]
            after = verify(second, license_id=license_id).receipt
            assert after.certificate == renewed_der
            for made in (before, held, after):
                fetched = get_receipt(second, made.receipt_id)
                assert fetched.certificate == made.certificate, made.receipt_id
                reviewed = review_file(second, made)
                assert (reviewed["check"]["result"], reviewed["archived"]) == ("PASSED", "SAME"), reviewed
        finally:
            second.stop()


@pytest.mark.parametrize("backend", backend_params())
def test_a_receipt_file_from_a_process_not_yet_restarted_is_the_archives(backend: str, tmp_path: Path) -> None:
    """Two processes on one store: the renewed certificate's starts while the other still signs with the one before.
    A receipt the other makes then is handed out with the certificate before; the console of the new process judges
    that file the archive's (SAME), as it does the file `GetReceipt` gives there. A certificate of the same key that
    the gateway never had (issued by its CA, never recorded) is not the archive's."""
    data = tmp_path / "var"
    with fresh_database(backend, tmp_path) as url:
        old = start_gateway(data, url)
        try:
            license_id = batch_issue(old, 41)
            (data / "seal-ca" / RECEIPT_CERT).unlink()
            new = start_gateway(data, url)  # the renewal's init, and a process started with the renewed certificate
            try:
                held = verify(old, license_id=license_id).receipt  # after the new process recorded its certificate
                renewed_der = new.gateway.receipt_certificates.current_der  # type: ignore[union-attr]
                assert held.certificate != renewed_der
                for by in (new, old):
                    reviewed = review_file(by, held)
                    assert (reviewed["check"]["result"], reviewed["archived"]) == ("PASSED", "SAME"), reviewed
                    fetched = get_receipt(by, held.receipt_id)
                    assert fetched.certificate in (held.certificate, renewed_der)
                    reviewed = review_file(by, fetched)
                    assert (reviewed["check"]["result"], reviewed["archived"]) == ("PASSED", "SAME"), reviewed

                seals = new.gateway.seals
                assert seals is not None
                now = dt.datetime.now(dt.UTC)
                stray = seals.ca.issue_seal_certificate(
                    issuer_name="济南市大数据局",
                    issuer_uscc=MARKET,
                    seal_name=RECEIPT_SEAL_NAME,
                    public_key=x509.load_der_x509_certificate(held.certificate).public_key(),  # type: ignore[arg-type]
                    not_before=now - dt.timedelta(days=1),
                    not_after=now + dt.timedelta(days=30),
                )
                elsewhere = verification_pb2.Receipt()
                elsewhere.CopyFrom(held)
                elsewhere.certificate = stray.public_bytes(serialization.Encoding.DER)
                reviewed = review_file(new, elsewhere)
                said = (reviewed["check"]["reason"], reviewed["archived"])
                assert said == ("NOT_THE_PINNED_CERTIFICATE", "DIFFERENT"), reviewed
            finally:
                new.stop()
        finally:
            old.stop()


@pytest.mark.parametrize("backend", backend_params())
def test_a_new_key_is_recorded_by_init_and_retires_the_processes_on_the_key_before(
    backend: str, tmp_path: Path
) -> None:
    """Unlike a renewal, a new key is recorded by the `zzgw init` that makes it, before any process starts with it:
    a process still running on the key before learns from the store that it is retired, and signs nothing more."""
    data = tmp_path / "var"
    with fresh_database(backend, tmp_path) as url:
        running = start_gateway(data, url)
        try:
            certificates = running.gateway.receipt_certificates
            assert certificates is not None and certificates.retired_by() is None
            rotate(data)
            initialise(settings_of(data, url))  # no process started with the new key
            newer = certificates.retired_by()
            assert newer is not None
            assert newer.public_bytes(serialization.Encoding.PEM) == (data / "seal-ca" / RECEIPT_CERT).read_bytes()
        finally:
            running.stop()
