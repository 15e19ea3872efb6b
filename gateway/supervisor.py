"""Several gateway processes on one port (``ZZGW_WORKERS`` > 1): started, watched, restarted, stopped together.

A worker that fails at the gateway's start, before it serves (a port taken, a bad key file), stops the others and the
command exits with its status, as one process would; so does a replacement that exits with any status but the store
unavailable (``EXIT_STORE_UNAVAILABLE``). A worker that dies while serving (killed, out of memory) is logged and
replaced; one that keeps dying (``MAX_RESTARTS`` in a minute) stops the whole gateway rather than loop. A replacement
that cannot reach the store as it starts (the database down for a while, as when it restarts or fails over; the store
that was there at the gateway's start gone from its path, or refusing the gateway's role, or its SQLite file taking
no writes for now, its volume read-only, which the worker says with ``EXIT_STORE_UNAVAILABLE`` too), or that is
killed as it starts (SIGKILL or SIGTERM: the OOM killer, ``kill -9``; SIGBUS, /dev/shm full; not a crash, SIGSEGV or
SIGABRT, which is a defect), is tried again after 1, 2, 4 … up to ``RETRY_MOST`` seconds while the other workers
serve on: they become ready again by themselves once the database answers, and stopping them too had taken the whole
gateway down for one worker's death during a database outage, or for a second ``kill -9``. So is a replacement whose
store adopted another catalog since the gateway started (``zzgw init --adopt-catalog``), which only the gateway's
restart lets serve; once every worker is such a replacement, none serving, the gateway stops with
``EXIT_STORE_UNAVAILABLE`` for its service manager to start it again on that catalog, rather than try for ever with
nothing listening. A worker whose call is stuck stops itself (``gateway.watchdog``, exit status 70) and is replaced
the same way; one that runs nothing at all (frozen, stopped, hung with the GIL held), its heartbeat silent past
``SILENCE_SECONDS``, is killed (SIGKILL) and replaced as one killed while serving. SIGTERM and SIGINT are passed on
to every worker, which finish their calls in flight (``server.GRACE_SECONDS``); one still running past
``STOP_DEADLINE_SECONDS`` (frozen, stopped) is killed, and the command exits 1. A worker whose supervisor is gone
stops the same way, saying so.
Once a worker has served, one of the gateway's first workers killed as it starts (SIGKILL, SIGTERM, SIGBUS) is tried
again the same way.

The workers write their metrics to a directory of this run's on ``/dev/shm`` (``<data_dir>/metrics/``, emptied at
start, on a machine without it; ``gateway.metrics.prepare_directory``), so that a scrape answered by any worker counts
the whole gateway; a worker that exits leaves its gauges out. On PostgreSQL they share a change counter there too
(``gateway.store.changes``): a change made through one worker is seen by the very next call on any other.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import make_url

from gateway import metrics
from gateway.config import WORKER_SILENCE_SECONDS, ConfigError, Settings
from gateway.threads import name_this_thread

log = logging.getLogger("zzgw.supervisor")

MAX_RESTARTS = 5
"""Workers replaced within a minute before the supervisor gives up and stops the gateway."""
EXIT_STORE_UNAVAILABLE = 75
"""A worker's exit status when the store cannot be reached as it starts (EX_TEMPFAIL), and ``zzgw serve``'s for the
same at the gateway's start: the one exit status of a replacement that is tried again (SIGKILL or SIGTERM that kills
it is too); any other (a crash by another signal, a setting, a key file, a defect) stops the gateway as at its start."""
RETRY_MOST = 30.0
"""Seconds, at most, between two tries to start a replacement worker that could not start."""
STOP_DEADLINE_SECONDS = 21.0
"""Seconds after a stop began (a signal, or a worker's failure that stops the gateway) past which the supervisor kills
(SIGKILL) a worker still running, says so and exits 1: a worker's own deadline (``server.STOP_DEADLINE_SECONDS``,
20 s) is a Python timer, which a process that runs nothing at all (frozen, stopped by SIGSTOP, its GIL held in C)
never fires, and the supervisor had waited on such a worker for ever (a reviewer, R3). A second more than the
worker's own, so that a worker that can still run exits by itself first, with its own line."""
STOP_WAIT_AFTER_KILL_SECONDS = 2.0
"""Seconds the supervisor waits, at most, for a worker it killed to be gone (one in uninterruptible I/O dies only
when its I/O ends) before exiting without it."""
HEARTBEAT_SECONDS = 1.0
"""Seconds between two stamps of a worker's heartbeat (``Ready.keep_beating``)."""
SILENCE_SECONDS = float(WORKER_SILENCE_SECONDS)
"""Seconds a ready worker's heartbeat may stay silent before the supervisor kills it (SIGKILL) to have it replaced:
frozen (SIGSTOP, a cgroup frozen), or hung with the GIL held in C code, it took about half the new connections (the
kernel spreads SO_REUSEPORT connections over the workers) and answered none, while the others said the gateway
ready (a reviewer, R3). Thirty beats missed in a row: a worker that runs at all stamps every second from a thread of
its own, which needs the GIL for microseconds; a 2-core machine running the tests in parallel, or a worker's start
importing and opening its store under that load, delays a beat by a few seconds at most, and the watchdog
(``ZZGW_STUCK_CALL_SECONDS``, 120 s) stops a process whose calls are stuck but which still runs. Its cost is the
time a frozen worker keeps taking connections before it is replaced. The setting ``worker_silence_seconds``
(``ZZGW_WORKER_SILENCE_SECONDS``, 3 to 3600) sets it (docs/operations.md, Workers that die)."""
_SUPERVISOR_PAUSED_SECONDS = 3.0
"""A gap between two rounds of the supervisor's loop (one a second at least) past which it was itself stopped or
starved (``zzgw serve`` stopped whole by Ctrl-Z or a frozen cgroup, then continued): the workers' silence meanwhile is
not theirs, and is counted again from the round after."""
METRICS_DIRECTORY = "metrics"
"""The workers' metrics files under the data directory, on a machine without ``/dev/shm`` (prometheus_client's
multiprocess mode)."""

Worker = Callable[[Settings, int, bool, Any, bool], None]
"""(settings, worker number, announce the addresses, a ``Ready`` to set once serving, a replacement: started after
the gateway served, in place of a worker that died, when the store it cannot find or open had been there at the
gateway's start and is to be waited for, ``EXIT_STORE_UNAVAILABLE``)."""


class Ready:
    """A worker's word that it serves: set by the worker, read by the supervisor, one byte of shared memory; a
    replacement's that only the gateway's restart lets it serve (``restart_needed``), one more; and the worker's
    heartbeat (``keep_beating``), a double: its last ``time.monotonic()``, which is the system's on Linux, the same
    clock in every process.

    Not a ``multiprocessing.Event``: that is five named POSIX semaphores, which a supervisor killed by ``kill -9``
    never unlinks, and multiprocessing's resource tracker then said at exit "There appear to be 10 leaked semaphore
    objects" (two workers). This memory is an unlinked file, gone with the last process that maps it."""

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self._flag = context.RawValue(ctypes.c_bool, False)
        self._restart = context.RawValue(ctypes.c_bool, False)
        self._beat = context.RawValue(ctypes.c_double, 0.0)

    def set(self) -> None:
        self._flag.value = True

    def is_set(self) -> bool:
        return bool(self._flag.value)

    def restart_needed(self) -> None:
        """Said by a replacement that exits ``EXIT_STORE_UNAVAILABLE`` because the store's gateways serve another
        catalog since this gateway started (``zzgw init --adopt-catalog``): no later try serves, only a restart."""
        self._restart.value = True

    def needs_restart(self) -> bool:
        return bool(self._restart.value)

    def keep_beating(self) -> None:
        """In the worker, as it starts: stamp the heartbeat now and every ``HEARTBEAT_SECONDS`` from a daemon thread
        of its own (``zzgw-heartbeat``), for as long as the process runs anything at all."""
        self._beat.value = time.monotonic()

        def beat() -> None:
            name_this_thread("zzgw-heartbeat")
            while True:
                time.sleep(HEARTBEAT_SECONDS)
                self._beat.value = time.monotonic()

        threading.Thread(target=beat, name="zzgw-heartbeat", daemon=True).start()

    def last_beat(self) -> float:
        """The worker's last heartbeat (``time.monotonic()``), 0.0 before its first."""
        return float(self._beat.value)


@dataclass(slots=True)
class _Running:
    number: int
    process: multiprocessing.process.BaseProcess
    ready: Ready
    failed_starts: int = 0
    """For a replacement: how many replacements of this worker before it failed to start in a row."""
    silenced: bool = False
    """Killed by the supervisor for its heartbeat's silence (``SILENCE_SECONDS``), its exit not seen yet."""


def _started(worker: Worker, settings: Settings, number: int, announce: bool, ready: Ready, replacement: bool) -> None:
    """A worker process's start: its heartbeat first (``Ready.keep_beating``), then ``worker``."""
    ready.keep_beating()
    worker(settings, number, announce, ready, replacement)


def stop_with_parent() -> None:
    """In a worker: stop (SIGTERM, the usual stop) when the supervisor dies, however it dies (``kill -9`` included),
    rather than serve on unsupervised beside the next gateway started on the port (Linux ``PR_SET_PDEATHSIG``).

    The kernel sends ``PARENT_GONE``, not SIGTERM itself, so that the log says why the worker stops: a bare "signal
    15: stopping" from every worker did not tell the operator that the supervisor had died."""
    parent = multiprocessing.parent_process()
    supervisor = parent.pid if parent is not None and parent.pid is not None else os.getppid()
    signal.signal(PARENT_GONE, lambda *_: _parent_gone(supervisor))
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, PARENT_GONE)
    except (OSError, AttributeError):  # not Linux: the supervisor's own stop still reaches the workers
        return
    if os.getppid() != supervisor:  # it died before the request took effect (a subreaper may be the parent now)
        _parent_gone(supervisor)


PARENT_GONE = signal.SIGUSR2
"""The signal a worker is sent when its supervisor dies."""
_PR_SET_PDEATHSIG = 1


def _parent_gone(supervisor: int) -> None:
    if os.getppid() != supervisor:  # else a stray SIGUSR2, which used to end the worker: stopped the usual way
        log.warning("the supervisor (pid %d) is gone: stopping", supervisor)
    signal.raise_signal(signal.SIGTERM)


def supervise(
    settings: Settings,
    worker: Worker,
    *,
    stop_deadline: float = STOP_DEADLINE_SECONDS,
    stop_asked: Callable[[], object] = lambda: False,
) -> int:
    """Run ``settings.workers`` processes of ``worker`` until a signal stops them; the exit status. A worker still
    running ``stop_deadline`` seconds after the stop began is killed (``STOP_DEADLINE_SECONDS``). ``stop_asked``:
    whether a stop signal came before this function's handlers (``server.StopAsked``): then no worker starts."""
    claims = _claim_ports(settings)
    try:
        return _supervise(settings, worker, stop_deadline, stop_asked)
    finally:
        for claim in claims:
            claim.close()


def _claim_ports(settings: Settings) -> list[socket.socket]:
    """One supervised gateway per port on a machine: its workers bind both its ports with SO_REUSEPORT, so a second
    gateway's workers would silently share either (and clients land on two stores at random: a console, a
    readiness probe, a metrics scrape, a department fetching a CRL). The HTTP port had not been claimed: a second
    gateway on it started without a word (a reviewer). Ports, not addresses: 0.0.0.0 and 127.0.0.1 overlap, and a
    gRPC and an HTTP listener on one port share it as well. The claims are abstract Unix sockets named after the
    ports, released when the process ends, however it ends. A port by its number: written ``048521``, it had been
    claimed as another, and a second gateway on it started and shared it (a reviewer, R3)."""
    grpc_port, http_port = (int(address.rpartition(":")[2]) for address in (settings.grpc_addr, settings.http_addr))
    if grpc_port == http_port != 0:
        raise ConfigError(
            f"ZZGW_GRPC_ADDR and ZZGW_HTTP_ADDR name the same port ({grpc_port}): give each a port of its own"
        )
    claims: list[socket.socket] = []
    try:
        for setting, port in (("ZZGW_GRPC_ADDR", grpc_port), ("ZZGW_HTTP_ADDR", http_port)):
            if (claim := _claim_port(port, setting)) is not None:
                claims.append(claim)
    except ConfigError:
        for claim in claims:
            claim.close()
        raise
    return claims


def _claim_port(port: int, setting: str) -> socket.socket | None:
    """The claim of ``port`` (None for 0, a port the system picks), or a ConfigError naming ``setting``."""
    if port == 0:
        return None
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind(f"\0zzgw-serve-port-{port}")
    except OSError:
        claim.close()
        raise ConfigError(
            f"another zzgw gateway with several workers serves port {port} already: {setting} must name a port "
            "of its own"
        ) from None
    return claim


def _supervise(settings: Settings, worker: Worker, stop_deadline: float, stop_asked: Callable[[], object]) -> int:
    silence = float(settings.worker_silence_seconds)
    context = multiprocessing.get_context("spawn")
    # before any worker starts: they read it as they import
    metrics_directory = metrics.prepare_directory(settings.data_dir / METRICS_DIRECTORY)
    if make_url(settings.effective_database_url).get_backend_name() == "postgresql":
        # the workers' change counter beside their metrics (the run's own): the very next call on any worker sees a
        # change made through another, as on SQLite, not only once the NOTIFY arrives (``gateway.store.changes``).
        # Imported here, not with this module: each worker process imports this module first (its start, ``_started``,
        # is this module's), and the store's modules with it had cost ~1.5 s of CPU a start of a worker that needs
        # none of them (the tests' own workers for ``supervise``); the supervisor of ``zzgw serve`` has them already
        from gateway.store.changes import ChangeFeed

        ChangeFeed.share_counter(metrics_directory)

    def start(number: int, *, announce: bool, failed_starts: int = 0, replacement: bool = False) -> _Running:
        ready = Ready(context)
        process = context.Process(
            target=_started,
            args=(worker, settings, number, announce, ready, replacement),
            name=f"zzgw-worker-{number}",
        )
        process.start()
        if process.pid is not None:
            metrics.process_started(metrics_directory, str(number), process.pid)
        return _Running(number, process, ready, failed_starts)

    running: dict[int, _Running] = {}
    replacing: set[int] = set()  # workers started again since the gateway served
    retry_at: dict[int, tuple[float, int]] = {}  # a replacement to try again: when, and its failed starts so far
    awaiting_restart: set[int] = set()  # of those, the ones that only the gateway's restart lets serve (``Ready``)
    served = False
    stopping = False
    stop_began = 0.0
    killed = False
    status = 0
    looked = time.monotonic()  # the supervisor's last round
    heard_from = looked  # silence before it is not the workers' own (``_SUPERVISOR_PAUSED_SECONDS``)

    def stop_all(_signum: int = 0, _frame: Any = None) -> None:
        nonlocal stopping, stop_began
        if not stopping:
            stop_began = time.monotonic()
        stopping = True
        for each in running.values():
            if each.process.pid and each.process.exitcode is None:
                os.kill(each.process.pid, signal.SIGTERM)

    def stop_if_stopping(each: _Running) -> None:
        """A worker started while a stop signal came (its handler signalled only the workers it saw): stopped too,
        else the supervisor would wait for ever on a worker nobody told to stop."""
        if stopping and each.process.pid and each.process.exitcode is None:
            os.kill(each.process.pid, signal.SIGTERM)

    # the handlers before any worker starts: a signal meanwhile stops those started (``stop_if_stopping``), and one
    # that came before (``stop_asked``) starts none
    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
    if stop_asked():
        stop_all()
    for number in range(settings.workers):
        if stopping:
            break
        running[number] = start(number, announce=number == 0)
        stop_if_stopping(running[number])
    restarts: collections.deque[float] = collections.deque()
    while running or (retry_at and not stopping):
        if stopping and running and time.monotonic() - stop_began >= stop_deadline:
            if not killed:
                killed = True
                status = status or 1
                for number, each in running.items():
                    if each.process.pid and each.process.exitcode is None:
                        log.error(
                            "worker %d (pid %d) still running %g s after stopping began: killed (SIGKILL)",
                            number,
                            each.process.pid,
                            stop_deadline,
                        )
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(each.process.pid, signal.SIGKILL)
            elif time.monotonic() - stop_began >= stop_deadline + STOP_WAIT_AFTER_KILL_SECONDS:
                log.error(
                    "worker(s) %s still there %g s after being killed: exiting without them",
                    ", ".join(str(each.process.pid) for each in running.values()),
                    STOP_WAIT_AFTER_KILL_SECONDS,
                )
                break
        waiting = min((at for at, _ in retry_at.values()), default=time.monotonic() + 1.0) - time.monotonic()
        sentinels = [each.process.sentinel for each in running.values()]
        if sentinels:
            multiprocessing.connection.wait(sentinels, timeout=min(max(waiting, 0.0), 1.0))
        else:
            time.sleep(min(max(waiting, 0.0), 1.0))
        served = served or any(each.ready.is_set() for each in running.values())
        now = time.monotonic()
        if now - looked > _SUPERVISOR_PAUSED_SECONDS:  # stopped or starved itself: the workers' silence is not theirs
            heard_from = now
        looked = now
        if not stopping:
            for number, each in running.items():
                _kill_if_silent(number, each, silence, now - max(each.ready.last_beat(), heard_from))
        for number, (at, failed) in list(retry_at.items()):
            if stopping:
                retry_at.clear()
            elif time.monotonic() >= at:
                del retry_at[number]
                running[number] = start(number, announce=False, failed_starts=failed, replacement=True)
                replacing.add(number)
                stop_if_stopping(running[number])
        for number, each in list(running.items()):
            code = each.process.exitcode
            if code is None:
                continue
            del running[number]
            pid = each.process.pid
            if pid is not None:
                metrics.process_gone(metrics_directory, number, pid, served=each.ready.is_set())
            if stopping:
                continue
            # a replacement that met the store unavailable, or that was killed (the OOM killer, kill -9, kill): no
            # reason to think the next one fails too, and the others serve on. Not one that crashed (SIGSEGV,
            # SIGABRT: a defect, a C extension at import), which the next one meets too: it had been tried every 30 s
            # for ever (a reviewer, R4). Once a worker has served, one of the first workers killed before it was ready
            # (still starting, 30 s on a loaded machine, when the OOM killer or `kill -9` took them all) is tried again
            # too: the gateway had stopped, status 1, as if it had never served (a reviewer of operations, R3)
            from_outside = -code in _KILLED
            temporary = served and (from_outside or (code == EXIT_STORE_UNAVAILABLE and number in replacing))
            if not each.ready.is_set() and not temporary:  # the gateway's own start, or a lasting failure
                log.error("worker %d (pid %s) did not start (%s): stopping the gateway", number, pid, _ended(code))
                status = code if code and code > 0 else 1
                stop_all()
                continue
            if not each.ready.is_set():  # tried again later
                if code == EXIT_STORE_UNAVAILABLE and each.ready.needs_restart():
                    awaiting_restart.add(number)
                else:
                    awaiting_restart.discard(number)
                if not running and set(retry_at) | {number} <= awaiting_restart:
                    # every worker dead and each replacement waiting for a restart to serve the adopted catalog:
                    # nothing listened, and the supervisor had tried them for ever while its unit looked up to
                    # systemd, whose restart is what serves that catalog (a reviewer, R2)
                    log.error(
                        "worker %d (pid %s) did not start (%s): no worker serves, and each waits for the gateway's "
                        "restart to serve the catalog adopted since it started (`zzgw init --adopt-catalog`): "
                        "stopping the gateway with exit status %d, for its service manager to start it again "
                        "(docs/operations.md: Changing the catalog)",
                        number,
                        pid,
                        _ended(code),
                        EXIT_STORE_UNAVAILABLE,
                    )
                    status = EXIT_STORE_UNAVAILABLE
                    retry_at.clear()
                    stop_all()
                    continue
                failed = each.failed_starts + 1
                delay = min(2.0 ** min(failed - 1, 16), RETRY_MOST)  # 2.0 ** 1024 would overflow, ~9 h on
                others_serve = any(o.ready.is_set() and o.process.exitcode is None for o in running.values())
                log.error(
                    "worker %d (pid %s) did not start (%s): trying again in %.0f s; %s",
                    number,
                    pid,
                    _ended(code),
                    delay,
                    "the other workers serve" if others_serve else "no other worker serves",
                )
                retry_at[number] = (time.monotonic() + delay, failed)
                continue
            now = time.monotonic()
            while restarts and now - restarts[0] > 60:
                restarts.popleft()
            if len(restarts) >= MAX_RESTARTS:
                log.error(
                    "worker %d (pid %s) exited (code %s), more than %d times in a minute: stopping the gateway",
                    number,
                    pid,
                    code,
                    MAX_RESTARTS,
                )
                status = 1
                stop_all()
                continue
            restarts.append(now)
            log.error("worker %d (pid %s) exited (code %s) while serving: starting another", number, pid, code)
            running[number] = start(number, announce=False, replacement=True)
            replacing.add(number)
            stop_if_stopping(running[number])
    return status


def _kill_if_silent(number: int, each: _Running, silence: float, silent: float) -> None:
    """Kill (SIGKILL) ``each``, a ready worker still running whose heartbeat has been ``silent`` for longer than
    ``silence`` seconds, once, saying so: its exit is then that of a worker killed while serving, and it is replaced
    (``SILENCE_SECONDS``). SIGKILL, as nothing else reaches a process stopped or hung with the GIL held."""
    pid = each.process.pid
    if each.silenced or pid is None or not each.ready.is_set() or each.ready.last_beat() == 0.0 or silent <= silence:
        return
    if each.process.exitcode is not None:
        return
    log.error(
        "worker %d (pid %d) silent for %.0f s (no heartbeat: frozen, stopped, or hung with the GIL held): killed "
        "(SIGKILL), to be replaced",
        number,
        pid,
        silent,
    )
    each.silenced = True
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


_KILLED = frozenset({signal.SIGKILL, signal.SIGTERM, signal.SIGBUS})
"""The signals that end a replacement worker as it starts from outside it (the OOM killer, an operator) or for want
of room (SIGBUS: a full /dev/shm under the metrics' memory-mapped files, which had stopped the whole gateway; a
review of 03b6580, R2): tried again; any other signal's death (SIGSEGV, SIGABRT) is the worker's own, a crash, and
stops the gateway."""


def _ended(code: int) -> str:
    """How a worker's process ended, for the log: "exit code 2", "killed by signal 9, SIGKILL"."""
    if code >= 0:
        return f"exit code {code}"
    try:
        name = f", {signal.Signals(-code).name}"
    except ValueError:
        name = ""
    return f"killed by signal {-code}{name}"
