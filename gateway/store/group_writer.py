"""Group commit: many request threads' small writes committed together, each caller answered only once durable.

A verification writes one receipt and one access record. Committing each in its own transaction costs a commit
(and on SQLite the writer lock) per call; ``GroupWriter`` has one thread take whatever is waiting, write it in one
transaction on a driver connection of its own (``Database.appender``), and then release every caller whose row it
committed. A caller blocks in ``write`` until its row is committed, or gets (a copy of its own of) the exception that
failed the transaction: nothing is answered before it is stored. A group's callers are claimed once its transaction
holds the store (and ``hold``'s locks, whose wait is bounded): one that gave up waiting before is never written, nor
one that gives up while a retry of its group waits for them (a transaction that failed with nothing stored hands its
callers back to the queue; a lost commit's, which may have landed, stay claimed). The write function may
return one result per item (what the writer made for it, e.g. a receipt's batch signature), which ``write`` hands back
to its caller.

``prepare`` is the work on a group that needs no database (making and signing receipts). The writer thread does it
before each transaction, or, ``pipelined``, a thread of its own does it ahead of the writer: while the writer waits
on the database for one transaction the next groups are prepared, and the writer then writes every prepared group
waiting in one transaction. Pipelined suits PostgreSQL, where the writer's round trips would hold the work up
(``VerifyLicense`` +12% against preparing on the writer thread); not SQLite, where the writer's time is CPU on the
same core and a second stage only makes smaller groups (−12%) (ADR 0005).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from gateway import metrics
from gateway.domain.errors import UpstreamUnavailableError
from gateway.logs import OncePer, since
from gateway.store.database import AppendWork, Database, StoreTimeout, connection_lost, timed_out
from gateway.threads import name_this_thread
from signing.errors import causes

T = TypeVar("T")
P = TypeVar("P")
R = TypeVar("R")
MAX_GROUP = 500
WRITE_TIMEOUT_SECONDS = 30.0
LANDED_LOOKUP_WAITS = (0.05, 0.2, 0.5)
"""Seconds between the tries to tell whether a transaction whose connection was lost committed (the first at once)."""
HOLD_WAIT_SHARE = 0.9
"""Of ``WRITE_TIMEOUT_SECONDS``, how long a transaction waits for ``hold``'s locks (PostgreSQL's ``lock_timeout``,
or the role's own if shorter): no caller waits longer, and a lock held for ever (the backend of a connection cut by
the network, reaped by the server's keepalive hours later) had held this process's turn to append as long."""
log = logging.getLogger("zzgw.store")


class WriterGone(RuntimeError):
    """A write to a group writer whose thread has ended (a defect, logged when it ended): refused at once."""


class _Pending(Generic[T, R]):
    """One caller's item; ``done`` is a plain lock held until the writer releases it (lighter than an Event).
    ``state`` (under ``claim``): queued, taken by the writer, or given up by its caller while still queued."""

    __slots__ = ("answered", "claim", "done", "error", "item", "overdue", "result", "state", "unsure")

    def __init__(self, item: T):
        self.item = item
        self.done = threading.Lock()
        self.done.acquire()
        self.claim = threading.Lock()
        self.state = _QUEUED
        self.result: R | None = None
        self.error: BaseException | None = None
        self.answered = False
        """Released (``_release``): its caller has its outcome, and is told nothing more."""
        self.overdue = False
        """(Under ``claim``.) Its caller's first wait ran out with it taken: it waits a second time for the outcome."""
        self.unsure = False
        """Its ``error`` came after a lost connection whose commit no lookup could tell landed or not: its records may
        be in the store (``may_have_landed``)."""


_QUEUED, _TAKEN, _ABANDONED = 0, 1, 2
_NOT_TAKEN = "the store did not take this call's records in time"


class GroupWriter(Generic[T, P, R]):
    """Callers' items of type ``T``, prepared into ``P`` (by ``prepare``, on the writer thread or, ``pipelined``, on
    a thread of its own; taken as they are when there is none: then ``P`` is ``T``), written in groups; each caller
    gets its item's result ``R``."""

    def __init__(
        self,
        db: Database,
        write: Callable[[AppendWork, Sequence[P]], Sequence[R] | None],
        *,
        name: str,
        retry: Callable[[BaseException], bool] = lambda _: False,
        prepare: Callable[[Sequence[T]], Sequence[P]] | None = None,
        pipelined: bool = False,
        hold: Callable[[AppendWork], None] | None = None,
    ):
        """``retry`` tells whether a failed group is worth one more transaction (e.g. ``AuditTrail.stale_head``;
        a lost connection always is, ``database.connection_lost``);
        ``prepare`` gives one prepared item per item, in order, on a thread of its own when ``pipelined``;
        ``hold`` takes, first in each transaction, the locks that ``write`` waits for, and returns once the
        transaction holds them (``AuditTrail.hold``: the audit chain's, which on PostgreSQL is where a group waits
        for another process): the group's callers are claimed only then."""
        self._appender = db.appender()
        self._write = write
        self._retry = retry
        self._hold = hold
        self._prepare = prepare
        self._queue: queue.SimpleQueue[_Pending[T, R] | None] = queue.SimpleQueue()
        self._prepared: queue.SimpleQueue[tuple[list[_Pending[T, R]], Sequence[P]] | None] = queue.SimpleQueue()
        self._name = name
        self._pipelined = prepare is not None and pipelined
        self._threads = [threading.Thread(target=self._run, daemon=True, name=f"zzgw-{name}-writer")]
        if self._pipelined:
            self._threads.append(threading.Thread(target=self._run_prepare, daemon=True, name=f"zzgw-{name}-prep"))
        self._started = False
        self._closed = False
        self._lock = threading.Lock()
        self._defects = OncePer(60.0)
        """The log's lines for groups failed on an unexpected error (``_run``): one a minute, with a count."""

    def write(self, item: T) -> R | None:
        """Store ``item``; returns once it is committed (with the write function's result for it, if any), raises
        what failed its preparation or its transaction (each caller a copy of its own, ``_own``). Refused at once
        when the writer is closed (the process is stopping: UNAVAILABLE / GATEWAY_STOPPING) or its thread has ended
        (``WriterGone``), which no wait would change."""
        pending: _Pending[T, R] = _Pending(item)
        with self._lock:  # not put after close's stop, which no thread would take it after
            if self._closed:
                raise UpstreamUnavailableError(
                    "证照网关的这个进程正在停止：本次请求未写入任何内容，请重试（this gateway process is stopping: "
                    "nothing of this call was written; retry）",
                    reason="GATEWAY_STOPPING",
                )
            if not self._started:
                for thread in self._threads:
                    thread.start()
                self._started = True
            elif not all(thread.is_alive() for thread in self._threads):
                raise WriterGone(f"the {self._name} group writer's thread has ended: nothing of this call was written")
            self._queue.put(pending)
        if not pending.done.acquire(timeout=WRITE_TIMEOUT_SECONDS):
            with pending.claim:
                if pending.state == _QUEUED:  # never written (queued, or handed back for a retry): the writer will
                    pending.state = _ABANDONED  # skip it
                    raise StoreTimeout(_NOT_TAKEN)
                pending.overdue = True
            # claimed by a transaction that holds the store: its outcome, due in moments, is the answer, not a
            # guess that it will not commit (handed back meanwhile for a retry, it is given up then: ``_hand_back``)
            if not pending.done.acquire(timeout=WRITE_TIMEOUT_SECONDS):
                with pending.claim:
                    queued, pending.state = pending.state == _QUEUED, _ABANDONED  # a retry of its group leaves it out
                if queued:
                    raise StoreTimeout(_NOT_TAKEN)
                raise StoreTimeout("the store did not commit this call's records in time; they may yet be committed")
        error, pending.error = pending.error, None
        if error is None:
            return pending.result
        # this caller's copy of the group's error (``_own``): raised here, its traceback takes this caller's frames,
        # and would take this frame's reference to it with them (a cycle that only the collector frees, rarely while
        # serving: ``tune_gc``). A call pinned so keeps its HTTP/2 stream open, and after 100 a connection took no
        # call more, the store back or not (an upgrader, with a full disk)
        error = _own(error)
        if pending.unsure:
            with contextlib.suppress(AttributeError):  # an error that takes no attribute is told as surely not stored
                error.zzgw_may_have_landed = True  # type: ignore[attr-defined]
        try:
            raise error
        finally:
            del error

    def close(self) -> None:
        """Write what is queued, then end the threads; a later ``write`` is refused."""
        with self._lock:
            self._closed = True
        if self._started:
            self._queue.put(None)
            for thread in self._threads:
                thread.join(5.0)
        if not any(thread.is_alive() for thread in self._threads):
            self._appender.close()

    def _run_prepare(self) -> None:
        """The first stage: prepare each group as it comes, hand it to the writer; a group that fails to prepare
        fails its callers."""
        assert self._prepare is not None
        name_this_thread(f"{self._name}-prep")
        while (taken := _take(self._queue)) is not None:
            if not (group := [p for p in taken if p.state != _ABANDONED]):
                continue
            try:
                prepared = self._prepare([p.item for p in group])
            except BaseException as exc:  # handed to the group's callers; the stage goes on
                _release(group, exc, None)
                continue
            self._prepared.put((group, prepared))
        self._prepared.put(None)

    def _run(self) -> None:
        name_this_thread(f"{self._name}-writer")
        while True:
            items: Sequence[P]
            if self._pipelined:
                batches = _take(self._prepared, lambda batch: len(batch[0]))  # one transaction: ~MAX_GROUP items
                if batches is None:
                    return
                group = [p for batch, _ in batches for p in batch]
                items = [item for _, prepared in batches for item in prepared]
            else:
                taken = _take(self._queue)
                if taken is None:
                    return
                group = [p for p in taken if p.state != _ABANDONED]  # (a later give-up is seen when claimed)
                if not group:
                    continue
                if self._prepare is None:
                    items = [p.item for p in group]  # type: ignore[misc]  # without prepare, P is T
                else:
                    try:
                        items = self._prepare([p.item for p in group])
                    except BaseException as exc:  # handed to the group's callers; the writer goes on
                        _release(group, exc, None)
                        continue
            try:
                self._commit(group, items)
            except BaseException as exc:  # a defect (a write function's results too few): the group's callers not
                # yet answered get it, and the writer goes on; it had ended the thread, and every later call waited
                # its 30 s for it and was told the store was busy (a reviewer)
                left = [group[i] for i in _claimed(group) if not group[i].answered]
                if (skipped := self._defects.allow(self._name)) is not None:
                    log.error(
                        "the %s group writer failed %d calls on an unexpected error; it goes on%s",
                        self._name,
                        len(left),
                        since(skipped, "failure"),
                        exc_info=exc,
                    )
                _release(left, exc, None)

    def _commit(self, group: list[_Pending[T, R]], items: Sequence[P]) -> None:
        """Write ``group``'s ``items`` in one transaction (once more after a lost connection, a stale head), and
        answer its callers."""
        error: BaseException | None = None
        written: list[_Pending[T, R]] = []
        results: Sequence[R] | None = None
        lost: tuple[AppendWork, list[_Pending[T, R]], Sequence[R] | None] | None = None
        lost_error: BaseException | None = None  # what lost it: the answer while it is not known whether it landed
        undecided = False  # a lookup of the lost attempt's commit could not tell whether it landed
        retried: set[str] = set()  # one more transaction for each kind of failure: after a lost connection,
        # the new one may meet an audit head another process moved on meanwhile, which is worth its own retry
        while True:
            tried: AppendWork | None = None
            written, results = [], None
            found = False
            try:
                with self._appender.transaction() as work:
                    tried = work
                    if self._hold is not None:
                        work.bound_lock_waits(WRITE_TIMEOUT_SECONDS * HOLD_WAIT_SHARE)
                        self._hold(work)
                    if lost is not None and lost[0].landed(work):
                        # the lost attempt's commit landed after all (its lookups had failed): looked up again
                        # here, where the answer is definite (the lost transaction held the locks this one holds
                        # until it ended), and never written twice: the sharing calls' records, with no receipt
                        # to meet, had been chained again after their own (a reviewer). This one is rolled back.
                        found = True
                    else:
                        undecided = False  # the lost attempt did not land: looked up where that is definite
                        # claimed only now that the transaction holds the store (SQLite: the writer locks and
                        # BEGIN IMMEDIATE, which wait for a DBA's transaction; PostgreSQL: ``hold``'s locks, the
                        # audit chain's, which wait for another process's append or a prune): a caller that gave
                        # up meanwhile is left out and never written, one still waiting gets this transaction's
                        # outcome
                        kept = _claimed(group)
                        written = [group[i] for i in kept]
                        results = self._write(work, [items[i] for i in kept]) if kept else None
                        work.commit()
                error = None
                if found and lost is not None:
                    written, results = lost[1], lost[2]
                break
            except BaseException as exc:  # handed to every waiting caller; the writer goes on
                error = exc
                # a statement cancelled on its timeout (``hold``'s lock wait bounded) is the server's answer, not a
                # lost connection: the transaction did not commit, and a retry would wait as long again
                lost_now = connection_lost(exc) and not timed_out(exc)
                if lost_now and tried is not None:
                    if lost is None or not lost[1]:  # the first lost attempt that wrote anything
                        lost, lost_error = (tried, written, results), exc
                    if (landed := self._landed(tried)) is None:
                        undecided = True
                    elif landed:
                        error = None  # lost at the commit, which the server made: written once, not twice
                        break
                elif lost is not None and (landed := self._landed(lost[0])):
                    # the lost attempt's commit landed after all (its lookup had failed): this one met its rows
                    # (as a stale head, too); answered as written, never written twice
                    error, written, results = None, lost[1], lost[2]
                    break
                elif lost is not None and landed is None:
                    undecided = True
                kind = "connection" if lost_now else "retry" if self._retry(exc) else None
                if kind is None or kind in retried:
                    break
                retried.add(kind)
                if lost is None or not lost[1]:  # nothing of the group is stored: its callers wait for the retry's
                    _hand_back(written)  # ``hold`` queued, and are given up at the write's timeout as the first's
                # were; a lost commit's callers stay taken (it may have landed: the retry looks once it holds the
                # store), told at most that their records may yet be committed
        # lost again on a later attempt: the first lost commit may have landed after all (its lookup had failed);
        # the loop looked it up already when a later attempt failed otherwise. Answered as written, not twice.
        again = error is not None and lost is not None and connection_lost(error) and lost[0] is not tried
        if again and lost is not None and (landed := self._landed(lost[0])):
            error, written, results = None, lost[1], lost[2]
        elif again and landed is None:
            undecided = True
        if error is not None:  # every caller still waiting is told, whether or not the transaction claimed it
            written, results = [group[i] for i in _claimed(group)], None
            if lost is not None and lost[1] and lost_error is not None:
                # whether the lost commit landed is not known: its callers are told the connection was lost, not
                # what failed the retry (a lock wait's timeout: "nothing was done")
                error = lost_error
        lost_error = None
        _release(written, error, results, unsure=error is not None and lost is not None and bool(lost[1]) and undecided)
        if error is None and written:  # after the callers are answered: their wait is not the metrics'
            with contextlib.suppress(Exception):  # a metric never stops the writer
                metrics.record_group_commit(self._name, len(written))
        error = None  # not held while the writer waits for more: raised to the callers, it holds their frames

    def _landed(self, tried: AppendWork) -> bool | None:
        """Whether a transaction whose connection was lost committed all the same (``AppendWork.landed_if``),
        looked up on a new connection, at once and again after each of ``LANDED_LOOKUP_WAITS`` while the store is
        still out of reach; None when that cannot be told (the group's next transaction looks again once it holds the
        store, before it writes anything; and a receipt met twice fails, which the caller then checks again; a caller
        failed all the same is told its records may have landed: ``may_have_landed``)."""
        for wait in (0.0, *LANDED_LOOKUP_WAITS):  # no wait after the last: the next transaction looks again
            time.sleep(wait)
            try:
                with self._appender.transaction() as later:
                    return tried.landed(later)
            except Exception:  # the store is still out of reach
                continue
        return None


X = TypeVar("X")


def _claimed(group: Sequence[_Pending[T, R]]) -> list[int]:
    """The indices of the items of ``group`` the writer holds (taken now, or before): those whose callers gave up
    waiting are left out, unwritten."""
    held = []
    for i, pending in enumerate(group):
        with pending.claim:
            if pending.state != _ABANDONED:
                pending.state = _TAKEN
                held.append(i)
    return held


def _hand_back(group: Sequence[_Pending[T, R]]) -> None:
    """The callers of a transaction that failed with nothing stored, queued again for the group's retry, which claims
    them once it holds the store: a caller whose wait runs out meanwhile is given up and never written. They had
    stayed taken while the retry waited for the chain lock (another process's append, a prune; a zombie backend's,
    for hours): not given up at the write's timeout, and their records stored after their callers had been told to
    retry (a reviewer). A caller already past its first wait is given up now."""
    for pending in group:
        with pending.claim:
            if pending.state != _TAKEN or pending.answered:
                continue
            if not pending.overdue:
                pending.state = _QUEUED
                continue
            pending.state = _ABANDONED
            pending.error = StoreTimeout(_NOT_TAKEN)
            pending.answered = True
            pending.done.release()


def _take(source: queue.SimpleQueue[X | None], size: Callable[[X], int] = lambda _: 1) -> list[X] | None:
    """Wait for the first entry, then take whatever else is waiting until the entries' ``size`` adds up to
    MAX_GROUP (items, or prepared groups counted by their items); None when told to stop (the stop is left in the
    queue if it follows entries, for the next take)."""
    first = source.get()
    if first is None:
        return None
    taken, total = [first], size(first)
    while total < MAX_GROUP:
        try:
            more = source.get_nowait()
        except queue.Empty:
            break
        if more is None:
            source.put(None)
            break
        taken.append(more)
        total += size(more)
    return taken


def _release(
    group: Sequence[_Pending[T, R]], error: BaseException | None, results: Sequence[R] | None, *, unsure: bool = False
) -> None:
    for i, pending in enumerate(group):
        pending.error = error
        pending.unsure = unsure
        if error is None and results is not None:
            pending.result = results[i]
        pending.answered = True
        pending.done.release()


def may_have_landed(error: BaseException) -> bool:
    """Whether ``error``, raised by ``GroupWriter.write``, came after a lost connection whose commit no lookup could
    tell landed or not, so that the call's records may be in the store; any other error of a write is of a
    transaction that surely never committed (a full disk, a lock or statement timeout, a lost connection whose
    transaction was found not to have landed)."""
    return any(getattr(cause, "zzgw_may_have_landed", False) for cause in causes(error, 4))


def _own(error: BaseException, depth: int = 4) -> BaseException:
    """A copy of ``error`` for one caller of the group it failed, with copies of its causes and contexts (``depth``
    deep) and their tracebacks (the writer's frames, which a raise does not change). Every caller had been raised the
    one error: each raise added its caller's frames to the traceback they shared (N callers' INTERNAL lines, N²
    frames), and the first caller's interceptor cleared it for all (``detached``), so that a caller logging later
    logged none (a reviewer). A copy is of the same type, its arguments and attributes (``copy.copy``, as pickling
    makes it again), so it answers as the error does; one whose type cannot be made again so is given as it is."""
    try:
        own = copy.copy(error)
    except Exception:  # a constructor that does not take the error's own arguments
        return error
    if own is error or type(own) is not type(error):
        return error
    copies: dict[int, BaseException] = {}  # a cause is often the context too: one copy of it

    def mine(chained: BaseException | None) -> BaseException | None:
        if chained is None or depth <= 1:
            return chained
        if id(chained) not in copies:
            copies[id(chained)] = _own(chained, depth - 1)
        return copies[id(chained)]

    own.__cause__ = mine(error.__cause__)
    own.__context__ = mine(error.__context__)
    own.__suppress_context__ = error.__suppress_context__
    return own.with_traceback(error.__traceback__)
