"""The audit chain's head: group writers of two gateway processes (two ``AuditTrail``s on one store) appending in
turn never fork the chain, never leave a gap and never fail a caller — a stale head collides with the other's record
numbers and the group is written again — and the head memo written with each group finds records deleted from the
chain's end (or a memo deleted, changed, not yet written after an upgrade), on SQLite and on PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import event, text

from gateway.cli import chain_verdict
from gateway.config import Settings
from gateway.domain.audit import AccessRecord, AuditAction, AuditEntry, ChainCheck, HeadMemos, chain
from gateway.domain.model import SystemClock
from gateway.services import audit as audit_module
from gateway.services.audit import AuditBroken, AuditSigner, AuditTrail, PruneProgress
from gateway.store import group_writer
from gateway.store.database import (
    _AUDIT_LOCK_ID,
    AppendWork,
    Database,
    StoreTimeout,
    schema_revisions,
    store_unavailable,
)
from gateway.store.group_writer import GroupWriter
from gateway.store.repositories import StoredReceipt
from tests.conftest import backend_params, fresh_database, gateway_key, migrate_to

MEMOS = HeadMemos(b"the memo secret of these tests, 32+ bytes")


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
        self.trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=7)
        self.retries = 0
        self.writer: GroupWriter[AuditEntry, AuditEntry, None] = GroupWriter(
            db, self._append, name="test", retry=self._retry, hold=self.trail.hold
        )

    def _append(self, work: AppendWork, entries: Sequence[AuditEntry]) -> None:
        self.trail.append(work, entries)

    def _retry(self, error: BaseException) -> bool:
        stale = self.trail.stale_head(error)
        self.retries += stale
        return stale


def appended(db: Database, signer: AuditSigner, count: int) -> Process:
    """A process that appended ``count`` records, its writer closed (its trail still checks)."""
    process = Process(db, signer)
    try:
        for n in range(count):
            process.writer.write(entry(n))
    finally:
        process.writer.close()
    return process


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
        original = type(work.audit).heads

    def counting(self: object) -> object:
        nonlocal reads
        reads += 1
        return original(self)  # type: ignore[arg-type]

    type(work.audit).heads = counting  # type: ignore[method-assign]
    try:
        for n in range(10):
            a.writer.write(entry(n))
    finally:
        type(work.audit).heads = original  # type: ignore[method-assign]
        a.writer.close()
    assert reads == 1 and a.retries == 0
    assert a.trail.check().records == 10
    assert head_row(db)[0] == 10  # the memo, written with every group, is never read on the way


class Writers:
    """One gateway process's two group writers on its one trail (verification's ``receipts``, sharing's
    ``sharing-audit``), counting the groups written again after a collision. ``hold`` makes the next group's
    commit pause before the trail's after-commit hook (for up to ``HOLD`` seconds, or until ``go``), as the
    scheduler may pause a writer thread there."""

    HOLD = 1.0

    def __init__(self, db: Database, signer: AuditSigner):
        self.trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=7)
        self.retries = 0
        self.paused, self.go = threading.Event(), threading.Event()
        self.hold = False
        self.writers: list[GroupWriter[AuditEntry, AuditEntry, None]] = [
            GroupWriter(db, self._append, name=name, retry=self._retry) for name in ("receipts", "sharing-audit")
        ]

    def _append(self, work: AppendWork, entries: Sequence[AuditEntry]) -> None:
        if self.hold:
            self.hold = False
            work.after_commit(self._pause)  # runs before the trail's own hook, registered next
        self.trail.append(work, entries)

    def _pause(self) -> None:
        self.paused.set()
        self.go.wait(self.HOLD)

    def _retry(self, error: BaseException) -> bool:
        stale = self.trail.stale_head(error)
        self.retries += stale
        return stale

    def close(self) -> None:
        for writer in self.writers:
            writer.close()


@pytest.mark.parametrize("meanwhile", ["other writer", "own transaction"])
def test_one_process_appending_while_a_group_writer_pauses_does_not_collide_with_itself(
    db: Database, signer: AuditSigner, meanwhile: str
) -> None:
    process = Writers(db, signer)
    receipts, sharing = process.writers
    try:
        receipts.write(entry(0))  # the head is remembered
        process.hold = True
        paused = threading.Thread(target=receipts.write, args=(entry(1),))
        paused.start()
        assert process.paused.wait(10)
        if meanwhile == "other writer":
            sharing.write(entry(2))
        else:
            process.trail.record(entry(2))  # a refusal or a grant: a transaction of its own
        process.go.set()
        paused.join(10)
        for n in range(3, 9):
            process.writers[n % 2].write(entry(n))
    finally:
        process.go.set()
        process.close()
    assert process.retries == 0  # nothing written twice: on PostgreSQL each had been a duplicate key ERROR
    check = process.trail.check()
    assert (check.ok, check.records) == (True, 9), check
    assert numbers(db) == list(range(1, 10))


def waiting_for_the_chain_lock(db: Database, count: int) -> bool:
    """Whether ``count`` transactions wait for an advisory lock (the chain lock), within a second."""
    for _ in range(100):
        with db.engine.connect() as connection:
            waiting = connection.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
        if waiting == count:
            return True
        time.sleep(0.01)
    return False


@pytest.mark.parametrize("migrated_db", backend_params()[1:], indirect=True)
def test_an_append_waiting_for_the_chain_lock_ahead_of_a_group_writer_does_not_collide_with_it(
    migrated_db: Database, signer: AuditSigner
) -> None:
    """A group writer's transaction is pipelined: it asks for the chain lock without waiting for it, and had taken
    the head it remembered while a call's own append (or the other writer's) was ahead of it in the lock's queue,
    to read the same head from the store and take the same numbers."""
    db, process = migrated_db, Writers(migrated_db, signer)
    receipts = process.writers[0]
    refusal = threading.Thread(target=process.trail.record, args=(entry(1),))
    late = threading.Thread(target=receipts.write, args=(entry(2),))
    try:
        receipts.write(entry(0))  # the head is remembered
        with db.unit_of_work(write=True) as other:  # another process appending: it holds the chain lock
            other.lock_audit_chain()
            refusal.start()
            assert waiting_for_the_chain_lock(db, 1)
            late.start()
            waiting_for_the_chain_lock(db, 2)  # (one only: the writer waits for the refusal's turn first)
            other.rollback()
        refusal.join(10)
        late.join(10)
    finally:
        process.close()
    assert process.retries == 0
    assert numbers(db) == [1, 2, 3]
    assert process.trail.check().ok


def test_one_process_two_writers_and_calls_appending_at_once_never_collide(db: Database, signer: AuditSigner) -> None:
    process = Writers(db, signer)
    per_thread = 40

    def calls(k: int) -> None:
        for n in range(per_thread):
            number = k * per_thread + n
            if k == 4:
                process.trail.record(entry(number))
            else:
                process.writers[k % 2].write(entry(number))

    threads = [threading.Thread(target=calls, args=(k,)) for k in range(5)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        process.close()
    assert process.retries == 0
    check = process.trail.check()
    assert (check.ok, check.records) == (True, 5 * per_thread), check


def sql(db: Database, statement: str, **params: object) -> None:
    """A change behind the gateway's back (psql, the sqlite3 shell)."""
    with db.engine.begin() as connection:
        connection.execute(text(statement), params)


def head_row(db: Database) -> tuple[int, bytes, bytes]:
    with db.engine.connect() as connection:
        seq, digest, memo = connection.execute(text("SELECT seq, hash, memo FROM audit_head")).one()
    return int(seq), bytes(digest), bytes(memo)


def numbers(db: Database) -> list[int]:
    with db.engine.connect() as connection:
        return [int(n) for (n,) in connection.execute(text("SELECT seq FROM access_records ORDER BY seq"))]


def said(check: ChainCheck) -> tuple[bool, int | None, int | None, str]:
    return check.ok, check.first_broken, check.last_broken, check.reason


def test_records_deleted_from_the_end_are_found_and_their_numbers_never_used_again(
    db: Database, signer: AuditSigner
) -> None:
    a, b = Process(db, signer), Process(db, signer)
    try:
        for n in range(20):
            a.writer.write(entry(n))
        assert a.trail.check().ok
        sql(db, "DELETE FROM access_records WHERE seq > (SELECT max(seq) - 3 FROM access_records)")  # the finding
        assert said(a.trail.check()) == (False, 18, 20, "TRUNCATED")

        b.writer.write(entry(20))  # another process, which reads the head from the store: after the memo's record
        a.writer.write(entry(21))  # this one, after the head it remembers
    finally:
        a.writer.close()
        b.writer.close()
    assert numbers(db) == [*range(1, 18), 21, 22]
    assert said(a.trail.check()) == (False, 18, 20, "GAP")  # for good: the deletion stays a gap


def test_a_process_that_starts_after_a_deletion_numbers_after_the_memo(db: Database, signer: AuditSigner) -> None:
    appended(db, signer, 5)
    sql(db, "DELETE FROM access_records WHERE seq >= 4")
    restarted = Process(db, signer)  # knows nothing but the store
    try:
        restarted.writer.write(entry(5))
    finally:
        restarted.writer.close()
    assert numbers(db) == [1, 2, 3, 6]
    assert said(restarted.trail.check()) == (False, 4, 5, "GAP")


def test_every_record_deleted_is_found(db: Database, signer: AuditSigner) -> None:
    a = appended(db, signer, 3)
    sql(db, "DELETE FROM access_records")
    assert said(a.trail.check()) == (False, 1, 3, "TRUNCATED")


def test_a_rewritten_end_is_found(db: Database, signer: AuditSigner) -> None:
    """The last records replaced by others, chained properly (the chain needs no key), up to the memo's number."""
    a = appended(db, signer, 6)
    with db.unit_of_work() as uow:
        kept = uow.audit.page(0, 4)
    forged = chain(4, kept[-1].hash, [entry(100), entry(101)])
    sql(db, "DELETE FROM access_records WHERE seq > 4")
    with db.unit_of_work(write=True) as uow:
        uow.audit.add(forged)
        uow.commit()
    assert said(a.trail.check()) == (False, 6, None, "HEAD_MISMATCH")

    more = chain(6, forged[-1].hash, [entry(102)])  # and one more after it, which no memo names
    with db.unit_of_work(write=True) as uow:
        uow.audit.add(more)
        uow.commit()
    assert said(a.trail.check()) == (False, 6, None, "HEAD_MISMATCH")


def test_a_check_while_the_gateway_appends_judges_the_chain_as_it_stood(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check had read the checkpoints first and then chased the records appended meanwhile: on a busy gateway
    those crossed a checkpoint it had not read, and it said BROKEN (CHECKPOINT_MISSING) of an intact chain, four
    runs in four (an operations tester). It checks the chain up to the memo it read; the rest is the next check's."""
    from gateway.store.repositories import AuditRepository

    a = appended(db, signer, 10)  # checkpoints at 7
    b = Process(db, signer)
    page = AuditRepository.page
    busy = iter([True])

    def meanwhile(self: AuditRepository, after_seq: int, limit: int) -> list[object]:
        if next(busy, False):  # another process appends 20 more (checkpoints at 14, 21, 28) during the check
            for n in range(20):
                b.writer.write(entry(100 + n))
        return page(self, after_seq, limit)  # type: ignore[return-value]

    monkeypatch.setattr(AuditRepository, "page", meanwhile)
    try:
        assert a.trail.check() == ChainCheck(ok=True, records=10, checkpoints=1)
    finally:
        b.writer.close()
    monkeypatch.setattr(AuditRepository, "page", page)
    assert a.trail.check() == ChainCheck(ok=True, records=30, checkpoints=4)


def test_a_checkpoint_committed_between_the_head_and_the_checkpoints_is_the_next_checks(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL reads each statement anew: a checkpoint committed after the head was read, before the checkpoints
    were, had been taken for one past the chain's end (CHECKPOINT_MISMATCH of an intact chain; found in review). Its
    records are read as far as it; a forged one ahead of the end, or one left past records deleted, is still found."""
    from gateway.store.repositories import AuditRepository

    a = appended(db, signer, 10)  # a checkpoint at 7
    b = Process(db, signer)
    start_memo = AuditRepository.start_memo
    busy = iter([True])

    def meanwhile(self: AuditRepository) -> object:
        if next(busy, False):
            for n in range(6):  # 11-16: a checkpoint at 14
                b.writer.write(entry(200 + n))
        return start_memo(self)

    monkeypatch.setattr(AuditRepository, "start_memo", meanwhile)
    try:
        checked = a.trail.check()
    finally:
        b.writer.close()
    assert checked.ok and checked.checkpoints in (1, 2) and checked.records in (10, 14)  # SQLite: one snapshot
    monkeypatch.setattr(AuditRepository, "start_memo", start_memo)
    with db.unit_of_work(write=True) as uow:  # a checkpoint forged ahead of the end: its signature is checked
        uow.audit.add_checkpoint(dataclasses.replace(uow.audit.checkpoints()[-1], seq=28, signature=bytes(64)))
        uow.commit()
    assert said(a.trail.check())[3] in ("CHECKPOINT_SIGNATURE_INVALID", "CHECKPOINT_MISMATCH")


def test_records_added_after_the_memo_are_not_vouched_for(db: Database, signer: AuditSigner) -> None:
    a = appended(db, signer, 3)
    with db.unit_of_work() as uow:
        last = uow.audit.page(0, 10)[-1]
    with db.unit_of_work(write=True) as uow:
        uow.audit.add(chain(3, last.hash, [entry(50), entry(51)]))  # a use that never was, at the end
        uow.commit()
    assert said(a.trail.check()) == (False, 4, 5, "UNVOUCHED_RECORDS")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("DELETE FROM audit_head", "HEAD_MEMO_MISSING"),
        ("UPDATE audit_head SET memo = :zeros", "HEAD_MEMO_INVALID"),
        # moved back to the shortened chain's end, its memo kept: the memo names the record it was made for
        ("UPDATE audit_head SET seq = seq - 2", "HEAD_MEMO_INVALID"),
        ("UPDATE audit_head SET hash = :zeros", "HEAD_MEMO_INVALID"),
    ],
)
def test_a_head_memo_deleted_or_changed_is_reported(
    db: Database, signer: AuditSigner, change: str, reason: str
) -> None:
    a = Process(db, signer)
    try:
        for n in range(4):
            a.writer.write(entry(n))
        sql(db, change, zeros=bytes(32))
        assert said(a.trail.check()) == (False, 4, None, reason)
        a.writer.write(entry(4))  # never fails a caller; the new memo vouches for the chain as it is
    finally:
        a.writer.close()
    assert a.trail.check() == ChainCheck(ok=True, records=5, checkpoints=0)


def test_two_processes_and_refusals_keep_the_memo_at_the_end(db: Database, signer: AuditSigner) -> None:
    a, b = Process(db, signer), Process(db, signer)
    try:
        for n in range(12):
            (a if n % 2 else b).writer.write(entry(n))
            if n % 5 == 0:
                a.trail.record(entry(100 + n))  # a refusal: a transaction of its own, not the group writer's
    finally:
        a.writer.close()
        b.writer.close()
    check = b.trail.check()
    assert (check.ok, check.records) == (True, 15)
    seq, digest, memo = head_row(db)
    assert seq == 15 and MEMOS.head(seq, digest).memo == memo


def test_pruning_keeps_the_memo_valid(db: Database, signer: AuditSigner) -> None:
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(12):
        trail.record(entry(n))
    # through record 12, the chain's end, at a checkpoint the prune signs on it: no record is left (a reviewer, R1)
    assert trail.prune(dt.timedelta(seconds=-1)) == 12
    assert trail.check() == ChainCheck(ok=True, records=0, checkpoints=3)
    for n in range(12, 15):
        trail.record(entry(n))
    assert trail.prune(dt.timedelta(seconds=-1)) == 3  # through checkpoint 15, the chain's end
    assert trail.check() == ChainCheck(ok=True, records=0, checkpoints=4)
    again = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)  # a restart: the store only
    again.record(entry(15))
    assert numbers(db) == [16]
    assert again.check() == ChainCheck(ok=True, records=1, checkpoints=4)


def start_row(db: Database) -> int | None:
    """The number of the checkpoint the start memo (``audit_head`` row 2) says the chain was pruned through."""
    with db.engine.connect() as connection:
        return connection.execute(text("SELECT seq FROM audit_head WHERE id = 2")).scalar()


@pytest.mark.parametrize(("step", "steps"), [(12, [10, 10, 8]), (3, [5, 5, 5, 5, 5, 3])])
def test_a_prune_removes_records_a_step_at_a_time_and_the_chain_checks_after_each(
    db: Database, signer: AuditSigner, step: int, steps: list[int]
) -> None:
    """The access records had been deleted in one transaction, however many (on SQLite 1 M in one, an append waiting
    3.1 s meanwhile), where operations.md says the prune removes at most 5,000 rows a transaction (a reviewer, R3).
    Each step removes up to ``step`` records, to a checkpoint (to the next one when none is that near), and commits
    them with the start memo of that checkpoint: the chain checks after each commit. The last step goes on to the
    newest record older than the cutoff, 28, at a checkpoint it signs on it (a reviewer, R1). The progress is told:
    the records to remove once the check is done, and each step's as it commits."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(28):
        trail.record(entry(n))  # checkpoints 5, 10 … 25
    pages: list[None] = []
    planned: list[int] = []
    done: list[tuple[int, int | None, ChainCheck]] = []
    progress = PruneProgress(
        checking=lambda: pages.append(None),
        removing=planned.append,
        removed=lambda count: done.append((count, start_row(db), trail.check())),  # committed: another reads it
    )
    assert trail.prune(dt.timedelta(seconds=-1), progress=progress, step=step) == 28
    assert pages and planned == [28]
    assert [count for count, _, _ in done] == steps
    left = 28
    for count, start, check in done:
        left -= count
        assert start == 28 - left and check == ChainCheck(ok=True, records=left, checkpoints=5 + (left == 0))
    assert trail.prune(dt.timedelta(seconds=-1), progress=progress, step=step) == 0
    assert planned == [28, 0] and len(done) == len(steps)


@pytest.mark.parametrize("stopped", ["between steps", "within a step"])
def test_a_prune_stopped_midway_leaves_a_chain_that_checks_and_the_next_one_finishes(
    db: Database, signer: AuditSigner, stopped: str
) -> None:
    """A prune stopped after its first step (Ctrl-C, an error of the store in the next step's delete): the first
    step's records are gone with their start memo, the next step's all kept, the chain checks, and the next prune
    removes the rest. (A process killed then: ``tests/api/test_retention.py``.)"""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(28):
        trail.record(entry(n))
    deletes: list[str] = []

    def failing(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("DELETE FROM access_records"):
            deletes.append(statement)
            if len(deletes) == 2:
                raise RuntimeError("the store failed the second step's delete")

    def interrupted(_count: int) -> None:
        raise KeyboardInterrupt

    if stopped == "within a step":
        event.listen(db.engine, "after_cursor_execute", failing)
    try:
        with pytest.raises(RuntimeError if stopped == "within a step" else KeyboardInterrupt):
            progress = PruneProgress(removed=interrupted) if stopped == "between steps" else PruneProgress()
            trail.prune(dt.timedelta(seconds=-1), progress=progress, step=12)
    finally:
        if stopped == "within a step":
            event.remove(db.engine, "after_cursor_execute", failing)
    assert start_row(db) == 10 and numbers(db) == list(range(11, 29))
    assert trail.check() == ChainCheck(ok=True, records=18, checkpoints=5)
    assert trail.prune(dt.timedelta(seconds=-1), step=12) == 18  # to record 28, signed (a reviewer, R1)
    assert start_row(db) == 28 and trail.check() == ChainCheck(ok=True, records=0, checkpoints=6)


@pytest.mark.parametrize("kind", backend_params())
def test_a_store_from_before_the_head_memo_says_so_until_the_next_record(
    kind: str, tmp_path: Path, signer: AuditSigner
) -> None:
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0021")
            records = chain(0, bytes(32), [entry(n) for n in range(3)])
            with db.unit_of_work(write=True) as uow:
                uow.audit.add(records)
                uow.commit()
            db.migrate()
            trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS)
            check = trail.check()
            assert said(check) == (False, 3, None, "HEAD_NOT_YET_VOUCHED")
            status, words = chain_verdict(check)  # zzgw audit verify: undecided, not BROKEN
            assert status == 3 and "not yet vouched for (HEAD_NOT_YET_VOUCHED)" in words and "BROKEN" not in words
            assert trail.vouch_head()  # what `zzgw init` does at the upgrade
            assert trail.check() == ChainCheck(ok=True, records=3, checkpoints=0)
            trail.record(entry(3))
            assert trail.check() == ChainCheck(ok=True, records=4, checkpoints=0)
            assert chain_verdict(trail.check())[0] == 0
        finally:
            db.dispose()


def test_a_new_store_is_whole(db: Database, signer: AuditSigner) -> None:
    assert AuditTrail(db, signer, SystemClock(), memos=MEMOS).check() == ChainCheck(ok=True, records=0, checkpoints=0)


def test_records_deleted_from_the_start_are_found(db: Database, signer: AuditSigner) -> None:
    """Deleting records from the chain's start up to a signed checkpoint left what remains checking as a pruned chain
    does (a feeds tester, with "keep for ever"): only ``prune`` writes the start memo, so a deletion is found."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(17):
        trail.record(entry(n))
    with db.engine.begin() as connection:  # never pruned: records 1-10 deleted by hand
        connection.execute(text("DELETE FROM access_records WHERE seq <= 10"))
    deleted = trail.check()
    assert (deleted.ok, deleted.reason, deleted.first_broken, deleted.last_broken) == (
        False,
        "START_MEMO_MISSING",
        1,
        10,
    )


def test_records_deleted_past_the_point_a_prune_went_are_found(db: Database, signer: AuditSigner) -> None:
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    for n in range(17):
        trail.record(dataclasses.replace(entry(n), at=long_ago) if n < 7 else entry(n))
    # through record 7, the last one old, at a checkpoint the prune signs (a reviewer, R1): record 8 is young
    assert trail.prune(dt.timedelta(days=365)) == 7
    assert trail.check() == ChainCheck(ok=True, records=10, checkpoints=4)
    with db.engine.begin() as connection:  # then 8-10 deleted by hand, up to the next checkpoint
        connection.execute(text("DELETE FROM access_records WHERE seq <= 10"))
    deleted = trail.check()
    assert (deleted.ok, deleted.reason, deleted.first_broken, deleted.last_broken) == (
        False,
        "DELETED_FROM_START",
        8,
        10,
    )
    with pytest.raises(AuditBroken):  # nor is such a chain pruned: that would vouch for the deletion
        trail.prune(dt.timedelta(days=365))


@pytest.mark.parametrize("kind", backend_params())
def test_a_chain_pruned_before_start_memos_is_vouched_for_at_the_upgrade(
    kind: str, tmp_path: Path, signer: AuditSigner
) -> None:
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0023")
            trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
            for n in range(12):
                trail.record(entry(n))
            with db.engine.begin() as connection:  # as prune did then: through checkpoint 10, no memo
                connection.execute(text("DELETE FROM access_records WHERE seq <= 10"))
            db.migrate()
            assert said(trail.check()) == (False, 1, 10, "START_NOT_YET_VOUCHED")
            assert trail.vouch_start() and not trail.vouch_start()  # once
            assert trail.check() == ChainCheck(ok=True, records=2, checkpoints=2)
        finally:
            db.dispose()


def test_a_record_edited_into_values_of_no_kind_is_a_hash_mismatch(db: Database, signer: AuditSigner) -> None:
    """An action the gateway does not define, or (on SQLite) a time that is none, had made the check and every
    listing of the trail fail (INTERNAL): the record is read as what no record holds, and its hash does not match."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(6):
        trail.record(entry(n))
    edits = ["action = 'VERIFY_LICENSE2'"] + (["at = 'yesterday'"] if db.dialect == "sqlite" else [])
    for edit in edits:
        with db.engine.begin() as connection:
            kept = connection.execute(text("SELECT action, at FROM access_records WHERE seq = 3")).one()
            connection.execute(text(f"UPDATE access_records SET {edit} WHERE seq = 3"))
        assert said(trail.check()) == (False, 3, None, "HASH_MISMATCH"), edit
        with db.unit_of_work() as uow:
            listed = uow.audit.of(holder_code="", before_seq=None, limit=10)
        assert [r.seq for r in listed] == [6, 5, 4, 3, 2, 1]
        with db.engine.begin() as connection:
            connection.execute(
                text("UPDATE access_records SET action = :a, at = :t WHERE seq = 3"), {"a": kept[0], "t": kept[1]}
            )
        assert trail.check().ok


def with_a_receipt(process: Process, n: int) -> None:
    """A verification's record with its receipt, written as the gateway writes them: the record first."""

    def store(work: AppendWork, entries: Sequence[AuditEntry]) -> None:
        process.trail.append(work, entries)
        receipt = StoredReceipt(
            receipt_id=entries[0].receipt_id,
            statement=b"{}",
            signature=b"",
            algorithm="ES256",
            caller=entries[0].caller,
            matter_code=entries[0].matter_code,
            license_id=entries[0].license_id,
            created_at=entries[0].at,
        )
        work.receipts.add([receipt])

    writer: GroupWriter[AuditEntry, AuditEntry, None] = GroupWriter(process.trail._db, store, name="receipts")
    try:
        writer.write(entry(n))
    finally:
        writer.close()


def wipe(db: Database) -> None:
    for table in ("access_record_subjects", "access_records", "audit_checkpoints", "audit_head"):
        sql(db, f"DELETE FROM {table}")


def test_a_trail_deleted_whole_is_found_and_stays_found(
    db: Database, signer: AuditSigner, caplog: pytest.LogCaptureFixture
) -> None:
    """Every record, checkpoint and the head row deleted had been "intact: 0 records", a new store's trail, and the
    next record numbered 1 (an auditor). The receipts, each written with its record, say the trail was there; the
    next append chains a record of the break before its own, so that the deletion is reported for good."""
    a = appended(db, signer, 9)
    with_a_receipt(a, 9)
    assert a.trail.check().ok
    wipe(db)
    fresh = Process(db, signer)  # a process started after it: a restart, a deploy
    assert said(fresh.trail.check()) == (False, 1, None, "TRAIL_DELETED")
    with caplog.at_level("WARNING", logger="zzgw.audit"):
        fresh.trail.record(entry(20))
    assert said(fresh.trail.check()) == (False, 1, None, "TRAIL_DELETED")
    assert "TRAIL_DELETED" in caplog.text and "AUDIT_BREAK" in caplog.text
    with db.unit_of_work() as uow:
        records = uow.audit.page(0, 10)
    assert [(r.seq, r.entry.action, r.entry.reason) for r in records] == [
        (1, AuditAction.AUDIT_BREAK, "TRAIL_DELETED"),
        (2, AuditAction.VERIFY_LICENSE, ""),
    ]
    assert records[0].entry.holder_code == "" and not records[0].entry.subjects  # on nobody's log


def test_a_new_stores_first_records_and_receipts_are_whole(db: Database, signer: AuditSigner) -> None:
    a = Process(db, signer)
    with_a_receipt(a, 0)
    with_a_receipt(a, 1)
    assert a.trail.check() == ChainCheck(ok=True, records=2, checkpoints=0)


@pytest.mark.parametrize(
    ("tamper", "found"),
    [
        # a use that never was, forged at the end with the chain's public formula
        ("forge", (False, 6, 6, "UNVOUCHED_RECORDS")),
        # a record rewritten and the chain rehashed to its end, the head row deleted
        ("rewrite", (False, 5, None, "HEAD_MEMO_MISSING")),
        # records deleted from the end, and the head row made to look like an upgrade's
        ("upgrade-row", (False, 4, 5, "TRUNCATED")),
    ],
)
def test_a_tampered_end_an_append_chains_after_stays_found(
    db: Database, signer: AuditSigner, tamper: str, found: tuple[bool, int, int | None, str]
) -> None:
    """The next append, by a process that reads the head from the store, had vouched for a tampered end for good:
    forged records became the holder's genuine uses, a refusal rewritten as a PERMIT stood (an auditor). It chains
    after that end with a record of the break, which every check reports from then on."""
    appended(db, signer, 5)
    with db.unit_of_work() as uow:
        records = uow.audit.page(0, 10)
    if tamper == "forge":
        with db.unit_of_work(write=True) as uow:
            uow.audit.add(chain(5, records[-1].hash, [entry(50)]))
            uow.commit()
    elif tamper == "rewrite":
        rewritten = chain(1, records[0].hash, [dataclasses.replace(r.entry, decision="FAILED") for r in records[1:]])
        sql(db, "DELETE FROM access_records WHERE seq > 1")
        sql(db, "DELETE FROM audit_head")
        with db.unit_of_work(write=True) as uow:
            uow.audit.add(rewritten)
            uow.commit()
    else:
        sql(db, "DELETE FROM access_records WHERE seq > 3")
        sql(db, "UPDATE audit_head SET memo = :empty", empty=b"")
    fresh = Process(db, signer)
    assert said(fresh.trail.check()) == found
    fresh.trail.record(entry(60))
    assert said(fresh.trail.check()) == found  # for good: it had said ok from here on


def test_a_recorded_break_hides_no_later_tampering_and_ages_out(db: Database, signer: AuditSigner) -> None:
    """A check had answered with the first AUDIT_BREAK before the records' links and hashes: once one was recorded,
    a record edited later went unreported, and prune refused the chain for ever (a reviewer). The break is reported
    when nothing else is wrong, marked as recorded; prune goes on, and once it is pruned the chain is whole."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(3):
        trail.record(entry(n))
    sql(db, "DELETE FROM audit_head")
    fresh = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    fresh.record(entry(10))  # record 4 is the break, 5 the call's (a checkpoint)
    found = fresh.check()
    assert (said(found), found.recorded) == ((False, 3, None, "HEAD_MEMO_MISSING"), True)
    sql(db, "UPDATE access_records SET purpose = '篡改' WHERE seq = 2")
    assert said(fresh.check()) == (False, 2, None, "HASH_MISMATCH")  # found: it had been the break again
    with pytest.raises(AuditBroken):
        fresh.prune(dt.timedelta(seconds=-1))
    sql(db, "UPDATE access_records SET purpose = :p WHERE seq = 2", p=entry(1).purpose)
    for n in range(11, 16):
        fresh.record(entry(n))
    assert fresh.prune(dt.timedelta(seconds=-1)) == 10  # through checkpoint 10, the break's record with them
    assert fresh.check() == ChainCheck(ok=True, records=0, checkpoints=2)


def test_a_chain_pruned_to_nothing_and_upgraded_numbers_on_after_its_checkpoint(
    db: Database, signer: AuditSigner
) -> None:
    """Migration 0022 leaves a chain pruned to nothing a row naming its newest checkpoint, with an empty memo. The
    first append had passed it over and numbered from 1: the chain then failed its checkpoint for good, and the
    append that reached the checkpoint's number collided with it (a reviewer). It numbers on after the row's."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(5):
        trail.record(entry(n))
    assert trail.prune(dt.timedelta(seconds=-1)) == 5
    sql(db, "UPDATE audit_head SET memo = :empty WHERE id = 1", empty=b"")  # as the upgrade leaves it
    fresh = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    assert fresh.vouch_head()  # by the upgrade's `zzgw init`
    for n in range(5, 11):
        fresh.record(entry(n))
    with db.unit_of_work() as uow:
        assert [r.seq for r in uow.audit.page(0, 20)] == list(range(6, 12))
    assert fresh.check() == ChainCheck(ok=True, records=6, checkpoints=2)


def test_a_co_subject_planted_for_a_record_to_come_is_found(db: Database, signer: AuditSigner) -> None:
    """A co-subject row for the next record's number had passed the check; the record then written was listed on
    a stranger's log, and the check blamed that genuine record (an auditor). A row past the newest record is
    SUBJECTS_AHEAD."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS)
    for n in range(3):
        trail.record(entry(n))
    assert trail.check().ok
    sql(db, "INSERT INTO access_record_subjects (subject_code, seq) VALUES ('370102199003079995', 4)")
    assert said(trail.check()) == (False, 4, None, "SUBJECTS_AHEAD")


def test_a_row_written_as_an_upgrades_after_a_deletion_is_a_break(db: Database, signer: AuditSigner) -> None:
    """An upgrade's empty head row had been trusted by whatever append came next: records deleted since the newest
    checkpoint, and such a row written naming it, checked intact after one call (a reviewer). `zzgw init` vouches
    for the row at the upgrade (``vouch_head``); an empty row an append meets is a break, reported for good."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(5):
        trail.record(entry(n))
    assert trail.prune(dt.timedelta(seconds=-1)) == 5
    for n in range(5, 8):
        trail.record(entry(n))  # records 6-8
    with db.engine.connect() as connection:
        checkpoint = connection.execute(text("SELECT hash FROM audit_checkpoints WHERE seq = 5")).scalar_one()
    sql(db, "DELETE FROM access_records")
    sql(db, "UPDATE audit_head SET seq = 5, hash = :h, memo = :empty WHERE id = 1", h=checkpoint, empty=b"")
    fresh = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    fresh.record(entry(20))
    found = fresh.check()
    assert (said(found), found.recorded) == ((False, 5, None, "HEAD_NOT_YET_VOUCHED"), True)
    assert chain_verdict(found)[0] == 1  # BROKEN, not the undecided 3 of an upgrade's row (a reviewer)


def upgraded_store(tmp_path: Path, revision: str, *, secret_then: bool) -> Settings:
    """The settings of a store with three access records, taken back to schema ``revision`` as an older version left
    it (without the memo secret, which versions from schema 0012 make, unless ``secret_then``), for an init to
    upgrade."""
    from tests.test_cli_store_checks import downgrade

    settings = store_with_records(tmp_path, f"sqlite:///{tmp_path / 'zzgw.db'}", records=3)
    downgrade(settings.effective_database_url, revision)
    settings.schema_reached_path.unlink()  # the older version recorded no schema beside its keys
    if not secret_then:
        (settings.keys_dir / "sealmemo.key.pem").unlink()
    return settings


def chain_of(settings: Settings) -> ChainCheck:
    """The check of the audit chain of the store ``settings`` name, by a gateway opened on it."""
    from gateway.server import Gateway

    gateway = Gateway.open(settings)
    try:
        assert gateway.audit is not None
        return gateway.audit.check()
    finally:
        gateway.close()


def store_with_records(tmp_path: Path, url: str, *, records: int = 5) -> Settings:
    """The settings of a store at this code's schema, initialised by this code, with ``records`` access records. The
    empty store ``url`` (``fresh_database``) and the data directory are first a copy of a store ``initialise`` set up
    (``initialised_copy``: its migrations, members and seals made once in the process), which the init here then finds
    at this code's schema: the tests are of what later inits make of the store, not of its first."""
    from gateway.server import Gateway, initialise
    from tests.conftest import PASSPHRASE, initialised_copy

    settings = Settings(  # type: ignore[arg-type]
        data_dir=tmp_path / "var", database_url=url, key_passphrase=PASSPHRASE
    )
    assert initialised_copy(url, settings.data_dir)
    initialise(settings)
    gateway = Gateway.open(settings)
    try:
        assert gateway.audit is not None
        for n in range(records):
            gateway.audit.record(entry(n))
    finally:
        gateway.close()
    return settings


@pytest.mark.parametrize("kind", backend_params())
@pytest.mark.parametrize("revision", ["0021", "0023", "0020", "0013"])
def test_a_store_taken_back_to_an_older_schema_is_refused_not_vouched_for(
    kind: str, tmp_path: Path, revision: str
) -> None:
    """A database-only attacker deletes records from the chain's end, then runs the public migrations' downgrades to
    before the head memo (0022), the start memo (0024), the document memos (0021) or the status memos (0014). The
    next `zzgw init` had taken the store's own alembic_version for an upgrade and vouched for the shortened chain
    (and for whatever statuses and documents were edited meanwhile): `zzgw audit verify` said intact and the deleted
    numbers were used again (a reviewer, R1). The schema this data directory's init left the store at is kept beside
    its keys, where that attacker cannot write: init, and every store command, refuse the store instead."""
    from gateway.config import ConfigError
    from gateway.server import Gateway, check_ready, initialise
    from tests.test_cli_store_checks import downgrade

    with fresh_database(kind, tmp_path) as url:
        settings = store_with_records(tmp_path, url)
        assert settings.schema_reached_path.read_text().strip() == schema_revisions()[-1]
        gateway = Gateway.open(settings)
        db = gateway.db
        try:
            sql(db, "DELETE FROM access_records WHERE seq > 3")
            sql(db, "DELETE FROM access_record_subjects WHERE seq > 3")
            assert gateway.audit is not None
            assert said(gateway.audit.check()) == (False, 4, 5, "TRUNCATED")
        finally:
            gateway.close()
        downgrade(url, revision)
        with pytest.raises(ConfigError) as refused:
            initialise(settings)
        said_ = str(refused.value)
        assert f"is at schema {revision}, and this data directory's `zzgw init` left it at schema " in said_
        assert "its schema was taken back (alembic downgrade) across schema " in said_
        assert "`zzgw init` does not vouch for what such a store holds now" in said_
        check = Database.connect(url)
        try:
            assert check.schema_revision() == revision  # not upgraded, nothing vouched for
            if revision >= "0022":
                with check.engine.connect() as connection:
                    memo = connection.execute(text("SELECT memo FROM audit_head WHERE id = 1")).scalar_one()
                assert memo is not None  # still the memo of record 5: the cut stays TRUNCATED
        finally:
            check.dispose()
        opened = Gateway.open(settings)
        try:
            with pytest.raises(ConfigError) as served:  # zzgw serve / audit verify: said so too, not "run zzgw init"
                check_ready(opened)
        finally:
            opened.close()
        assert "its schema was taken back (alembic downgrade)" in str(served.value)
        assert "run `zzgw init` to upgrade it" not in str(served.value)


@pytest.mark.parametrize("kind", backend_params())
def test_a_store_taken_back_past_no_vouching_migration_is_upgraded_and_vouched_for_by_nothing(
    kind: str, tmp_path: Path
) -> None:
    """A copy from before an upgrade that crosses no migration init vouches at is upgraded as docs/operations.md,
    Restoring, says (its data directory's copy taken after the upgrade): init vouches for nothing, and a cut end is
    still TRUNCATED. Taken back across such a migration, the operator who restored a genuine copy moves the record
    aside, as the refusal says, and init vouches for the store as it finds it."""
    from gateway.config import ConfigError
    from gateway.server import Gateway, initialise
    from tests.test_cli_store_checks import downgrade

    with fresh_database(kind, tmp_path) as url:
        settings = store_with_records(tmp_path, url)
        gateway = Gateway.open(settings)
        try:
            sql(gateway.db, "DELETE FROM access_records WHERE seq > 3")
            sql(gateway.db, "DELETE FROM access_record_subjects WHERE seq > 3")
        finally:
            gateway.close()
        downgrade(url, schema_revisions()[-2])
        initialise(settings)
        gateway = Gateway.open(settings)
        try:
            assert gateway.audit is not None
            assert said(gateway.audit.check()) == (False, 4, 5, "TRUNCATED")
        finally:
            gateway.close()
        downgrade(url, "0021")
        with pytest.raises(ConfigError) as refused:
            initialise(settings)
        assert "move schema-reached aside and run `zzgw init` again" in str(refused.value)
        settings.schema_reached_path.unlink()  # the operator's word that the copy is genuine
        initialise(settings)
        assert chain_of(settings) == ChainCheck(ok=True, records=3, checkpoints=0)


@pytest.mark.parametrize("kind", backend_params())
def test_a_replica_whose_data_directory_was_copied_before_an_upgrade_records_the_schema_at_its_init(
    kind: str, tmp_path: Path
) -> None:
    """Replicas share the store, each with a copy of the data directory: one copied before an upgrade records the
    store's schema at its own next init (no upgrade left to do, nothing vouched for), and refuses it from then on
    if it is taken back; a data directory from a version before the record takes the store's schema as it finds it."""
    from gateway.config import ConfigError
    from gateway.server import initialise
    from tests.test_cli_store_checks import downgrade

    with fresh_database(kind, tmp_path) as url:
        settings = store_with_records(tmp_path, url)
        replica = dataclasses.replace(settings, data_dir=tmp_path / "replica")
        import shutil

        shutil.copytree(settings.data_dir, replica.data_dir)
        replica.schema_reached_path.write_text("0021\n")  # copied when the store was at 0021
        initialise(replica)
        assert replica.schema_reached_path.read_text().strip() == schema_revisions()[-1]
        replica.schema_reached_path.unlink()  # a data directory of a version before the record
        initialise(replica)
        assert replica.schema_reached_path.read_text().strip() == schema_revisions()[-1]
        downgrade(url, "0021")
        for each in (settings, replica):
            with pytest.raises(ConfigError, match=r"its schema was taken back \(alembic downgrade\)"):
                initialise(each)


@pytest.mark.parametrize(("revision", "secret_then"), [("0021", True), ("0011", False)])
def test_zzgw_init_vouches_for_the_row_its_upgrade_leaves(tmp_path: Path, revision: str, secret_then: bool) -> None:
    """`zzgw init` upgrading a store across schema 0022 vouches for the head row the migration leaves, also from
    before the memo secret (schema 0012), when its gateway has no audit trail until init makes the secret: that row
    had been left for the next record to report as a break, an honest upgrade read BROKEN (a reviewer)."""
    from gateway.server import Gateway, initialise

    settings = upgraded_store(tmp_path, revision, secret_then=secret_then)
    initialise(settings)
    gateway = Gateway.open(settings)
    try:
        assert gateway.audit is not None
        assert gateway.audit.check() == ChainCheck(ok=True, records=3, checkpoints=0)
        gateway.audit.record(entry(3))
        assert gateway.audit.check() == ChainCheck(ok=True, records=4, checkpoints=0)
    finally:
        gateway.close()


@pytest.mark.parametrize(("revision", "secret_then"), [("0021", True), ("0011", False)])
def test_an_upgrade_whose_first_init_is_refused_is_vouched_for_by_the_next(
    tmp_path: Path, revision: str, secret_then: bool
) -> None:
    """On a store from before the memo secret, init vouched for the upgraded rows only late: refused after its
    migration (a member's certificate missing), it left them, and the next init, on the new schema, never vouched
    (a reviewer). They are vouched for with the secret made right after the migration's checks."""
    from gateway.config import ConfigError
    from gateway.server import initialise

    settings = upgraded_store(tmp_path, revision, secret_then=secret_then)
    pem = next((settings.pki_dir / "members").glob("*.pem"))
    kept = pem.read_bytes()
    pem.unlink()  # a certificate not copied: the upgrade's init is refused after its migration
    with pytest.raises(ConfigError):
        initialise(settings)
    pem.write_bytes(kept)  # put back, as the refusal says
    initialise(settings)
    assert chain_of(settings) == ChainCheck(ok=True, records=3, checkpoints=0)


@pytest.mark.parametrize("migrated_db", [backend_params()[1]], indirect=True)
def test_an_append_waits_for_its_turn_in_the_process_as_long_as_a_write_waits(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another process holds the chain lock, an append queued behind one of its own process gives up as a write
    does (``StoreTimeout``, DATABASE_BUSY to the caller), not after the one ahead: each had waited for those ahead of
    it to time out in turn (a reviewer)."""
    monkeypatch.setattr("gateway.services.audit.APPEND_TURN_SECONDS", 0.5)
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=7)
    trail.record(entry(0))
    outcomes: dict[int, tuple[str, float]] = {}

    def record(n: int) -> None:
        started = time.monotonic()
        try:
            trail.record(entry(n))
            outcomes[n] = ("recorded", time.monotonic() - started)
        except StoreTimeout:
            outcomes[n] = ("timed out", time.monotonic() - started)

    with db.engine.connect() as other:  # another gateway process, in the middle of its append
        other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))
        first = threading.Thread(target=record, args=(1,))
        first.start()
        # once its turn is taken, it waits for the chain lock; a fixed 0.3 s had not been enough on a busy machine (the
        # second took the turn first, and the first timed out behind it)
        deadline = time.monotonic() + 10
        while trail._appending.acquire(blocking=False):  # not taken yet
            trail._appending.release()
            assert time.monotonic() < deadline, "the first append never took its turn"
            time.sleep(0.01)
        second = threading.Thread(target=record, args=(2,))
        second.start()
        second.join(timeout=5)
        held_for = 5.0 if second.is_alive() else 0.0
        other.rollback()  # the other process's append ends
    first.join(timeout=10)
    second.join(timeout=10)
    # its turn is waited for 0.5 s; had it waited for the one ahead, it would have ended only once the other process's
    # append did, 5 s after it started (held_for): 2 s had not been enough on a busy machine (2.15 s in one CI run)
    assert outcomes[2][0] == "timed out" and outcomes[2][1] < 4, (outcomes, held_for)
    assert outcomes[1][0] == "recorded"
    check = trail.check()
    assert check.ok and check.records == 2


@pytest.mark.parametrize("migrated_db", [backend_params()[1]], indirect=True)
def test_a_group_waiting_for_the_chain_lock_past_the_write_timeout_is_given_up_and_never_stored(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: while another process holds the chain lock (its append, a prune), a group commit's transaction
    waits for it. Its callers are claimed only once it holds the lock: given up at the write timeout, their records
    are never stored. They had been claimed when the transaction opened, which holds nothing on PostgreSQL: told
    "they may yet be committed" after twice the timeout, and stored once the lock was free (a reviewer)."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)
    process = Process(db, signer)
    try:
        process.writer.write(entry(0))
        with db.engine.connect() as other:  # another gateway process, in the middle of its append
            other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))
            started = time.monotonic()
            with pytest.raises(Exception) as told:  # given up, or the transaction's wait for the lock ended first
                process.writer.write(entry(1))
            assert time.monotonic() - started < 1.9 and given_up(told.value), told.value
            other.rollback()  # the other process's append ends
        process.writer.write(entry(2))  # after the group that gave up: it has ended
    finally:
        process.writer.close()
    with db.engine.connect() as connection:
        stored = [r for (r,) in connection.execute(text("SELECT receipt_id FROM access_records ORDER BY seq"))]
    assert stored == [f"{0:032x}", f"{2:032x}"]


def given_up(error: BaseException) -> bool:
    """Whether ``error`` tells a group writer's caller that nothing of its call was stored (DATABASE_BUSY: given up
    while queued, or its transaction's wait for a lock timed out), never that its records may yet be committed."""
    answer = store_unavailable(error)
    return answer is not None and answer.reason == "DATABASE_BUSY" and "may yet" not in answer.message


@pytest.mark.parametrize("migrated_db", backend_params(), indirect=True)
def test_a_group_whose_retry_waits_for_the_chain_lock_past_the_write_timeout_is_given_up_and_never_stored(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group's first transaction held the store and failed, nothing stored (a stale head: another process had
    appended), and its retry waits for the lock (another process's append or a prune; on SQLite a DBA's open
    transaction). Its callers, claimed by the first transaction, had stayed so: told "they may yet be committed"
    after twice the write timeout, and stored once the lock was free (a reviewer). Handed back to the queue for the
    retry, they are given up at the timeout and never stored."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)
    p1, p2 = Process(db, signer), Process(db, signer)
    held, release = threading.Event(), threading.Event()

    def another_takes_the_lock() -> None:  # between p1's two tries
        if db.dialect == "sqlite":
            assert db.store_file is not None
            raw = sqlite3.connect(db.store_file.path, isolation_level=None)
            raw.execute("BEGIN IMMEDIATE")
            held.set()
            release.wait(10)
            raw.execute("ROLLBACK")
            raw.close()
            return
        with db.engine.connect() as other:
            other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))
            held.set()
            release.wait(10)
            other.rollback()

    taker = threading.Thread(target=another_takes_the_lock)
    stale = p1._retry

    def retry(error: BaseException) -> bool:
        if (again := stale(error)) and not held.is_set():
            taker.start()
            assert held.wait(5)
        return again

    p1.writer._retry = retry
    try:
        p1.writer.write(entry(0))  # p1 remembers the head
        p2.writer.write(entry(1))  # another process appends: p1's head is stale
        started = time.monotonic()
        with pytest.raises(Exception) as told:
            p1.writer.write(entry(2))
        assert time.monotonic() - started < 1.9 and given_up(told.value), told.value
        assert p1.retries == 1
        release.set()
        taker.join(10)
        time.sleep(0.3)  # (the retry, had it its caller still, would write it now)
        p1.writer.write(entry(3))
    finally:
        release.set()
        p1.writer.close()
        p2.writer.close()
    with db.engine.connect() as connection:
        stored = [r for (r,) in connection.execute(text("SELECT receipt_id FROM access_records ORDER BY seq"))]
    assert stored == [f"{n:032x}" for n in (0, 1, 3)]


@pytest.mark.parametrize("migrated_db", [backend_params()[1]], indirect=True)
def test_a_group_waits_for_a_chain_lock_held_for_ever_no_longer_than_its_callers_and_frees_the_turn(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the chain lock held for ever (a connection cut by the network: its backend lives on, holding the
    lock until the server's keepalive reaps it, some 2 hours): a group's transaction waits for it no longer than its
    callers do (``lock_timeout``), fails DATABASE_BUSY with nothing stored, and this process's turn to append is
    free again. It had waited as long as the lock was held, holding the turn: every other append of the process
    failed, and the group was stored once the lock was freed, hours after its callers had been told (a reviewer)."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)
    process = Process(db, signer)
    try:
        process.writer.write(entry(0))
        with db.engine.connect() as other:
            other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))
            for n in (1, 2):
                started = time.monotonic()
                with pytest.raises(Exception) as told:
                    process.writer.write(entry(n))
                assert time.monotonic() - started < 1.5 and given_up(told.value), told.value
            assert process.trail._appending.acquire(timeout=0.5), "the writer holds the turn, waiting for the lock"
            process.trail._appending.release()
            other.rollback()
        process.writer.write(entry(3))
    finally:
        process.writer.close()
    with db.engine.connect() as connection:
        stored = [r for (r,) in connection.execute(text("SELECT receipt_id FROM access_records ORDER BY seq"))]
    assert stored == [f"{n:032x}" for n in (0, 3)]


@pytest.mark.parametrize("migrated_db", [backend_params()[1]], indirect=True)
def test_an_append_of_its_own_waits_for_a_chain_lock_held_for_ever_no_longer_than_a_write_waits(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the chain lock held for ever (a zombie backend's): an append in a transaction of its own (a
    refusal's record) waits for it as long as a write waits for the store, then fails DATABASE_BUSY, nothing stored,
    and the process's turn to append is free again. It had waited as long as the lock was held, holding the turn:
    the group writers, once their own wait was bounded, were stuck behind it instead (a reviewer's repro)."""
    monkeypatch.setattr(audit_module, "CHAIN_LOCK_SECONDS", 1.0)
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=7)
    trail.record(entry(0))
    told: list[BaseException] = []

    def record() -> None:
        try:
            trail.record(entry(1))
        except Exception as exc:
            told.append(exc)

    with db.engine.connect() as other:
        other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))
        started = time.monotonic()
        waiting = threading.Thread(target=record, daemon=True)
        waiting.start()
        waiting.join(5)
        alive = waiting.is_alive()
        other.rollback()
        waiting.join(10)
    assert not alive, "the append waits for the lock as long as it is held, holding the process's turn"
    assert time.monotonic() - started < 1.9 and len(told) == 1 and given_up(told[0]), told
    assert trail._appending.acquire(timeout=0.1)
    trail._appending.release()
    trail.record(entry(2))
    with db.engine.connect() as connection:
        stored = [r for (r,) in connection.execute(text("SELECT receipt_id FROM access_records ORDER BY seq"))]
    assert stored == [f"{n:032x}" for n in (0, 2)]


@pytest.mark.parametrize("migrated_db", [backend_params()[1]], indirect=True)
def test_a_lost_commit_whose_retry_cannot_take_the_chain_lock_is_told_lost_never_given_up(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: a group's commit landed but its connection was lost, unseen (every lookup fails), and another
    process holds the chain lock past the write timeout. The callers stay claimed (their records may be stored): the
    retry's wait for the lock times out, and they are told the connection was lost (DATABASE_UNAVAILABLE), never
    that nothing was done nor that they were given up; the group is not written again."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 1.0)
    monkeypatch.setattr(GroupWriter, "_landed", lambda self, tried: False)
    process = Process(db, signer)
    real_commit, armed, cut = AppendWork.commit, [], []
    other = db.engine.connect()

    def commit(work: AppendWork) -> None:
        real_commit(work)
        if armed and not cut:
            cut.append(1)
            other.execute(text(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK_ID})"))  # taken as the commit frees it
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(AppendWork, "commit", commit)
    try:
        process.writer.write(entry(0))
        armed.append(1)
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError) as told:
            process.writer.write(entry(1))
        answer = store_unavailable(told.value)
        assert time.monotonic() - started < 1.9 and answer is not None, told.value
        assert answer.reason == "DATABASE_UNAVAILABLE"
        other.rollback()
        process.writer.write(entry(2))
    finally:
        other.close()
        process.writer.close()
    with db.engine.connect() as connection:
        stored = [r for (r,) in connection.execute(text("SELECT receipt_id FROM access_records ORDER BY seq"))]
    assert stored == [f"{n:032x}" for n in (0, 1, 2)]


def test_a_check_while_a_prune_commits_judges_the_chain_as_it_stood(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A prune committing after the check read the chain's start, before it read the records: each page had been
    read in a transaction of its own, which began after the pruned checkpoint, and `zzgw audit verify` said BROKEN
    at 1-10 (GAP) of an intact chain (a reviewer, R2). The check reads one snapshot: the chain as it stood."""
    from gateway.store import repositories

    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(13):
        trail.record(entry(n))
    original = repositories.AuditRepository.page
    pruned: list[int] = []

    def page(self: repositories.AuditRepository, after: int, limit: int) -> list[object]:
        if not pruned:  # the check's first page: a nightly prune commits just now (its own check reads on)
            pruned.append(-1)
            pruned[0] = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5).prune(
                dt.timedelta(seconds=-1)
            )
        return original(self, after, limit)  # type: ignore[return-value]

    monkeypatch.setattr(repositories.AuditRepository, "page", page)
    during = trail.check()
    monkeypatch.setattr(repositories.AuditRepository, "page", original)
    assert pruned == [13]  # to the chain's end, at a checkpoint signed on record 13 (a reviewer, R1)
    assert during == ChainCheck(ok=True, records=13, checkpoints=2)  # as it stood when the check began
    assert trail.check() == ChainCheck(ok=True, records=0, checkpoints=3)


@pytest.mark.parametrize("meanwhile", ["prune", "first record"])
def test_a_check_reading_its_first_record_as_another_transaction_commits_judges_the_chain_as_it_stood(
    db: Database, signer: AuditSigner, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    """On PostgreSQL each statement of a read committed transaction sees the commits made since the last: a prune
    committing between the start memo's read and the first record's said START_MEMO_MISSING, and a new store's first
    record committing between the head's read and the first record's said HEAD_MEMO_MISSING, `zzgw audit prune` then
    refusing to prune (a reviewer, R2). The check reads one snapshot (REPEATABLE READ)."""
    from gateway.store import repositories

    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    if meanwhile == "prune":
        for n in range(13):
            trail.record(entry(n))
    original = repositories.AuditRepository.first
    done: list[object] = []

    def first(self: repositories.AuditRepository) -> object:
        if not done:  # the prune's own check reads on
            done.append(None)
            other = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
            done[0] = other.prune(dt.timedelta(seconds=-1)) if meanwhile == "prune" else other.record(entry(1))
        return original(self)

    monkeypatch.setattr(repositories.AuditRepository, "first", first)
    during = trail.check()
    monkeypatch.setattr(repositories.AuditRepository, "first", original)
    if meanwhile == "prune":
        assert done == [13]
        assert during == ChainCheck(ok=True, records=13, checkpoints=2)
        assert trail.check() == ChainCheck(ok=True, records=0, checkpoints=3)
    else:
        assert during == ChainCheck(ok=True, records=0, checkpoints=0)  # a new store, as it was
        assert trail.check() == ChainCheck(ok=True, records=1, checkpoints=0)


def facts_named(db: Database, name: str) -> int:
    with db.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM gateway_facts WHERE name = :n"), {"n": name}).scalar())


def test_a_trail_whose_calls_left_no_receipt_deleted_whole_is_found(db: Database, signer: AuditSigner) -> None:
    """A store whose calls leave no receipt, consent or access request (seal calls, listings, reads of unconditional
    data) had no witness of its trail: every record, checkpoint and the head row deleted read as a new store's,
    intact, and the next record was numbered 1 (a reviewer, audittrail R3). The first append ever records a store fact
    that the store has a trail."""
    assert facts_named(db, "audit-witness") == 0
    a = appended(db, signer, 9)  # no receipt
    assert facts_named(db, "audit-witness") == 1
    wipe(db)
    fresh = Process(db, signer)
    assert said(fresh.trail.check()) == (False, 1, None, "TRAIL_DELETED")
    fresh.trail.record(entry(20))
    assert said(fresh.trail.check()) == (False, 1, None, "TRAIL_DELETED")
    assert numbers(db) == [1, 2]  # the break first
    assert a.trail.check().reason == "TRAIL_DELETED"


@pytest.mark.parametrize("kind", backend_params())
def test_a_store_with_records_before_the_witness_fact_is_given_it_by_its_upgrade(
    kind: str, tmp_path: Path, signer: AuditSigner
) -> None:
    for records in (3, 0):
        with fresh_database(kind, tmp_path) as url:
            db = Database.connect(url)
            try:
                migrate_to(db, "0041")
                if records:
                    with db.unit_of_work(write=True) as uow:
                        uow.audit.add(chain(0, bytes(32), [entry(n) for n in range(records)]))
                        uow.commit()
                db.migrate()
                assert facts_named(db, "audit-witness") == (1 if records else 0)
            finally:
                db.dispose()


@pytest.mark.parametrize("planted", [0, -5])
def test_a_record_numbered_before_the_chains_start_is_reported_at_its_number(
    db: Database, signer: AuditSigner, planted: int
) -> None:
    """A record inserted by SQL with a number below 1 had been judged a pruned chain's start: DELETED_FROM_START
    from 1 to planted - 1, a reversed range of records that are all there (a reviewer, audittrail R5)."""
    trail = AuditTrail(db, signer, SystemClock(), memos=MEMOS, checkpoint_every=5)
    for n in range(3):
        trail.record(entry(n))
    with db.unit_of_work() as uow:
        (first,) = uow.audit.page(0, 1)
    with db.unit_of_work(write=True) as uow:
        uow.audit.add([dataclasses.replace(first, seq=planted)])
        uow.commit()
    check = trail.check()
    assert (said(check), check.recorded) == ((False, planted, None, "RECORD_BEFORE_START"), False)
    assert chain_verdict(check)[1].startswith(f"audit trail BROKEN at {planted} (RECORD_BEFORE_START)")
    sql(db, "DELETE FROM access_records WHERE seq < 1")
    assert trail.check().ok


def actions(db: Database) -> list[tuple[int, str, str, str]]:
    with db.engine.connect() as connection:
        rows = connection.execute(text("SELECT seq, action, reason, purpose FROM access_records ORDER BY seq")).all()
    return [(int(seq), action, reason, purpose) for seq, action, reason, purpose in rows]


def planted_at(db: Database, seq: int, record: AccessRecord) -> None:
    """A copy of access ``record`` inserted at number ``seq``, behind the gateway's back (its hash chains nowhere)."""
    with db.unit_of_work(write=True) as uow:
        uow.audit.add([dataclasses.replace(record, seq=seq)])
        uow.commit()


@pytest.mark.parametrize("planted", [2**63 - 1, 2**62])
def test_a_record_planted_past_any_number_the_chain_reaches_is_recorded_once_and_kept_clear_of(
    db: Database, signer: AuditSigner, caplog: pytest.LogCaptureFixture, planted: int
) -> None:
    """One row inserted at the largest number a store keeps (2^63 - 1) made every recorded call fail INTERNAL: the
    append chained after it, at a number that cannot be stored (SQLite OverflowError, PostgreSQL 22003), and no
    AUDIT_BREAK was ever written (a reviewer, audit R1). The append keeps clear of it, numbering after the chain's end
    below it, and records it once as added, as any record added after the end is; the check reports that break."""
    appended(db, signer, 5)
    with db.unit_of_work() as uow:
        newest = uow.audit.page(4, 1)[0]
    planted_at(db, planted, newest)
    fresh = Process(db, signer)
    assert said(fresh.trail.check()) == (False, planted, planted, "UNVOUCHED_RECORDS")
    with caplog.at_level("WARNING", logger="zzgw.audit"):
        fresh.trail.record(entry(20))  # it had raised
        fresh.trail.record(entry(21))
        appended(db, signer, 3)  # a group writer's, in another process
        Process(db, signer).trail.record(entry(22))  # a process that finds the break by its words
    assert caplog.text.count("AUDIT_BREAK") == 1 and f"records {planted}-{planted}" in caplog.text
    assert actions(db)[5:] == [
        (6, "AUDIT_BREAK", "UNVOUCHED_RECORDS", f"{planted}-{planted}"),
        *((seq, "VERIFY_LICENSE", "", entry(0).purpose) for seq in range(7, 13)),
        (planted, "VERIFY_LICENSE", "", entry(0).purpose),
    ]
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, planted, planted, "UNVOUCHED_RECORDS"), True)
    with db.unit_of_work(write=True) as uow:  # another record added below it: reported, not hidden by the break
        uow.audit.add(chain(12, uow.audit.hash_at(12) or b"", [entry(30)]))
        uow.commit()
    assert said(fresh.trail.check()) == (False, 13, planted, "UNVOUCHED_RECORDS")
    sql(db, "DELETE FROM access_records WHERE seq = 13")
    # a prune goes past the recorded break and never cuts past the chain's end: the planted record stays
    assert fresh.trail.prune(dt.timedelta(seconds=-1)) == 12
    assert [seq for seq, *_ in actions(db)] == [planted]
    assert said(fresh.trail.check()) == (False, planted, planted, "UNVOUCHED_RECORDS")  # its break is pruned
    fresh.trail.record(entry(23))  # recorded again, once
    fresh.trail.record(entry(24))
    assert [(seq, action) for seq, action, *_ in actions(db)] == [
        (13, "AUDIT_BREAK"),
        (14, "VERIFY_LICENSE"),
        (15, "VERIFY_LICENSE"),
        (planted, "VERIFY_LICENSE"),
    ]
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, planted, planted, "UNVOUCHED_RECORDS"), True)
    sql(db, "DELETE FROM access_records WHERE seq = :planted", planted=planted)
    found = fresh.trail.check()  # the break is still reported, until its record is pruned
    assert (said(found), found.recorded) == ((False, planted, planted, "UNVOUCHED_RECORDS"), True)


@pytest.mark.parametrize("planted", ["copied", "forged"])
def test_a_record_planted_past_the_end_is_reported_at_its_number_before_and_after_the_break_is_recorded(
    db: Database, signer: AuditSigner, caplog: pytest.LogCaptureFixture, planted: str
) -> None:
    """One record inserted 1,000 past the end was reported as 1,000 records added (UNVOUCHED_RECORDS 6-1005), and,
    once the gateway had recorded it, as 999 records deleted (GAP 6-1004), which kept prune from pruning too (a
    reviewer, audit R2). It is the record there, before and after: UNVOUCHED_RECORDS 1005-1005, recorded."""
    appended(db, signer, 5)  # checkpoints every 7: none is due at the numbers never written
    with db.unit_of_work() as uow:
        newest = uow.audit.page(4, 1)[0]
    added = (
        dataclasses.replace(newest, seq=1005)  # a copy of the newest record, numbered on
        if planted == "copied"
        else chain(1004, newest.hash, [entry(50)])[0]  # a use that never was, chained with the public formula
    )
    with db.unit_of_work(write=True) as uow:
        uow.audit.add([added])
        uow.commit()
    fresh = Process(db, signer)
    assert said(fresh.trail.check()) == (False, 1005, 1005, "UNVOUCHED_RECORDS")
    with caplog.at_level("WARNING", logger="zzgw.audit"):
        fresh.trail.record(entry(20))
    assert "records 1005-1005" in caplog.text
    assert [(seq, action) for seq, action, *_ in actions(db)[4:]] == [
        (5, "VERIFY_LICENSE"),
        (1005, "VERIFY_LICENSE"),
        (1006, "AUDIT_BREAK"),
        (1007, "VERIFY_LICENSE"),
    ]
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, 1005, 1005, "UNVOUCHED_RECORDS"), True)
    assert chain_verdict(found)[1].startswith("audit trail BROKEN at 1005 (UNVOUCHED_RECORDS)")
    for n in range(3):
        fresh.trail.record(entry(21 + n))
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, 1005, 1005, "UNVOUCHED_RECORDS"), True)
    # what is done to the gateway's records before it is still found, at its own number
    sql(db, "DELETE FROM access_records WHERE seq = 5")
    assert said(fresh.trail.check()) == (False, 5, 1004, "GAP")
    with db.unit_of_work(write=True) as uow:
        uow.audit.add([newest])
        uow.commit()
    sql(db, "UPDATE access_records SET purpose = '篡改' WHERE seq = 1007")
    assert said(fresh.trail.check()) == (False, 1007, None, "HASH_MISMATCH")
    sql(db, "UPDATE access_records SET purpose = :p WHERE seq = 1007", p=entry(20).purpose)
    assert fresh.trail.check().recorded
    assert fresh.trail.prune(dt.timedelta(seconds=-1)) == 11  # goes past the recorded break, as for any other
    assert fresh.trail.check().ok


def test_a_record_planted_past_any_number_after_one_recorded_there_is_reported_with_it(
    db: Database, signer: AuditSigner, caplog: pytest.LogCaptureFixture
) -> None:
    """A row planted at 2^62 after one at 2^63 - 1 had been recorded was recorded with a second AUDIT_BREAK (2^62 to
    2^63 - 1), but the check kept reporting the first break's numbers (2^63 - 1 alone): the row at 2^62 was named
    only in the WARNING, and an operator deleting the records named left it (a reviewer, rereview R2). The check
    reports the records past the end as they are, from the first there to the last."""
    top, low = 2**63 - 1, 2**62
    appended(db, signer, 5)
    with db.unit_of_work() as uow:
        newest = uow.audit.page(4, 1)[0]
    planted_at(db, top, newest)
    fresh = Process(db, signer)
    fresh.trail.record(entry(20))
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, top, top, "UNVOUCHED_RECORDS"), True)
    planted_at(db, low, newest)  # later, a second one, below the first
    with caplog.at_level("WARNING", logger="zzgw.audit"):
        fresh.trail.record(entry(21))
    assert f"records {low}-{top}" in caplog.text
    assert [(seq, action, purpose) for seq, action, _, purpose in actions(db) if action == "AUDIT_BREAK"] == [
        (6, "AUDIT_BREAK", f"{top}-{top}"),
        (8, "AUDIT_BREAK", f"{low}-{top}"),
    ]
    for check in (fresh.trail.check(), Process(db, signer).trail.check()):
        assert (said(check), check.recorded) == ((False, low, top, "UNVOUCHED_RECORDS"), True)
        assert chain_verdict(check)[1].startswith(f"audit trail BROKEN at {low}-{top} (UNVOUCHED_RECORDS)")
    sql(db, "DELETE FROM access_records WHERE seq = :top", top=top)  # the one first named deleted: the other stays
    found = fresh.trail.check()
    assert (said(found), found.recorded) == ((False, low, low, "UNVOUCHED_RECORDS"), True)
    sql(db, "DELETE FROM access_records WHERE seq = :low", low=low)
    found = fresh.trail.check()  # the breaks are still reported, until their records are pruned
    assert (found.ok, found.reason, found.recorded) == (False, "UNVOUCHED_RECORDS", True)
