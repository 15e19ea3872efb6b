"""A process whose calls stop finishing is stopped, so that it is replaced instead of serving nothing for ever.

A deadlock (two locks taken in opposite orders, a thread waiting for a writer that died) leaves a gateway process
up, listening, and answering health checks on a spare thread, while every call that reaches the stuck part waits
for good, and with it one handler thread after another. Such a process does not mend itself. The watchdog looks at
the unary calls in flight (``InFlight``, kept by the interceptor: a set add and a discard a call) every few seconds;
when one has run longer than ``stuck_call_seconds`` (setting ``ZZGW_STUCK_CALL_SECONDS``, 120 by default, 0 turns it
off) it logs the method and its age and stops the process the way a stop signal does, with the exit status
``EXIT_STUCK`` (70, EX_SOFTWARE). A supervised worker is then replaced by the supervisor; a single process is
restarted by its service manager (``Restart=on-failure``). No unary call of the gateway takes minutes in health:
its longest, a PDF's validation or sealing, takes seconds, and clients give up far sooner; streams (a batch
import, ``WatchLicenseChanges``) are not watched. A database lock held for that long (an operator's transaction)
stops processes too, one at a time per limit, which the log then says.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gateway.threads import name_this_thread

log = logging.getLogger("zzgw.watchdog")

EXIT_STUCK = 70
"""The exit status of a process stopped by its watchdog (sysexits' EX_SOFTWARE)."""

CHECK_EVERY_SECONDS = 5.0


class InFlight:
    """The unary calls in flight: objects with ``method`` (the gRPC method) and ``started`` (``time.perf_counter``),
    added when a call starts and discarded when it ends."""

    __slots__ = ("_calls", "latest")

    def __init__(self) -> None:
        self._calls: set[Any] = set()
        self.latest: float | None = None
        """When the newest call started (``time.perf_counter``); None before the first. A stopping process takes
        calls until none has started for a moment (``gateway.health.wait_until_quiet``)."""

    def add(self, call: Any) -> None:
        self._calls.add(call)
        self.latest = call.started

    def discard(self, call: Any) -> None:
        self._calls.discard(call)

    def oldest(self) -> tuple[str, float] | None:
        """The method of the call in flight longest and when it started; None when none is."""
        calls = list(self._calls)  # one step under the GIL: the handler threads may add and discard meanwhile
        if not calls:
            return None
        oldest = min(calls, key=lambda call: call.started)
        return oldest.method, oldest.started


class Watchdog:
    """Calls ``on_stuck(method, seconds)`` once, from a thread of its own, when a call has been in flight longer
    than ``limit`` seconds."""

    def __init__(
        self,
        in_flight: InFlight,
        limit: float,
        on_stuck: Callable[[str, float], object],
        *,
        every: float = CHECK_EVERY_SECONDS,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._in_flight = in_flight
        self._limit = limit
        self._on_stuck = on_stuck
        self._every = min(every, limit / 2)
        self._clock = clock
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="zzgw-watchdog", daemon=True)

    def stuck(self) -> tuple[str, float] | None:
        """The method of a call in flight longer than the limit and its age in seconds, or None."""
        oldest = self._in_flight.oldest()
        if oldest is None:
            return None
        method, started = oldest
        age = self._clock() - started
        return (method, age) if age > self._limit else None

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
                    "a call to %s has been in flight for %.0f s (limit %s s): this process is stuck; stopping it "
                    "so that it is replaced",
                    method,
                    age,
                    self._limit,
                )
                self._on_stuck(method, age)
                return
