"""Cache coherence across gateway processes: every process learns that a license or a seal changed.

Caches in front of the store (``gateway.services.cache``) may keep a license's row only until it changes. A write
that changes a license or a seal *announces* the keys it changed (``license:<id>``, ``seal:<key id>``):

- **PostgreSQL** (several processes, several machines): the announcement is ``pg_notify('zzgw_changes', keys)``
  inside the writing transaction, so it is delivered exactly when the change commits, to every process listening
  on the same database. Each process runs one listener thread (``LISTEN zzgw_changes`` on a connection of its own)
  and drops the named keys. A listener that loses its connection drops everything it holds and reconnects.
- **SQLite** (one machine, several worker processes): a shared counter in a small file beside the database, mapped
  into memory by every process. A writer increments it after commit; a reader compares it with the value it saw
  last before each lookup (one memory read) and drops everything when it moved.
- In both, the writing process drops the keys in its own caches right after its commit, so the very next lookup
  on the same process sees the change.

A lookup that fills a cache remembers the feed's ``generation`` before it reads the store and stores its result
only if no announcement arrived in between; so a row read just before a change committed is never kept after it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from gateway.store.database import Database, UnitOfWork
from gateway.threads import name_this_thread

CHANNEL = "zzgw_changes"
EVERYTHING: frozenset[str] = frozenset({"*"})
_MAX_PAYLOAD = 7_000  # PostgreSQL's limit is 8,000 bytes; past this a change announces everything
_COUNTER = struct.Struct("<Q")
_log = logging.getLogger("zzgw.changes")

Listener = Callable[[frozenset[str]], None]


class ChangeFeed:
    """Announce changes to every gateway process on the same store and hear theirs (see the module docstring)."""

    def __init__(self, db: Database):
        self._db = db
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._generation = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._counter: mmap.mmap | None = None
        self._counter_fd: int | None = None
        self._seen = 0
        self._seen_lock = threading.Lock()
        path = db.engine.url.database if db.dialect == "sqlite" else None
        if path and path != ":memory:":
            self._open_counter(Path(f"{path}.changes"))

    @property
    def generation(self) -> int:
        """Moves on every change heard; a cache fill started at one generation is dropped if it moved since."""
        self.poll()
        return self._generation

    @property
    def heard(self) -> int:
        """``generation`` as last heard, without listening again: what a cache compares under its own lock, which
        a listener takes too (hearing a change there would call the listener, and wait on that lock for ever)."""
        return self._generation

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def start(self) -> None:
        """Start listening (PostgreSQL); a no-op on SQLite, where ``poll`` reads the shared counter."""
        if self._db.dialect != "postgresql" or self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(target=self._listen, args=(ready,), daemon=True, name="zzgw-changes")
        self._thread.start()
        ready.wait(5.0)

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
        conninfo = url.render_as_string(hide_password=False)
        while not self._stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self._deliver(EVERYTHING)  # anything may have changed while we were not listening
                    ready.set()
                    while not self._stop.is_set():
                        for notice in connection.notifies(timeout=0.5):
                            self._deliver(EVERYTHING if notice.payload == "*" else frozenset(notice.payload.split(",")))
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                _log.warning("change listener lost its connection (%s); reconnecting", type(exc).__name__)
                self._deliver(EVERYTHING)
                ready.set()
                with contextlib.suppress(Exception):
                    self._stop.wait(0.5)
