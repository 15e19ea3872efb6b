"""WatchLicenseChanges cursors across a restore from a backup, over real gRPC on SQLite and PostgreSQL (ADR 0015).

The store is copied as operations.md says a backup is taken (SQLite's online backup API; ``pg_dump -Fc``, then
``pg_restore`` into a new database), the gateway goes on after the copy, and then is served from the copy: the
events after the copy are lost, and the issuers' redone changes take their numbers again (or, on PostgreSQL, numbers
past a gap). A subscriber's cursor of a lost event had been taken as a position in the new events, and the stream
had left out the redone revocation and the re-issue without an error (a DR drill). Such a cursor, and one of another
store's, is INVALID_ARGUMENT / BAD_CURSOR now; a cursor of an event the copy holds resumes, and receives the new
events; and a store's events from before schema 0030 keep their cursors, their bare numbers."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.store.database import Database
from gateway.store.models import LicenseEventRow
from protos.zzgw.v1 import common_pb2, issuance_pb2
from tests.api.test_issuance import unique
from tests.api.test_watch import newest_cursor
from tests.conftest import (
    ADMIN,
    BUSINESS_LICENSE,
    MARKET,
    PgDatabase,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    migrate_to,
    start_gateway,
)

ISSUED, STATUS_CHANGED = issuance_pb2.CHANGE_KIND_ISSUED, issuance_pb2.CHANGE_KIND_STATUS_CHANGED
POSTGRES = [p for p in backend_params() if p.id == "postgresql"]  # type: ignore[attr-defined]


def issue_business_license(running: RunningGateway, request_id: str) -> str:
    record = {**unique(samples.business_license(1)), "request_id": request_id}
    return running.issuance(MARKET).IssueLicense(issue_request(record)).license.license_id


def revoke(running: RunningGateway, license_id: str, request_id: str) -> None:
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=request_id, license_id=license_id, action=issuance_pb2.STATUS_ACTION_REVOKE, reason="依法吊销"
        )
    )


def received(running: RunningGateway, cursor: str, count: int) -> list[issuance_pb2.LicenseChangeEvent]:
    """The first ``count`` events an administrator's stream resuming after ``cursor`` receives."""
    stream = running.issuance(ADMIN).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(cursor=cursor), timeout=20
    )
    try:
        return [next(stream).event for _ in range(count)]
    finally:
        stream.cancel()


def assert_nothing_after(running: RunningGateway, cursor: str) -> None:
    """An administrator's stream resuming after ``cursor`` is open, and receives nothing within a second."""
    stream = running.issuance(ADMIN).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(cursor=cursor), timeout=1
    )
    with pytest.raises(grpc.RpcError) as waited:
        next(stream)
    assert waited.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def refusal(running: RunningGateway, cursor: str) -> grpc.RpcError:
    stream = running.issuance(ADMIN).WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(cursor=cursor), timeout=5
    )
    with pytest.raises(grpc.RpcError) as caught:
        next(stream)
    return caught.value


def assert_bad_cursor(running: RunningGateway, cursor: str) -> None:
    error = refusal(running, cursor)
    assert (error.code(), error_details(error)[1]) == (grpc.StatusCode.INVALID_ARGUMENT, [("cursor", "BAD_CURSOR")])
    words = error.details() or ""
    assert words.startswith(f"cursor: 没有游标为 {cursor} 的变更事件：它来自另一个库，或来自本库恢复备份时丢失的事件")
    assert "from_beginning" in words and "read again the licenses of the events processed after it" in words


@contextlib.contextmanager
def backup(kind: str, url: str, directory: Path) -> Iterator[str]:
    """A copy of the store at ``url`` taken now, online, as operations.md says ("Taking a backup"), and already
    restored: the URL of a store made from it (a PostgreSQL database dropped after)."""
    if kind == "sqlite":
        copy = directory / f"restored-{uuid.uuid4().hex[:8]}.db"
        source = sqlite3.connect(f"file:{make_url(url).database}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        yield f"sqlite:///{copy}"
        return
    dump = directory / f"zzgw-{uuid.uuid4().hex[:8]}.dump"
    subprocess.run(["pg_dump", *_pg_options(url), "-Fc", "-f", str(dump), make_url(url).database], check=True)
    restored = PgDatabase.create()
    try:
        subprocess.run(["pg_restore", *_pg_options(url), "-d", restored.name, str(dump)], check=True)
        yield restored.url
    finally:
        restored.drop()


def _pg_options(url: str) -> list[str]:
    parsed = make_url(url)
    return ["-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]


def stop(running: RunningGateway) -> None:
    running.stop()


@pytest.mark.parametrize("kind", backend_params())
def test_a_cursor_of_an_event_lost_in_a_restore_is_refused_and_one_the_copy_holds_resumes(
    kind: str, tmp_path: Path
) -> None:
    """The drill: the backup holds two licenses; after it L8 is issued and L2 revoked, and a subscriber processes
    both. Served from the copy, the issuer revokes L2 again and re-sends L8's request (a new identifier): the two
    new events have the lost events' numbers. The subscriber's cursors of the lost events had been taken, and the
    stream gave nothing; now each is BAD_CURSOR, and the cursor of the copy's last event gives both new events."""
    with fresh_database(kind, tmp_path) as url:
        gateway = start_gateway(tmp_path / "var", url)
        try:
            issue_business_license(gateway, "drill-L1")
            l2 = issue_business_license(gateway, "drill-L2")
            at_copy = newest_cursor(gateway)
            with backup(kind, url, tmp_path) as restored_url:
                old_l8 = issue_business_license(gateway, "drill-L8")
                revoke(gateway, l2, "drill-st-2")
                lost = received(gateway, at_copy, 2)
                assert [(e.kind, e.license_id) for e in lost] == [(ISSUED, old_l8), (STATUS_CHANGED, l2)]
                stop(gateway)
                gateway = start_gateway(tmp_path / "var", restored_url)  # the restore: same data directory
                assert newest_cursor(gateway) == at_copy
                revoke(gateway, l2, "drill-st-2")  # redone, with the issuer's own request id
                new_l8 = issue_business_license(gateway, "drill-L8")
                assert new_l8 != old_l8
                redone = received(gateway, at_copy, 2)
                assert [(e.kind, e.license_id, e.status) for e in redone] == [
                    (STATUS_CHANGED, l2, common_pb2.LICENSE_STATUS_REVOKED),
                    (ISSUED, new_l8, common_pb2.LICENSE_STATUS_ACTIVE),
                ]
                assert [e.cursor for e in redone] != [e.cursor for e in lost]  # the numbers again, not the cursors
                for event in lost:  # had been taken, and the stream had left out both new events
                    assert_bad_cursor(gateway, event.cursor)
                assert received(gateway, redone[0].cursor, 1)[0].license_id == new_l8
                assert_nothing_after(gateway, redone[1].cursor)
        finally:
            stop(gateway)


@pytest.mark.parametrize("kind", backend_params())
def test_another_stores_cursor_is_refused(kind: str, tmp_path: Path) -> None:
    """Two stores number their events alike: a cursor of the other store's events, below this store's newest
    event, had been taken as this store's."""
    with fresh_database(kind, tmp_path) as url, fresh_database(kind, tmp_path) as other_url:
        ours = start_gateway(tmp_path / "var", url)
        theirs = start_gateway(tmp_path / "other", other_url)
        try:
            for index in range(3):
                issue_business_license(ours, f"ours-{index}-{uuid.uuid4().hex}")
                issue_business_license(theirs, f"theirs-{index}-{uuid.uuid4().hex}")
            mine = received(ours, "0", 3)
            others = received(theirs, "0", 3)
            for event in others:
                assert_bad_cursor(ours, event.cursor)
            for event in mine:
                assert_bad_cursor(theirs, event.cursor)
            assert [e.license_id for e in received(ours, mine[0].cursor, 2)] == [e.license_id for e in mine[1:]]
        finally:
            stop(theirs)
            stop(ours)


@pytest.mark.parametrize("kind", POSTGRES)
def test_a_cursor_in_a_gap_of_the_numbering_is_refused(kind: str, tmp_path: Path) -> None:
    """pg_dump reads the sequence outside its snapshot: a dump taken under load restores numbering past events it
    does not hold (the drill: events to 8032, the next one 8533). A cursor of a lost event, numbered in that gap
    below the restored store's newest event, had been taken, and its stream went on from the next number."""
    with fresh_database(kind, tmp_path) as url:
        gateway = start_gateway(tmp_path / "var", url)
        try:
            issue_business_license(gateway, f"gap-{uuid.uuid4().hex}")
            at_copy = newest_cursor(gateway)
            with backup(kind, url, tmp_path) as restored_url:
                lost = [issue_business_license(gateway, f"lost-{index}-{uuid.uuid4().hex}") for index in range(2)]
                lost_events = received(gateway, at_copy, 2)
                assert [e.license_id for e in lost_events] == lost
                stop(gateway)
                restored = Database.connect(restored_url)
                try:
                    with restored.engine.begin() as connection:  # the sequence as a dump under load reads it
                        connection.execute(
                            text("SELECT setval('license_events_seq_seq', (SELECT max(seq) FROM license_events) + 500)")
                        )
                finally:
                    restored.dispose()
                gateway = start_gateway(tmp_path / "var", restored_url)
                after = issue_business_license(gateway, f"after-{uuid.uuid4().hex}")
                for event in lost_events:
                    assert_bad_cursor(gateway, event.cursor)
                assert [e.license_id for e in received(gateway, at_copy, 1)] == [after]
        finally:
            stop(gateway)


@pytest.mark.parametrize("kind", backend_params())
def test_events_stored_before_schema_0030_keep_their_bare_number_cursors(kind: str, tmp_path: Path) -> None:
    """Cursors were the event's number before schema 0030, and subscribers hold such cursors at the upgrade: on a
    store never restored, each still resumes after its event, through the events stored after the upgrade. A bare
    number is never an event's cursor stored since (its cursor carries its tag), so one of those is refused."""
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            migrate_to(db, "0029")
            at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
            with db.engine.begin() as connection:
                for seq in (1, 2):
                    connection.execute(
                        insert(LicenseEventRow.__table__).values(
                            seq=seq, kind="ISSUED", license_id=f"before-0030-{seq}", type_code=BUSINESS_LICENSE,
                            issuer_code=MARKET, version=1, status="ACTIVE", reason="", previous_license_id="",
                            occurred_at=at, actor=MARKET, request_id=f"before-0030-{seq}", request_digest="d",
                        )
                    )  # fmt: skip
        finally:
            db.dispose()
        gateway = start_gateway(tmp_path / "var", url)  # `zzgw init` upgrades the store
        try:
            after = issue_business_license(gateway, f"after-0030-{uuid.uuid4().hex}")
            events = received(gateway, "1", 2)
            assert [(e.license_id, e.cursor) for e in events[:1]] == [("before-0030-2", "2")]  # as it was given
            assert events[1].license_id == after and events[1].cursor.startswith("3.")
            assert [e.license_id for e in received(gateway, "0", 3)] == ["before-0030-1", "before-0030-2", after]
            assert_bad_cursor(gateway, "3")  # a bare number for an event that has a tag
            assert_bad_cursor(gateway, "7")  # and for none
        finally:
            stop(gateway)
