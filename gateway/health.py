"""Readiness: whether this process should be sent new calls. It is when its database answers, its store's catalog is
the one it serves (``NotReady``, ``CATALOG_CHANGED``), a dev-mode process's store was not switched to production
(``MODE_CHANGED``) and it is not stopping.

gRPC health (``grpc.health.v1``, ``HealthServicer`` here) and the HTTP side's ``/readyz`` answer from it; the HTTP
side's ``/healthz`` does not (liveness: the process is up, whatever its database), so that a supervisor does not
restart a process whose database is down, which a restart would not mend.

A thread of its own (``zzgw-health``) has the database checked every ``CHECK_EVERY_SECONDS``: on SQLite the file at
the path must be the one the process opened (``Database.check_store_file``), and it is opened anew (as it exists now,
never created), its schema's version read and a write tried, then rolled back (``DATABASE_READ_ONLY`` if the file takes
none: ``_takes_writes``); on PostgreSQL a query runs on a
connection of the pool (checked by the pool first, so a lost one is replaced; every ``NEW_CONNECTION_EVERY`` checks,
and each while they fail, a new one of its own, so that new connections refused are seen) that also asks whether the
database takes writes (not a standby, not read-only: ``DATABASE_READ_ONLY`` else). The check runs on a second thread
(``zzgw-health-db``), so a database that hangs (a frozen server, a network that drops packets) cannot hang the answer:
a check not answered within ``CHECK_TIMEOUT_SECONDS`` makes the process not ready until one is. Probes read the last
outcome and never touch the database, so however many a load balancer sends, a process asks its database once a
second.

gRPC health ``Check`` runs on threads of its own (``CheckThreads``), not on the process's handler threads: calls stuck
on a frozen database had held every handler thread, and a balancer's ``Check`` had timed out, as from a hung process,
while ``/readyz`` answered 503 at once (a multi-replica tester). Its request message must come within
``CHECK_REQUEST_SECONDS``, so that calls which never send it hold those threads a second, not ten.

On a stop signal the process is not ready for good (``drain``: ``STOPPING``) while it still takes calls for a moment
(``wait_until_quiet``), so that balancers move new calls elsewhere before the port closes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import text

from gateway.api.arrival import RequestArrival
from gateway.api.errors import to_status
from gateway.api.slots import StreamPool, StreamSlots
from gateway.domain.errors import ResourceExhaustedError, ZzgwError
from gateway.store.database import Database, store_busy, store_unwritable
from gateway.threads import name_this_thread

log = logging.getLogger("zzgw.health")

CHECK_EVERY_SECONDS = 1.0
"""How often a process checks its database: at most one check a second, whatever the probes."""
NEW_CONNECTION_EVERY = 5
"""PostgreSQL: every this many checks (and at each while they fail), the check opens a connection of its own rather
than draw one of the pool, so that a database refusing new connections is not ready (``database_check``)."""
CHECK_TIMEOUT_SECONDS = 2.0
"""A check not answered within this is a database that does not answer: not ready until one is."""
WAKE_EVERY_SECONDS = 1.0
"""How often a health ``Watch`` looks whether its client is gone, besides being told."""
CHECK_METHOD = "/grpc.health.v1.Health/Check"
CHECK_THREADS = 8
"""The threads that answer health ``Check`` (``CheckThreads``): it reads the last outcome and returns, and idle
threads cost nothing, so eight, each held at most ``CHECK_REQUEST_SECONDS`` (and a wake of the watcher's) by a call
that never sends its message. Two had been held for ``ZZGW_GRPC_REQUEST_SECONDS`` (10 s or more) by two such calls,
and every balancer's ``Check`` timed out meanwhile (a reviewer, R2)."""
CHECK_REQUEST_SECONDS = 1.0
"""How long ``Check``'s request message may take to come (``CheckThreads``): a few bytes, sent with the call's
headers, so a second is plenty on any link; not ``ZZGW_GRPC_REQUEST_SECONDS``, which is sized for the largest
request message a slow link uploads."""
CHECK_THREAD_NAME = "zzgw-health-chk"


@dataclass(frozen=True)
class State:
    """Whether the process is ready; when not, why: a ``reason`` (a code that stays) and a ``message``."""

    ready: bool
    reason: str = ""
    message: str = ""

    def http_answer(self) -> tuple[int, bytes]:
        """``/readyz``'s status and JSON body: 200 ``{"ready": true}``, or 503 with the reason and a message. The
        message never quotes the database's error (the log has it): the HTTP side may face the network."""
        if self.ready:
            return 200, b'{"ready": true}\n'
        body = {"ready": False, "reason": self.reason, "message": self.message}
        return 503, json.dumps(body).encode() + b"\n"


READY = State(True)
STARTING = State(False, "STARTING", "the database has not been checked yet")
STOPPING = State(False, "STOPPING", "the process is stopping: calls in flight finish, new ones go elsewhere")


class NotReady(Exception):
    """What a check raises to say, in words of its own, that the process should not be sent calls though its
    database answers (``CATALOG_CHANGED``: ``gateway.services.catalog_pin``): ``/readyz`` gives its reason and
    message, and the log the message alone."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.state = State(False, reason, message)


NOT_ANSWERING = "DATABASE_NOT_ANSWERING"
"""The reason of a database that has not answered a check within ``CHECK_TIMEOUT_SECONDS``."""


UNAVAILABLE = "DATABASE_UNAVAILABLE"
"""The reason of a database whose check failed (unreachable, refusing connections, a connect timed out)."""
DATABASE_AWAY = frozenset({NOT_ANSWERING})
"""The reasons that say calls waiting on the store wait on the database, not on this process (``gateway.watchdog``).
Not ``UNAVAILABLE``: it also says the database refuses new connections while the process's sessions answer, a call on
one waiting on a lock, not on the database (a reviewer, opsfix R1)."""


def _unavailable() -> State:
    return State(False, UNAVAILABLE, "the database check failed: calls that use the store would fail")


def _not_answering(timeout: float) -> State:
    return State(False, NOT_ANSWERING, f"the database has not answered a check within {timeout:g} s")


def database_check(db: Database) -> Callable[[], object]:
    """A cheap check that this process reaches ``db``: raises when it does not."""
    path = db.engine.url.database if db.dialect == "sqlite" else None
    if path and path != ":memory:":
        # The file as it is now: a connection of the pool holds the file it opened, even one deleted, renamed or
        # on a volume gone; a new connection (the pool's next, another worker's) opens the path. mode=rw: a missing
        # file is an error, not a new empty database.
        uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=rw"

        def check_file() -> object:
            # the file at the path must be the one this process opened: one moved over it (a backup) would answer
            # the check below while every write is refused (``StoreGone``)
            db.check_store_file()
            # a lock in the way (rare for a reader in WAL mode) fails the check before the check's own time is up
            connection = sqlite3.connect(uri, uri=True, timeout=CHECK_TIMEOUT_SECONDS / 2, isolation_level=None)
            try:
                version = connection.execute("SELECT version_num FROM alembic_version").fetchone()
                _takes_writes(connection)
                return version
            finally:
                connection.close()

        return check_file

    read_only = db.dialect == "postgresql"
    took_no_writes = False
    """The last check found the database taking no writes (read by the one checking thread)."""
    checks = 0
    failed = False
    """The last check did not answer that the database takes calls."""

    def check_pool() -> object:
        nonlocal took_no_writes, checks, failed
        checks += 1
        # A session of the pool goes on answering after the database stops taking new ones (ALLOW_CONNECTIONS false,
        # max_connections reached, the role's login withdrawn): the process had stayed ready while every call that
        # needed one more session failed (a reviewer, opshttp R2). Every NEW_CONNECTION_EVERY checks, and at each
        # while they fail, the check opens a connection of its own, outside the pool (closed after), so that
        # readiness does not come back on a session still open while new ones are refused.
        fresh = read_only and (failed or checks % NEW_CONNECTION_EVERY == 0)
        failed = True
        # while the database takes no writes, the check's own session is a new one each time (one begun read-only
        # never shows writes come back); the pool's others are kept, as read-only as new ones would be: all of them
        # renewed at every check had been the pool's sessions opened again each second (a reviewer, R2 of 3995dec)
        opening = db.new_connection if took_no_writes else db.kept_engine.connect if fresh else db.engine.connect
        with opening() as connection:
            if not read_only:
                return connection.execute(text("SELECT 1")).scalar()
            # a database that answers and takes no writes (``default_transaction_read_only``, a standby the URL
            # reaches after a failover) had been ready while every write failed (a reviewer, R2)
            if connection.execute(text(_TAKES_NO_WRITES)).scalar():
                # renewed as the database stops taking writes, and once more as it takes them again (below): none
                # of the sessions begun until then refuses a write afterwards
                if not took_no_writes:
                    took_no_writes = True
                    db.renew_connections()
                raise NotReady(
                    "DATABASE_READ_ONLY",
                    "the database takes no writes (read-only, or a standby): calls that write would fail",
                )
        if took_no_writes:  # those begun since the last check took no writes may be read-only: replaced as well
            took_no_writes = False
            db.renew_connections()
        failed = False
        return True

    return check_pool


def _takes_writes(connection: sqlite3.Connection) -> None:
    """Raise ``NotReady`` (``DATABASE_READ_ONLY``) unless the SQLite store takes a write: one row changed to itself
    and rolled back, which SQLite keeps in memory (nothing reaches the file, nor wakes the change feed). A volume
    remounted read-only, or the file made read-only, fails it (SQLite opens such a file read-only): every write had
    failed while the process was ready (a reviewer, R2). The store held by another writer is not this check's
    (docs/operations.md: What readiness does not cover): the write lock is asked for once, without waiting."""
    connection.execute("PRAGMA busy_timeout = 0")
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.execute("UPDATE alembic_version SET version_num = version_num")
        finally:
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if store_busy(exc):
            return
        if not store_unwritable(exc):
            raise
        raise NotReady(
            "DATABASE_READ_ONLY",
            "the store file takes no writes (its volume read-only or failing): calls that write would fail",
        ) from exc


_TAKES_NO_WRITES = "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'"
"""PostgreSQL: whether this session can write nothing, a standby's (in recovery) or read-only by default."""


def _said(error: BaseException) -> str:
    """An error in one line for the log (its class and the first line of its text, clipped)."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first[:300]}"


class Readiness:
    """The process's readiness, kept by checking the database in the background (see the module docstring)."""

    def __init__(
        self,
        check: Callable[[], object],
        *,
        every: float = CHECK_EVERY_SECONDS,
        timeout: float = CHECK_TIMEOUT_SECONDS,
    ):
        self._check = check
        self._every = every
        self._timeout = timeout
        self._state = STARTING
        self._changed = threading.Condition()
        self._draining = False
        self._closed = False
        """Health watches end (the server stops)."""
        self._stopped = threading.Event()
        self._wanted = threading.Event()
        """A check is asked of the checking thread."""
        self._answered = threading.Event()
        self._outcome: BaseException | None = None
        self._asked = False
        """A check is asked and not answered yet (read and written by one thread at a time: ``start``, then the
        monitor)."""
        self._overdue = False
        """The check asked has been published as not answering (``_look``, alike)."""
        self._started = False
        self._monitor = threading.Thread(target=self._watch_database, name="zzgw-health", daemon=True)
        self._prober = threading.Thread(target=self._run_checks, name="zzgw-health-db", daemon=True)

    @property
    def state(self) -> State:
        return self._state

    @property
    def ready(self) -> bool:
        return self._state.ready

    def start(self) -> None:
        """Check once before returning (so that the first probe is answered truly), then every ``every`` seconds."""
        if self._started:
            return
        self._started = True
        self._prober.start()
        self._look()
        self._monitor.start()

    def stop(self) -> None:
        """Stop checking and end the health watches. A check that hangs is left to its (daemon) thread."""
        self.close_watches()
        self._stopped.set()
        self._wanted.set()
        self._answered.set()
        if self._monitor.is_alive():
            self._monitor.join(1.0)

    def drain(self) -> None:
        """Not ready from now on, whatever the database (``STOPPING``): the process is stopping."""
        with self._changed:
            self._draining = True
            self._state = STOPPING
            self._changed.notify_all()

    def close_watches(self) -> None:
        """End every health watch (``states``): the server is about to stop, and a stream left open would hold
        its stop until the grace ends."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def wake(self) -> None:
        """Have every ``states`` look at its ``until`` now (a watching client has gone)."""
        with self._changed:
            self._changed.notify_all()

    def states(self, until: Callable[[], bool]) -> Iterator[State]:
        """The state now, then each new one, until ``until()`` or ``close_watches``."""
        seen: State | None = None
        while not until():
            with self._changed:
                if self._state is seen and not self._closed:
                    self._changed.wait(WAKE_EVERY_SECONDS)
                state, closed = self._state, self._closed
            if closed:
                return
            if state is not seen:
                seen = state
                yield state

    # --- the checking threads ---------------------------------------------------------------------------------

    def _watch_database(self) -> None:
        name_this_thread("zzgw-health")
        while not self._stopped.wait(self._every):
            self._look()

    def _look(self) -> None:
        """Ask for a check (unless the last one asked is still running) and publish what it says within the
        timeout; a check still running past it is a database that does not answer."""
        if not self._asked:
            self._asked = True
            self._overdue = False
            self._answered.clear()
            self._wanted.set()
        if not self._answered.wait(self._timeout):
            self._overdue = True
            self._publish(_not_answering(self._timeout), None)
            return
        if self._stopped.is_set():
            return
        self._asked = False
        error = self._outcome
        if isinstance(error, NotReady):
            self._publish(error.state, None)
            return
        if error is not None and self._overdue:
            # failed after it had been said not to answer (a connect's own time-out on a server that accepts and
            # never answers): still not answering; it had been published DATABASE_UNAVAILABLE, the next check
            # pending again, the process flipping between the two with a WARNING each time, for as long as the
            # outage lasted (a reviewer, opshttp R5)
            self._publish(_not_answering(self._timeout), None)
            return
        self._publish(READY if error is None else _unavailable(), error)

    def _run_checks(self) -> None:
        name_this_thread("zzgw-health-db")
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopped.is_set():
                return
            try:
                self._check()
                self._outcome = None
            except Exception as exc:  # any failure to reach the store is the answer, not a defect of this thread
                self._outcome = exc
            self._answered.set()

    def _publish(self, state: State, error: BaseException | None) -> None:
        with self._changed:
            if self._draining or state == self._state:
                return
            before, self._state = self._state, state
            self._changed.notify_all()
        if not state.ready:
            log.warning("not ready (%s): %s%s", state.reason, state.message, f" ({_said(error)})" if error else "")
        elif before.reason.startswith("DATABASE_"):
            log.info("ready again: the database answers")
        elif before is not STARTING:
            # a check's own reason (CATALOG_CHANGED, the catalog adopted back) had been said as a database incident,
            # the database having answered throughout (a reviewer of upgrades, R4)
            log.info("ready again: %s ended (the database answered throughout)", before.reason)


def wait_until_quiet(
    latest: Callable[[], float | None],
    *,
    quiet: float,
    longest: float,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], object] = time.sleep,
) -> float:
    """Wait until no call has started for ``quiet`` seconds (``latest``: when the newest call started, on
    ``clock``; None for none yet), counting from now, or ``longest`` seconds at most; the seconds waited."""
    start = clock()
    end = start + longest
    while True:
        now = clock()
        last = max(start, latest() or start)
        if now - last >= quiet or now >= end:
            return now - start
        sleep(max(0.01, min(last + quiet, end) - now))


class HealthServicer(health_pb2_grpc.HealthServicer):
    """``grpc.health.v1.Health`` from ``Readiness``: the whole server (``""``) and each of ``services`` SERVING
    when ready, else NOT_SERVING; another service is NOT_FOUND (``Check``) or SERVICE_UNKNOWN (``Watch``), as
    ``grpc_health``'s own servicer answers. A ``Watch`` sends each change and ends when the server stops.

    Each open ``Watch`` holds one of the process's handler threads, as a ``WatchLicenseChanges`` stream does: at most
    ``max_watches`` are open at once (``health_watches``, and within the process's long ``streams``), one more is
    RESOURCE_EXHAUSTED. Sixteen of them, which
    needed no credentials, had taken every handler thread: the process answered nothing, ``Check`` included, while
    ``/readyz`` said ready (found by a soak tester)."""

    def __init__(
        self,
        readiness: Readiness,
        services: Iterable[str],
        *,
        max_watches: int = 4,
        streams: StreamPool | None = None,
    ):
        self._readiness = readiness
        self._services = frozenset(("", *services))
        self._watches = StreamSlots(
            max_watches,
            max_watches,
            lambda _n, _h: _watches_full(max_watches),
            lambda: _watches_full(max_watches),
            streams,
            "health",
        )

    def Check(self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> Any:
        if request.service not in self._services:
            context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=_status(self._readiness.state))

    def Watch(self, request: health_pb2.HealthCheckRequest, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            release = self._watches.take()
        except ZzgwError as refused:
            context.abort_with_status(to_status(refused))  # raises: the call ends here
        if not context.add_callback(release):  # freed however the stream ends, as the other kinds' are (review)
            release()
            return
        try:
            known = request.service in self._services
            context.add_callback(self._readiness.wake)  # a client gone ends its watch at once
            sent = None
            for state in self._readiness.states(until=lambda: not context.is_active()):
                status = _status(state) if known else health_pb2.HealthCheckResponse.SERVICE_UNKNOWN
                if status != sent:
                    sent = status
                    yield health_pb2.HealthCheckResponse(status=status)
        finally:
            release()


class CheckThreads(grpc.ServerInterceptor):
    """Has health ``Check`` answered on ``CHECK_THREADS`` threads of its own, never waiting for a handler thread: just
    inside the server's ``RequestArrival``, it gives the handler the others made grpcio's per-method pool
    (``experimental_thread_pool``, which ``grpc_health``'s own servicer gives its ``Watch``). Calls waiting on a
    database that hangs had held every handler thread, and ``Check`` had timed out while ``/readyz`` answered at once
    (a multi-replica tester). A ``Watch`` still holds a handler thread (``HealthServicer``).

    ``Check``'s request message must come within ``CHECK_REQUEST_SECONDS`` (a ``RequestArrival`` of its own, so the
    server's, outside, finds the method request-streaming and leaves it be): with the server's time, two calls that
    sent their headers and never the message had held both threads for 10 s, and every balancer's ``Check`` timed
    out meanwhile (a reviewer, R2). As many such calls as there are threads still delay ``Check`` by about a second,
    a round at a time."""

    def __init__(self, threads: int = CHECK_THREADS, request_seconds: float = CHECK_REQUEST_SECONDS):
        self._pool = futures.ThreadPoolExecutor(
            max_workers=threads,
            thread_name_prefix="health-check",
            initializer=name_this_thread,
            initargs=(CHECK_THREAD_NAME,),
        )
        self._arrival = RequestArrival(request_seconds, bound_by="health Check's own")

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(details)
        if handler is None or details.method != CHECK_METHOD:
            return handler
        # the handler of each call is its own (``RequestArrival`` binds the call's arrival): a partial of its
        # behaviour carries the pool, where grpc's server looks for it
        handler = self._arrival.intercept_service(lambda _: handler, details)
        assert handler is not None and handler.stream_unary is not None  # Check, unary, served as request-streaming
        behaviour = functools.partial(handler.stream_unary)
        behaviour.experimental_thread_pool = self._pool  # type: ignore[attr-defined]
        return handler._replace(stream_unary=behaviour)

    def close(self) -> None:
        """End the threads and the watcher of ``Check``'s request messages (the server has stopped)."""
        self._arrival.close()
        self._pool.shutdown(wait=False, cancel_futures=True)


def _watches_full(most: int) -> ZzgwError:
    return ResourceExhaustedError(
        f"证照网关的这个进程上的健康状态订阅已达上限{most}个：请用 Check 轮询"
        f"（too many health watches on this gateway process ({most}): poll Check instead）",
        reason="TOO_MANY_HEALTH_WATCHES",
    )


def health_watches(threads: int, max_watchers: int) -> int:
    """How many health ``Watch`` streams a process holds at once: up to 4, leaving at least one handler thread
    besides them and the ``WatchLicenseChanges`` streams (``ZZGW_MAX_WATCHERS``, below ``ZZGW_THREADS``) for calls."""
    return max(0, min(4, threads - max_watchers - 1))


def _status(state: State) -> Any:
    return health_pb2.HealthCheckResponse.SERVING if state.ready else health_pb2.HealthCheckResponse.NOT_SERVING
