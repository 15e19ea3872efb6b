"""Group commit: many request threads' small writes committed together, each caller answered only once durable.

A verification writes one receipt and one access record. Committing each in its own transaction costs a commit
(and on SQLite the writer lock) per call; ``GroupWriter`` has one thread take whatever is waiting, write it in one
transaction on a driver connection of its own (``Database.appender``), and then release every caller whose row it
committed. A caller blocks in ``write`` until its row is committed, or gets the exception that failed the
transaction: nothing is answered before it is stored. The write function may return one result per item (what the
writer made for it, e.g. a receipt's batch signature), which ``write`` hands back to its caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from gateway.store.database import AppendWork, Database
from gateway.threads import name_this_thread

T = TypeVar("T")
R = TypeVar("R")
MAX_GROUP = 500
WRITE_TIMEOUT_SECONDS = 30.0


class _Pending(Generic[T, R]):
    """One caller's item; ``done`` is a plain lock held until the writer releases it (lighter than an Event)."""

    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T):
        self.item = item
        self.done = threading.Lock()
        self.done.acquire()
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupWriter(Generic[T, R]):
    def __init__(
        self,
        db: Database,
        write: Callable[[AppendWork, Sequence[T]], Sequence[R] | None],
        *,
        name: str,
        retry: Callable[[BaseException], bool] = lambda _: False,
    ):
        """``retry`` tells whether a failed group is worth one more transaction (e.g. ``AuditTrail.stale_head``)."""
        self._appender = db.appender()
        self._write = write
        self._retry = retry
        self._queue: queue.SimpleQueue[_Pending[T, R] | None] = queue.SimpleQueue()
        self._name = f"{name}-writer"
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"zzgw-{self._name}")
        self._started = False
        self._lock = threading.Lock()

    def write(self, item: T) -> R | None:
        """Store ``item``; returns once it is committed (with the write function's result for it, if any), raises
        what failed its transaction."""
        if not self._started:
            with self._lock:
                if not self._started:
                    self._thread.start()
                    self._started = True
        pending: _Pending[T, R] = _Pending(item)
        self._queue.put(pending)
        if not pending.done.acquire(timeout=WRITE_TIMEOUT_SECONDS):
            raise TimeoutError("the store did not commit in time")
        if pending.error is not None:
            raise pending.error
        return pending.result

    def close(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(5.0)
        if not self._thread.is_alive():
            self._appender.close()

    def _run(self) -> None:
        name_this_thread(self._name)
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            error: BaseException | None = None
            results: Sequence[R] | None = None
            items = [p.item for p in group]
            for attempt in (1, 2):
                try:
                    with self._appender.transaction() as work:
                        results = self._write(work, items)
                        work.commit()
                    error = None
                    break
                except BaseException as exc:  # handed to every waiting caller; the writer goes on
                    error = exc
                    if attempt == 2 or not self._retry(exc):
                        break
            for i, pending in enumerate(group):
                pending.error = error
                if error is None and results is not None:
                    pending.result = results[i]
                pending.done.release()
