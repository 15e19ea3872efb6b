"""Cache coherence across gateway processes: every process learns that a license or a seal changed.

Caches in front of the store (``gateway.services.cache``) may keep a license's row only until it changes. A change
to a license or a seal is *announced* by the keys it changed (``license:<id>``, ``seal:<key id>``), twice over:

- **The gateway's own writes** announce the keys they change, in the writing transaction:

  - **PostgreSQL** (several processes, several machines): ``pg_notify('zzgw_changes', keys)`` inside the writing
    transaction, so it is delivered exactly when the change commits, to every process listening on the same
    database. Each process runs one listener thread (``zzgw-changes``: ``LISTEN zzgw_changes`` on a connection of
    its own) and drops the named keys. A listener that loses its connection drops everything it holds and
    reconnects.
  - **SQLite** (one machine, several worker processes): a shared counter in a small file beside the database,
    mapped into memory by every process. A writer increments it after commit; a reader compares it with the value
    it saw last before each lookup (one memory read) and drops everything when it moved.
  - In both, the writing process drops the keys in its own caches right after its commit, so the very next lookup
    on the same process sees the change.

- **Every UPDATE and DELETE of a row of ``licenses`` or ``seals``, whoever makes it** (a DBA in psql or the sqlite3
  shell as much as the gateway), is announced by triggers in the store (migration 0020), with the old key and, if
  the update changed it, the new one; an INSERT changes nothing a cache holds and announces nothing. On PostgreSQL
  the trigger sends the same NOTIFY (a ``TRUNCATE`` sends ``*``), heard by the listener above. On SQLite it writes
  the key into ``store_edits``; each process reads the rows after the last one it saw every quarter of a second on
  a thread of its own (``zzgw-edits``, started by ``start``) and drops exactly those keys, or everything when more
  than ``EDITS_BATCH`` arrived at once or rows it had not read were pruned (each process prunes rows older than
  five minutes once a minute, never the newest). So a record changed behind the gateway's back leaves every cache
  within a second; lookups read nothing more than before (the reading is on that thread). The gateway's own writes
  fire the triggers too: their keys are dropped once more, which costs a cache fill at most.

The triggers are the guarantee's limit: a DBA who drops or disables them (or a later SQLite migration that rebuilds
``licenses`` or ``seals`` without making them again) changes rows unannounced, and a cached license then keeps its
old answer until it is dropped for another reason or the process restarts. A record read from the store is still
checked whole (the record seal, the gateway's memos of its seal and status): by license number, or once it is read
again, such a change answers ``RECORD_ALTERED`` or ``STATUS_ALTERED``.

A lookup that fills a cache remembers the feed's ``generation`` before it reads the store and stores its result
only if no announcement arrived in between; so a row read just before a change committed is never kept after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.store.database import Database, UnitOfWork, store_busy
from gateway.threads import name_this_thread

CHANNEL = "zzgw_changes"
EVERYTHING: frozenset[str] = frozenset({"*"})
_MAX_PAYLOAD = 7_000  # PostgreSQL's limit is 8,000 bytes; past this a change announces everything
_COUNTER = struct.Struct("<Q")
EDITS_EVERY = 0.25
"""SQLite: seconds between two reads of ``store_edits``."""
EDITS_BATCH = 500
"""SQLite: at most this many keys are read from ``store_edits`` in one look; more new rows drop everything."""
EDITS_KEPT = 300
"""SQLite: seconds a row of ``store_edits`` is kept (a process that was stopped longer finds a gap)."""
PRUNE_EVERY = 60.0
"""SQLite: seconds between two prunings of ``store_edits`` by one process."""
PRUNE_MOST = 100_000
"""SQLite: at most this many rows of ``store_edits`` are deleted by one pruning (it holds the writer lock)."""
PRUNE_WAIT = 0.2
"""SQLite: seconds a pruning waits for the writer lock before leaving it to a later one."""
HEARTBEAT_EVERY = 5.0
"""PostgreSQL: seconds between two round trips on the listener's connection, so that a connection whose peer is gone
without a word is found out (with ``_LISTENER_KEEPALIVES``) in seconds, not after the system's two hours."""
_LISTENER_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
_log = logging.getLogger("zzgw.changes")

Listener = Callable[[frozenset[str]], None]


class ChangeFeed:
    """Announce changes to every gateway process on the same store and hear theirs (see the module docstring)."""

    def __init__(self, db: Database, *, edits_every: float = EDITS_EVERY, prune_every: float = PRUNE_EVERY):
        self._db = db
        self._edits_every = edits_every
        self._prune_every = prune_every
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._generation = 0
        self._deaf = db.dialect == "postgresql"
        """PostgreSQL: not listening (before the first LISTEN, and from a lost connection until LISTEN again)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter: mmap.mmap | None = None
        self._counter_fd: int | None = None
        self._seen = 0
        self._seen_lock = threading.Lock()
        self._edits_seen: int | None = None
        """SQLite: the last ``store_edits.seq`` heard (None: not looked yet)."""
        self._edits_failing = False
        self._edits_lock = threading.Lock()
        path = db.engine.url.database if db.dialect == "sqlite" else None
        self._on_file = bool(path and path != ":memory:")
        if self._on_file:
            self._open_counter(Path(f"{path}.changes"))

    @property
    def generation(self) -> int:
        """Moves on every change heard; a cache fill started at one generation is dropped if it moved since. While
        the PostgreSQL listener is not listening it is -1, which no heard generation equals: nothing read then is
        kept, so a change made meanwhile (heard by nobody here) is read from the store by the very next call,
        however long the reconnection takes (it had been visible only once LISTEN was back, 0.5-1 s later)."""
        self.poll()
        return -1 if self._deaf else self._generation

    @property
    def heard(self) -> int:
        """``generation`` as last heard, without listening again: what a cache compares under its own lock, which
        a listener takes too (hearing a change there would call the listener, and wait on that lock for ever)."""
        return self._generation

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def start(self) -> None:
        """Start listening: for NOTIFY on PostgreSQL; on a SQLite file, reading ``store_edits`` every quarter of a
        second (``poll`` reads the shared counter before each lookup). Nothing on an in-memory SQLite database."""
        if self._thread is not None:
            return
        if self._db.dialect == "postgresql":
            ready = threading.Event()
            self._thread = threading.Thread(target=self._listen, args=(ready,), daemon=True, name="zzgw-changes")
            self._thread.start()
            ready.wait(5.0)
        elif self._on_file:
            with contextlib.suppress(Exception):  # else the thread's first look notes where the table ends
                self.hear_edits()
            self._thread = threading.Thread(target=self._watch_edits, daemon=True, name="zzgw-edits")
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._counter is not None:
            self._counter.close()
            self._counter = None
        if self._counter_fd is not None:
            os.close(self._counter_fd)
            self._counter_fd = None

    def announce(self, uow: UnitOfWork, keys: Iterable[str]) -> None:
        """Inside the writing transaction: tell the other processes when it commits (PostgreSQL)."""
        if uow.dialect == "postgresql":
            payload = ",".join(sorted(set(keys)))
            if len(payload.encode()) > _MAX_PAYLOAD:
                payload = "*"
            uow.session.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload})

    def committed(self, keys: Iterable[str]) -> None:
        """After the writing transaction committed: drop the keys here, and move the shared counter (SQLite)."""
        changed = frozenset(keys)
        if self._counter is not None and self._counter_fd is not None:
            fcntl.flock(self._counter_fd, fcntl.LOCK_EX)
            try:
                before = _COUNTER.unpack_from(self._counter)[0]
                _COUNTER.pack_into(self._counter, 0, before + 1)
            finally:
                fcntl.flock(self._counter_fd, fcntl.LOCK_UN)
            with self._seen_lock:
                if before != self._seen:  # another process changed something since we last looked
                    changed = EVERYTHING
                self._seen = before + 1  # our own change: dropped by key below, not everything
        self._deliver(changed)

    def poll(self) -> None:
        """SQLite: drop everything if another process moved the shared counter since the last look."""
        if self._counter is None:
            return
        value = _COUNTER.unpack_from(self._counter)[0]
        with self._seen_lock:
            if value == self._seen:
                return
            self._seen = value
        self._deliver(EVERYTHING)

    def hear_edits(self) -> None:
        """SQLite: drop the keys of the rows of ``store_edits`` written since the last look (by the triggers of
        every change to ``licenses`` and ``seals``, whoever made it); everything if rows not read yet were pruned
        meanwhile, if there are more than ``EDITS_BATCH``, and at the first look, which notes where the table ends."""
        with self._edits_lock:
            heard = self._read_edits()
        if heard:
            self._deliver(heard)

    def _read_edits(self) -> frozenset[str]:
        with self._db.engine.connect() as connection:  # one read transaction: one snapshot for both reads
            try:
                # two subqueries, each one seek: "min(seq), max(seq)" in one query made SQLite scan every row kept
                # (1.5 million under a bulk load of 5,000 licenses a second, 75 ms every quarter of a second)
                first, last = connection.execute(
                    text("SELECT (SELECT min(seq) FROM store_edits), (SELECT max(seq) FROM store_edits)")
                ).one()
            except sa_exc.OperationalError as exc:
                if "no such table" in str(exc):  # a store from before schema 0020: nothing announces edits
                    return frozenset()
                raise
            seen = self._edits_seen
            if seen is None:  # the first look: from here on (what a cache filled before holds is unknown)
                self._edits_seen = last or 0
                return EVERYTHING
            if last is None or last <= seen:
                return frozenset()
            if first > seen + 1:  # pruned before we read them: whatever they named is unknown
                self._edits_seen = last
                return EVERYTHING
            rows = connection.execute(
                text("SELECT seq, key FROM store_edits WHERE seq > :seen ORDER BY seq LIMIT :n"),
                {"seen": seen, "n": EDITS_BATCH + 1},
            ).all()
        if len(rows) > EDITS_BATCH:  # a mass edit: reading every key would cost more than the caches are worth
            self._edits_seen = last
            return EVERYTHING
        self._edits_seen = rows[-1][0] if rows else last
        return frozenset(key for _, key in rows)

    def prune_edits(self, older_than: float = EDITS_KEPT) -> int:
        """SQLite: delete the rows of ``store_edits`` older than ``older_than`` seconds (at most ``PRUNE_MOST``),
        the oldest first and never the newest row, so a reader that had not read pruned rows sees the gap; returns
        how many went."""
        # on a connection of its own that waits briefly for the writer lock: the store held by another writer (a
        # DBA's open transaction) is pruned at a later look, not waited for the writers' 30 s while edits go unread
        # mode=rw (StoreFile.uri): a store file gone from the path is an error here, never a new empty database (a
        # plain connect had made one once a minute after the file was moved away; found in review of STORE_GONE)
        store_file = self._db.store_file
        assert store_file is not None  # SQLite file stores only
        store_file.check()  # nothing pruned in a file that is not the one this process opened (StoreGone)
        try:
            with contextlib.closing(
                sqlite3.connect(store_file.uri, uri=True, timeout=PRUNE_WAIT, isolation_level=None)
            ) as connection:
                connection.execute("BEGIN IMMEDIATE")
                try:
                    deleted = connection.execute(
                        "DELETE FROM store_edits WHERE seq < (SELECT max(seq) FROM store_edits) "
                        "AND seq <= (SELECT max(seq) FROM store_edits WHERE at < datetime('now', :age)) "
                        "AND seq < (SELECT min(seq) FROM store_edits) + :most",
                        {"age": f"-{older_than:f} seconds", "most": PRUNE_MOST},
                    ).rowcount
                    connection.execute("COMMIT")
                except BaseException:
                    connection.execute("ROLLBACK")
                    raise
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc) or store_busy(exc):  # a store from before schema 0020; held by another
                return 0
            raise
        return max(deleted, 0)

    def _watch_edits(self) -> None:
        name_this_thread("zzgw-edits")
        next_prune = time.monotonic() + self._prune_every
        while not self._stop.wait(self._edits_every):
            try:
                self.hear_edits()
                if time.monotonic() >= next_prune:
                    next_prune = time.monotonic() + self._prune_every
                    self.prune_edits()
                if self._edits_failing:
                    _log.info("reading store edits again")
                self._edits_failing = False
            except Exception as exc:  # the rows wait in the table: the next look reads them (or finds a gap)
                if not self._edits_failing:
                    _log.warning("reading store edits failed (%s); trying again", type(exc).__name__)
                self._edits_failing = True

    def _deliver(self, keys: frozenset[str]) -> None:
        with self._lock:
            self._generation += 1
            listeners = list(self._listeners)
        for listener in listeners:
            listener(keys)

    def _open_counter(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_size < _COUNTER.size:
                os.write(fd, b"\0" * _COUNTER.size)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        self._counter_fd = fd
        self._counter = mmap.mmap(fd, _COUNTER.size)
        self._seen = _COUNTER.unpack_from(self._counter)[0]

    def _listen(self, ready: threading.Event) -> None:
        name_this_thread("zzgw-changes")
        url = make_url(self._db.engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
        conninfo = make_conninfo(url.render_as_string(hide_password=False), **_LISTENER_KEEPALIVES)
        lost_at: float | None = None  # while not listening: said once at the loss and once when listening again
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._deaf = False
                    if lost_at is not None:
                        _log.info("change listener listening again, after %.1f s", time.monotonic() - lost_at)
                        lost_at = None
                    self._deliver(EVERYTHING)  # anything may have changed while we were not listening
                    ready.set()
                    beat = time.monotonic()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._deliver(EVERYTHING if notice.payload == "*" else frozenset(notice.payload.split(",")))
                        if time.monotonic() - beat >= HEARTBEAT_EVERY:  # a peer gone without a word (a failover
                            connection.execute("SELECT 1")  # moving an address) answers no notice and raises nothing
                            beat = time.monotonic()
            except Exception as exc:  # psycopg's, or any other: the listener goes on, never silently gone
                self._deaf = True  # what the caches hold, or would be filled with, may be stale: keep nothing
                if self._stop.is_set():
                    return
                if lost_at is None:  # each failed reconnection (every 0.5 s of an outage) had been a line of its own
                    lost_at = time.monotonic()
                    _log.warning("change listener lost its connection (%s); reconnecting", type(exc).__name__)
                else:
                    _log.debug("change listener still not connected (%s)", type(exc).__name__)
                with contextlib.suppress(Exception):  # a listener's own failure must not end the listening
                    self._deliver(EVERYTHING)
                ready.set()
                with contextlib.suppress(Exception):
                    self._stop.wait(0.5)
