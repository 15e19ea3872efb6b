"""A process whose calls stop finishing is stopped, so that it is replaced instead of serving nothing for ever.

A deadlock (two locks taken in opposite orders, a thread waiting for a writer that died) leaves a gateway process
up, listening, and answering health checks on a spare thread, while every call that reaches the stuck part waits
for good, and with it one handler thread after another. Such a process does not mend itself. The watchdog looks at
the unary calls in flight (``InFlight``, kept by the interceptor: a dict set and a pop a call) every few seconds;
when one has made no progress for longer than ``stuck_call_seconds`` (setting ``ZZGW_STUCK_CALL_SECONDS``, 120 by
default, 0 turns it off) it logs the method and that time and stops the process the way a stop signal does, with the
exit status ``EXIT_STUCK`` (70, EX_SOFTWARE). A supervised worker is then replaced by the supervisor; a single
process is restarted by its service manager (``Restart=on-failure``).

A call makes progress by ending, or by saying so (``progress``) as it works through something whose size grows
with the store: ``VerifyAuditLog`` reads and hashes the whole audit trail, 20-30 thousand records a second, so past
two million-odd records it runs longer than the limit. Taken for stuck, it stopped a healthy process every time an
admin asked (a reviewer). It says so after each page it checks, and ``progress`` stops it (``CallGone``) once its
client is gone, so that a check nobody waits for does not run on. Every other unary call takes seconds at most in
health (a PDF's validation or sealing), and clients give up far sooner; streams (a batch import,
``WatchLicenseChanges``) are not watched. A PDF sealing, done on the process's one PDF thread, is watched as
``Work`` while it runs, also once its call has given up on it (``SEALING_TIMED_OUT``). A database lock held for
that long (an operator's transaction) stops processes too, one at a time per limit, which the log then says: a call
waiting for a lock says nothing meanwhile.

A call waiting on a database that readiness says does not answer (``DATABASE_NOT_ANSWERING``: ``excused``) is not
this process being stuck: it is spared while its time outside the latest outage, before the outage began and since it
ended, is within the limit, and the log says it once per outage at WARNING. A frozen database had had every process
with a call in flight stop itself at the limit, exit 70, "this process is stuck", all replicas on that database at
once, though a restart does not mend a database (a reviewer, opshttp R3). An outage is a run of checks that each
found readiness saying so: one check that did (a stall of a few seconds) spared a call stuck on a lock for another
limit each time, so that one stall a limit kept a wedged process for ever (a reviewer, opsfix R1). Whatever readiness
says, a call without progress for ``EXCUSED_AT_MOST`` times the limit stops the process.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from gateway.threads import name_this_thread

log = logging.getLogger("zzgw.watchdog")

EXIT_STUCK = 70
"""The exit status of a process stopped by its watchdog (sysexits' EX_SOFTWARE)."""

CHECK_EVERY_SECONDS = 5.0

EXCUSED_AT_MOST = 10
"""A call without progress for this many times the limit stops the process, however long readiness has said that the
database does not answer (20 minutes with the default limit of 120 s)."""


class CallGone(Exception):
    """The client of the call in progress is gone (it cancelled, or its deadline passed): ``progress`` stops the
    work done for it. The interceptor answers it as the client's going (CANCELLED, DEADLINE_EXCEEDED), not an
    error."""


class InFlight:
    """The unary calls in flight: objects with ``method`` (the gRPC method) and ``started`` (``time.perf_counter``),
    added when a call starts and discarded when it ends, each with when it last made progress (``progressed``)."""

    __slots__ = ("_calls", "latest")

    def __init__(self) -> None:
        self._calls: dict[Any, float] = {}
        self.latest: float | None = None
        """When the newest call started (``time.perf_counter``); None before the first. A stopping process takes
        calls until none has started for a moment (``gateway.health.wait_until_quiet``)."""

    def add(self, call: Any) -> None:
        self._calls[call] = call.started
        self.latest = call.started

    def keep(self, work: Any) -> None:
        """Watch ``work`` (an object with ``method`` and ``started``) as a call, though it is none: ``latest`` stays,
        as no call started."""
        self._calls[work] = work.started

    def discard(self, call: Any) -> None:
        self._calls.pop(call, None)

    def progressed(self, call: Any, at: float) -> None:
        """``call`` made progress at ``at`` (``time.perf_counter``). Only its own thread says it, and ends it
        (``discard``): a call ended is not added back."""
        if call in self._calls:
            self._calls[call] = at

    def oldest(self) -> tuple[str, float] | None:
        """The method of the call that has gone longest without progress and when it last made some (its start
        when it has said none); None when no call is in flight."""
        calls = list(self._calls.items())  # one step under the GIL: the handler threads may add and pop meanwhile
        if not calls:
            return None
        oldest, at = min(calls, key=lambda item: item[1])
        return oldest.method, at


_watched: contextvars.ContextVar[tuple[Any, InFlight | None] | None] = contextvars.ContextVar(
    "zzgw_watched_call", default=None
)


@contextlib.contextmanager
def watched(call: Any, in_flight: InFlight | None) -> Iterator[None]:
    """Serve ``call`` (an object with ``method``, ``started`` and ``gone()``, whether its client is gone) with it
    kept in ``in_flight`` (None: no watchdog), and as the call ``progress`` speaks for."""
    if in_flight is not None:
        in_flight.add(call)
    token = _watched.set((call, in_flight))
    try:
        yield
    finally:
        _watched.reset(token)
        if in_flight is not None:
            in_flight.discard(call)


class Work:
    """Work done for a call on another thread, the PDF thread's sealing (``gateway.services.seals``), watched while it
    runs, also once its call has given up on it: a sealing that timed out (``SEALING_TIMED_OUT``) is stopped only at
    its next wait, and a step that never returns (a PKCS#11 token's signature that stalls) kept the one PDF thread,
    so every later sealing of the process timed out behind it, for good, while its calls ended within the limit and
    the watchdog saw nothing stuck (a reviewer). Taken for stuck past the limit, the process is replaced."""

    __slots__ = ("method", "started")

    def __init__(self, method: str) -> None:
        self.method = method
        self.started = time.perf_counter()


def on_behalf() -> Callable[[], contextlib.AbstractContextManager[None]]:
    """For the call this thread serves: a context manager that watches the work entered with it, on whichever thread,
    as ``Work`` of that call (``method`` "<the call's method> (PDF thread)"); outside a watched call or without a
    watchdog, one that does nothing."""
    watched_now = _watched.get()
    in_flight = watched_now[1] if watched_now is not None else None
    if watched_now is None or in_flight is None:
        return contextlib.nullcontext
    method = f"{watched_now[0].method} (PDF thread)"

    @contextlib.contextmanager
    def working() -> Iterator[None]:
        work = Work(method)
        in_flight.keep(work)
        try:
            yield
        finally:
            in_flight.discard(work)

    return working


def progress() -> None:
    """Say that the call this thread serves is making progress: the watchdog then counts its limit from now. Raises
    ``CallGone`` when the call's client is gone, for the work to stop. Outside a call (``zzgw audit verify``),
    nothing."""
    watched_now = _watched.get()
    if watched_now is None:
        return
    call, in_flight = watched_now
    if call.gone():
        raise CallGone(call.method)
    if in_flight is not None:
        in_flight.progressed(call, time.perf_counter())


class Watchdog:
    """Calls ``on_stuck(method, seconds)`` once, from a thread of its own, when a call in flight has made no progress
    for longer than ``limit`` seconds."""

    def __init__(
        self,
        in_flight: InFlight,
        limit: float,
        on_stuck: Callable[[str, float], object],
        *,
        every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
        excused: Callable[[], bool] | None = None,
    ) -> None:
        """``excused``: whether calls wait on the database now, readiness saying it does not answer (such time is
        not counted, within bounds: ``stuck``)."""
        self._in_flight = in_flight
        self._excused = excused
        self._outage: tuple[float, float] | None = None
        """The first and the last check, on ``clock``, of the latest run of checks at which ``excused`` held."""
        self._was_excused = False
        self._waiting_said = False
        self._limit = limit
        self._on_stuck = on_stuck
        self._every = min(every, limit / 2)
        self._clock = clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zzgw-watchdog", daemon=True)

    def stuck(self) -> tuple[str, float] | None:
        """The method of a call without progress for longer than the limit and for how long in seconds, or None.
        A call is spared while its time before the latest outage (checks at which ``excused`` held, one after
        another) began and since it ended is each within the limit, and for ``EXCUSED_AT_MOST`` limits at most."""
        now = self._clock()
        excused = self._excused is not None and self._excused()
        if excused:
            began = self._outage[0] if self._was_excused and self._outage is not None else now
            self._outage = (began, now)
        else:  # the database answers: the next outage is said again
            self._waiting_said = False
        self._was_excused = excused
        oldest = self._in_flight.oldest()
        if oldest is None:
            return None
        method, progressed = oldest
        age = now - progressed
        if age <= self._limit:
            return None
        if age > EXCUSED_AT_MOST * self._limit:
            if self._outage is not None and now - self._outage[1] <= self._limit:
                log.warning(
                    "a call to %s has been in flight for %.0f s without progress, over %s times the limit (%s s), "
                    "though readiness says the database does not answer: stopping this process all the same",
                    method,
                    age,
                    EXCUSED_AT_MOST,
                    self._limit,
                )
            return method, age
        if (
            self._outage is not None
            and self._outage[0] - progressed <= self._limit
            and now - self._outage[1] <= self._limit
        ):
            if excused and not self._waiting_said:
                self._waiting_said = True
                log.warning(
                    "a call to %s has been in flight for %.0f s without progress (limit %s s), waiting on the "
                    "database, which readiness says does not answer: not stopping this process, which a restart "
                    "would not mend; the limit counts again once the database answers (%s times the limit at most)",
                    method,
                    age,
                    self._limit,
                    EXCUSED_AT_MOST,
                )
            return None
        return method, age

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        name_this_thread("zzgw-watchdog")
        while not self._stopped.wait(self._every):
            found = self.stuck()
            if found is not None:
                method, age = found
                log.error(
                    "a call to %s has been in flight for %.0f s without progress (limit %s s): this process is stuck; "
                    "stopping it so that it is replaced",
                    method,
                    age,
                    self._limit,
                )
                self._on_stuck(method, age)
                return
