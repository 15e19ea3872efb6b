"""A SQLite store file deleted, moved away or replaced while a gateway serves: no write is answered OK, no new file is
made at the path, and what was answered before is still in the file once it is put back."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from sqlalchemy import text

from gateway.health import database_check
from gateway.store.database import Database, StoreGone
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from tests.api.test_refusal_words import chinese_first
from tests.api.test_verification import USE, batch_issue, change, issue, verifier
from tests.conftest import RunningGateway, error_details, start_gateway

REVOKE = issuance_pb2.STATUS_ACTION_REVOKE


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[RunningGateway, Path]]:
    path = tmp_path / "store" / "zzgw.db"
    running = start_gateway(tmp_path / "var", f"sqlite:///{path}")
    try:
        yield running, path
    finally:
        running.stop()


def refused(call: object) -> str:
    """The reason of a call refused UNAVAILABLE (``call`` a function that makes it)."""
    with pytest.raises(grpc.RpcError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()
    info, _ = error_details(caught.value)
    if info.reason == "STORE_GONE":  # Chinese first, as a clerk reads it: it had been English alone (an on-call tester)
        assert chinese_first(caught.value.details() or ""), caught.value.details()
    return info.reason


def license_ids(path: Path) -> set[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return {row[0] for row in db.execute("SELECT license_id FROM licenses")}


def test_a_deleted_store_takes_no_write_makes_no_file_and_loses_nothing_once_moved_back(
    store: tuple[RunningGateway, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running, path = store
    before = issue(running, 1).license.license_id
    verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=before))
    away = tmp_path / "away.db"
    # the file as `rm` leaves it to the process (gone from the path), kept aside to put back as an operator would
    with caplog.at_level(logging.WARNING):
        kept = issue(running, 2).license.license_id
        os.rename(path, away)
        assert refused(lambda: issue(running, 3)) == "STORE_GONE"
        assert refused(lambda: batch_issue(running, 4)) == "STORE_GONE"
        assert refused(lambda: change(running, kept, REVOKE)) == "STORE_GONE"
        assert (
            refused(
                lambda: verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=kept))
            )
            == "STORE_GONE"
        )
        # a new connection (the pool's next, a reader's) neither opens nor makes a file at the path: the pool's idle
        # ones are taken first, then it opens one
        held = []
        with pytest.raises(StoreGone):
            for _ in range(100):
                held.append(running.gateway.db.engine.raw_connection())
        for connection in held:
            connection.close()
        with pytest.raises(StoreGone):
            database_check(running.gateway.db)()
        assert running.gateway.feed is not None
        with pytest.raises(StoreGone):  # the change feed's pruning, once a minute, had made an empty file at the path
            running.gateway.feed.prune_edits()
        assert not path.exists()

    said = [r.getMessage() for r in caplog.records if r.name == "zzgw.store"]
    assert len(said) == 1, said  # once, however many calls met it
    assert f"the store file at {path} is no longer the one this process opened" in said[0]
    assert "restarted" in said[0] and not any(r.exc_info for r in caplog.records if r.name == "zzgw.store")
    refusals = [r.getMessage() for r in caplog.records if r.name == "zzgw.error"]
    assert refusals and all("STORE_GONE" in line for line in refusals), refusals

    os.rename(away, path)  # the same file back: writes are taken again, and nothing answered OK was lost
    after = issue(running, 5).license.license_id
    change(running, kept, REVOKE)
    ids = license_ids(path)
    assert {before, kept, after} <= ids and len(ids) == 3  # the refused IssueLicense and batch left nothing
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT status FROM licenses WHERE license_id = ?", (kept,)).fetchone()[0] == "REVOKED"
        assert db.execute("SELECT count(*) FROM receipts").fetchone()[0] == 1  # the refused verification's is not
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_file_moved_over_the_store_is_never_written(store: tuple[RunningGateway, Path], tmp_path: Path) -> None:
    running, path = store
    backup = tmp_path / "backup.db"
    with sqlite3.connect(path) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    issued = issue(running, 1).license.license_id  # after the backup: only the live file has it
    os.replace(backup, path)  # a backup moved over the live file while the gateway serves

    assert refused(lambda: issue(running, 3)) == "STORE_GONE"
    assert refused(lambda: batch_issue(running, 4)) == "STORE_GONE"
    assert refused(lambda: change(running, issued, REVOKE)) == "STORE_GONE"
    with pytest.raises(StoreGone):  # readiness too: the backup answers a plain check, but is not the file opened
        database_check(running.gateway.db)()
    # none of the refused writes is at the path (read with the live file's -wal, still beside the backup: the one
    # license there is the one answered OK before the swap, a reason the restore steps remove the -wal first)
    assert license_ids(path) <= {issued}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        assert db.execute("SELECT count(*) FROM licenses WHERE status = 'REVOKED'").fetchone()[0] == 0


def test_a_transaction_is_not_committed_when_its_file_goes_before_the_commit(tmp_path: Path) -> None:
    """The check is right before the commit, for the unit of work and for a group writer's transaction: a file
    gone after the transaction began still commits nothing."""
    path = tmp_path / "zzgw.db"
    db = Database.connect(f"sqlite:///{path}")
    try:
        db.migrate()
        away = tmp_path / "away.db"
        with pytest.raises(StoreGone), db.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('uow', CURRENT_TIMESTAMP)"))
            os.rename(path, away)
            uow.commit()
        os.rename(away, path)
        with pytest.raises(StoreGone), db.appending() as work:
            work._x.execute("INSERT INTO store_edits (key, at) VALUES ('appender', CURRENT_TIMESTAMP)")
            shutil.move(path, away)
            work.commit()
        os.rename(away, path)
        with db.unit_of_work(write=True) as uow:  # back: the same file takes writes again
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('back', CURRENT_TIMESTAMP)"))
            uow.commit()
    finally:
        db.dispose()
    with sqlite3.connect(path) as check:
        assert [row[0] for row in check.execute("SELECT key FROM store_edits")] == ["back"]
