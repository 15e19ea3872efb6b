"""A SQLite store held by another writer (a DBA's open transaction): the calls that write wait, then are refused
DATABASE_BUSY, and so are the reads that record their access on the audit trail; the calls that record nothing
answer (docs/operations.md, "What readiness does not cover")."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from gateway.store import database, group_writer
from protos.zzgw.v1 import catalog_pb2, issuance_pb2, seal_pb2, seal_pb2_grpc, verification_pb2
from tests.api.test_verification import USE, batch_issue, verifier
from tests.conftest import MARKET, RunningGateway, error_details, start_gateway

BUSY = "数据库正被其他写入方占用，本次请求须写入数据库（含用证记录），未能完成，请稍后重试"
"""How a call the held store refused begins: a read that records its access had been told its "write" waited."""


@pytest.fixture
def held(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningGateway]:
    """A gateway on a SQLite store that another connection holds (BEGIN IMMEDIATE) while the test runs, with the
    store's busy wait made half a second (the gateway's 30 s otherwise)."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 500)
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)
    path = tmp_path / "zzgw.db"
    running = start_gateway(tmp_path / "var", f"sqlite:///{path}")
    try:
        yield running
    finally:
        running.stop()


def refusal(call: object) -> tuple[str, str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
    return error_details(caught.value)[0].reason, caught.value.details() or ""


def test_a_read_that_records_its_access_waits_as_a_write_and_is_told_so(held: RunningGateway) -> None:
    """An issuer's GetLicense (its read is on the holder's log) and a verification are refused DATABASE_BUSY while
    the store is held, said as a call that must write to the store, its access record included: a concurrency
    tester's issuer was told its "write" had waited, and operations.md said reads still work. The catalog and the
    seals, which record nothing, answer."""
    running = held
    license_id = batch_issue(running, 70)
    issuer = running.issuance(MARKET)
    holder = sqlite3.connect(str(running.gateway.db.engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        answers: list[tuple[str, str]] = []

        def read() -> None:  # three at once: the first waits for the store, the others for their turn behind it
            answers.append(refusal(lambda: issuer.GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id))))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for thread in readers:
            thread.start()
        for thread in readers:
            thread.join(30)
        answers.append(
            refusal(
                lambda: verifier(running).VerifyLicense(
                    verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id)
                )
            )
        )
        assert len(answers) == 4
        for reason, message in answers:
            assert reason == "DATABASE_BUSY"
            assert message.startswith(
                BUSY + "（the store is held by another writer, and this call must write to it "
                "(its access record included); "
            ), message
            assert "this write" not in message
        # what records nothing answers meanwhile
        assert running.catalog(MARKET).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()).license_types
        seals = seal_pb2_grpc.SealServiceStub(running.channel(MARKET))
        (seal,) = seals.ListSeals(seal_pb2.ListSealsRequest()).seals
        assert seals.GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal.seal_id == seal.seal_id
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert issuer.GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id)).license.license_id == license_id
