"""Rows written on the driver paths (``_insert_many``, ``Database.appending``) read back through the ORM unchanged,
on SQLite and on PostgreSQL; a failed append leaves nothing behind and the connection usable."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.domain.audit import GENESIS, AuditAction, AuditEntry, Checkpoint, HeadMemo, chain
from gateway.store.database import Database
from gateway.store.repositories import StoredReceipt

AT = dt.datetime(2026, 12, 1, 5, 6, 7, 891011, tzinfo=dt.UTC)


@pytest.fixture
def db(migrated_db: Database) -> Database:
    return migrated_db


def receipt(n: int, **changes: object) -> StoredReceipt:
    values: dict[str, object] = {
        "receipt_id": f"{n:032x}",
        "statement": '{"purpose":"企业开办"}'.encode(),
        "signature": bytes(range(70)),
        "algorithm": "ecdsa-p256-sha256",
        "caller": "11370100993701097M",
        "matter_code": "370100-QYKB-001",
        "license_id": f"1.2.156.3005.2.111.L{n}",
        "created_at": AT,
        "bundle_code": "QYKB" if n % 2 else "",
        "case_id": f"case-{n}" if n % 2 else "",
    }
    values.update(changes)
    return StoredReceipt(**values)  # type: ignore[arg-type]


def entry(n: int) -> AuditEntry:
    return AuditEntry(
        at=AT + dt.timedelta(seconds=n),
        caller="11370100993701097M",
        operator="窗口 张三" if n % 2 else "",
        action=AuditAction.VERIFY_LICENSE,
        matter_code="370100-QYKB-001",
        purpose="企业开办窗口核验营业执照",
        license_id=f"1.2.156.3005.2.111.L{n}",
        issuer_code="11370100993701011T",
        holder_code="91370100MA3C1234X5",
        decision="PASSED",
        reason="",
        receipt_id=f"{n:032x}",
    )


def test_appended_rows_read_back_unchanged(db: Database) -> None:
    receipts = [receipt(n) for n in range(1, 6)]
    records = chain(0, GENESIS, [entry(n) for n in range(1, 6)])
    checkpoint = Checkpoint(seq=5, hash=records[-1].hash, signature=b"sig", algorithm="ecdsa", key_id="k1", at=AT)
    with db.appending() as work:
        work.receipts.add(receipts)
        work.lock_audit_chain()
        assert work.audit.heads() == (None, None)
        work.audit.add(records)
        work.audit.add_checkpoint(checkpoint)
        work.audit.set_head_memo(HeadMemo(seq=5, hash=records[-1].hash, memo=b"memo"))
        assert work.audit.heads() == ((5, records[-1].hash), HeadMemo(seq=5, hash=records[-1].hash, memo=b"memo"))
        work.commit()
    with db.unit_of_work() as uow:
        assert [uow.receipts.get(r.receipt_id) for r in receipts] == receipts
        assert uow.receipts.of_case("QYKB", "case-3") == [receipts[2]]
        assert uow.audit.page(0, 10) == records
        assert uow.audit.checkpoints() == [checkpoint]
        assert uow.audit.heads() == ((5, records[-1].hash), HeadMemo(seq=5, hash=records[-1].hash, memo=b"memo"))
        assert uow.audit.head_memo() == HeadMemo(seq=5, hash=records[-1].hash, memo=b"memo")


def test_a_failed_append_leaves_nothing_and_the_store_usable(db: Database) -> None:
    with db.appending() as work:
        work.receipts.add([receipt(1)])
        work.commit()
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.appending() as work:
        work.receipts.add([receipt(2)])
        work.receipts.add([receipt(1)])  # the same receipt id again: the whole transaction fails
        work.commit()
    with db.appending() as work:  # the next group commits as usual
        work.receipts.add([receipt(3)])
        work.commit()
    with db.unit_of_work() as uow:
        assert uow.receipts.get(receipt(2).receipt_id) is None
        assert uow.receipts.get(receipt(3).receipt_id) == receipt(3)


def test_an_uncommitted_append_is_rolled_back(db: Database) -> None:
    with pytest.raises(RuntimeError), db.appending() as work:
        work.receipts.add([receipt(7)])
        raise RuntimeError("the group failed before commit")
    with db.unit_of_work() as uow:
        assert uow.receipts.get(receipt(7).receipt_id) is None


def test_one_appender_goes_on_after_failures_and_replaces_a_broken_connection(db: Database) -> None:
    appender = db.appender()
    try:
        with appender.transaction() as work:
            work.receipts.add([receipt(11)])
            work.commit()
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"), appender.transaction() as work:
            work.receipts.add([receipt(11)])
            work.commit()
        with appender.transaction() as work:  # left uncommitted: rolled back, the connection kept
            work.receipts.add([receipt(12)])
        kept = appender._pooled
        with appender.transaction() as work:
            work.receipts.add([receipt(13)])
            work.commit()
        assert appender._pooled is kept
        kept.driver_connection.close()  # the server went away under it
        with pytest.raises(Exception, match=r"(?i)closed"), appender.transaction() as work:
            work.receipts.add([receipt(14)])
            work.commit()
        with appender.transaction() as work:  # a new connection
            work.receipts.add([receipt(15)])
            work.commit()
        assert appender._pooled is not kept
    finally:
        appender.close()
    with db.unit_of_work() as uow:
        found = {n for n in range(11, 16) if uow.receipts.get(receipt(n).receipt_id) is not None}
    assert found == {11, 13, 15}


def test_a_group_commit_repeated_often_enough_to_be_prepared_survives_a_failure(db: Database) -> None:
    """On PostgreSQL the appender's statements become server-side prepared statements once a text has run a few
    times; a transaction that fails on one of them (in pipeline mode) must leave the next ones working."""
    appender = db.appender()
    try:
        for n in range(20, 40, 2):  # the same two-row INSERT text ten times: prepared from the fifth
            with appender.transaction() as work:
                work.receipts.add([receipt(n), receipt(n + 1)])
                work.commit()
        if db.dialect == "postgresql":
            with appender._pooled.driver_connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO rec%'")
                assert cursor.fetchone()[0] >= 1
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"), appender.transaction() as work:
            work.receipts.add([receipt(40), receipt(20)])  # the second one is stored already
            work.commit()
        for n in range(40, 50, 2):
            with appender.transaction() as work:
                work.receipts.add([receipt(n), receipt(n + 1)])
                work.commit()
    finally:
        appender.close()
    with db.unit_of_work() as uow:
        assert all(uow.receipts.get(receipt(n).receipt_id) is not None for n in range(20, 50))
