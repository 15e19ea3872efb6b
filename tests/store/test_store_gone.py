"""A SQLite store file deleted, moved away or replaced while a gateway serves: no write is answered OK, no new file is
made at the path, and what was answered before is still in the file once it is put back."""

from __future__ import annotations

import ast
import contextlib
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
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


def test_a_store_reached_through_a_symbolic_link_is_checkpointed_at_its_close_and_guarded(tmp_path: Path) -> None:
    """SQLite makes the WAL of a store reached through a symbolic link beside the link's target. The WAL was looked
    for beside the link, never found: no connection checkpointed as it closed (each set not to, as it opened), so a
    clean stop left the WAL and its SHM beside the target for good, and a copy put in place there went unnoticed (a
    review of the fix, fixrevstore R1)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    target = disk / "zzgw.db"
    db = Database.connect(f"sqlite:///{target}")
    try:
        db.migrate()
    finally:
        db.dispose()
    link = tmp_path / "zzgw.db"
    link.symlink_to(target)
    db = Database.connect(f"sqlite:///{link}")
    try:
        with db.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('kept', CURRENT_TIMESTAMP)"))
            uow.commit()
        assert (disk / "zzgw.db-wal").exists()
        backup = tmp_path / "backup.db"
        shutil.copy(target, backup)
        with db.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('after', CURRENT_TIMESTAMP)"))
            uow.commit()
    finally:
        db.dispose()
    assert sorted(path.name for path in disk.iterdir()) == ["zzgw.db"]  # checkpointed and removed, as without a link
    with sqlite3.connect(target) as check:
        assert [row[0] for row in check.execute("SELECT key FROM store_edits ORDER BY key")] == ["after", "kept"]
    db = Database.connect(f"sqlite:///{link}")
    try:
        with db.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('open', CURRENT_TIMESTAMP)"))
            uow.commit()
        for path in (disk / "zzgw.db-wal", disk / "zzgw.db-shm"):
            path.unlink()
        shutil.copyfile(backup, target)  # a copy put in place through the link, the same inode
        with pytest.raises(StoreGone), db.unit_of_work(write=True) as uow:
            uow.session.execute(text("INSERT INTO store_edits (key, at) VALUES ('lost', CURRENT_TIMESTAMP)"))
            uow.commit()
    finally:
        db.dispose()
    assert _digest(target) == _digest(backup)  # never written over


def _elsewhere(*command: str) -> str:
    """``command``'s output, run by another process, as an operator's: a file of the store opened and closed by this
    one, which serves the gateway, drops its SQLite locks on it (POSIX locks are the process's)."""
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _digest(path: Path) -> str:
    script = "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"
    return _elsewhere(sys.executable, "-c", script, str(path))


def _read_elsewhere(path: Path, *queries: str) -> list[object]:
    """The first column of each query's first row, read by another process (``_elsewhere``; this one's SQLite also
    keeps what it had opened of the file, its WAL index, which a copy put over the file in place is not)."""
    script = (
        "import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); "
        "print(repr([db.execute(q).fetchone()[0] for q in sys.argv[2:]])); db.close()"
    )
    return ast.literal_eval(_elsewhere(sys.executable, "-c", script, str(path), *queries))


@pytest.mark.parametrize("then", ["calls", "opened-elsewhere-then-calls", "stopped-at-once"])
def test_a_backup_copied_in_place_under_a_running_gateway_is_refused_and_never_written_over(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, then: str
) -> None:
    """Restoring's SQLite step done with a gateway left running: its -wal and -shm deleted, a backup copied over
    zzgw.db (`cp`, which keeps the file's inode). The process had gone on committing into the WAL it held (deleted),
    answering VerifyLicense and IssueLicense OK with their receipts and access records lost, and had checkpointed
    that WAL over the copy as its connections closed: the restore undone (a reviewer, audittrail R1). Now: every
    write is STORE_GONE, said once at ERROR, and the copy stays as it was put in place, byte for byte, the gateway
    stopped. ``then``: calls made, after another process (a gateway started on the copy, `zzgw init`) opened it
    and made a new WAL at the path, or none: the gateway stopped at once had already written its WAL over the copy
    as it closed."""
    path = tmp_path / "store" / "zzgw.db"
    running = start_gateway(tmp_path / "var", f"sqlite:///{path}")
    stopped = False
    try:
        before = issue(running, 1).license.license_id
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=before))
        backup = tmp_path / "backup.db"
        with contextlib.closing(sqlite3.connect(path)) as live, contextlib.closing(sqlite3.connect(backup)) as copy:
            live.backup(copy)
        copied = _read_elsewhere(backup, "SELECT count(*) FROM receipts", "SELECT max(seq) FROM access_records")
        after = issue(running, 2).license.license_id  # after the backup: the live store's alone
        verifier(running).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=after))
        inode = path.stat().st_ino
        with caplog.at_level(logging.WARNING):
            for beside in ("-wal", "-shm"):
                os.remove(f"{path}{beside}")
            _elsewhere("cp", str(backup), str(path))  # the same file, the backup's bytes
            assert path.stat().st_ino == inode
            if then == "opened-elsewhere-then-calls":
                assert _read_elsewhere(path, "SELECT count(*) FROM receipts") == copied[:1]
                assert os.path.exists(f"{path}-wal")  # its own, left as it closed: the gateway holds the file
            restored = _digest(path)
            if then == "stopped-at-once":
                stopped = True
                running.stop()
            else:
                assert refused(lambda: issue(running, 3)) == "STORE_GONE"
                assert refused(lambda: batch_issue(running, 4)) == "STORE_GONE"
                for license_id in (before, after):
                    request = verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id)
                    assert refused(lambda r=request: verifier(running).VerifyLicense(r)) == "STORE_GONE"
                assert refused(lambda: change(running, before, REVOKE)) == "STORE_GONE"
                with pytest.raises(StoreGone):  # readiness 503 for the same reason, not a disk I/O error
                    database_check(running.gateway.db)()
        said = [r.getMessage() for r in caplog.records if r.name == "zzgw.store" and r.levelno == logging.ERROR]
        assert len(said) == 1, said  # the stop too says it, once
        assert f"the store file at {path} is no longer the one this process opened" in said[0]
        assert "-wal" in said[0] and "restarted" in said[0] and "STORE_GONE" in said[0], said[0]
    finally:
        if not stopped:
            running.stop()  # its connections close: none checkpoints the WAL it held into the copy
    assert _digest(path) == restored
    assert _read_elsewhere(
        path, "PRAGMA integrity_check", "SELECT count(*) FROM receipts", "SELECT max(seq) FROM access_records"
    ) == ["ok", *copied]
    held = "SELECT count(*) FROM licenses WHERE license_id = '{}'"
    assert _read_elsewhere(path, held.format(before), held.format(after)) == [1, 0]
