"""A PostgreSQL session reads ``default_transaction_read_only`` as it starts (a standby's sessions take no writes
alike): one begun while the database was read-only stays read-only after it takes writes again. Those of the
sessions' pool and a group writer's kept appender had been kept, refusing every write drawn on them until a restart
(a reviewer, R2). A session that refused a write (SQLSTATE 25006) is not used again; the call is still answered as
the database taking no writes, not as a lost connection. The health check's part is tests/test_health.py's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

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
