"""A new receipt key retires the one before (`zzgw init` revokes its certificates as superseded): the genuine receipts
the old key signed stay good whatever the clock of the replica that made them, and no process goes on signing with
the retired key, whose receipts every checker would reject (a receipts reviewer, R1 and R2)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from adapters.receipt_file import TrustMaterial, check_receipt_file
from gateway.authorities import RECEIPT_CERT, RECEIPT_KEY
from gateway.config import ConfigError, Settings
from gateway.server import Gateway, check_ready, initialise
from gateway.services.receipt_certificates import READ_EVERY_SECONDS
from signing.results import CheckResult
from tests.api.test_verification import MARKET, batch_issue, verify
from tests.conftest import PASSPHRASE, RunningGateway, backend_params, error_details, fresh_database, start_gateway


class Ahead:
    """The clock of a replica that runs ahead of the others."""

    def __init__(self, by: dt.timedelta) -> None:
        self.by = by

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.by


def trust_of(running: RunningGateway) -> TrustMaterial:
    """The gateway's published trust material: its CRL, and every receipt certificate pinned."""
    seals, certificates = running.gateway.seals, running.gateway.receipt_certificates
    assert seals is not None and certificates is not None
    return TrustMaterial(
        roots=[seals.ca.root],
        intermediates=[seals.ca.intermediate],
        crls=[seals.crl()],
        pinned=[certificates.current, *certificates.earlier()],
    )


def rotate(data_dir: Path) -> None:
    """Move the receipt key and its certificate aside, as the new-key procedure says, before `zzgw init`."""
    (data_dir / "seal-ca" / RECEIPT_CERT).unlink()
    (data_dir / "keys" / f"{RECEIPT_KEY}.key.pem").unlink()


def settings_of(data_dir: Path, database_url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, key_passphrase=PASSPHRASE, threads=8, max_watchers=4)  # type: ignore[arg-type]


def eventually(condition: Callable[[], bool], seconds: float) -> None:
    ends = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < ends, "not within the time"
        time.sleep(0.1)


@pytest.mark.parametrize("backend", backend_params())
def test_receipts_of_a_replica_whose_clock_ran_ahead_stay_good_after_a_new_key(backend: str, tmp_path: Path) -> None:
    """Replica B's clock runs 20 s ahead: its last receipts before the stop are dated after init's clock. The
    revocation is dated after the newest receipt in the store, so they check valid, offline and in the console."""
    data = tmp_path / "var"
    with fresh_database(backend, tmp_path) as url:
        b = start_gateway(data, url, clock=Ahead(dt.timedelta(seconds=20)))
        try:
            license_id = batch_issue(b, 41)
            made = verify(b, license_id=license_id).receipt
        finally:
            b.stop()  # every process stopped, as the procedure says
        issued = dt.datetime.fromisoformat(json.loads(made.statement)["issued_at"])
        assert issued > dt.datetime.now(dt.UTC) + dt.timedelta(seconds=10)  # ahead of the init below
        rotate(data)
        a = start_gateway(data, url)  # the rotation's init, on a host whose clock is right
        try:
            (revoked,) = json.loads((data / "seal-ca" / "revocations.json").read_text())["revocations"]
            assert revoked["reason"] == "superseded"
            revoked_at = dt.datetime.fromisoformat(revoked["revoked_at"])
            assert issued < revoked_at <= issued + dt.timedelta(seconds=1)  # after it, at its next whole second
            checked = check_receipt_file(made, trust_of(a))
            assert (checked.result, checked.reason) == (CheckResult.PASSED, None), checked
            assert a.gateway.verification is not None
            (member,) = [m for m in a.gateway.members.list() if m.code == MARKET]
            review = a.gateway.verification.review_receipt(member, made.receipt_id)
            assert review.check.result is CheckResult.PASSED, review.check
        finally:
            a.stop()


@pytest.mark.parametrize("backend", backend_params())
def test_a_replica_with_the_retired_receipt_key_signs_no_receipt(backend: str, tmp_path: Path) -> None:
    """Replica B has a copy of A's data directory; A makes a new receipt key. B, still running, stops signing
    (not ready, UNAVAILABLE / RECEIPT_KEY_RETIRED); restarted before seal-ca/ and the key are copied, it refuses to
    start, saying what to copy; once they are, it starts and its receipts check valid."""
    a_dir, b_dir = tmp_path / "a", tmp_path / "b"
    with fresh_database(backend, tmp_path) as url:
        a = start_gateway(a_dir, url)
        license_id = batch_issue(a, 41)
        a.stop()
        shutil.copytree(a_dir, b_dir)
        b = start_gateway(b_dir, url)
        try:
            assert verify(b, license_id=license_id).receipt.receipt_id  # signs while its key is the store's
            rotate(a_dir)
            a = start_gateway(a_dir, url)
            try:
                # B hears of it on its readiness checks (the store's receipt certificates read every few seconds)
                eventually(lambda: b.gateway.readiness.state.reason == "RECEIPT_KEY_RETIRED", READ_EVERY_SECONDS + 5)
                with pytest.raises(grpc.RpcError) as caught:
                    verify(b, license_id=license_id)
                assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
                info, _ = error_details(caught.value)
                assert info.reason == "RECEIPT_KEY_RETIRED"
            finally:
                b.stop()

            initialise(settings_of(b_dir, url))  # B's routine init: it retires nothing, its key being in place
            restarted = Gateway.open(settings_of(b_dir, url))
            try:
                with pytest.raises(ConfigError, match=r"copy seal-ca/ and keys/receipts\.key\.pem"):
                    check_ready(restarted, serving=True)
            finally:
                restarted.close()

            shutil.rmtree(b_dir / "seal-ca")
            shutil.copytree(a_dir / "seal-ca", b_dir / "seal-ca")
            shutil.copy(a_dir / "keys" / f"{RECEIPT_KEY}.key.pem", b_dir / "keys" / f"{RECEIPT_KEY}.key.pem")
            copied = Gateway.open(settings_of(b_dir, url))
            try:
                check_ready(copied, serving=True)
            finally:
                copied.close()
            b = start_gateway(b_dir, url)
            try:
                made = verify(b, license_id=license_id).receipt
                checked = check_receipt_file(made, trust_of(a))
                assert (checked.result, checked.reason) == (CheckResult.PASSED, None), checked
            finally:
                b.stop()
        finally:
            a.stop()
