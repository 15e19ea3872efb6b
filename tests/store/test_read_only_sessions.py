"""A PostgreSQL session reads ``default_transaction_read_only`` as it starts (a standby's sessions take no writes
alike): one begun while the database was read-only stays read-only after it takes writes again. Those of the
sessions' pool and a group writer's kept appender had been kept, refusing every write drawn on them until a restart
(a reviewer, R2). A session that refused a write (SQLSTATE 25006) is not used again; the call is still answered as
the database taking no writes, not as a lost connection. The health check's part is tests/test_health.py's, but
for the sessions it opens while the database takes no writes."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from gateway.health import NotReady, database_check
from gateway.store.database import Database, connection_lost, store_unavailable
from tests.conftest import PG_URL, fresh_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432"),
]


@pytest.fixture
def admin() -> Iterator[Engine]:
    engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def read_only_by_default(admin: Engine, name: str, on: bool) -> None:
    """Set the database read-only by default and end its sessions (new ones are read-only), or reset it and leave
    them: a failover to a standby, and the primary back."""
    with admin.connect() as connection:
        if on:
            connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )
        else:
            connection.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))


def insert(db: Database, n: int) -> None:
    with db.engine.begin() as connection:
        connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})


def append(db: Database, appender: object, n: int) -> None:
    with appender.transaction() as work:  # type: ignore[attr-defined]
        work._x.execute("INSERT INTO t VALUES ($1)", (n,))  # the appender's own statements, as a group's are
        work.commit()


def test_a_session_that_refused_a_write_as_read_only_is_not_used_again(tmp_path: Path, admin: Engine) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        name = str(make_url(url).database)
        db = Database.connect(url, pool_size=1)
        appender = db.appender()
        try:
            with db.engine.begin() as connection:
                connection.execute(text("CREATE TABLE t (n int)"))
            read_only_by_default(admin, name, on=True)
            for each in (lambda: insert(db, 1), lambda: append(db, appender, 2)):
                with pytest.raises(Exception) as refused:
                    each()
                said = store_unavailable(refused.value)
                assert said is not None and said.reason == "DATABASE_UNAVAILABLE" and "read-only" in str(said)
                assert not connection_lost(refused.value), "a read-only session is not a lost connection"
            read_only_by_default(admin, name, on=False)
            insert(db, 3)  # the pool's session begun read-only is not lent again
            append(db, appender, 4)  # nor is the appender's kept
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [3, 4]
        finally:
            appender.close()
            db.dispose()


def test_while_the_database_takes_no_writes_each_health_check_opens_one_session_not_the_whole_pool(
    tmp_path: Path, admin: Engine
) -> None:
    """While the database took no writes, every health check (once a second) had the whole pool renewed: each of its
    sessions closed and opened again at its next use, though one begun meanwhile is as read-only as the one it
    replaces, for as long as a standby or ``default_transaction_read_only`` lasts (147 sessions in 20 s against 3, a
    reviewer, R2 of 3995dec). The pool is renewed when the database stops taking writes and when it takes them again;
    in between, each check replaces the one session it draws, so that it sees writes come back at once."""
    sessions, checks = 4, 8
    with fresh_database("postgresql", tmp_path) as url:
        name = str(make_url(url).database)
        db = Database.connect(url, pool_size=sessions)
        check = database_check(db)
        opened: list[float] = []  # when each session of the pool was opened
        event.listen(db.engine, "connect", lambda _dbapi_connection, _record: opened.append(time.monotonic()))

        def every_session(statement: str) -> None:  # a process under load: each session of the pool in use at once
            with contextlib.ExitStack() as held:
                for connection in [held.enter_context(db.engine.connect()) for _ in range(sessions)]:
                    connection.execute(text(statement))
                    connection.commit()

        try:
            with db.engine.begin() as connection:
                connection.execute(text("CREATE TABLE t (n int)"))
            every_session("INSERT INTO t VALUES (1)")
            assert check() is True
            read_only_by_default(admin, name, on=True)
            del opened[:]
            for n in range(checks):
                with pytest.raises(NotReady) as not_ready:
                    check()
                assert not_ready.value.state.reason == "DATABASE_READ_ONLY", f"check {n}"
                every_session("SELECT count(*) FROM t")
            # the sessions the pool lost with the failover and its one renewal, and a session for each check
            assert len(opened) <= sessions + checks + 1, f"{len(opened)} sessions opened over {checks} checks"
            read_only_by_default(admin, name, on=False)
            assert check() is True, "the first check once the database takes writes again sees them"
            every_session("INSERT INTO t VALUES (2)")  # none of the sessions begun read-only is lent again
            with db.engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM t WHERE n = 2")).scalar() == sessions
        finally:
            db.dispose()
