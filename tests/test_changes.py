"""The change feed itself: announcements reach another feed on the same store (two Database objects, as two
processes would have), and a cache fill that raced a change is not kept."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gateway.store.changes import EVERYTHING, ChangeFeed
from gateway.store.database import Database
from tests.conftest import backend_params, migrated_database


@pytest.fixture(params=backend_params())
def two_feeds(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    with migrated_database(request.param, tmp_path) as url:
        databases = [Database.connect(url), Database.connect(url)]
        feeds = [ChangeFeed(db) for db in databases]
        for feed in feeds:
            feed.start()
        try:
            yield databases, feeds
        finally:
            for feed in feeds:
                feed.stop()
            for db in databases:
                db.dispose()


def test_a_committed_change_reaches_the_other_feed(two_feeds) -> None:  # type: ignore[no-untyped-def]
    (writer_db, _), (writer, reader) = two_feeds
    heard: list[frozenset[str]] = []
    arrived = threading.Event()

    def listener(keys: frozenset[str]) -> None:
        heard.append(keys)
        if keys != EVERYTHING or writer_db.dialect == "sqlite":
            arrived.set()

    reader.subscribe(listener)
    with writer_db.unit_of_work(write=True) as uow:  # a change rolled back is never announced
        writer.announce(uow, ["license:never"])
        uow.rollback()
    heard.clear()
    before = reader.generation
    with writer_db.unit_of_work(write=True) as uow:
        writer.announce(uow, ["license:A", "seal:B"])
        if writer_db.dialect == "postgresql":
            time.sleep(0.3)
            assert not [k for k in heard if k != EVERYTHING], "announced before commit"
        uow.commit()
    writer.committed(["license:A", "seal:B"])
    deadline = time.monotonic() + 1.0
    while not arrived.is_set() and time.monotonic() < deadline:
        reader.poll()  # SQLite readers look at the shared counter before each lookup
        time.sleep(0.01)
    assert arrived.is_set(), "the other feed heard nothing within 1 s"
    assert reader.generation > before
    if writer_db.dialect == "postgresql":
        assert frozenset({"license:A", "seal:B"}) in heard  # by key: the others' caches keep the rest
        assert frozenset({"license:never"}) not in heard
    else:
        assert EVERYTHING in heard  # the shared counter says only "something changed"


def test_a_change_elsewhere_is_not_hidden_by_our_own(two_feeds) -> None:  # type: ignore[no-untyped-def]
    """Another process's change, then ours before we looked: ours must not mask theirs."""
    (db_a, db_b), (feed_a, feed_b) = two_feeds
    heard: list[frozenset[str]] = []
    feed_a.subscribe(heard.append)
    feed_a.poll()
    heard.clear()
    with db_b.unit_of_work(write=True) as uow:
        feed_b.announce(uow, ["license:theirs"])
        uow.commit()
    feed_b.committed(["license:theirs"])
    with db_a.unit_of_work(write=True) as uow:
        feed_a.announce(uow, ["license:ours"])
        uow.commit()
    feed_a.committed(["license:ours"])
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline and not any(k == EVERYTHING or "license:theirs" in k for k in heard):
        time.sleep(0.01)
    assert any(k == EVERYTHING or "license:theirs" in k for k in heard), heard


@pytest.mark.parametrize("kind", [p for p in backend_params() if p.id == "postgresql"])  # type: ignore[attr-defined]
def test_nothing_is_kept_while_the_listener_is_not_listening(kind: str, tmp_path: Path) -> None:
    """A change made while the LISTEN connection is lost is heard by nobody here: until LISTEN is back (0.5 s and a
    connection later; once past 1 s on a loaded machine) a cache must not keep what it reads, so the generation a
    fill starts at matches no heard one."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        assert feed.generation == -1  # not listening yet
        feed.start()
        try:
            assert feed.generation == feed.heard >= 0
            with db.engine.connect() as connection:  # as a PostgreSQL restart or a DBA would
                killed = connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE query LIKE 'LISTEN %' AND datname = current_database()"
                    )
                ).all()
            assert killed == [(True,)]
            seen: set[bool] = set()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not (True in seen and feed.generation >= 0):
                seen.add(feed.generation == -1)
                time.sleep(0.01)
            assert True in seen, "the lost connection was never taken as not listening"
            assert feed.generation == feed.heard >= 0  # listening again
        finally:
            feed.stop()
            db.dispose()


@pytest.mark.parametrize("kind", [p for p in backend_params() if p.id == "postgresql"])  # type: ignore[attr-defined]
def test_an_outage_of_the_listener_is_said_once_and_its_end_once(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Each failed reconnection, every 0.5 s of a database outage, had been a WARNING of its own (found by a crash
    tester): the loss is said once, the attempts at DEBUG, and the end once, with how long it lasted."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        feed.start()
        name = db.engine.url.database
        try:
            admin = create_engine(db.engine.url.set(database="postgres"), isolation_level="AUTOCOMMIT")
            with caplog.at_level(logging.DEBUG, logger="zzgw.changes"), admin.connect() as connection:
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))  # as if it were down
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        f"WHERE query LIKE 'LISTEN %' AND datname = '{name}'"
                    )
                )
                time.sleep(1.8)  # three attempts or so, each refused
                connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
                deadline = time.monotonic() + 10
                while not any("listening again" in r.getMessage() for r in caplog.records):
                    assert time.monotonic() < deadline, "the listener never said it listens again"
                    time.sleep(0.05)
            admin.dispose()
            said = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "zzgw.changes"]
            assert [m for level, m in said if level >= logging.WARNING and "lost its connection" in m] != []
            assert len([m for level, m in said if level >= logging.WARNING]) == 1, said
            assert any(level == logging.DEBUG and "still not connected" in m for level, m in said), said
        finally:
            feed.stop()
            db.dispose()
