"""Cache coherence across gateway processes: every process learns that a license or a seal changed.

Caches in front of the store (``gateway.services.cache``) may keep a license's row only until it changes. A change
to a license or a seal is *announced* by the keys it changed (``license:<id>``, ``seal:<key id>``), twice over:

- **The gateway's own writes** announce the keys they change, in the writing transaction:

  - **PostgreSQL** (several processes, several machines): ``pg_notify('zzgw_changes', keys)`` inside the writing
    transaction, so it is delivered exactly when the change commits, to every process listening on the same
    database. Each process runs one listener thread (``zzgw-changes``: ``LISTEN zzgw_changes`` on a connection of
    its own) and drops the named keys. A listener that loses its connection drops everything it holds and
    reconnects. Listening is a *lease*: the listener sends ``LISTEN`` again every ``HEARTBEAT_EVERY`` without
    blocking, and each answer vouches for it until ``LEASE`` after its sending. Past that (a backend that hangs, a
    pooler or a middlebox that keeps the socket up and says nothing) the first thread to look, a verification's or
    the listener's own, drops everything once, and nothing is kept until an answer comes: a change is heard within
    ``LEASE`` (0.9 s, from the heartbeat's sending) of its commit or read from the store. The lease measures
    PostgreSQL, not the listener thread's turn at the GIL: once it is ``HELP_AFTER`` old a reader drives the
    connection itself (``_help``), and a lapse on the same connection drops the caches once, not again at the
    answer (every notification sent before it came before it). Lapses are counted
    (``zzgw_change_feed_lapses_total``).
  - **SQLite** (one machine, several worker processes): a shared counter in a small file beside the database,
    mapped into memory by every process. A writer increments it after commit; a reader compares it with the value
    it saw last before each lookup (one memory read) and drops everything when it moved.
  - The workers of one ``zzgw serve`` on PostgreSQL (``ZZGW_WORKERS`` > 1) share such a counter too, in the
    supervisor's run directory: the very next call on any worker of the gateway sees a change made through another.
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
  fire the triggers too: their keys are dropped once more, which costs a cache fill at most. On SQLite a row
  deleted by a REPLACE (``INSERT OR REPLACE``, ``UPDATE OR REPLACE``), which fires no delete trigger, is announced
  by the ``BEFORE`` triggers of migration 0032 (the rows the new one shares a unique key with).

The triggers are the guarantee's limit: a DBA who drops or disables them (on PostgreSQL also a session with
``session_replication_role = replica``, as ``pg_restore --disable-triggers`` sets; or a later SQLite migration that
rebuilds ``licenses`` or ``seals`` without making them again) changes rows unannounced, and a cached license then
keeps its old answer until it is dropped for another reason or the process restarts. A record read from the store is
still checked whole (the record seal, the gateway's memos of its seal and status): by license number, or once it is
read again, such a change answers ``RECORD_ALTERED`` or ``STATUS_ALTERED``.

A lookup that fills a cache remembers the feed's ``generation`` before it reads the store and stores its result
only if no announcement arrived in between; so a row read just before a change committed is never kept after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import select
import sqlite3
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway import metrics
from gateway.store.database import Database, UnitOfWork, application_name, store_busy
from gateway.threads import name_this_thread

if TYPE_CHECKING:
    import psycopg
    from psycopg import pq

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
HEARTBEAT_EVERY = 0.25
"""PostgreSQL: seconds between two round trips on the listener's connection (``LISTEN`` again, a no-op): each
answer proves the connection heard everything sent before it, and renews the lease (``LEASE``)."""
LEASE = 0.9
"""PostgreSQL: seconds after a heartbeat was *sent* that its answer vouches for the listener. Past that with no newer
answer (a backend that hangs, a pooler or a middlebox that keeps the socket up and says nothing) the feed is deaf:
``generation`` is -1 and every cache is dropped once, so verifications read the store until an answer comes. A
change is so heard within ``LEASE`` of its commit, or read from the store: a lookup that *begins* (polls) more than
``LEASE`` after a change committed never answers from what the change made stale, which leaves 0.1 s of the
docs/api.md's second to the lookup itself. Measured from the sending (the clock read before it), so neither the answer's
way back nor any thread's wait for the GIL is counted in the lease's favour; and a reader drives the connection
itself when the listener thread is late (``HELP_AFTER``), so neither does the listener thread's turn at the GIL
count against it (it had: 16 busy handler threads lapsed an idle PostgreSQL's lease 4 times in 15 s)."""
HELP_AFTER = 2 * HEARTBEAT_EVERY
"""PostgreSQL: seconds after the sending of the heartbeat that last vouched past which a reader (``poll``) drives
the listener's connection itself (``ChangeFeed._help``): the listener thread renews the lease every
``HEARTBEAT_EVERY`` and an RTT, so a lease this old means that thread is late (starved of the GIL, most often)."""
HELP_EVERY = 0.01
"""PostgreSQL: seconds between two readers' steps on the listener's connection while it is late (one ``recv`` each)."""
GIVE_UP_AFTER = 5.0
"""PostgreSQL: seconds a heartbeat may go unanswered before the listener drops its connection and makes another
(deaf meanwhile: this bounds how long the caches go unused, not how stale they may be)."""
_HEARTBEAT = f"LISTEN {CHANNEL}".encode()
_UNION_MOST = 10_000
"""PostgreSQL: more keys than this heard in one read of the connection drop everything instead."""
_LISTENER_KEEPALIVES = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 15_000,
}
WORKERS_COUNTER_ENV = "ZZGW_WORKERS_CHANGE_COUNTER"
"""PostgreSQL, several workers (``ZZGW_WORKERS``): the shared change counter of the workers of one ``zzgw serve``,
made by its supervisor in the run's directory (``share_counter``) and named to the workers it starts."""
_log = logging.getLogger("zzgw.changes")

Listener = Callable[[frozenset[str]], None]


def _command_ok() -> pq.ExecStatus:
    """libpq's status of a statement done. psycopg is imported on PostgreSQL's paths only: a gateway on SQLite never
    loads PostgreSQL's driver, ~0.1 s of every process's start (``gateway.store.database.connection_lost``)."""
    from psycopg import pq

    return pq.ExecStatus.COMMAND_OK


def _operational_error(message: str) -> psycopg.OperationalError:
    """psycopg's error of a connection that failed (``_command_ok`` says why it is imported here)."""
    import psycopg

    return psycopg.OperationalError(message)


class _Link:
    """PostgreSQL: the listener's connection and its heartbeat in flight, driven under ``ChangeFeed._io_lock`` by the
    listener thread or a reader (``ChangeFeed._step``)."""

    def __init__(self, pgconn: pq.abc.PGconn) -> None:
        self.pgconn = pgconn
        self.sent_at: float | None = None
        """``time.monotonic()`` read just before the heartbeat in flight was sent (None: none in flight)."""
        self.next_beat = time.monotonic()
        self.flushing = False
        self.answered = False
        """A heartbeat was answered on this connection (the first answer on a new connection drops everything)."""
        self.failed = False
        """A reader's step raised: the listener thread finds it, and makes another connection."""
        self.listening_again_at: float | None = None
        """When a step on this connection (the listener thread's or a reader's) made the feed listen again, until the
        listener thread takes it (``_hear``) to say so: a reader's step had been the only one to know."""
        self.stalled_since: float | None = None
        """The sending of the heartbeat left unanswered past the lease, said at WARNING (``_hear``), until an answer:
        a connection given up then (``GIVE_UP_AFTER``) ends the same deaf spell, not a loss of its own."""


class ChangeFeed:
    """Announce changes to every gateway process on the same store and hear theirs (see the module docstring)."""

    def __init__(self, db: Database, *, edits_every: float = EDITS_EVERY, prune_every: float = PRUNE_EVERY):
        self._db = db
        self._edits_every = edits_every
        self._prune_every = prune_every
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._generation = 0
        self._leased = db.dialect == "postgresql"
        self._deaf = self._leased
        """PostgreSQL: not listening (before the first LISTEN, from a lost connection until LISTEN again, and while
        the lease has lapsed: no heartbeat answered within ``LEASE`` of its sending). ``zzgw_change_feed_listening``
        follows it, set under ``_lease_lock`` as it changes (``_listening``)."""
        self._live = -1 if self._deaf else self._generation
        """What ``generation`` answers: ``_generation`` while listening, -1 while deaf; one attribute, read once, set
        under ``_lock`` with the two it is made of (``_deliver``, ``_turn``). Read as two, a reader could take the
        generation of a lapse's drop as live, its deafness not yet set, and keep what it read while deaf (review)."""
        self._alive_until = 0.0
        """PostgreSQL: ``time.monotonic()`` until which the last heartbeat answered vouches for the listener."""
        self._lease_lock = threading.Lock()
        self._io_lock = threading.Lock()
        """PostgreSQL: held while a thread drives the listener's connection (``_step``), never while waiting on it."""
        self._link: _Link | None = None
        self._help_at = 0.0
        self._listening(not self._deaf)
        self.lapses = 0
        """PostgreSQL: how many times the feed turned deaf (a lapse or a lost connection), as the metric counts."""
        self.listener_pid: int | None = None
        """PostgreSQL: the backend pid of the listener's connection (for an operator, or a test), once connected."""
        self._stop = threading.Event()
        self._wake: tuple[int, int] | None = None
        """PostgreSQL: a pipe whose read end the listener waits on beside its connection's socket, written to by
        ``stop``, so that the listener ends at once rather than at its next heartbeat (up to ``HEARTBEAT_EVERY``)."""
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
        elif self._leased and (shared := os.environ.get(WORKERS_COUNTER_ENV)) and Path(shared).is_file():
            # the workers of one gateway: the very next call on any of them sees a change made through another,
            # as on SQLite, without waiting for the NOTIFY (other gateways on the store still hear it within 1 s)
            self._open_counter(Path(shared))

    @property
    def generation(self) -> int:
        """Moves on every change heard; a cache fill started at one generation is dropped if it moved since. While
        the PostgreSQL listener is not listening it is -1, which no heard generation equals: nothing read then is
        kept, so a change made meanwhile (heard by nobody here) is read from the store by the very next call,
        however long the reconnection takes (it had been visible only once LISTEN was back, 0.5-1 s later).
        "Listening" is a lease (``LEASE``): a connection that stalls without closing turns deaf within a lease of its
        last answered heartbeat, here, in the reading thread, whatever the listener thread is doing."""
        self.poll()
        return self._live

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
            self._wake = os.pipe()
            os.set_blocking(self._wake[1], False)
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
        if self._wake is not None:
            with contextlib.suppress(OSError):  # the pipe full: the listener has been woken already
                os.write(self._wake[1], b"\0")
        if self._thread is not None:
            self._thread.join(2.0)
        if self._wake is not None and not (self._thread is not None and self._thread.is_alive()):
            for end in self._wake:
                os.close(end)
            self._wake = None
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
        """After the writing transaction committed: drop the keys here, and move the shared counter (SQLite, and
        PostgreSQL workers of one gateway)."""
        changed = frozenset(keys)
        if self._counter is not None and self._counter_fd is not None:
            fcntl.flock(self._counter_fd, fcntl.LOCK_EX)
            try:
                before = _COUNTER.unpack_from(self._counter)[0]
                _COUNTER.pack_into(self._counter, 0, before + 1)
            finally:
                fcntl.flock(self._counter_fd, fcntl.LOCK_UN)
            with self._seen_lock:  # delivered before it is seen: a thread that polls meanwhile waits for the drop
                if before != self._seen:  # another process changed something since we last looked
                    changed = EVERYTHING
                self._deliver(changed)
                self._seen = before + 1  # our own change: dropped by key above, not everything
            return
        self._deliver(changed)

    def poll(self) -> None:
        """Before each lookup: PostgreSQL, turn deaf if the listener's lease lapsed (one clock read; while the
        listener thread is late, a step on its connection first, ``_help``); SQLite (and
        the workers of one ``zzgw serve``), drop everything if another process moved the shared counter since the
        last look (one memory read). Noticing and dropping are one step for every other thread: one that polls
        while another drops waits for the drop, never answering from what is being dropped."""
        if self._leased:
            now = time.monotonic()
            if now > self._alive_until - LEASE + HELP_AFTER:  # the listener thread is late: drive it ourselves
                self._help(now)
                now = time.monotonic()
            if not self._deaf and now > self._alive_until:
                self._lapse()
        counter = self._counter
        if counter is None or _COUNTER.unpack_from(counter)[0] == self._seen:
            return
        with self._seen_lock:
            value = _COUNTER.unpack_from(counter)[0]
            if value == self._seen:  # another thread dropped everything meanwhile
                return
            self._deliver(EVERYTHING)
            self._seen = value  # only now: a thread that saw the counter move waited on the lock until here

    def hear_edits(self) -> None:
        """SQLite: drop the keys of the rows of ``store_edits`` written since the last look (by the triggers of
        every change to ``licenses`` and ``seals``, whoever made it); everything if rows not read yet were pruned
        meanwhile, if there are more than ``EDITS_BATCH``, and at the first look, which notes where the table ends."""
        with self._edits_lock:  # read and dropped in one step, as in ``poll``
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
            if not self._deaf:
                self._live = self._generation
            listeners = list(self._listeners)
        for listener in listeners:
            listener(keys)

    @staticmethod
    def share_counter(directory: Path) -> Path:
        """In the supervisor of several workers on PostgreSQL, before it starts them: a change counter of the run's
        own in ``directory``, named to the workers (``WORKERS_COUNTER_ENV``); returns its path."""
        path = directory / "zzgw-changes.counter"
        path.write_bytes(b"\0" * _COUNTER.size)
        path.chmod(0o600)
        os.environ[WORKERS_COUNTER_ENV] = str(path)
        return path

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

    def _lapse(self, cause: str = "lease") -> None:
        """The lease ran out (no heartbeat answered within ``LEASE`` of its sending), or the connection was lost
        (``cause``): drop everything once and keep nothing until an answer comes. Dropped before deaf, under the
        lock: a thread that finds the lease out meanwhile waits here for the drop, never answering from what is being
        dropped. Counted (``zzgw_change_feed_lapses_total``), so that an operator sees a feed that flaps."""
        with self._lease_lock:
            if self._deaf or time.monotonic() <= self._alive_until:
                return
            self._deliver(EVERYTHING)
            # deaf, and one generation on from the drop's: a reader that took the drop's generation while it ran
            # (its poll before the lease ran out) keeps nothing it read, as one that reads -1 from here
            self._turn(deaf=True)
            self._listening(False)
            self.lapses += 1
        with contextlib.suppress(Exception):  # a metric never stops the dropping
            metrics.record_feed_lapse(cause)

    def _go_deaf(self) -> None:
        """The listener's connection is lost: as a lapse, at once."""
        self._alive_until = 0.0  # a thread that polls from here waits in ``_lapse`` for the drop
        self._lapse("connection")

    def _prove_alive(self, sent_at: float, *, new_connection: bool) -> bool:
        """A heartbeat sent at ``sent_at`` was answered: everything sent to us before it was delivered, so the
        listener is vouched for until ``sent_at + LEASE``. Listening again after a lapse or a loss: True. Only the
        first answer on a *new* connection drops everything once more (what was sent while no connection listened
        is lost); on the same connection nothing is (every notification sent before the answer was delivered before
        it, in order, and the lapse dropped everything and kept nothing since: a flap drops the caches once)."""
        until = sent_at + LEASE
        if not self._deaf:
            self._alive_until = until
            return False
        with self._lease_lock:
            self._alive_until = until
            if not self._deaf or time.monotonic() > until:  # an answer already too late renews nothing
                return False
            if new_connection:
                self._deliver(EVERYTHING)  # a fill started while deaf holds -1, one started now a generation before
            self._turn(deaf=False)
            self._listening(True)
            return True

    def _turn(self, *, deaf: bool) -> None:
        """Turn deaf (the generation moved on once more, which no reader has taken) or listening, under ``_lock``
        with what ``generation`` answers (``_live``)."""
        with self._lock:
            if deaf:
                self._generation += 1
            self._deaf = deaf
            self._live = -1 if deaf else self._generation

    @staticmethod
    def _listening(listening: bool) -> None:
        """``zzgw_change_feed_listening``, under ``_lease_lock`` as ``_deaf`` changes (outside it, a lapse's 0 and the
        answer's 1 could be set in the other order); a metric never stops the listening."""
        with contextlib.suppress(Exception):
            metrics.feed_listening(listening)

    def _help(self, now: float) -> None:
        """A reader (``poll``) finds the lease ``HELP_AFTER`` old: the listener thread is late, most often waiting
        for the GIL behind busy handler threads (its select has returned, its answer waits in the socket). The reader,
        which holds the GIL, drives the connection one step itself (the heartbeat due sent, what arrived read and
        delivered, the answer proving the listener alive), if nobody else is driving it; never blocks, never raises
        (a failure is the listener thread's to find). So the lease measures PostgreSQL's answer, not the listener
        thread's turn at the GIL."""
        if now < self._help_at or not self._io_lock.acquire(blocking=False):
            return
        try:
            self._help_at = now + HELP_EVERY
            link = self._link
            if link is not None and not link.failed:  # listening again is noted on the link, for the listener to say
                self._step(link, time.monotonic())
        except Exception:
            if self._link is not None:
                self._link.failed = True
        finally:
            self._io_lock.release()

    def _listen(self, ready: threading.Event) -> None:
        import psycopg  # here, not at the top: a gateway on SQLite never loads PostgreSQL's driver
        from psycopg.conninfo import make_conninfo

        name_this_thread("zzgw-changes")
        url = make_url(self._db.engine.url.render_as_string(hide_password=False)).set(drivername="postgresql")
        conninfo = make_conninfo(  # named as the pool's connections are, so that `zzgw init` sees this process
            url.render_as_string(hide_password=False), **_LISTENER_KEEPALIVES, application_name=application_name()
        )
        lost_at: float | None = None  # while not listening: said once at the loss and once when listening again

        def listening_again(at: float) -> None:
            nonlocal lost_at
            if lost_at is not None:
                _log.info("change listener listening again, after %.1f s", at - lost_at)
                lost_at = None

        while not self._stop.is_set():
            connection: psycopg.Connection[tuple[object, ...]] | None = None
            link: _Link | None = None
            try:
                connection = psycopg.connect(conninfo, autocommit=True)
                link = _Link(connection.pgconn)
                for at in self._hear(link):  # each time it listens again after a loss or a lapse
                    ready.set()
                    listening_again(at)
            except Exception as exc:  # psycopg's, or any other: the listener goes on, never silently gone
                with contextlib.suppress(Exception):  # a listener's own failure must not end the listening
                    self._go_deaf()  # what the caches hold, or would be filled with, may be stale: keep nothing
                if self._stop.is_set():
                    return
                if link is not None and link.listening_again_at is not None:
                    # a reader's step made it listen again and the connection failed before this thread's next
                    # step: that return said first, so that this loss is said (and timed) as one of its own
                    listening_again(link.listening_again_at)
                stalled = link.stalled_since if link is not None else None
                if lost_at is None and stalled is not None:
                    # a stall said already, which this loss (the connection given up) goes on: one deaf spell, said
                    # once and timed from its start (two WARNINGs, and "after 0.5 s" of a listener deaf for 5.5 s,
                    # had been said; a multi-replica tester)
                    lost_at = stalled
                    _log.debug(
                        "change listener's connection unanswered for %.1f s (%s); reconnecting",
                        time.monotonic() - stalled,
                        type(exc).__name__,
                    )
                elif lost_at is None:  # each failed reconnection (every 0.5 s of an outage) had been a line of its own
                    lost_at = time.monotonic()
                    _log.warning("change listener lost its connection (%s); reconnecting", type(exc).__name__)
                else:
                    _log.debug("change listener still not connected (%s)", type(exc).__name__)
                ready.set()
                with contextlib.suppress(Exception):
                    self._stop.wait(0.5)
            finally:
                with self._io_lock:  # no reader drives a connection being closed
                    self._link = None
                if connection is not None:
                    with contextlib.suppress(Exception):
                        connection.close()

    def _step(self, link: _Link, now: float) -> None:
        """One step on the listener's connection, under ``_io_lock`` (the listener thread's, or a reader's in
        ``_help``): the heartbeat sent if due, what arrived read, its notifications delivered (all as one union) and
        a heartbeat's answer taken as proof (``_prove_alive``). Never blocks (libpq's socket is non-blocking). An
        answer that made the feed listen again is noted on the link (``listening_again_at``), whichever thread took
        it, for the listener thread to say; raises when the connection failed or a LISTEN was refused."""
        pgconn = link.pgconn
        if link.sent_at is None and now >= link.next_beat:
            pgconn.send_query(_HEARTBEAT)  # ``now`` read before the sending: the vouching errs early, never late
            link.sent_at, link.next_beat = now, now + HEARTBEAT_EVERY
            link.flushing = pgconn.flush() != 0
        elif link.flushing:
            link.flushing = pgconn.flush() != 0
        pgconn.consume_input()  # raises when the connection is gone
        self._deliver_notices(pgconn)
        if link.sent_at is None or link.flushing:
            return
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:  # answered whole: everything before it was delivered above
                # and what came in the same read after the answer: libpq parses it as the answer is taken, and the
                # socket has nothing more to wake the listener with (it had waited for the next step)
                self._deliver_notices(pgconn)
                sent_at, link.sent_at = link.sent_at, None
                new_connection, link.answered = not link.answered, True
                if self._prove_alive(sent_at, new_connection=new_connection):
                    link.listening_again_at = time.monotonic()
                return
            if result.status != _command_ok():
                message = (result.error_message or b"").decode(errors="replace")
                raise _operational_error(f"the listener's LISTEN failed: {message}")

    def _hear(self, link: _Link) -> Iterator[float]:
        """Listen on one connection until ``stop``, without ever blocking: ``LISTEN`` again every
        ``HEARTBEAT_EVERY`` (a no-op once listening; the first one listens), sent with libpq's asynchronous calls
        and waited for on the socket with a deadline, and every notification delivered as it arrives (all that
        arrived together as one union); the steps are ``_step``'s, which a reader may take too (``_help``). Yields
        each time it listens (again), by its own step or a reader's: when it did. Raises when the connection fails,
        or when a heartbeat goes ``GIVE_UP_AFTER`` unanswered (a backend that hangs: another connection may work)."""
        fd = link.pgconn.socket
        self.listener_pid = link.pgconn.backend_pid
        with self._io_lock:
            self._link = link
        stalled: float | None = None  # the heartbeat unanswered past the lease: said at once, and when answered
        while not self._stop.is_set():
            with self._io_lock:
                if link.failed:
                    raise _operational_error("the listener's connection failed under a reader")
                now = time.monotonic()
                self._step(link, now)
                # made to listen again by this step or a reader's since this thread's last (``_help``)
                listening_at, link.listening_again_at = link.listening_again_at, None
                sent_at, next_beat, flushing = link.sent_at, link.next_beat, link.flushing
            if (listening_at is not None or sent_at is None) and stalled is not None:
                # its end said too: the warning alone left an operator unable to tell a deaf replica from one that
                # had recovered seconds later (found by an operations tester)
                answered_at = now if listening_at is None else listening_at
                _log.info("change listener's connection answered again, after %.1f s", answered_at - stalled)
                stalled = link.stalled_since = None
            if listening_at is not None:
                yield listening_at
            if not self._deaf and now > self._alive_until:  # as a reader would find it: nobody has to be reading
                self._lapse()
            if sent_at is not None and now - sent_at > LEASE and stalled is None:
                stalled = link.stalled_since = sent_at
                _log.warning(
                    "change listener's connection answered nothing for %.1f s; verifications read the store until it "
                    "does",
                    now - sent_at,
                )
            if sent_at is not None and now - sent_at > GIVE_UP_AFTER:
                raise TimeoutError(f"no answer on the listener's connection for {now - sent_at:.1f} s")
            wakes = [next_beat] if sent_at is None else [sent_at + GIVE_UP_AFTER, sent_at + LEASE]
            if not self._deaf:
                wakes.append(self._alive_until)  # to drop everything at the lapse, even with nobody reading
            wait = min([HEARTBEAT_EVERY] + [at - now for at in wakes if at > now])
            select.select([fd] if self._wake is None else [fd, self._wake[0]], [fd] if flushing else [], [], wait)

    def _deliver_notices(self, pgconn: pq.abc.PGconn) -> None:
        keys: set[str] = set()
        while (notice := pgconn.notifies()) is not None:
            keys.update(notice.extra.decode().split(","))
        if keys:
            self._deliver(EVERYTHING if "*" in keys or len(keys) > _UNION_MOST else frozenset(keys))
