"""Prometheus metrics (``GET /metrics`` on the HTTP side): calls, their latency, the group commits, readiness.

>>> record_call("/zzgw.v1.VerificationService/VerifyLicense", "OK", 0.0012)   # doctest: +SKIP
>>> body, content_type = exposition()                                          # doctest: +SKIP

What is counted, and its labels (each from a fixed set, so that no label can take unbounded values, and none from a
request: no holder code, license number or member code of a caller ever becomes a label):

===================================  ==============================================================================
``zzgw_grpc_calls_total``            gRPC calls by ``method`` (the full name, as in the access log; ``other`` for
                                     a method the gateway does not serve), ``code`` (the status's name) and
                                     ``reason``, for UNAVAILABLE only (``UNAVAILABLE_REASONS``, else ``other``)
``zzgw_grpc_call_seconds``           their duration by ``method``, as the access log's ``ms`` (a stream's: while
                                     it was open)
``zzgw_verifications_total``         verification reports given, by ``method`` (``VERIFYING_METHODS``), ``verdict``
                                     (PASSED, FAILED, INDETERMINATE) and ``finding``: the one of ``FINDINGS`` that
                                     decided the verdict, empty for PASSED
``zzgw_claim_checks_total``          ``CheckClaim`` answers by ``result`` (``CLAIM_RESULTS``: the provincial codes'
                                     names)
``zzgw_http_requests_total``         the HTTP side's requests by ``route`` (one of the routes it serves, ``/console/``
                                     for the page's files, ``other`` for anything else) and ``status``
``zzgw_http_dropped_total``          HTTP connections the side closed unanswered or cut short, by ``cause``:
                                     ``request_timeout`` (not whole within ``ZZGW_HTTP_REQUEST_SECONDS``),
                                     ``write_timeout`` (its answer not read for that long), ``displaced`` (at
                                     ``ZZGW_HTTP_MAX_CONNECTIONS``, for a new one), ``refused`` (a new one at the
                                     cap, every one being answered), ``stopping`` (its body still coming, or its
                                     answer not done, when the side stopped)
``zzgw_grpc_late_requests_total``     gRPC calls cancelled because their request message had not come whole within
                                     ``ZZGW_GRPC_REQUEST_SECONDS`` (``gateway.api.arrival``; never in
                                     ``zzgw_grpc_calls_total``: they had no request)
``zzgw_group_commit_items``          items committed in one transaction by a group writer, by ``writer``
                                     (``receipts``, ``sharing-audit``)
``zzgw_ready``                       1 while the process is ready (``gateway.health``), else 0
``zzgw_license_watchers``            ``WatchLicenseChanges`` streams open
``zzgw_change_feed_lapses_total``    times the PostgreSQL change listener turned deaf (every cache dropped, lookups
                                     read the store until it answers again), by ``cause``: ``lease`` (no heartbeat
                                     answered within the lease) or ``connection`` (its connection lost); a count
                                     that keeps rising is a feed that flaps (``gateway.store.changes``)
``zzgw_change_feed_listening``       1 while the process hears every change, 0 while its PostgreSQL change
                                     listener is deaf (always 1 on SQLite)
``process_*``                        the process's own (memory, file descriptors, CPU), prometheus_client's; with
                                     several workers each process's, by ``worker`` (below)
===================================  ==============================================================================

The counters whose label values are fixed in the code have each series at 0 from the start (``start_at_zero``).

One more gauge, ``zzgw_member_certificate_expiry_seconds``, says when each registered member's client certificate
ends (notAfter, Unix time), by ``member``: the member's code, an organisation's registered one, so one series per
registered member, set by one process (worker 0, or the worker that replaced it: ``gateway.member_certificates``),
and a member no longer registered (revoked) loses its series at the next daily look. It is the only label that names
a member, and none names a caller. ``zzgw_gateway_certificate_expiry_seconds`` says the same of the gateway's own
certificates the process serves (read at start), by ``certificate``: ``server``, ``receipt``, ``tsa``, ``member-ca``
(``gateway.certificate_ends``), set by the same process.

Several workers (``ZZGW_WORKERS`` > 1) share the HTTP port, so a scrape lands on any one of them: the supervisor
gives them a directory (``prepare_directory``, ``PROMETHEUS_MULTIPROC_DIR``) before they start, each writes its
values to files there (prometheus_client's multiprocess mode: an mmap'd file per process and kind), and the worker
that answers a scrape sums every worker's, dead ones' too (their counts stay counted). Gauges are taken over the
living workers: ``zzgw_ready`` and ``zzgw_change_feed_listening`` are the least (1 when every worker is),
``zzgw_license_watchers`` the sum.
``process_*`` are read from ``/proc`` for every process of the gateway, by ``worker``: each worker's number, and
``supervisor`` (``process_started``, ``_EveryProcess``). One process (no supervisor) keeps its values in memory, and
its scrape has prometheus_client's ``python_*`` families (the collector, the interpreter) too. The directory is one
of this run's on ``/dev/shm`` (a tmpfs, apart from the store's disk: a full disk there would kill the workers with
SIGBUS), removed when the supervisor exits; ``<data_dir>/metrics/`` on a machine without it. ``zzgw`` ignores a
``PROMETHEUS_MULTIPROC_DIR`` of its environment (``gateway.cli.main``): only the supervisor names the directory.

Recording a call is a dictionary lookup, a counter's increment and a histogram's observation: 1.3 µs in memory, 2.6 µs
in multiprocess mode (three writes to an mmap'd file), timed in a loop in one process on the 2-core benchmark machine
while other work shared it; a warm ``VerifyLicense`` takes about 380 µs of a pinned worker (2,636/s), so under 1%.
A scrape of 40 methods × 3 codes took 5 ms in memory, 8 ms from two workers' files.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import math
import os
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric

from gateway.threads import name_this_thread

DIRECTORY_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where the workers write their values: read by prometheus_client when it is first imported, so it is set by the
supervisor before it starts the workers (``prepare_directory``)."""

_DIRECTORY = os.environ.get(DIRECTORY_ENV) or None
"""This process's workers' directory, read once, as prometheus_client read it when imported (just above): whether
this process writes its values there (multiprocess mode) or keeps them in memory."""

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The text format every Prometheus reads (the body is the same in 1.0.0: every name here is a classic one)."""

disable_created_metrics()  # no ``_created`` series: the same families in both modes, and fewer of them

_CALLS = Counter(
    "zzgw_grpc_calls",
    "gRPC calls answered, by method, status code and, for UNAVAILABLE, the reason",
    ["method", "code", "reason"],
)
UNAVAILABLE_REASONS = frozenset(
    {
        "DATABASE_UNAVAILABLE",
        "DATABASE_BUSY",
        "STORE_FULL",
        "STORE_GONE",
        "TSA_UNAVAILABLE",
        "SEALING_TIMED_OUT",
        "GATEWAY_STOPPING",
        "NO_SEAL_CA",
        "CATALOG_CHANGED",
        "RECEIPT_KEY_RETIRED",
        "RECEIPT_CERTIFICATE_ENDED",
    }
)
"""The reasons an UNAVAILABLE call is counted by: the gateway's own (``UpstreamUnavailableError``'s; a test holds the
set to the code's). Any other is counted as ``other``, so that no label takes a value the code does not name; other
status codes are counted without a reason (an empty label, which Prometheus reads as none)."""
UNKNOWN_METHOD = "other"
"""The method label of a call to a method the gateway does not serve: its name is the client's, and unbounded."""
_CALL_SECONDS = Histogram(
    "zzgw_grpc_call_seconds",
    "Duration of gRPC calls (of streams: while open), by method",
    ["method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
_VERIFICATIONS = Counter(
    "zzgw_verifications",
    "Verification reports given, by method, verdict and the finding that decided it (empty for PASSED)",
    ["method", "verdict", "finding"],
)
VERIFYING_METHODS = {
    action: f"/zzgw.v1.VerificationService/{name}"
    for action, name in (
        ("VERIFY_LICENSE", "VerifyLicense"),
        ("VERIFY_DOCUMENT", "VerifyDocument"),
        ("VERIFY_STAMP", "VerifyStamp"),
    )
}
"""The methods whose answer is a verification report, by the audit action that records them
(``record_verification``): the console's checks are counted as the method they stand for."""
VERDICTS = ("PASSED", "FAILED", "INDETERMINATE")
FINDINGS = ("integrity", "status", "issuer_identity")
"""A report's findings, in the order ``record_verification`` looks for the first that did not pass."""
_CLAIM_CHECKS = Counter("zzgw_claim_checks", "CheckClaim answers, by result (the provincial codes' names)", ["result"])
CLAIM_RESULTS = (
    "CORRECT_AND_VALID",
    "NOT_YET_VALID",
    "SUSPENDED",
    "NO_LONGER_VALID",
    "INCOMPLETE",
    "NOT_FOUND",
    "NOT_FILLED",
    "PARTLY_WRONG",
)
"""``zzgw_claim_checks_total``'s results: ``gateway.domain.verification.ClaimResult``'s names (a test holds them)."""
_HTTP_REQUESTS = Counter(
    "zzgw_http_requests", "HTTP requests answered, by route (not the raw path) and status", ["route", "status"]
)
_GROUP_ITEMS = Histogram(
    "zzgw_group_commit_items",
    "Items committed in one transaction by a group writer",
    ["writer"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
_READY = Gauge(
    "zzgw_ready", "1 while the process is ready (with several workers: every one), else 0", multiprocess_mode="livemin"
)
_WATCHERS = Gauge("zzgw_license_watchers", "WatchLicenseChanges streams open", multiprocess_mode="livesum")
_CERTIFICATE_ENDS_NAME = "zzgw_member_certificate_expiry_seconds"
_CERTIFICATE_ENDS = Gauge(
    _CERTIFICATE_ENDS_NAME,
    "When each registered member's client certificate ends (notAfter, Unix time), by member code",
    ["member"],
    multiprocess_mode="livemax",
)
_GATEWAY_CERTIFICATE_ENDS = Gauge(
    "zzgw_gateway_certificate_expiry_seconds",
    "When each of the gateway's own certificates this process serves ends (notAfter, Unix time), by certificate: "
    "server, receipt, tsa, member-ca",
    ["certificate"],
    multiprocess_mode="livemax",
)
_FEED_LISTENING = Gauge(
    "zzgw_change_feed_listening",
    "1 while the process hears every change (PostgreSQL: its change listener's lease holds), 0 while it is deaf and "
    "lookups read the store (with several workers: 1 only when every one hears)",
    multiprocess_mode="livemin",
)
_FEED_LAPSES = Counter(
    "zzgw_change_feed_lapses",
    "Times the PostgreSQL change listener turned deaf and every cache was dropped, by cause (lease, connection)",
    ["cause"],
)

_LATE_REQUESTS = Counter(
    "zzgw_grpc_late_requests",
    "gRPC calls cancelled because their request message had not come whole within ZZGW_GRPC_REQUEST_SECONDS",
)

_HTTP_DROPPED = Counter(
    "zzgw_http_dropped",
    "HTTP connections the gateway closed unanswered or cut short, by cause (request_timeout: not whole in time; "
    "write_timeout: its answer not read in time; displaced: at the cap, for a new connection; refused: a new one at "
    "the cap, every one being answered; stopping: its body still coming, answered 503, or its answer not done in the "
    "stop's grace, when the side stopped)",
    ["cause"],
)
HTTP_DROP_CAUSES = ("request_timeout", "write_timeout", "displaced", "refused", "stopping")
"""``zzgw_http_dropped_total``'s causes (``adapters.http_connections``; a test holds the set to the code's)."""
FEED_LAPSE_CAUSES = ("lease", "connection")
"""``zzgw_change_feed_lapses_total``'s causes (``gateway.store.changes``; a test holds the set to the code's)."""

_by_call: dict[tuple[str, str, str], tuple[Any, Any]] = {}
"""The counter's and the histogram's children by (method, code, reason): ``labels()`` takes a lock and checks its
values, which cost more than the increment; a dict read does not (and a lost race only makes the same child twice)."""


def record_call(method: str, code: str, seconds: float, reason: str = "") -> None:
    """A gRPC call to ``method`` ended with status ``code`` (a ``grpc.StatusCode``'s name) after ``seconds``, for
    ``reason`` (its ErrorInfo's, or empty): counted by it when UNAVAILABLE (``UNAVAILABLE_REASONS``, else ``other``),
    which tells a database outage from a full disk, a TSA outage or a stop."""
    if code != "UNAVAILABLE":
        reason = ""
    elif reason not in UNAVAILABLE_REASONS:  # none said, as by a handler that aborts itself: "other" too
        reason = "other"
    children = _by_call.get((method, code, reason))
    if children is None:
        children = _by_call[method, code, reason] = (_CALLS.labels(method, code, reason), _CALL_SECONDS.labels(method))
    children[0].inc()
    children[1].observe(seconds)


_by_verdict: dict[tuple[str, str, str], Any] = {}
"""The counter's children by (action, verdict, finding), as ``_by_call``."""


def record_verification(action: str, verdict: str, results: Iterable[str]) -> None:
    """The method of ``action`` (``VERIFYING_METHODS``: by gRPC or the console) gave a report of ``verdict`` whose
    findings, in ``FINDINGS``'s order, had ``results``: counted by the finding that decided the verdict (the first
    with the verdict's result, as ``gateway.services.verification.verdict`` takes it; none for PASSED), so that a rise
    of failures tells a revoked or expired license (``status``) from a tampered record or document (``integrity``) and
    an untrusted seal (``issuer_identity``). A failed check is an answered call, ``code="OK"`` in
    ``zzgw_grpc_calls_total``."""
    finding = (
        ""
        if verdict == "PASSED"
        else next((name for name, result in zip(FINDINGS, results, strict=True) if result == verdict), "")
    )
    child = _by_verdict.get((action, verdict, finding))
    if child is None:
        child = _by_verdict[action, verdict, finding] = _VERIFICATIONS.labels(
            VERIFYING_METHODS[action], verdict, finding
        )
    child.inc()


def record_claim_check(result: str) -> None:
    """``CheckClaim`` answered ``result`` (one of ``CLAIM_RESULTS``), by gRPC or the console."""
    _CLAIM_CHECKS.labels(result).inc()


def start_at_zero(methods: Iterable[str]) -> None:
    """Every series of a counter whose label values are fixed in the code, at 0 from the process's start: the causes
    of ``zzgw_http_dropped_total`` and ``zzgw_change_feed_lapses_total``, ``zzgw_grpc_calls_total`` of each of
    ``methods`` (the full names the gateway serves) as UNAVAILABLE for each reason it is counted by, the verdicts and
    findings of ``zzgw_verifications_total`` (a PASSED report with no finding, the others with each) and the results of
    ``zzgw_claim_checks_total``. Prometheus sees no
    increase before a series' first sample, so a series that appeared at its first value (4 connections displaced at
    once after a start) was missed by ``increase()``, ``rate()`` and the alerts on them (a monitoring tester)."""
    for cause in HTTP_DROP_CAUSES:
        _HTTP_DROPPED.labels(cause)
    for cause in FEED_LAPSE_CAUSES:
        _FEED_LAPSES.labels(cause)
    for method in methods:
        for reason in (*sorted(UNAVAILABLE_REASONS), "other"):
            _CALLS.labels(method, "UNAVAILABLE", reason)
    for method in VERIFYING_METHODS.values():
        _VERIFICATIONS.labels(method, "PASSED", "")
        for verdict in VERDICTS[1:]:
            for finding in FINDINGS:
                _VERIFICATIONS.labels(method, verdict, finding)
    for result in CLAIM_RESULTS:
        _CLAIM_CHECKS.labels(result)


def record_http(route: str, status: int) -> None:
    """The HTTP side answered a request to ``route`` (one of a fixed set: never a raw path) with ``status``."""
    _HTTP_REQUESTS.labels(route, str(status)).inc()


def record_http_dropped(cause: str) -> None:
    """The HTTP side closed a connection for ``cause`` (``request_timeout``, ``write_timeout``, ``displaced``,
    ``refused``, ``stopping``: fixed in the code, ``adapters.http_connections``)."""
    _HTTP_DROPPED.labels(cause).inc()


def record_late_request() -> None:
    """A gRPC call was cancelled because its request message had not come in time (``gateway.api.arrival``)."""
    _LATE_REQUESTS.inc()


def record_group_commit(writer: str, items: int) -> None:
    """A group writer (a name fixed in the code) committed ``items`` items in one transaction."""
    _GROUP_ITEMS.labels(writer).observe(items)


def record_feed_lapse(cause: str) -> None:
    """The change feed turned deaf for ``cause`` (``lease`` or ``connection``: fixed in the code)."""
    _FEED_LAPSES.labels(cause).inc()


def feed_listening(listening: bool) -> None:
    """The change feed hears every change from now on (``listening``), or is deaf: ``zzgw_change_feed_listening``.
    The lapses alone had not told a replica deaf now (every lookup reading the store, for as long as its listener
    cannot listen) from one that lapsed once and listened again at once (a multi-replica tester)."""
    _FEED_LISTENING.set(1 if listening else 0)


_members_with_ends: set[str] = set()
_members_lock = threading.Lock()


def member_certificate_ends(ends: Mapping[str, float]) -> None:
    """Each member's client certificate of ``ends`` ends at its timestamp (Unix time); a member set before and not in
    ``ends`` (revoked, its certificate not here) loses its series, which had kept an alert on it firing for a
    department revoked on purpose (a reviewer). The member's code labels the series: an organisation's registered
    code, one series per registered member (``gateway.member_certificates``).

    prometheus_client cannot remove a series in multiprocess mode: there it is set to NaN, which ``exposition``
    leaves out."""
    with _members_lock:
        for member in _members_with_ends - ends.keys():
            if _DIRECTORY is None:
                _CERTIFICATE_ENDS.remove(member)
            else:
                _CERTIFICATE_ENDS.labels(member).set(math.nan)
        for member, timestamp in ends.items():
            _CERTIFICATE_ENDS.labels(member).set(timestamp)
        _members_with_ends.clear()
        _members_with_ends.update(ends)


def gateway_certificate_ends(ends: Mapping[str, float]) -> None:
    """Each of the gateway's own certificates of ``ends`` ends at its timestamp (Unix time), by its fixed name
    (``server``, ``receipt``, ``tsa``, ``member-ca``: ``gateway.certificate_ends``)."""
    for certificate, timestamp in ends.items():
        _GATEWAY_CERTIFICATE_ENDS.labels(certificate).set(timestamp)


def watcher_opened() -> None:
    _WATCHERS.inc()


def watcher_closed() -> None:
    _WATCHERS.dec()


class _Readiness(Protocol):
    @property
    def ready(self) -> bool: ...

    def states(self, until: Callable[[], bool]) -> Iterator[Any]: ...


def follow_readiness(readiness: _Readiness) -> threading.Thread:
    """Keep ``zzgw_ready`` as ``readiness`` says, on a thread of its own (``zzgw-metrics``) that waits for its
    changes until its watches close (the process stops, ``Readiness.close_watches``). A gauge set when a scrape
    comes would tell only the worker that answers it."""

    def run() -> None:
        name_this_thread("zzgw-metrics")
        for state in readiness.states(lambda: False):
            _READY.set(1 if state.ready else 0)
        _READY.set(1 if readiness.ready else 0)  # closed: a stop, which the loop may not have seen

    thread = threading.Thread(target=run, name="zzgw-metrics", daemon=True)
    thread.start()
    return thread


def exposition() -> tuple[bytes, str]:
    """The scrape's body, Prometheus text format, and its content type: every worker's values in multiprocess
    mode, with ``process_*`` of each process of the gateway by ``worker``; this process's otherwise."""
    if _DIRECTORY is not None:
        registry = CollectorRegistry()
        registry.register(_WithoutRemoved(_DIRECTORY))
        registry.register(_EveryProcess(Path(_DIRECTORY)))
        return generate_latest(registry), CONTENT_TYPE
    return generate_latest(REGISTRY), CONTENT_TYPE


class _WithoutRemoved:
    """Every worker's values less the series ``member_certificate_ends`` removed (NaN)."""

    def __init__(self, path: str) -> None:
        self._every = _multiprocess.MultiProcessCollector(None, path=path)

    def collect(self) -> Iterator[Metric]:
        try:
            families = list(self._every.collect())
        except FileNotFoundError:  # a file the supervisor removed (a worker that never served) between the listing
            families = list(self._every.collect())  # and its reading: the scrape had answered 500 (a review, R3)
        for family in families:
            if family.name == _CERTIFICATE_ENDS_NAME:
                family.samples = [sample for sample in family.samples if not math.isnan(sample.value)]
            yield family


class _EveryProcess:
    """``process_*`` of the supervisor and of each living worker, each series labelled by ``worker``: the worker's
    number (a replacement takes its predecessor's) or ``supervisor``. Those of the worker that answered alone had
    come from either worker at random, so ``process_cpu_seconds_total`` went down on every other scrape, ``rate()``
    read it as a restart each time (60 times the true rate), and memory and file-descriptor alerts flapped (a
    monitoring tester). The pid, which every restart changes, would make series without end; the number is bounded
    by ``ZZGW_WORKERS``. Read from ``/proc`` at the scrape, as prometheus_client reads its own process's."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for worker, pid in _processes(self._directory):
            for family in _of_process(pid):
                into = merged.setdefault(family.name, Metric(family.name, family.documentation, family.type))
                into.samples += [s._replace(labels={**s.labels, "worker": worker}) for s in family.samples]
        yield from merged.values()


def _of_process(pid: int) -> Iterable[Metric]:
    return ProcessCollector(pid=lambda: pid, registry=None).collect()


SUPERVISOR = "supervisor"
"""The ``worker`` label of ``zzgw serve``'s own process."""
_PID_FILE = "process-{}.pid"


def process_started(directory: Path, worker: str, pid: int) -> None:
    """In the supervisor: process ``pid`` is ``worker`` (its number, or ``SUPERVISOR``) from now on, for the
    scrape's ``process_*``."""
    part = directory / f".{_PID_FILE.format(worker)}.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        os.fchmod(fd, 0o644)  # whatever the umask: others may not name another process ours (fixrevstore R3)
        out.write(str(pid))
    part.replace(directory / _PID_FILE.format(worker))


def _processes(directory: Path) -> list[tuple[str, int]]:
    """The gateway's processes as ``process_started`` named them: (worker, pid), the workers by number, the
    supervisor last."""
    found = []
    for path in directory.glob(_PID_FILE.format("*")):
        try:
            pid = int(path.read_text(encoding="ascii"))
        except (OSError, ValueError):  # gone since the glob (its worker exited), or being replaced
            continue
        found.append((path.name[len("process-") : -len(".pid")], pid))
    return sorted(found, key=lambda each: (not each[0].isdigit(), int(each[0]) if each[0].isdigit() else 0))


SHARED_MEMORY = Path("/dev/shm")
"""Where the workers' files go when the machine has it: a tmpfs, apart from the store's disk. On that disk, full,
writing a value had killed each worker with SIGBUS (mmap'd files), where a full disk is to refuse writes only
(STORE_FULL; found in review)."""


def prepare_directory(fallback: Path) -> Path:
    """In the supervisor, before it starts the workers: a directory of this run's own on ``SHARED_MEMORY`` (held
    with a lock for the run's life and removed when it exits; those of supervisors killed outright are removed
    here), else ``fallback`` made and emptied of a former run's files (counts of processes long gone, which would be
    summed into this run's); named to the workers that it starts. Returns it."""
    path = fallback
    if SHARED_MEMORY.is_dir() and os.access(SHARED_MEMORY, os.W_OK):
        _remove_orphans(SHARED_MEMORY)
        path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=SHARED_MEMORY))
        alive = open(path / _ALIVE, "w")  # noqa: SIM115 (held open, locked, for the process's life)
        fcntl.flock(alive, fcntl.LOCK_EX)
        _HELD.append(alive)
        atexit.register(shutil.rmtree, path, ignore_errors=True)
    from signing.pki import make_private_directory  # the data directory's rule (0700), as config.py takes it

    make_private_directory(path)  # the fallback in the data directory: it had taken the umask (fixrevstore R3)
    for stale in [*path.glob("*.db"), *path.glob(_PID_FILE.format("*"))]:
        stale.unlink(missing_ok=True)
    os.environ[DIRECTORY_ENV] = str(path)
    process_started(path, SUPERVISOR, os.getpid())
    return path


_PREFIX = "zzgw-metrics-"


_ALIVE = ".alive"
"""The file a supervisor holds locked (``flock``) in its metrics directory while it runs; its workers, forked, hold
the same lock."""
_HELD: list[IO[str]] = []


ORPHAN_AGE_SECONDS = 60
"""How old a directory must be to be judged at all: one just made is not locked yet."""


def _remove_orphans(parent: Path) -> None:
    """Remove the metrics directories in ``parent`` of supervisors no longer running: one killed with SIGKILL (or
    by the OOM killer) leaves its own, a few KB of tmpfs, memory until the machine restarts. Whether its supervisor
    runs is told by its lock, which holds across PID namespaces (containers sharing /dev/shm: a pid of another
    namespace had read as dead, and a running gateway's directory been removed; found in review). A directory with
    no lock file (another version's, another user's) is left."""
    old = time.time() - ORPHAN_AGE_SECONDS
    for directory in parent.glob(f"{_PREFIX}*"):
        try:
            if directory.stat().st_mtime > old:
                continue
            with open(directory / _ALIVE) as alive:
                fcntl.flock(alive, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken: nobody holds it any more
                shutil.rmtree(directory, ignore_errors=True)
        except OSError:  # held (running), no lock file, or not ours
            continue


def process_gone(path: Path, worker: int, pid: int, *, served: bool = True) -> None:
    """In the supervisor, when worker number ``worker``, process ``pid``, has exited: its gauges and its
    ``process_*`` leave the scrape (its counts stay). A worker that never ``served`` (a replacement that could not
    start) takes its files with it when they hold nothing but zeros: each such start had left one on /dev/shm for
    the rest of the run, one every 30 s through an outage (a reviewer, R5); one with a count stays, so that no total
    the scrape sums goes down."""
    _multiprocess.mark_process_dead(pid, str(path))
    if not served:
        _drop_if_all_zeros(path, pid)
    named = path / _PID_FILE.format(worker)
    try:
        if int(named.read_text(encoding="ascii")) == pid:
            named.unlink()
    except (OSError, ValueError):
        return


def _drop_if_all_zeros(path: Path, pid: int) -> None:
    """Remove process ``pid``'s metrics files in ``path`` if every value in them is zero (``process_gone``)."""
    from prometheus_client.mmap_dict import MmapedDict

    files = list(path.glob(f"*_{pid}.db"))
    try:
        if any(value for file in files for _, value, *_ in MmapedDict.read_all_values_from_file(str(file))):
            return
    except (OSError, ValueError, RuntimeError, struct.error):  # unreadable or damaged: left, as any other
        return
    for file in files:
        with contextlib.suppress(OSError):
            file.unlink()
