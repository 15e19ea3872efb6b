"""The group writer's stages: items prepared (on the writer thread, or pipelined on a thread of their own), then
written — pipelined, several prepared groups in one transaction when the writer was busy — each caller answered
with its own result only after the commit."""

from __future__ import annotations

import errno
import gc
import logging
import queue
import sqlite3
import threading
import time
import traceback
import weakref
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from gateway import metrics
from gateway.api.interceptors import _nul_in_text
from gateway.domain.errors import UpstreamUnavailableError, detached
from gateway.store import database, group_writer
from gateway.store.database import AppendWork, Database, StoreTimeout, full_where, store_busy, store_unavailable
from gateway.store.group_writer import GroupWriter
from tests.conftest import backend_params, fresh_database, migrated_database


class Stages:
    """Prepare multiplies by ten, write adds one; both record what they saw and on which thread."""

    def __init__(self) -> None:
        self.prepared: list[list[int]] = []
        self.written: list[list[int]] = []
        self.threads: set[tuple[str, str]] = set()
        self.hold_first_write = threading.Event()
        self.hold_first_write.set()

    def prepare(self, items: Sequence[int]) -> list[int]:
        if any(i < 0 for i in items):
            raise ValueError("negative")
        self.threads.add(("prepare", threading.current_thread().name))
        self.prepared.append(list(items))
        return [i * 10 for i in items]

    def write(self, work: AppendWork, prepared: Sequence[int]) -> list[int]:
        self.threads.add(("write", threading.current_thread().name))
        if not self.written:
            assert self.hold_first_write.wait(10)
        self.written.append(list(prepared))
        return [p + 1 for p in prepared]


@pytest.fixture
def stages() -> Stages:
    return Stages()


def test_callers_get_their_own_results_and_a_busy_writer_takes_several_prepared_groups(
    migrated_db: Database, stages: Stages
) -> None:
    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db, stages.write, name="test", prepare=stages.prepare, pipelined=True
    )
    stages.hold_first_write.clear()
    results: dict[int, int | None] = {}

    def call(i: int) -> None:
        results[i] = writer.write(i)

    try:
        first = threading.Thread(target=call, args=(0,))
        first.start()
        while not stages.prepared:  # the first group is prepared and its write is held
            threading.Event().wait(0.005)
        callers = [threading.Thread(target=call, args=(i,)) for i in range(1, 40)]
        for thread in callers:
            thread.start()
            threading.Event().wait(0.002)  # calls arrive one after another: several prepared groups
        while sum(map(len, stages.prepared)) < 40:
            threading.Event().wait(0.005)
        stages.hold_first_write.set()
        for thread in [first, *callers]:
            thread.join(10)
    finally:
        writer.close()
    assert results == {i: i * 10 + 1 for i in range(40)}
    assert sorted(p for batch in stages.written for p in batch) == [i * 10 for i in range(40)]
    assert len(stages.written) < len(stages.prepared)  # prepared groups were written together
    assert stages.threads == {("prepare", "zzgw-test-prep"), ("write", "zzgw-test-writer")}


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "on the writer"])
def test_a_group_that_cannot_be_prepared_fails_its_callers_and_the_stages_go_on(
    migrated_db: Database, stages: Stages, pipelined: bool
) -> None:
    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db, stages.write, name="test", prepare=stages.prepare, pipelined=pipelined
    )
    try:
        with pytest.raises(ValueError, match="negative"):
            writer.write(-1)
        assert writer.write(5) == 51
        assert stages.written == [[50]]  # the failed group never reached the writer
    finally:
        writer.close()
    assert not any(thread.is_alive() for thread in writer._threads)  # close stops both stages
    prepared_on = "zzgw-test-prep" if pipelined else "zzgw-test-writer"
    assert stages.threads == {("prepare", prepared_on), ("write", "zzgw-test-writer")}


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "on the writer"])
def test_a_failed_transaction_fails_its_callers_and_the_writer_goes_on(migrated_db: Database, pipelined: bool) -> None:
    """Nothing is answered as stored that was not committed: a transaction that fails hands its error to every
    caller in it (after the one retry ``retry`` allows), and the next transaction is written as usual."""
    attempts: list[list[int]] = []

    def write(work: AppendWork, prepared: Sequence[int]) -> list[int]:
        attempts.append(list(prepared))
        if 130 in prepared:
            raise RuntimeError("the database refused")
        return list(prepared)

    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db,
        write,
        name="test",
        retry=lambda error: isinstance(error, RuntimeError),
        prepare=lambda items: [i * 10 for i in items],
        pipelined=pipelined,
    )
    try:
        with pytest.raises(RuntimeError, match="refused"):
            writer.write(13)
        assert attempts == [[130], [130]]  # tried, and tried once more
        assert writer.write(14) == 140
    finally:
        writer.close()


@pytest.mark.parametrize("pipelined", [True, False], ids=["pipelined", "on the writer"])
def test_a_failed_callers_frames_go_with_its_call_not_the_collector(migrated_db: Database, pipelined: bool) -> None:
    """The error a group's callers are given holds their frames once raised to them: neither the writer nor a
    caller's own waiting may keep it, or a gRPC call's context (and so its HTTP/2 stream) lives on until the cyclic
    collector runs, which serving tunes to run rarely. A connection whose 100 streams were pinned so by a full disk
    took no call more, the disk freed or not (an upgrader)."""

    def write(work: AppendWork, prepared: Sequence[int]) -> list[int]:
        raise RuntimeError("database or disk is full")

    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db, write, name="test", prepare=lambda items: items, pipelined=pipelined
    )

    class Context:
        """What a handler's frame holds while its call is served."""

    def handler() -> weakref.ref[Context]:
        context = Context()
        with pytest.raises(RuntimeError, match="disk is full"):
            writer.write(1)
        return weakref.ref(context)

    gc.collect()
    gc.disable()
    try:
        calls = [handler() for _ in range(3)]
        assert [call() for call in calls] == [None, None, None]  # freed as each call ended, without the collector
    finally:
        gc.enable()
        writer.close()


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, "No space left on device", "/var/lib/zzgw/keys/receipt.pem"),
        sqlite3.OperationalError("database is locked"),
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        RuntimeError("a defect"),
    ],
    ids=["full", "busy", "NUL", "defect"],
)
def test_each_caller_of_a_failed_group_gets_an_error_of_its_own(migrated_db: Database, error: Exception) -> None:
    """The callers of one failed transaction had all been raised the one error object: each raise added its caller's
    frames to the traceback they shared (a caller's INTERNAL line showed other calls' frames, N callers' lines N²
    frames), and the first caller's interceptor cleared it for all, so a caller logging later logged none (a
    reviewer). Each gets a copy of its own, the writer's frames under its own, and it answers as the error does."""
    gate, groups = threading.Event(), []

    def refuse(work: AppendWork, prepared: Sequence[int]) -> list[int]:
        groups.append(list(prepared))
        if len(groups) == 1:
            assert gate.wait(10)
            return list(prepared)
        raise error

    writer: GroupWriter[int, int, int] = GroupWriter(migrated_db, refuse, name="test")
    caught: dict[int, BaseException] = {}

    def handler(n: int) -> None:
        try:
            writer.write(n)
        except BaseException as exc:
            caught[n] = exc

    try:
        first = threading.Thread(target=writer.write, args=(0,))
        first.start()
        callers = [threading.Thread(target=handler, args=(n,)) for n in (1, 2, 3)]
        deadline = time.monotonic() + 10
        while not groups:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        for caller in callers:
            caller.start()
        while writer._queue.qsize() < 3:  # all three queued behind the first group: the next group is theirs
            assert time.monotonic() < deadline
            time.sleep(0.01)
        gate.set()
        for thread in (first, *callers):
            thread.join(10)
    finally:
        writer.close()
    assert groups == [[0], [1, 2, 3]]
    errors = [caught[n] for n in (1, 2, 3)]
    assert len({id(e) for e in errors}) == 3
    answered = store_unavailable(error)
    for own in errors:
        assert type(own) is type(error) and str(own) == str(error) and own.args == error.args
        assert (store_unavailable(own) or own).__dict__ == (answered or own).__dict__
        assert _nul_in_text(own) == _nul_in_text(error) and full_where(own) == full_where(error)
    detached(errors[0])  # the first caller's interceptor, done with its call
    for own in errors[1:]:
        told = "".join(traceback.format_exception(own))
        assert told.count(", in handler") == 1 and ", in refuse" in told, told


def test_a_writer_that_meets_an_unexpected_error_fails_that_group_and_goes_on(
    migrated_db: Database, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Anything the writer thread meets outside the transaction (a metric that fails, a write function returning too
    few results) had ended the thread without a word: every later call waited its 30 s for a writer that was gone,
    and was answered DATABASE_BUSY, the store healthy (a reviewer). The group's callers get the error, it is logged
    once, and the writer goes on."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 2.0)
    failing = [ValueError("a metric failed")]

    def record_group_commit(name: str, items: int) -> None:
        if failing:
            raise failing.pop()

    monkeypatch.setattr(metrics, "record_group_commit", record_group_commit)
    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db, lambda work, items: [] if 13 in items else [i + 1 for i in items], name="test"
    )
    try:
        assert writer.write(1) == 2  # committed and answered; the metric after it fails
        started = time.monotonic()
        assert writer.write(2) == 3
        assert time.monotonic() - started < 1.0
        caplog.clear()
        with pytest.raises(IndexError):
            writer.write(13)  # committed, but the write function gave it no result: a defect, not a success
        assert writer.write(4) == 5
    finally:
        writer.close()
    lines = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1 and "test" in lines[0].getMessage() and lines[0].exc_info is not None


def test_a_write_to_a_closed_or_dead_writer_is_refused_at_once(
    migrated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write after ``close`` (a handler still running past the stop's grace) or to a writer whose thread has ended
    had waited its 30 s and been told the store was busy (a reviewer): refused at once, saying what it is."""
    monkeypatch.setattr(group_writer, "WRITE_TIMEOUT_SECONDS", 2.0)
    closed: GroupWriter[int, int, int] = GroupWriter(migrated_db, lambda work, items: list(items), name="test")
    dead: GroupWriter[int, int, int] = GroupWriter(migrated_db, lambda work, items: list(items), name="test")
    try:
        assert closed.write(1) == 1 and dead.write(1) == 1
        closed.close()
        dead._queue.put(None)  # its thread ends, the writer not closed
        dead._threads[0].join(5)
        started = time.monotonic()
        with pytest.raises(UpstreamUnavailableError) as stopping:
            closed.write(2)
        assert stopping.value.reason == "GATEWAY_STOPPING"
        with pytest.raises(group_writer.WriterGone, match="thread has ended"):
            dead.write(2)
        assert time.monotonic() - started < 0.5
    finally:
        dead.close()


@pytest.mark.parametrize("landed", [False, True], ids=["not landed", "landed after all"])
def test_a_stale_head_met_after_a_lost_connection_is_retried_once_more_or_found_written(
    migrated_db: Database, monkeypatch: pytest.MonkeyPatch, landed: bool
) -> None:
    """A connection lost at a commit, then on the new connection an audit head another replica moved on meanwhile:
    each is worth its own retry (it answered INTERNAL after the restart of a shared PostgreSQL). When the lost commit
    landed after all, the collision was with its own rows: answered as written, not written twice."""
    attempts: list[list[int]] = []

    def write(work: AppendWork, prepared: Sequence[int]) -> list[int]:
        attempts.append(list(prepared))
        if len(attempts) == 2:
            raise RuntimeError("the audit head moved on")
        return [p + 1 for p in prepared]

    commit, commits = AppendWork.commit, []

    def lost_first(work: AppendWork) -> None:
        commits.append(work)
        if len(commits) == 1:
            raise psycopg.OperationalError("terminating connection due to administrator command")
        commit(work)

    monkeypatch.setattr(AppendWork, "commit", lost_first)
    lookups = iter([False, landed])  # the lost commit looked up: not found yet, then again after the collision
    monkeypatch.setattr(GroupWriter, "_landed", lambda self, tried: next(lookups))
    writer: GroupWriter[int, int, int] = GroupWriter(
        migrated_db, write, name="test", retry=lambda error: isinstance(error, RuntimeError)
    )
    try:
        assert writer.write(7) == 8
        assert attempts == ([[7], [7]] if landed else [[7], [7], [7]])  # lost, collided(, written)
    finally:
        writer.close()


def test_a_commit_lost_twice_whose_first_landed_after_all_is_answered_as_written(
    migrated_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both attempts lose their connection at the commit; the first one's lookup failed at the time, and a later
    one finds that it landed: its results are the answer, and nothing is written a third time."""
    attempts: list[list[int]] = []

    def write(work: AppendWork, prepared: Sequence[int]) -> list[int]:
        attempts.append(list(prepared))
        return [p + len(attempts) for p in prepared]  # which attempt answered shows in the result

    def lost(work: AppendWork) -> None:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(AppendWork, "commit", lost)
    lookups = iter([False, False, True])  # the first attempt, the second, the first again after the loop
    monkeypatch.setattr(GroupWriter, "_landed", lambda self, tried: next(lookups))
    writer: GroupWriter[int, int, int] = GroupWriter(migrated_db, write, name="test")
    try:
        assert writer.write(7) == 8  # the first attempt's result
        assert attempts == [[7], [7]]
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("failure", "store_reachable", "unsure"),
    [
        (psycopg.OperationalError("server closed the connection unexpectedly"), False, True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True, False),
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), True, False),
        (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"), True, False),
        (psycopg.errors.QueryCanceled("canceling statement due to statement timeout"), True, False),
    ],
    ids=["lost, lookup cannot tell", "lost, found not landed", "disk full", "lock timeout", "statement timeout"],
)
def test_a_failed_write_says_its_records_may_have_landed_only_when_no_lookup_could_tell(
    migrated_db: Database,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    store_reachable: bool,
    unsure: bool,
) -> None:
    """A caller whose records may be in the store although its write failed (a wrong claim's count is kept then,
    ``CheckClaim``) is told so only when a lost connection's commit could not be looked up: any PostgreSQL error had
    been read so, a full disk or a lock timeout included, which fail a transaction that never committed (a
    reviewer)."""
    monkeypatch.setattr(group_writer, "LANDED_LOOKUP_WAITS", (0.01,))

    def failing(work: AppendWork) -> None:
        raise failure

    monkeypatch.setattr(AppendWork, "commit", failing)
    if not store_reachable:  # the lookup on a new connection fails as the commit did
        monkeypatch.setattr(AppendWork, "landed", failing)
    writer: GroupWriter[int, int, int] = GroupWriter(migrated_db, lambda work, items: [i + 1 for i in items], name="t")
    try:
        with pytest.raises(Exception) as failed:
            writer.write(7)
        assert group_writer.may_have_landed(failed.value) is unsure
        assert not group_writer.may_have_landed(type(failure)(*failure.args))  # only the writer says it
    finally:
        writer.close()


def test_prepared_groups_taken_together_stop_at_the_item_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy writer takes the prepared groups waiting until they hold MAX_GROUP items, not MAX_GROUP groups (which
    could make one transaction of MAX_GROUP² rows under load); the rest waits for the next transaction."""
    monkeypatch.setattr(group_writer, "MAX_GROUP", 5)
    waiting: queue.SimpleQueue[list[int] | None] = queue.SimpleQueue()
    for batch in ([1, 2, 3], [4, 5, 6], [7, 8, 9], [10]):
        waiting.put(batch)
    assert group_writer._take(waiting, len) == [[1, 2, 3], [4, 5, 6]]
    assert group_writer._take(waiting, len) == [[7, 8, 9], [10]]
    for i in range(7):
        waiting.put([i])
    waiting.put(None)
    assert group_writer._take(waiting) == [[0], [1], [2], [3], [4]]  # counted one an entry without a size
    assert group_writer._take(waiting) == [[5], [6]]
    assert group_writer._take(waiting) is None


def test_a_write_queued_behind_a_stuck_writer_of_its_process_gives_up_as_the_store_busy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: a writer waiting for another connection's lock (a DBA's open transaction) holds the writer lock; one
    queued behind it gives up after the store's busy wait (DATABASE_BUSY to its client) instead of waiting as long
    as the lock is held: the flock's own wait cannot end early."""
    monkeypatch.setattr(database, "BUSY_TIMEOUT_MS", 500)
    with migrated_database("sqlite", tmp_path) as url:
        db = Database.connect(url)
        try:
            holding, release = threading.Event(), threading.Event()

            def stuck_writer() -> None:
                with db._writer_lock():
                    holding.set()
                    release.wait(10)

            ahead = threading.Thread(target=stuck_writer)
            ahead.start()
            assert holding.wait(5)
            started = time.monotonic()
            with pytest.raises(StoreTimeout) as queued, db.unit_of_work(write=True):
                pass
            assert 0.4 < time.monotonic() - started < 3
            assert store_busy(StoreTimeout("x"))  # which the API answers UNAVAILABLE / DATABASE_BUSY
            # said as a call that must write, its access record included: most such calls only read a license, and
            # their clients had been told that "this write" waited (a concurrency tester)
            answer = store_unavailable(queued.value)
            assert answer is not None and answer.message == (
                "数据库正被其他写入方占用，本次请求须写入数据库（含用证记录），未能完成，请稍后重试"
                "（the store is held by another writer, and this call must write to it (its access record included); "
                "it waited too long for its turn behind another writer: retry）"
            )
            # the rare wait past a transaction that held the store is not told as "nothing was stored"
            answer = store_unavailable(StoreTimeout("they may yet be committed"))
            assert answer is not None and answer.reason == "DATABASE_BUSY"
            assert "they may yet be committed" in answer.message
            release.set()
            ahead.join(5)
            with db.unit_of_work(write=True) as uow:  # the writer ahead done: the next one goes
                uow.commit()
        finally:
            db.dispose()


def test_a_full_disk_is_the_store_unavailable_not_a_defect(tmp_path: Path) -> None:
    """SQLite's "database or disk is full" (here: the file held to its pages by max_page_count, as a full disk holds
    it) and ENOSPC writing a key file are answered UNAVAILABLE / STORE_FULL, which a client may retry once space is
    freed: they had been INTERNAL, with a traceback for each call."""
    engine = create_engine(f"sqlite:///{tmp_path}/full.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (v BLOB)"))
    with engine.connect() as connection:
        pages = connection.execute(text("PRAGMA page_count")).scalar()
        connection.execute(text(f"PRAGMA max_page_count = {pages}"))
        with pytest.raises(DBAPIError) as caught:
            connection.execute(text("INSERT INTO t VALUES (zeroblob(100000))"))
    engine.dispose()
    answer = store_unavailable(caught.value)
    assert answer is not None and answer.reason == "STORE_FULL" and "retry once space is freed" in answer.message
    # the log names where (an on-call tester): the store's volume, or SQLite's temporary directory
    where = full_where(caught.value, str(tmp_path / "full.db"))
    assert where == f"on the volume of {tmp_path / 'full.db'} or SQLite's temporary directory"
    try:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "key.pem"))
    except OSError as exc:
        assert (full := store_unavailable(exc)) is not None and full.reason == "STORE_FULL"
        assert full_where(exc) == f"writing {tmp_path / 'key.pem'}"
    assert store_unavailable(ValueError("a defect")) is None


@pytest.mark.parametrize("kind", backend_params())
def test_the_setup_lock_makes_a_second_init_wait_and_say_so(kind: str, tmp_path: Path) -> None:
    """Two ``zzgw init`` on one store run one after the other; the second is told it waits. An error inside is the
    one raised, also when the lock's PostgreSQL session died meanwhile (its unlock fails, and had replaced it)."""
    with fresh_database(kind, tmp_path) as url:
        first, second = Database.connect(url), Database.connect(url)
        try:
            told: list[float] = []
            inside = threading.Event()
            release = threading.Event()
            entered: list[float] = []

            def hold() -> None:
                with first.setup_lock():
                    inside.set()
                    release.wait(10)

            holder = threading.Thread(target=hold)
            holder.start()
            assert inside.wait(10)

            def wait_turn() -> None:
                with second.setup_lock(lambda: told.append(time.monotonic())):
                    entered.append(time.monotonic())

            waiter = threading.Thread(target=wait_turn)
            waiter.start()
            time.sleep(0.3)
            assert told and not entered  # told, and still waiting
            released = time.monotonic()
            release.set()
            holder.join(10)
            waiter.join(10)
            assert entered and entered[0] >= released
            if kind == "postgresql":
                with pytest.raises(ValueError, match="the init's own error"), first.setup_lock():
                    with second.engine.connect() as other:
                        other.execute(
                            text(
                                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                                "WHERE locktype = 'advisory' AND database = "
                                "(SELECT oid FROM pg_database WHERE datname = current_database())"
                            )
                        )
                    raise ValueError("the init's own error")
        finally:
            first.dispose()
            second.dispose()
