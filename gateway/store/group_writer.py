"""Group commit: many request threads' small writes committed together, each caller answered only once durable.

A verification writes one receipt. Committing each in its own transaction costs a commit (and on SQLite the
writer lock) per call; ``GroupWriter`` has one thread take whatever is waiting, write it in one transaction, and
then release every caller whose row it committed. A caller blocks in ``write`` until its row is committed, or gets
the exception that failed the transaction: nothing is answered before it is stored.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from gateway.store.database import Database, UnitOfWork

T = TypeVar("T")
MAX_GROUP = 500
WRITE_TIMEOUT_SECONDS = 30.0


@dataclass
class _Pending(Generic[T]):
    item: T
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class GroupWriter(Generic[T]):
    def __init__(self, db: Database, write: Callable[[UnitOfWork, Sequence[T]], None], *, name: str):
        self._db = db
        self._write = write
        self._queue: queue.Queue[_Pending[T] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"zzgw-{name}-writer")
        self._started = False
        self._lock = threading.Lock()

    def write(self, item: T) -> None:
        """Store ``item``; returns once it is committed, raises what failed its transaction."""
        with self._lock:
            if not self._started:
                self._thread.start()
                self._started = True
        pending = _Pending(item)
        self._queue.put(pending)
        if not pending.done.wait(WRITE_TIMEOUT_SECONDS):
            raise TimeoutError("the store did not commit in time")
        if pending.error is not None:
            raise pending.error

    def close(self) -> None:
        if self._started:
            self._queue.put(None)
            self._thread.join(5.0)

    def _run(self) -> None:
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
            try:
                with self._db.unit_of_work(write=True) as uow:
                    self._write(uow, [p.item for p in group])
                    uow.commit()
            except BaseException as exc:  # handed to every waiting caller; the writer goes on
                error = exc
            for pending in group:
                pending.error = error
                pending.done.set()
