"""The audit chain's remembered head: group writers of two gateway processes (two ``AuditTrail``s on one store)
appending in turn never fork the chain, never leave a gap and never fail a caller — a stale head collides with the
other's record numbers and the group is written again — on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from gateway.domain.audit import AuditAction, AuditEntry
from gateway.domain.model import SystemClock
from gateway.services.audit import AuditSigner, AuditTrail
from gateway.store.database import AppendWork, Database
from gateway.store.group_writer import GroupWriter
from tests.conftest import gateway_key


@pytest.fixture
def db(migrated_db: Database) -> Database:
    return migrated_db


@pytest.fixture(scope="module")
def signer() -> AuditSigner:
    key, certificate = gateway_key()
    return AuditSigner(key=key, certificate=certificate)


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=dt.datetime.now(dt.UTC),
        caller="11370100993701097M",
        operator="",
        action=AuditAction.VERIFY_LICENSE,
        matter_code="370100-QYKB-001",
        purpose="企业开办窗口核验营业执照",
        license_id=f"L{n}",
        decision="PASSED",
        reason="",
        receipt_id=f"{n:032x}",
    )


class Process:
    """What one gateway process has: its audit trail and a group writer appending through it."""

    def __init__(self, db: Database, signer: AuditSigner):
        self.trail = AuditTrail(db, signer, SystemClock(), checkpoint_every=7)
        self.retries = 0
        self.writer: GroupWriter[AuditEntry, AuditEntry, None] = GroupWriter(
            db, self._append, name="test", retry=self._retry
        )

    def _append(self, work: AppendWork, entries: Sequence[AuditEntry]) -> None:
        self.trail.append(work, entries)

    def _retry(self, error: BaseException) -> bool:
        stale = self.trail.stale_head(error)
        self.retries += stale
        return stale


def test_two_processes_appending_in_turn_keep_one_whole_chain(db: Database, signer: AuditSigner) -> None:
    a, b = Process(db, signer), Process(db, signer)
    try:
        for n in range(30):
            (a if n % 3 else b).writer.write(entry(n))  # every write returns: none failed
        a.trail._stale_until = b.trail._stale_until = 0.0  # both trust their remembered heads again
        for n in range(30, 40):
            (a if n % 2 else b).writer.write(entry(n))
    finally:
        a.writer.close()
        b.writer.close()
    check = a.trail.check()
    assert check.ok, check
    assert check.records == 40 and check.checkpoints == 5
    assert a.retries + b.retries >= 2  # stale heads were met, and written again


def test_one_process_reads_the_head_only_once(db: Database, signer: AuditSigner) -> None:
    a = Process(db, signer)
    reads = 0
    with db.appending() as work:
        original = type(work.audit).head

    def counting(self: object) -> tuple[int, bytes] | None:
        nonlocal reads
        reads += 1
        return original(self)  # type: ignore[arg-type]

    type(work.audit).head = counting  # type: ignore[method-assign]
    try:
        for n in range(10):
            a.writer.write(entry(n))
    finally:
        type(work.audit).head = original  # type: ignore[method-assign]
        a.writer.close()
    assert reads == 1 and a.retries == 0
    assert a.trail.check().records == 10
