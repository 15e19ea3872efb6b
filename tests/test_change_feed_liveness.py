"""The change feed's guarantees under the races and stalls a review found (report "cache coherence"):

- SQLite, several workers: a thread that polls while another is dropping what a change made stale waits for the
  drop; it never answers from what is being dropped (noticing and dropping are one step).
- PostgreSQL: "listening" is a lease. A LISTEN connection that stalls without closing (its backend stopped with
  SIGSTOP here, as a hung backend or pooler would) turns the feed deaf within ``LEASE`` of its last answered
  heartbeat, even while nobody reads, so verifications read the store; it listens again when the connection answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg import pq

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.store import changes
from gateway.store.changes import EVERYTHING, ChangeFeed, _Link
from gateway.store.database import Database
from protos.zzgw.v1 import issuance_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_issuance import unique
from tests.conftest import (
    MARKET,
    TAX,
    RunningGateway,
    backend_params,
    fresh_database,
    migrated_database,
    start_gateway,
    two_replicas,
)

POSTGRES = [p for p in backend_params() if p.id == "postgresql"]  # type: ignore[attr-defined]
USE = verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="监听连接停滞时的缓存一致性测试")
PASSED, FAILED = verification_pb2.CHECK_RESULT_PASSED, verification_pb2.CHECK_RESULT_FAILED


# -- SQLite: noticing and dropping are one step -----------------------------------------------------------------------


@pytest.fixture
def two_sqlite_feeds(tmp_path: Path) -> Iterator[tuple[ChangeFeed, ChangeFeed]]:
    """Two feeds on one SQLite file, as two worker processes have (the shared counter; no thread needed)."""
    with migrated_database("sqlite", tmp_path) as url:
        databases = [Database.connect(url), Database.connect(url)]
        feeds = (ChangeFeed(databases[0]), ChangeFeed(databases[1]))
        try:
            yield feeds
        finally:
            for feed in feeds:
                feed.stop()
            for db in databases:
                db.dispose()


class _SlowDrop:
    """A listener that stops in the middle of dropping everything until released: a thread preempted there."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.drops = 0

    def __call__(self, keys: frozenset[str]) -> None:
        if keys == EVERYTHING:
            self.drops += 1
            self.entered.set()
            assert self.release.wait(10)


def _in_thread(call: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def _a_second_poller_waits_for_the_drop(feed: ChangeFeed, slow: _SlowDrop, first: Callable[[], object]) -> None:
    dropping = _in_thread(first)
    assert slow.entered.wait(5), "the change was not noticed"
    second = _in_thread(feed.poll)  # a verification arriving meanwhile, on another handler thread
    second.join(0.3)
    assert second.is_alive(), "a poll returned while everything was still being dropped: it answers from the cache"
    slow.release.set()
    second.join(5)
    dropping.join(5)
    assert not second.is_alive() and not dropping.is_alive()
    assert slow.drops == 1  # the second poller found the change dropped, not to drop again
    feed.poll()
    assert slow.drops == 1


def test_a_poll_during_the_drop_waits_for_it(two_sqlite_feeds: tuple[ChangeFeed, ChangeFeed]) -> None:
    writer, reader = two_sqlite_feeds
    slow = _SlowDrop()
    reader.subscribe(slow)
    writer.committed(["license:A"])  # another worker's revocation returned
    _a_second_poller_waits_for_the_drop(reader, slow, reader.poll)


def test_a_poll_during_our_own_commit_that_drops_everything_waits_for_it(
    two_sqlite_feeds: tuple[ChangeFeed, ChangeFeed],
) -> None:
    """Our own commit finds another worker's change not yet seen: it drops everything, and a thread polling then
    waits for that too."""
    other, ours = two_sqlite_feeds
    slow = _SlowDrop()
    ours.subscribe(slow)
    other.committed(["license:theirs"])
    _a_second_poller_waits_for_the_drop(ours, slow, lambda: ours.committed(["license:ours"]))


# -- PostgreSQL: the listener's lease --------------------------------------------------------------------------------


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The backend ``pid`` stopped (SIGSTOP: its socket stays open and says nothing), always continued after."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def _until(condition: Callable[[], bool], within: float) -> float:
    """Seconds until ``condition`` held; fails past ``within``."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within, f"not within {within} s"
        time.sleep(0.005)
    return time.monotonic() - start


@pytest.mark.parametrize("kind", POSTGRES)
def test_a_stalled_listener_turns_deaf_within_the_lease_and_listens_again(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=changes._log.name)
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        heard: list[frozenset[str]] = []
        feed.subscribe(heard.append)
        feed.start()
        try:
            assert feed.generation >= 0 and feed.listener_pid is not None
            time.sleep(0.5)  # several heartbeats answered: the lease holds with nothing to hear
            assert feed.generation >= 0 and _listening() == 1
            heard.clear()
            with stopped(feed.listener_pid):
                stopped_at = time.monotonic()
                # nobody reads: the listener thread (not blocked) drops everything at the lapse
                _until(lambda: EVERYTHING in heard, within=changes.LEASE + 0.4)
                assert feed.generation == -1
                # not at the first heartbeat missed: the lease runs from the last one answered, which on a loaded
                # machine may have been answered late, more than a heartbeat before the stop (0.56 s of 0.9 seen
                # with four workers), so the bound is half the lease, still past the first heartbeat missed
                assert time.monotonic() - stopped_at >= changes.LEASE / 2
                time.sleep(0.5)
                assert feed.generation == -1  # nothing answered: still deaf, nothing kept
                assert heard.count(EVERYTHING) == 1  # dropped once, not at every look
                assert _listening() == 0  # deaf now, as a scrape tells (a multi-replica tester, D4)
            lapses = _lapses("lease")
            _until(lambda: feed.generation >= 0, within=1.0)  # the backend answers again
            assert _listening() == 1
            # on the same connection, every notification sent before the answer came before it: nothing more is
            # dropped (a flap drops the caches once, not twice); counted once for the operator
            assert heard.count(EVERYTHING) == 1
            assert feed.lapses == 1 and _lapses("lease") == lapses
            # the stall is said, and so is its end (only the start had been: a tester could not tell a replica
            # still deaf from one that had recovered)
            _until(lambda: "answered again" in caplog.text, within=1.0)
            said = [r.getMessage() for r in caplog.records if r.name == changes._log.name]
            assert [m.split(" for ")[0].split(", after")[0] for m in said if "connection answered" in m] == [
                "change listener's connection answered nothing",
                "change listener's connection answered again",
            ]
        finally:
            feed.stop()
            db.dispose()


def _listening() -> float | None:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("zzgw_change_feed_listening")


def _lapses(cause: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("zzgw_change_feed_lapses_total", {"cause": cause}) or 0.0


class _StarvedSelect:
    """``select`` for the listener thread that does not come back while ``starved`` is set: a listener thread that
    does not get the GIL behind busy handler threads (review finding 2), its answers waiting in the socket."""

    def __init__(self) -> None:
        self.starved = threading.Event()
        self.fed = threading.Event()

    def select(self, *args: object) -> object:
        import select as real

        if threading.current_thread().name == "zzgw-changes":
            while self.starved.is_set():
                self.fed.wait(0.05)
        return real.select(*args)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", POSTGRES)
def test_readers_keep_the_lease_while_the_listener_thread_is_starved(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease measures PostgreSQL's answer, not the listener thread's turn: readers drive the connection
    themselves once the lease is ``HELP_AFTER`` old, so it never lapses while PostgreSQL answers, and what arrives
    is delivered by them."""
    starved = _StarvedSelect()
    monkeypatch.setattr(changes, "select", starved)
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        heard: list[frozenset[str]] = []
        feed.subscribe(heard.append)
        feed.start()
        try:
            _until(lambda: feed.generation >= 0, within=2.0)
            heard.clear()
            starved.starved.set()
            time.sleep(changes.HEARTBEAT_EVERY)  # the listener thread is in its select, and stays there
            conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            with psycopg.connect(conninfo, autocommit=True) as other:
                start = time.monotonic()
                while time.monotonic() - start < 3 * changes.LEASE:
                    assert feed.generation >= 0, "the lease lapsed while PostgreSQL answered"
                    time.sleep(0.02)
                other.execute("SELECT pg_notify('zzgw_changes', 'license:A')")
                # heard by a reader (the notification waits in the socket until one drives the connection)
                _until(lambda: feed.generation >= 0 and frozenset({"license:A"}) in heard, within=changes.LEASE)
            assert EVERYTHING not in heard and feed.lapses == 0
        finally:
            starved.starved.clear()
            starved.fed.set()
            feed.stop()
            db.dispose()


@pytest.mark.parametrize("kind", POSTGRES)
def test_a_reader_finds_the_lease_out_even_if_the_listener_does_not(kind: str, tmp_path: Path) -> None:
    """The lapse is found by the reading thread itself (one clock read): a listener thread that is stuck, or
    starved, does not keep the caches in use."""
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        feed.start()
        try:
            assert feed.generation >= 0
            heard: list[frozenset[str]] = []
            feed.subscribe(heard.append)
            feed._stop.set()  # the listener thread ends as at a stop, without turning deaf: as if stuck for good
            assert feed._thread is not None
            feed._thread.join(5)
            assert not feed._thread.is_alive()
            time.sleep(changes.LEASE + 0.05)
            assert heard == []  # nobody else drops anything
            assert feed.generation == -1  # the reader finds the lease out and drops everything itself, once
            assert feed.generation == -1
            assert heard == [EVERYTHING]
        finally:
            feed.stop()
            db.dispose()


def test_a_reader_that_takes_the_generation_while_a_lapse_drops_keeps_nothing() -> None:
    """``generation`` had read the deafness, then the generation: a reader whose poll returned inside the lease and
    that read them while a lapse was dropping (the drop's generation moved, deafness not yet set) took a live
    generation that the lapse left equal to ``heard``, so what it read from the store was kept and served while the
    feed was deaf (found in review). Now the generation moves on again as the feed turns deaf, and ``generation`` is
    one attribute. The pauses stand for the reader's thread preempted right after its poll and a listener slow to
    drop (``VerificationService._forget`` waiting for the cache lock). No connection is needed: the feed is made
    listening as a heartbeat's answer makes it."""
    feed = ChangeFeed(SimpleNamespace(dialect="postgresql"))  # type: ignore[arg-type]
    assert feed.generation == -1  # not listening yet
    assert feed._prove_alive(time.monotonic(), new_connection=True)
    assert feed.generation == feed.heard >= 0
    slow = _SlowDrop()
    feed.subscribe(slow)
    polled, go_on = threading.Event(), threading.Event()
    poll = feed.poll

    def preempted_after_poll() -> None:
        poll()
        if threading.current_thread().name == "reader":
            polled.set()
            assert go_on.wait(5)

    feed.poll = preempted_after_poll  # type: ignore[method-assign]
    taken: list[int] = []
    reader = threading.Thread(target=lambda: taken.append(feed.generation), name="reader", daemon=True)
    reader.start()
    assert polled.wait(5)  # the reader polled inside the lease
    feed._alive_until = time.monotonic() - 0.001  # and the lease runs out now
    lapse = _in_thread(feed._lapse)
    assert slow.entered.wait(5)  # the lapse is dropping everything, not deaf yet
    go_on.set()  # the reader goes on, and takes the generation now
    reader.join(5)
    slow.release.set()
    lapse.join(5)
    assert not reader.is_alive() and not lapse.is_alive()
    feed.poll = poll  # type: ignore[method-assign]
    assert feed._deaf and feed.generation == -1
    (generation,) = taken
    assert generation != feed.heard, "a fill started with it would be kept while the feed is deaf"
    assert feed._prove_alive(time.monotonic(), new_connection=False)  # listening again on the same connection
    assert feed.generation == feed.heard != generation


class _ListenerHeldAtItsNewConnection:
    """The feed's ``_io_lock``, which holds the listener thread, while ``holding`` is set, before its first step on a
    connection it had not stepped yet: a listener thread that gets no turn at the GIL right after it reconnected,
    behind busy handler threads, so that a reader polling meanwhile takes the new connection's first answer
    (``_help``), as verification threads did under load on a replica (a replicas tester)."""

    def __init__(self, feed: ChangeFeed) -> None:
        self._feed = feed
        self._lock = feed._io_lock
        self._stepped = [feed._link]  # the listener thread listens on it already (``start`` waited for that)
        self.holding = threading.Event()

    def acquire(self, blocking: bool = True) -> bool:
        return self._lock.acquire(blocking)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> None:
        if threading.current_thread().name == "zzgw-changes":
            while self.holding.is_set() and (link := self._feed._link) is not None and link not in self._stepped:
                time.sleep(0.005)
            if (link := self._feed._link) is not None and link not in self._stepped:
                self._stepped.append(link)
        self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()


@pytest.mark.parametrize("kind", POSTGRES)
def test_each_loss_of_the_listener_is_said_once_and_its_end_once_whichever_thread_reconnected_it(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reader that took a new connection's first answer (``_help``) made the feed listen again unsaid: no
    "listening again" line, the next loss not said at all, and the return after it said "after 279.3 s" of a listener
    back within a second (a replicas tester). Each loss is said once and its end once, timed from the loss to the
    answer that ended it, whichever thread took that answer; and one that ended under a reader and was lost again
    before the listener thread's next step is said as a loss of its own."""
    caplog.set_level(logging.INFO, logger=changes._log.name)
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        feed.start()
        held = _ListenerHeldAtItsNewConnection(feed)
        feed._io_lock = held  # type: ignore[assignment]
        reading = threading.Event()
        reading.set()

        def read() -> None:  # verifications: each one polls the feed first
            while reading.is_set():
                feed.poll()
                time.sleep(0.002)

        reader = _in_thread(read)
        conninfo = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            _until(lambda: feed.generation >= 0, within=2.0)
            lapses, by_connection, by_lease = feed.lapses, _lapses("connection"), _lapses("lease")
            with psycopg.connect(conninfo, autocommit=True) as admin:

                def terminate_the_listener() -> int:
                    pid = feed.listener_pid
                    assert pid is not None
                    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
                    return pid

                def said(what: str) -> list[str]:
                    return [
                        r.getMessage() for r in caplog.records if r.name == changes._log.name and what in r.getMessage()
                    ]

                # a reader takes the new connection's first answer; the listener thread steps only after it
                held.holding.set()
                lost = terminate_the_listener()
                took = _until(lambda: feed.listener_pid != lost and feed.generation >= 0, within=5.0)
                assert feed._link is not None and feed._link.answered and feed._link not in held._stepped
                held.holding.clear()
                _until(lambda: len(said("listening again")) == 1, within=1.0)
                assert float(said("listening again")[0].split("after ")[1].removesuffix(" s")) <= took + 0.1

                # the next loss is said, and its end timed from it (not from the first loss)
                held.holding.set()
                lost = terminate_the_listener()
                took = _until(lambda: feed.listener_pid != lost and feed.generation >= 0, within=5.0)
                assert len(said("lost its connection")) == 2
                # and lost again before the listener thread's next step: found by a reader, deaf at the lease's end
                terminate_the_listener()
                _until(lambda: feed.generation == -1, within=changes.LEASE + 1.0)
                held.holding.clear()
                _until(lambda: len(said("listening again")) == 3, within=3.0)
            lines = [
                m.split(" (")[0].split(", after")[0]
                for m in said("change listener")
                if "lost its connection" in m or "listening again" in m
            ]
            assert lines == ["change listener lost its connection", "change listener listening again"] * 3
            afters = [float(m.split("after ")[1].removesuffix(" s")) for m in said("listening again")]
            assert afters[1] <= took + 0.1 and afters[2] < 2.0, afters
            # counted once per turn deaf: two lost connections and one lapse (the third loss found deaf already)
            assert feed.lapses == lapses + 3
            assert (_lapses("connection"), _lapses("lease")) == (by_connection + 2, by_lease + 1)
        finally:
            reading.clear()
            reader.join(5)
            feed.stop()
            db.dispose()


@pytest.mark.parametrize("kind", POSTGRES)
def test_a_stall_given_up_for_a_new_connection_is_one_loss_said_once_and_timed_from_its_start(
    kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener backend stopped until the connection was given up (``GIVE_UP_AFTER``, here 1.5 s) and made anew had
    been said twice at WARNING (the stall, then "lost its connection (TimeoutError)"), and its end "listening again,
    after 0.5 s", timed from the second, of a listener deaf for 5.5 s (a multi-replica tester, D3). One deaf spell:
    one WARNING, and its end timed from the stall's start."""
    caplog.set_level(logging.INFO, logger=changes._log.name)
    monkeypatch.setattr(changes, "GIVE_UP_AFTER", 1.5)
    with migrated_database(kind, tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        feed.start()
        try:
            _until(lambda: feed.generation >= 0, within=2.0)
            stalled = feed.listener_pid
            assert stalled is not None
            with stopped(stalled):
                took = _until(lambda: feed.listener_pid != stalled and feed.generation >= 0, within=10.0)
                _until(lambda: "listening again" in caplog.text, within=1.0)
            said = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == changes._log.name]
            warnings = [m for level, m in said if level == "WARNING"]
            assert len(warnings) == 1 and warnings[0].startswith("change listener's connection answered nothing"), said
            (again,) = [m for level, m in said if "listening again" in m]
            after = float(again.split("after ")[1].removesuffix(" s"))
            assert changes.GIVE_UP_AFTER <= after <= took + changes.HEARTBEAT_EVERY + 0.1, (after, took)
        finally:
            feed.stop()
            db.dispose()


@pytest.fixture
def two_pg_gateways(tmp_path: Path) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    """Two gateways (two feeds, two LISTEN connections) on one PostgreSQL database and one data directory, as two
    replicas are; in this process, so that the second one's listener backend can be told apart."""
    if not POSTGRES:
        pytest.skip("no PostgreSQL")
    with two_replicas("postgresql", tmp_path) as pair:
        yield pair


def _issue(running: RunningGateway) -> str:
    record = unique(samples.business_license(41))
    request = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
    (response,) = running.issuance(MARKET).BatchIssueLicenses(iter([request]))
    (result,) = response.results
    assert not result.HasField("error"), result.error
    return result.license.license_id


def _revoke(running: RunningGateway, license_id: str) -> None:
    running.issuance(MARKET).ChangeLicenseStatus(
        issuance_pb2.ChangeLicenseStatusRequest(
            request_id=uuid.uuid4().hex,
            license_id=license_id,
            action=issuance_pb2.STATUS_ACTION_REVOKE,
            reason="以欺骗手段取得许可",
        )
    )


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL")
def test_a_revocation_is_seen_within_a_second_by_a_gateway_whose_listener_stalled(
    two_pg_gateways: tuple[RunningGateway, RunningGateway],
) -> None:
    """The review's proof: the second gateway's LISTEN backend stopped (TCP up), a revocation through the first one
    went on answering PASSED from the second one's cache for 40 s and more."""
    first, second = two_pg_gateways
    clerk = verification_pb2_grpc.VerificationServiceStub(second.channel(TAX))
    feed = second.gateway.feed
    assert feed is not None and feed.listener_pid is not None

    def verify(license_id: str) -> verification_pb2.VerificationReport:
        return clerk.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=USE, license_id=license_id)).report

    revoked, kept = _issue(first), _issue(first)
    for license_id in (revoked, kept):
        for _ in range(3):  # checked, and now in the second gateway's cache
            assert verify(license_id).verdict == PASSED
    with stopped(feed.listener_pid):
        stopped_at = time.monotonic()
        _revoke(first, revoked)
        took = _until(lambda: verify(revoked).status.reason == "REVOKED", within=1.0 + 0.2)
        assert time.monotonic() - stopped_at < changes.LEASE + 0.4, took
        assert verify(kept).verdict == PASSED  # read from the store, not refused
        assert feed.generation == -1
    _until(lambda: feed.generation >= 0, within=1.0)  # listening again once the backend answers
    report = verify(revoked)
    assert (report.verdict, report.status.reason) == (FAILED, "REVOKED")
    assert verify(kept).verdict == PASSED


# -- SQLite workers: the CRLs a stamp is judged by follow another worker's seal revocation at once ------------------


def test_the_crls_are_read_again_after_another_worker_revoked_a_seal(tmp_path: Path) -> None:
    """``VerifyStamp`` judges a stamp's certificates by the cached CRLs only: they had been returned without polling
    the shared counter, so the first stamp verified on one worker after a seal revocation on another was judged by
    the CRL without it (review finding 4)."""
    with fresh_database("sqlite", tmp_path) as url:
        running = start_gateway(tmp_path / "var", url)
        other_worker = Database.connect(url)
        other_feed = ChangeFeed(other_worker)
        try:
            service = running.gateway.verification
            assert service is not None
            read: list[int] = []
            made = service._seals.crls
            before, after = made(), made()  # real CRLs (their nextUpdate says how long they are kept), told apart by
            crls = iter([before, after])  # identity

            def read_crls() -> tuple[bytes, ...]:
                read.append(1)
                return next(crls)

            service._seals.crls = read_crls  # type: ignore[method-assign]
            assert service._crls_now() is before
            assert service._crls_now() is before and len(read) == 1  # cached while nothing changed
            other_feed.committed(["seal:revoked-on-the-other-worker"])  # its RevokeSeal has returned
            assert service._crls_now() is after  # the very next call reads the CRLs again
            assert len(read) == 2
        finally:
            other_feed.stop()
            other_worker.dispose()
            running.stop()


# -- PostgreSQL, several workers of one gateway: the shared counter ------------------------------------------------


@pytest.mark.parametrize("kind", POSTGRES)
def test_workers_of_one_gateway_on_postgresql_see_each_others_changes_at_the_very_next_call(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers (two feeds) of one ``zzgw serve`` on PostgreSQL: a change committed through one is dropped by the
    other's very next poll, through the counter the supervisor made, before (here: without) any NOTIFY."""
    monkeypatch.delenv(changes.WORKERS_COUNTER_ENV, raising=False)
    with migrated_database(kind, tmp_path) as url:
        databases = [Database.connect(url), Database.connect(url)]
        alone = ChangeFeed(databases[0])  # no supervisor: no counter, NOTIFY only
        assert alone._counter is None
        alone.stop()
        counter = ChangeFeed.share_counter(tmp_path)  # as the supervisor does before it starts the workers
        assert os.environ[changes.WORKERS_COUNTER_ENV] == str(counter)
        writer, reader = (ChangeFeed(db) for db in databases)
        heard: list[frozenset[str]] = []
        reader.subscribe(heard.append)
        try:
            for feed in (writer, reader):
                feed.start()
            assert reader.generation >= 0
            heard.clear()
            writer.committed(["license:A"])  # committed and announced by nobody else: no NOTIFY at all
            reader.poll()  # the very next lookup on the other worker
            assert heard == [EVERYTHING]
            reader.poll()
            assert heard == [EVERYTHING]
        finally:
            for feed in (writer, reader):
                feed.stop()
            for db in databases:
                db.dispose()


def test_the_supervisor_shares_a_counter_among_its_postgresql_workers_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway import metrics, supervisor
    from gateway.config import Settings

    made: list[Path] = []

    class _Stop(Exception):
        pass

    class _NoWorkers:
        def RawValue(self, *_: object) -> None:  # the first worker's start
            raise _Stop

    monkeypatch.setattr(metrics, "prepare_directory", lambda _: tmp_path)
    monkeypatch.setattr(ChangeFeed, "share_counter", staticmethod(lambda directory: made.append(directory)))
    monkeypatch.setattr(supervisor.multiprocessing, "get_context", lambda _: _NoWorkers())  # nothing started
    for url, expected in (("postgresql+psycopg://u@h/db", [tmp_path]), (f"sqlite:///{tmp_path / 'z.db'}", [])):
        made.clear()
        settings = Settings(data_dir=tmp_path, database_url=url, key_passphrase="x")  # type: ignore[call-arg]
        with pytest.raises(_Stop):
            supervisor._supervise(settings, lambda *_: None, supervisor.STOP_DEADLINE_SECONDS, lambda: 0)
        assert made == expected


class _AnsweredThenNotified:
    """A listener's connection whose read held the heartbeat's answer and, after it, a notification: libpq parses the
    notification only as the answer is taken (``get_result``), when the socket has nothing more to wake anyone."""

    def __init__(self) -> None:
        self.parsed: list[Any] = []
        self.results = [SimpleNamespace(status=pq.ExecStatus.COMMAND_OK, error_message=b"")]

    def consume_input(self) -> None:
        pass

    def notifies(self) -> Any:
        return self.parsed.pop(0) if self.parsed else None

    def is_busy(self) -> bool:
        return False

    def get_result(self) -> Any:
        if self.results:
            return self.results.pop()
        self.parsed.append(SimpleNamespace(extra=b"license:L1"))  # the message after the answer
        return None


def test_a_notification_read_with_a_heartbeats_answer_is_delivered_at_once(tmp_path: Path) -> None:
    """It had waited in libpq for the next step of the listener (a heartbeat later, or more), found in a full run
    where a revocation after a mass update took over a second to be heard."""
    with fresh_database("sqlite", tmp_path) as url:
        db = Database.connect(url)
        feed = ChangeFeed(db)
        heard: list[frozenset[str]] = []
        feed.subscribe(heard.append)
        connection = _AnsweredThenNotified()
        link = _Link(connection)  # type: ignore[arg-type]
        link.sent_at = time.monotonic()
        feed._step(link, time.monotonic())
        assert frozenset({"license:L1"}) in heard
        db.dispose()
