"""The connections threads keep (each reading thread's reader, the group writers' appenders) are never the pool's
that sessions are lent from: the console's HTTP work threads keep readers too, which the pool had not counted, and a
gateway of 4 handler threads whose console had checked 8 licenses waited 30 s for every session, then answered
INTERNAL, its readiness down until restarted (a reviewer, R1). A session the pool cannot lend in time is UNAVAILABLE /
DATABASE_BUSY, said once at WARNING, never INTERNAL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from adapters.http_connections import WORK_THREADS, Work
from gateway.server import pool_size
from gateway.store.database import most_connections
from protos.zzgw.v1 import verification_pb2
from tests.api.test_verification import USE, batch_issue, verifier
from tests.conftest import RunningGateway, backend_params, error_details, fresh_database, start_gateway


@pytest.fixture(params=backend_params())
def small(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningGateway]:
    """A gateway of 4 handler threads (ZZGW_THREADS=4: the smallest pool) on a fresh store of each backend."""
    with fresh_database(request.param, tmp_path) as url:
        running = start_gateway(tmp_path / "var", url, threads=4, max_watchers=2)
        try:
            yield running
        finally:
            running.stop()


def test_the_console_threads_readers_leave_the_sessions_to_the_calls(small: RunningGateway) -> None:
    ids = [batch_issue(small, n) for n in range(1, 2 + 2 * WORK_THREADS)]
    # the HTTP side's work threads, each having checked a license the cache had not (the console's check reads it on
    # its thread, ``Database.read_license``): each keeps its reader for as long as the thread lives
    work, stop, read = Work(), threading.Event(), threading.Barrier(WORK_THREADS + 1, timeout=30)

    def console_check(license_id: str) -> None:
        small.gateway.db.read_license(license_id)
        read.wait()
        stop.wait(60)

    try:
        for n in range(WORK_THREADS):
            work.submit(console_check, ids[n])
        read.wait()
        answers: list[str] = []

        def call(license_id: str) -> None:
            try:
                verifier(small).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id),
                                              timeout=20)  # fmt: skip
                answers.append("OK")
            except grpc.RpcError as error:
                answers.append(f"{error.code().name} {(error.details() or '')[:120]}")

        calls = [threading.Thread(target=call, args=(ids[WORK_THREADS + n],)) for n in range(WORK_THREADS)]
        for thread in calls:
            thread.start()
        for thread in calls:
            thread.join(60)
        assert answers == ["OK"] * WORK_THREADS
        batch_issue(small, 99)  # a write's session too
        if small.gateway.db.dialect == "postgresql":  # within docs/operations.md's rule, the HTTP side counted
            with small.gateway.db.engine.connect() as connection:
                opened = connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
                ).scalar_one()
            assert WORK_THREADS + 2 < opened <= most_connections(pool_size(small.gateway.settings))
    finally:
        stop.set()
        work.shutdown(wait=True)


def test_no_kept_connection_is_the_session_pools(small: RunningGateway) -> None:
    db = small.gateway.db
    work, stop, read = Work(), threading.Event(), threading.Barrier(WORK_THREADS + 1, timeout=30)
    license_id = batch_issue(small, 1)
    verifier(small).VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id))  # appenders

    def console_check() -> None:
        db.read_license(license_id)
        read.wait()
        stop.wait(60)

    try:
        for _ in range(WORK_THREADS):
            work.submit(console_check)
        read.wait()
        # every session the pool may lend can be had at once, with every reader and appender kept
        db.engine.pool._timeout = 2  # type: ignore[attr-defined]  # a failure told in 2 s, not 30
        most = db.engine.pool.size() + db.engine.pool._max_overflow  # type: ignore[attr-defined]
        held = [db.engine.raw_connection() for _ in range(most - 2)]  # the health check's and change feed's aside
        for connection in held:
            connection.close()
    finally:
        stop.set()
        work.shutdown(wait=True)


def test_a_session_the_pool_cannot_lend_in_time_is_database_busy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}", threads=4, max_watchers=2)
    held: list[Any] = []
    try:
        batch_issue(running, 1)
        running.gateway.db.engine.pool._timeout = 0.5  # type: ignore[attr-defined]  # the pool's 30 s wait, shortened
        with pytest.raises(PoolTimeout):  # every session of the pool taken, as calls stuck on the store would
            while True:
                held.append(running.gateway.db.engine.raw_connection())
        with caplog.at_level(logging.WARNING):
            for n in (2, 3):
                with pytest.raises(grpc.RpcError) as refused:
                    batch_issue(running, n)
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
                assert error_details(refused.value)[0].reason == "DATABASE_BUSY"
                assert "请稍后重试" in (refused.value.details() or "") and "retry" in (refused.value.details() or "")
        said = [r for r in caplog.records if r.name == "zzgw.error"]
        assert said and all(r.levelno == logging.WARNING and not r.exc_info for r in said), said
        assert "DATABASE_BUSY (TimeoutError)" in said[0].getMessage()
    finally:
        for connection in held:
            connection.close()
        running.stop()
