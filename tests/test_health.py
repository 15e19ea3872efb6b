"""Readiness: gRPC health and ``/readyz`` follow the database (unreachable, hanging, back), ``/healthz`` stays
liveness, and a stop signal says NOT_SERVING first while calls are still taken (real sockets, both databases, and a
real ``zzgw serve`` process for the signal)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from adapters.client import MemberCredentials, connect
from adapters.http import HttpServer
from adapters.records import issue_request
from benchmarks.common import free_port, wait_serving
from gateway.bootstrap import samples
from gateway.health import CHECK_METHOD, CHECK_THREAD_NAME, CHECK_THREADS, STOPPING, Readiness, State, wait_until_quiet
from gateway.server import DRAIN_LONGEST_SECONDS, GRACE_SECONDS, SERVICE_NAMES, http_app
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, issuance_pb2, issuance_pb2_grpc
from tests import conftest
from tests.api.test_verification import batch_issue
from tests.commands import run_zzgw
from tests.conftest import (
    MARKET,
    PG_URL,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    start_gateway,
)
from tests.store.test_store_unwritable import burst

ROOT = Path(__file__).resolve().parent.parent
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def eventually(what: Callable[[], bool], seconds: float = 15.0, message: str = "") -> None:
    """Until ``what()`` holds (the checks run every second; the machine may be slow)."""
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, message or "not within the time"
        time.sleep(0.05)


# --- the readiness checks alone -------------------------------------------------------------------------------


class Database:
    """A check that answers, fails or hangs as told, and counts how often it ran."""

    def __init__(self) -> None:
        self.mode = "up"
        self.calls = 0
        self.released = threading.Event()

    def __call__(self) -> None:
        self.calls += 1
        if self.mode == "down":
            raise ConnectionRefusedError("connection to server at 127.0.0.1 port 1 failed")
        if self.mode == "hanging":
            self.released.wait(30)


@pytest.fixture
def database() -> Iterator[Database]:
    db = Database()
    yield db
    db.released.set()


def test_readiness_follows_the_database_failing_hanging_and_back(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    readiness = Readiness(database, every=0.05, timeout=0.3)
    assert readiness.state.reason == "STARTING"  # not checked yet: not ready
    readiness.start()
    try:
        assert readiness.ready  # checked once before start returned
        with caplog.at_level(logging.INFO, logger="zzgw.health"):
            database.mode = "down"
            eventually(lambda: readiness.state.reason == "DATABASE_UNAVAILABLE")
            database.mode = "up"
            eventually(lambda: readiness.ready)
            database.mode = "hanging"
            eventually(lambda: readiness.state.reason == "DATABASE_NOT_ANSWERING")
            assert not readiness.ready
            stuck = database.calls
            time.sleep(0.3)
            assert database.calls == stuck  # a check that hangs is waited for, not piled up
            database.mode = "up"
            database.released.set()
            eventually(lambda: readiness.ready)
        said = [record.getMessage() for record in caplog.records]
        assert any("DATABASE_UNAVAILABLE" in line and "ConnectionRefusedError" in line for line in said), said
        assert any("DATABASE_NOT_ANSWERING" in line and "within 0.3 s" in line for line in said), said
        assert "ready again: the database answers" in said
    finally:
        readiness.stop()


def test_a_database_that_never_answers_stays_not_answering_without_a_line_at_every_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server that accepts and never answers: each check is pending past the timeout (DATABASE_NOT_ANSWERING), then
    fails at the connect's own time-out, which had been published DATABASE_UNAVAILABLE, and the next check pending
    again: readiness flipped between the two every few seconds, a WARNING at each flip for as long as the outage
    lasted, and /readyz's reason alternated (a reviewer, opshttp R5). A check that fails after it was said not to
    answer leaves the process DATABASE_NOT_ANSWERING: one line for the outage, one for its end."""
    answering = threading.Event()

    def check() -> object:
        if answering.is_set():
            return 1
        time.sleep(0.5)  # past the timeout, then the connect's time-out
        raise TimeoutError("connection timeout expired")

    answering.set()
    readiness = Readiness(check, every=0.05, timeout=0.2)
    readiness.start()
    try:
        assert readiness.ready
        with caplog.at_level(logging.INFO, logger="zzgw.health"):
            answering.clear()
            eventually(lambda: readiness.state.reason == "DATABASE_NOT_ANSWERING")
            seen = set()
            deadline = time.monotonic() + 3  # some checks, each pending past the timeout, then failing
            while time.monotonic() < deadline:
                seen.add(readiness.state.reason)
                time.sleep(0.02)
            answering.set()
            eventually(lambda: readiness.ready)
        said = [record.getMessage() for record in caplog.records if record.name == "zzgw.health"]
        assert seen == {"DATABASE_NOT_ANSWERING"}, seen
        assert len(said) == 2 and "not ready (DATABASE_NOT_ANSWERING)" in said[0], said
        assert said[1] == "ready again: the database answers", said
    finally:
        readiness.stop()


def test_ready_again_after_a_checks_own_reason_says_that_reason_ended_not_the_database(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A replica made ready again by the catalog adopted back (CATALOG_CHANGED ended) logged "ready again: the
    database answers", a database incident to an operator reading the log for the revert, though the database never
    stopped answering (a reviewer of upgrades, R4)."""
    from gateway.health import NotReady

    changed = threading.Event()

    def check() -> None:
        if changed.is_set():
            raise NotReady("CATALOG_CHANGED", "the store's catalog is now B, and this process serves A")

    readiness = Readiness(check, every=0.05, timeout=1.0)
    readiness.start()
    try:
        with caplog.at_level(logging.INFO, logger="zzgw.health"):
            changed.set()
            eventually(lambda: readiness.state.reason == "CATALOG_CHANGED")
            changed.clear()
            eventually(lambda: readiness.ready)
        said = [record.getMessage() for record in caplog.records]
        assert "ready again: CATALOG_CHANGED ended (the database answered throughout)" in said, said
        assert not [line for line in said if "the database answers" in line], said
    finally:
        readiness.stop()


def test_probes_never_reach_the_database(database: Database) -> None:
    readiness = Readiness(database, every=0.2, timeout=1.0)
    readiness.start()
    try:
        started = time.monotonic()
        probes = 0
        while time.monotonic() - started < 1.0:
            assert readiness.state.http_answer()[0] == 200
            probes += 1
        assert probes > 1000 and database.calls <= 1 + 1.0 / 0.2 + 1  # once at start, then one per interval
    finally:
        readiness.stop()


def test_stopping_is_for_good_and_ends_the_watches(database: Database) -> None:
    readiness = Readiness(database, every=0.05, timeout=0.3)
    readiness.start()
    try:
        states = readiness.states(until=lambda: False)
        assert next(states).ready
        readiness.drain()
        assert next(states) == STOPPING
        time.sleep(0.2)  # checks that answer do not make it ready again
        assert readiness.state == STOPPING
        readiness.close_watches()
        assert list(states) == []
    finally:
        readiness.stop()


def test_the_http_answers() -> None:
    assert State(True).http_answer() == (200, b'{"ready": true}\n')
    status, body = STOPPING.http_answer()
    assert status == 503 and json.loads(body)["reason"] == "STOPPING"


def test_a_drain_waits_until_calls_stop_coming() -> None:
    now = [100.0]

    def clock() -> float:
        return now[0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    def quiet_after(latest: Callable[[], float | None]) -> float:
        return wait_until_quiet(latest, quiet=0.5, longest=5, clock=clock, sleep=sleep)

    assert quiet_after(lambda: None) == pytest.approx(0.5)  # no call at all: the half second only
    now[0] = 200.0
    assert quiet_after(lambda: 199.9) == pytest.approx(0.5)  # a call just before the signal: counted from it
    now[0] = 300.0
    coming = (300.0, 300.3, 300.7, 301.1)  # calls keep coming for a while, then stop
    assert quiet_after(lambda: max(at for at in coming if at <= now[0])) == pytest.approx(1.6)
    now[0] = 400.0
    assert quiet_after(lambda: now[0]) == pytest.approx(5.0)  # a balancer that never moves them: 5 s at most


# --- over real sockets, on both databases ------------------------------------------------------------------------


class Proxy:
    """A TCP proxy in front of PostgreSQL: it passes, refuses (every connection closed, new ones closed at once:
    a server down), freezes (nothing forwarded: a server paused, packets dropped) or is a black hole (every
    connection closed, new ones accepted and never answered, for good: a pooler or a balancer whose backend is gone)."""

    def __init__(self, target: tuple[str, int]):
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.mode = "pass"
        self._open: set[socket.socket] = set()
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def refuse(self) -> None:
        self.mode = "refuse"
        self._close_all()

    def freeze(self) -> None:
        self.mode = "freeze"

    def black_hole(self) -> None:
        self.mode = "hole"
        self._close_all()

    def restore(self) -> None:
        self.mode = "pass"

    def close(self) -> None:
        self.mode = "refuse"
        self._listener.close()
        self._close_all()
        for held in self._held:
            held.close()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = list(self._open), set()
        for each in sockets:
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)
            each.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.mode == "refuse":
                client.close()
                continue
            if self.mode == "hole":  # accepted, never answered, even once the proxy passes again
                self._held.append(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                while self.mode == "freeze":
                    time.sleep(0.02)
                if self.mode == "refuse":
                    break
                sink.sendall(data)
        for each in (source, sink):
            with contextlib.suppress(OSError):
                each.shutdown(socket.SHUT_RDWR)


class Outage:
    """Makes the gateway's database unreachable and reachable again."""

    def __init__(self, cut: Callable[[], None], restore: Callable[[], None], hang: Callable[[], None] | None = None):
        self.cut, self.restore, self.hang = cut, restore, hang


@contextlib.contextmanager
def gateway_with_an_outage(kind: str, tmp_path: Path) -> Iterator[tuple[RunningGateway, Outage]]:
    """A gateway whose database can be taken away: on SQLite its directory is reached through a symbolic link,
    pointed at an empty directory for the outage (a volume gone: the files themselves untouched); on PostgreSQL
    the gateway connects through ``Proxy``."""
    if kind == "sqlite":
        real, empty, link = tmp_path / "store", tmp_path / "gone", tmp_path / "volume"
        real.mkdir()
        empty.mkdir()
        link.symlink_to(real)

        def point(to: Path) -> None:
            (tmp_path / "volume.new").symlink_to(to)
            os.replace(tmp_path / "volume.new", link)

        running = start_gateway(tmp_path / "var", f"sqlite:///{link / 'zzgw.db'}")
        try:
            yield running, Outage(cut=lambda: point(empty), restore=lambda: point(real))
        finally:
            point(real)
            running.stop()
        return
    with fresh_database("postgresql", tmp_path) as url:
        target = make_url(url)
        proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        try:
            running = start_gateway(tmp_path / "var", proxied)
            try:
                yield running, Outage(cut=proxy.refuse, restore=proxy.restore, hang=proxy.freeze)
            finally:
                proxy.restore()
                running.stop()
        finally:
            proxy.close()


def initialised_gateway(data_dir: Path, url: str, served: str) -> RunningGateway:
    """A gateway serving the empty store at ``url``, initialised as ``start_gateway`` initialises one, through
    ``served`` (a proxy's URL): a copy of ``tests.conftest``'s initialised template (~0.1 s rather than seconds)."""
    assert conftest._initialised.copy(url, data_dir)
    return conftest._serve(conftest._gateway_settings(data_dir, served, {}), None)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("kind", backend_params())
def test_health_and_readiness_follow_the_database(kind: str, tmp_path: Path) -> None:
    with gateway_with_an_outage(kind, tmp_path) as (running, outage):
        http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
        http.start()
        base = f"http://127.0.0.1:{http.port}"
        health = health_pb2_grpc.HealthStub(running.channel(None))

        def statuses() -> set[int]:
            return {
                health.Check(health_pb2.HealthCheckRequest(service=name), timeout=10).status
                for name in ("", *SERVICE_NAMES)
            }

        watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=120)
        try:
            assert next(watch).status == SERVING
            assert statuses() == {SERVING}
            assert fetch(f"{base}/readyz") == (200, b'{"ready": true}\n')

            outage.cut()
            assert next(watch).status == NOT_SERVING  # pushed to a watching client
            eventually(lambda: statuses() == {NOT_SERVING}, message="gRPC health still SERVING without a database")
            status, body = fetch(f"{base}/readyz")
            assert status == 503 and json.loads(body)["reason"] == "DATABASE_UNAVAILABLE", body
            assert "127.0.0.1" not in body.decode() and "volume" not in body.decode()  # the log has the details
            assert fetch(f"{base}/healthz") == (200, b"ok\n")  # liveness: the process is up
            with pytest.raises(grpc.RpcError) as unknown:
                health.Check(health_pb2.HealthCheckRequest(service="zzgw.v1.Nope"), timeout=10)
            assert unknown.value.code() == grpc.StatusCode.NOT_FOUND

            outage.restore()
            assert next(watch).status == SERVING
            eventually(lambda: statuses() == {SERVING})
            assert fetch(f"{base}/readyz")[0] == 200

            if outage.hang is not None:  # a server that stops answering without closing anything
                outage.hang()
                assert next(watch).status == NOT_SERVING
                status, body = fetch(f"{base}/readyz")  # answered at once, from the last check
                assert status == 503 and json.loads(body)["reason"] == "DATABASE_NOT_ANSWERING", body
                outage.restore()
                assert next(watch).status == SERVING
        finally:
            watch.cancel()
            http.stop()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_readiness_comes_back_after_a_database_that_accepted_connections_and_never_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A pooler or balancer in front of PostgreSQL whose backend is gone accepts a connection and never answers it:
    the check's new connection waited in its connect for psycopg's 130 s, readiness DATABASE_NOT_ANSWERING all that
    while after the database was back (a reviewer, R1). The pool's connections give up connecting after
    ``CONNECT_TIMEOUT_SECONDS`` (psycopg's least, 2 s, here), and the next check connects anew."""
    from gateway.store import database

    monkeypatch.setattr(database, "CONNECT_TIMEOUT_SECONDS", 2)
    caplog.set_level(logging.INFO, logger="zzgw.health")
    with fresh_database("postgresql", tmp_path) as url:
        target = make_url(url)
        proxy = Proxy((target.host or "127.0.0.1", target.port or 5432))
        proxied = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        running = initialised_gateway(tmp_path / "var", url, proxied)
        try:
            readiness = running.gateway.readiness
            assert readiness.ready
            proxy.black_hole()  # the pool's connections closed, the check's next one never answered
            eventually(lambda: readiness.state.reason == "DATABASE_NOT_ANSWERING", message=str(readiness.state))
            proxy.restore()  # the database answers again; the connection accepted meanwhile never will
            back = time.monotonic()
            eventually(
                lambda: readiness.ready, seconds=10, message=f"still {readiness.state} after the database came back"
            )
            assert time.monotonic() - back < 2 + 2 + 1  # the timeout, a check's interval, and slack
        finally:
            proxy.restore()
            running.stop()
            proxy.close()
    assert "ready again: the database answers" in caplog.text


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_a_database_that_takes_no_writes_is_not_ready_and_writes_are_unavailable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that refuses every write (``default_transaction_read_only``, or a standby after a failover) had
    answered the check's ``SELECT 1``: every process SERVING while each IssueLicense failed INTERNAL with a traceback
    (a reviewer, R2). Readiness says DATABASE_READ_ONLY now, and a write is UNAVAILABLE / DATABASE_UNAVAILABLE (a
    client may retry), until the database takes writes again."""
    caplog.set_level(logging.INFO, logger="zzgw.health")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def alter(setting: str, name: str) -> None:
        with admin.connect() as connection:  # new sessions take it: the gateway's are ended, and made anew
            connection.execute(text(f'ALTER DATABASE "{name}" {setting}'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
            )

    try:
        with fresh_database("postgresql", tmp_path) as url:
            name = str(make_url(url).database)
            running = initialised_gateway(tmp_path / "var", url, url)
            try:
                readiness = running.gateway.readiness
                issuer = running.issuance(MARKET)
                assert readiness.ready
                alter("SET default_transaction_read_only = on", name)
                eventually(lambda: readiness.state.reason == "DATABASE_READ_ONLY", message=str(readiness.state))
                status, body = readiness.state.http_answer()
                assert status == 503 and json.loads(body)["reason"] == "DATABASE_READ_ONLY"
                with pytest.raises(grpc.RpcError) as refused:
                    issuer.IssueLicense(issue_request(samples.food_permit(1)), timeout=30)
                assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value
                assert error_details(refused.value)[0].reason == "DATABASE_UNAVAILABLE"
                assert "read-only" in (refused.value.details() or "")
                alter("RESET default_transaction_read_only", name)
                eventually(lambda: readiness.ready, message=str(readiness.state))
                assert issuer.IssueLicense(issue_request(samples.food_permit(2)), timeout=30).created
            finally:
                running.stop()
    finally:
        admin.dispose()
    assert "not ready (DATABASE_READ_ONLY)" in caplog.text and "ready again: the database answers" in caplog.text


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_readiness_notices_a_database_that_refuses_new_connections(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The check drew a session of the pool, which went on answering after the database stopped taking new ones
    (``ALLOW_CONNECTIONS false``; ``max_connections`` reached, the role's login withdrawn alike): the process stayed
    ready for as long as that session lived while most requests failed DATABASE_UNAVAILABLE (a reviewer, opshttp R2).
    The check opens a connection of its own every few checks, and at each while one fails: not ready, with libpq's
    error in the log, until the database takes connections again."""
    caplog.set_level(logging.INFO, logger="zzgw.health")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with fresh_database("postgresql", tmp_path) as url:
            name = str(make_url(url).database)

            def allow(allowed: bool) -> None:
                with admin.connect() as connection:
                    connection.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}'))

            running = initialised_gateway(tmp_path / "var", url, url)
            try:
                readiness = running.gateway.readiness
                eventually(lambda: readiness.ready, message=str(readiness.state))
                allow(False)  # the process's open sessions go on; no new one is let in
                try:
                    eventually(lambda: readiness.state.reason == "DATABASE_UNAVAILABLE", message=str(readiness.state))
                    seen = set()
                    for _ in range(12):  # and it stays so, not ready again on the sessions still open
                        seen.add(readiness.state.reason)
                        time.sleep(0.25)
                    assert seen == {"DATABASE_UNAVAILABLE"}, seen
                finally:
                    allow(True)
                eventually(lambda: readiness.ready, message=str(readiness.state))
            finally:
                running.stop()
    finally:
        admin.dispose()
    assert "not ready (DATABASE_UNAVAILABLE)" in caplog.text and "not currently accepting connections" in caplog.text
    assert "ready again: the database answers" in caplog.text


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_connections_opened_while_the_database_took_no_writes_are_not_kept_once_it_takes_them(tmp_path: Path) -> None:
    """A session's ``default_transaction_read_only`` is read as it starts: those the process opened while the database
    was read-only by default (a standby's, alike) stayed read-only once it took writes again, not terminated, and the
    process stayed not ready (DATABASE_READ_ONLY) with every write refused DATABASE_UNAVAILABLE until a restart (a
    reviewer, R2). The health check has every connection opened until then replaced, when it finds the database
    taking no writes and again when it takes them: ready within a check or two, and calls are taken again."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with fresh_database("postgresql", tmp_path) as url:
            name = str(make_url(url).database)
            running = initialised_gateway(tmp_path / "var", url, url)
            try:
                kept = batch_issue(running, 1)  # nothing verified yet: the appenders are opened read-only
                with admin.connect() as connection:  # a failover: every session ends, new ones read-only
                    connection.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on'))
                    connection.execute(
                        text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                        {"name": name},
                    )
                eventually(lambda: running.gateway.readiness.state.reason == "DATABASE_READ_ONLY")
                for n in range(2):
                    assert burst(running, kept, 100 + 20 * n) == {"UNAVAILABLE DATABASE_UNAVAILABLE": 12}
                with admin.connect() as connection:  # the primary back: the sessions opened meanwhile go on
                    connection.execute(text(f'ALTER DATABASE "{name}" RESET default_transaction_read_only'))
                eventually(lambda: running.gateway.readiness.ready, seconds=5, message="not ready again")
                for n in range(3):
                    assert burst(running, kept, 1000 + 20 * n) == {"OK": 12}, f"burst {n} once ready again"
            finally:
                running.stop()
    finally:
        admin.dispose()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_check_is_answered_while_calls_stuck_on_a_frozen_database_hold_every_handler_thread(tmp_path: Path) -> None:
    """Calls waiting on a database that stopped answering hold the handler threads; with all of them held, gRPC health
    Check had waited for one and timed out, as a hung process's would, while /readyz said 503 at once (a
    multi-replica tester, D2). Check has threads of its own: NOT_SERVING, answered at once."""
    with gateway_with_an_outage("postgresql", tmp_path) as (running, outage):
        assert outage.hang is not None
        issued = running.issuance(MARKET).IssueLicense(issue_request(samples.food_permit(1)), timeout=30)
        reader = running.issuance(MARKET)
        request = issuance_pb2.GetLicenseRequest(license_id=issued.license.license_id)
        assert reader.GetLicense(request, timeout=10).license.license_id == issued.license.license_id
        with grpc.insecure_channel(running.address) as bare:
            health = health_pb2_grpc.HealthStub(bare)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING
            outage.hang()
            threads = running.gateway.settings.threads
            stuck = [reader.GetLicense.future(request, timeout=120) for _ in range(threads * 2)]
            try:
                eventually(lambda: not running.gateway.readiness.ready, message="still ready on a frozen database")
                started = time.monotonic()
                assert health.Check(health_pb2.HealthCheckRequest(), timeout=3).status == NOT_SERVING
                assert time.monotonic() - started < 2
                names = {path.read_text().strip() for path in Path("/proc/self/task").glob("*/comm")}
                assert "zzgw-health-chk" in names  # as operations.md lists the threads
                assert not any(call.done() for call in stuck), "the calls did not wait on the database"
            finally:
                outage.restore()
            for call in stuck:
                assert call.result(timeout=60).license.license_id == issued.license.license_id
            eventually(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING)


def _timed(request: urllib.request.Request | str, timeout: float) -> tuple[int, bytes, dict[str, str], float]:
    """``request``'s status, body and headers, and the seconds it took; status 0 for no answer within ``timeout``."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            status, body, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as error:
        status, body, headers = error.code, error.read(), error.headers
    except (TimeoutError, urllib.error.URLError):
        return 0, b"", {}, time.monotonic() - started
    return status, body, {name.lower(): value for name, value in headers.items()}, time.monotonic() - started


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_http_side_answers_while_requests_wait_on_a_frozen_database(tmp_path: Path) -> None:
    """CRL fetches (anyone's) on the pool's idle sessions of a frozen server waited for as long as the freeze lasted,
    holding every HTTP work thread: /metrics and /tsa, which need no database, went unanswered behind them, and so did
    every CRL and console call, until the database answered again (a reviewer, opshttp R1). /metrics and /tsa have
    threads of their own; a request's work on the store is given up, 503 with Retry-After, once readiness says the
    database does not answer, and one arriving then is answered so at once."""
    with gateway_with_an_outage("postgresql", tmp_path) as (running, outage):
        assert outage.hang is not None
        http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
        http.start()
        base = f"http://127.0.0.1:{http.port}"
        tsa = urllib.request.Request(
            f"{base}/tsa", data=b"0\x00", headers={"Content-Type": "application/timestamp-query"}, method="POST"
        )
        fetches = 12  # more than the side's work threads
        try:
            with futures.ThreadPoolExecutor(fetches) as pool:
                # the pool warm: sessions opened and idle, as on a busy gateway
                warm = list(pool.map(lambda _: _timed(f"{base}/crl/seal-maker.crl", 30)[0], range(fetches)))
                assert warm == [200] * fetches
                assert _timed(tsa, 10)[0] == 200 and _timed(f"{base}/metrics", 10)[0] == 200
                outage.hang()
                try:
                    crls = [pool.submit(_timed, f"{base}/crl/seal-maker.crl", 60) for _ in range(fetches)]
                    time.sleep(1.0)  # the CRLs' work has the threads, waiting on the database
                    # the bug: unanswered until the database answers again (never, here)
                    status, body, _, _ = _timed(f"{base}/metrics", 20)
                    assert status == 200 and b"zzgw_ready" in body
                    assert _timed(tsa, 20)[0] == 200
                    for crl in crls:  # given up once readiness says the database does not answer
                        status, body, headers, _ = crl.result(timeout=90)
                        assert status == 503, (status, body)
                        assert body.startswith(b"DATABASE_UNAVAILABLE\n") and headers.get("retry-after") == "5"
                    # not ready since (DATABASE_UNAVAILABLE between checks, when a check's connect times out)
                    assert running.gateway.readiness.state.reason.startswith("DATABASE_")
                    status, body, _, took = _timed(f"{base}/crl/seal-maker.crl", 20)  # once it says so: at once
                    assert status == 503 and body.startswith(b"DATABASE_UNAVAILABLE\n") and took < 10, took
                    assert _timed(f"{base}/metrics", 20)[0] == 200
                finally:
                    outage.restore()
                eventually(lambda: running.gateway.readiness.ready, seconds=60)
                assert _timed(f"{base}/crl/seal-maker.crl", 30)[0] == 200
        finally:
            http.stop()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_a_console_verification_given_up_under_way_is_not_said_undone(tmp_path: Path) -> None:
    """A console verification whose work was under way when the database froze was answered 503 "this call was not
    done; retry", and its receipt and access record were committed once the database answered: the clerk never saw
    that receipt, and the retry the message asked for made a second pair (a reviewer, opsfix R2). Such an answer now
    says the call may have been done and where the clerk looks for its receipt."""
    from tests.adapters.test_console import USE
    from tests.api.test_audit import record_count
    from tests.api.test_verification import issue_for_invoices

    with gateway_with_an_outage("postgresql", tmp_path) as (running, outage):
        assert outage.hang is not None
        http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
        http.start()
        issued = issue_for_invoices(running, 1)
        body = json.dumps({"use": USE, "query": issued.license.license_id}).encode()
        verify = urllib.request.Request(
            f"http://127.0.0.1:{http.port}/console/api/verify",
            data=body,
            headers={"Authorization": f"Bearer {running.tokens[TAX]}", "Content-Type": "application/json"},
        )
        try:
            assert _timed(verify, 30)[0] == 200  # the clerk's token checked, as in a session
            before = record_count(running)
            outage.hang()
            try:
                status, answer, _, _ = _timed(verify, 60)
            finally:
                outage.restore()
            error = json.loads(answer)["error"]
            assert status == 503 and error["reason"] == "DATABASE_UNAVAILABLE", answer
            # the work went on, and is done once the database answers
            eventually(lambda: record_count(running) == before + 1, seconds=60)
            assert "not done" not in error["message"] and "未完成" not in error["message"], error
            assert "may have been done" in error["message"] and "查看本件已有核验回执" in error["message"], error
        finally:
            http.stop()


def test_check_is_answered_while_as_many_calls_as_its_threads_never_send_their_message(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two Check calls that sent their headers and never the message had held both of Check's threads for
    ZZGW_GRPC_REQUEST_SECONDS (10 s), and a balancer's Check timed out meanwhile (a reviewer, R2). Check's message
    comes with its headers: such calls are cancelled after CHECK_REQUEST_SECONDS, and Check is answered at once after
    a round of them, however many threads they held."""
    caplog.set_level(logging.WARNING, logger="zzgw.grpc")
    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}", grpc_request_seconds=10)
    never = threading.Event()

    def nothing() -> Iterator[bytes]:
        never.wait()
        yield from ()

    try:
        with grpc.insecure_channel(running.address) as channel, grpc.insecure_channel(running.address) as probe:
            health = health_pb2_grpc.HealthStub(probe)
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING
            stalled = channel.stream_unary(CHECK_METHOD)
            started = time.monotonic()
            held = [stalled.future(nothing(), timeout=30) for _ in range(CHECK_THREADS)]
            try:
                # each of them handed to a Check thread (the pool starts one for each while none is idle): the
                # probe queues behind them
                eventually(
                    lambda: thread_names().count(CHECK_THREAD_NAME) >= CHECK_THREADS,
                    message="the calls did not hold Check's threads",
                )
                assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING
                codes = [call.exception(timeout=10).code() for call in held]  # type: ignore[union-attr]
                ended = time.monotonic() - started
            finally:
                never.set()
        assert codes == [grpc.StatusCode.CANCELLED] * CHECK_THREADS
        assert ended < 8, ended  # not the 10 s of ZZGW_GRPC_REQUEST_SECONDS
        assert f"gRPC: a call to {CHECK_METHOD} from ipv4:127.0.0.1:" in caplog.text
        assert "cancelled: its request message was not whole within 1 s (health Check's own)" in caplog.text
    finally:
        running.stop()


def thread_names() -> list[str]:
    """The names of this process's threads, as operations.md's list names them (``/proc``)."""
    return [path.read_text().strip() for path in Path("/proc/self/task").glob("*/comm")]


# --- a stop signal -------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_stop_signal_says_not_serving_first_and_takes_calls_meanwhile(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    address, http_address = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_GRPC_ADDR": address,
        "ZZGW_HTTP_ADDR": http_address,
        "ZZGW_KEY_PASSPHRASE": "health-test-passphrase",
        "ZZGW_DATABASE_URL": "",
    }
    zzgw = [sys.executable, "-m", "gateway.cli"]
    init = run_zzgw("init", env=env, timeout=180)
    assert init.returncode == 0, init.stderr
    server = subprocess.Popen(
        [*zzgw, "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    answered: list[tuple[float, bool]] = []
    enough = threading.Event()
    try:
        wait_serving(address, timeout=90, process=server)
        assert fetch(f"http://{http_address}/readyz")[0] == 200
        with (
            connect(address, MemberCredentials.dev(data_dir, TAX)) as channel,
            connect(address, MemberCredentials.dev(data_dir, MARKET)) as issuer_channel,
            grpc.insecure_channel(address) as bare,
        ):
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            health = health_pb2_grpc.HealthStub(bare)

            def keep_calling() -> None:  # a client the balancer still sends here
                while not enough.is_set():
                    try:
                        catalog.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10)
                        answered.append((time.monotonic(), True))
                    except grpc.RpcError:
                        answered.append((time.monotonic(), False))
                    time.sleep(0.1)

            caller = threading.Thread(target=keep_calling, daemon=True)
            caller.start()
            watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=60)
            assert next(watch).status == SERVING
            changes = issuance_pb2_grpc.IssuanceServiceStub(channel).WatchLicenseChanges(
                issuance_pb2.WatchLicenseChangesRequest(), timeout=60
            )
            batch_requests: queue.Queue[issuance_pb2.BatchIssueLicensesRequest | None] = queue.Queue()
            batch = issuance_pb2_grpc.IssuanceServiceStub(issuer_channel).BatchIssueLicenses(
                iter(batch_requests.get, None), timeout=60
            )
            batch_requests.put(issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(samples.food_permit(1))]))
            assert next(batch).results[0].created  # an import in the middle of its file, its next lines to come
            signalled = time.monotonic()
            server.send_signal(signal.SIGTERM)
            assert next(watch).status == NOT_SERVING
            told = time.monotonic()
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=10).status == NOT_SERVING
            status, body = fetch(f"http://{http_address}/readyz")
            assert status == 503 and json.loads(body)["reason"] == "STOPPING"
            time.sleep(0.5)
            enough.set()
            stopped_calling = time.monotonic()
            caller.join(15)
            assert list(watch) == []  # the watch ends when the server stops, not after the grace
            with pytest.raises(grpc.RpcError) as ended:  # so does a license watch, telling its client to resume
                list(changes)
            assert ended.value.code() is grpc.StatusCode.UNAVAILABLE, ended.value
            assert "GATEWAY_STOPPING" in str(ended.value.trailing_metadata()), ended.value.trailing_metadata()
            assert "游标" in ended.value.details()
            with pytest.raises(grpc.RpcError) as cut:  # and the import, its answered lines committed, told to go on
                list(batch)
            assert cut.value.code() is grpc.StatusCode.UNAVAILABLE, cut.value
            assert "GATEWAY_STOPPING" in str(cut.value.trailing_metadata()) and "重新发送" in cut.value.details()
    finally:
        enough.set()
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    exited = time.monotonic()
    assert server.returncode == 0, err
    after = [ok for at, ok in answered if at > told]
    assert after and after[0], answered  # still answered while saying NOT_SERVING
    if stopped_calling - signalled < DRAIN_LONGEST_SECONDS - 1:  # within the drain: none refused
        assert all(ok for at, ok in answered if at <= stopped_calling), answered
    assert exited - stopped_calling < GRACE_SECONDS, "the stop waited for the grace (an open health watch?)"
    assert "health NOT_SERVING" in err and "drained for" in err, err


def test_health_watches_are_capped_below_the_handler_threads(tmp_path: Path) -> None:
    """Each open health Watch holds a handler thread: sixteen, which need no credentials, had taken every one, and
    the process answered nothing while /readyz said ready. At most ``health_watches`` are open now; one more is
    refused, and calls go on being answered."""
    from gateway.health import health_watches

    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'health.db'}")  # 8 threads, 4 license watchers
    allowed = health_watches(8, 4)
    assert allowed == 3
    try:
        with grpc.insecure_channel(gw.address) as bare:
            health = health_pb2_grpc.HealthStub(bare)
            watches = [health.Watch(health_pb2.HealthCheckRequest(), timeout=30) for _ in range(allowed)]
            assert [next(w).status for w in watches] == [SERVING] * allowed
            with pytest.raises(grpc.RpcError) as refused:
                next(health.Watch(health_pb2.HealthCheckRequest(), timeout=30))
            assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "请用 Check 轮询" in (refused.value.details() or "")
            assert health.Check(health_pb2.HealthCheckRequest(), timeout=5).status == SERVING
            assert gw.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=5).license_types
            watches.pop().cancel()  # its slot is free again
            deadline = time.monotonic() + 5
            while True:
                again = health.Watch(health_pb2.HealthCheckRequest(), timeout=30)
                try:
                    assert next(again).status == SERVING
                    break
                except grpc.RpcError as error:
                    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
                    time.sleep(0.05)
            again.cancel()
            for watch in watches:
                watch.cancel()
    finally:
        gw.stop()


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: ZZGW_TEST_DATABASE_URL or 127.0.0.1:5432")
def test_the_crls_and_receipt_certificates_answer_503_to_retry_while_the_database_is_away(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The CRLs and ``receipt-certificates.pem`` are read from the store when asked. While it is away they had raised
    out of the app: uvicorn's bare 500, a traceback of some 130 lines in its own format for every request, a
    stranger's too, and no count in ``zzgw_http_requests_total`` (a reviewer, R2). Now: 503 with ``Retry-After``,
    never the database's error, one ``zzgw.error`` line per reason per 5 s, each answer counted; and served again
    once the database is back. (On SQLite they are read from the file this process opened, which a volume gone
    leaves readable.)"""
    from adapters import http as http_module
    from gateway.logs import OncePer

    monkeypatch.setattr(http_module, "_STORE_LINES", OncePer(60.0))  # none said by an earlier test
    caplog.set_level(logging.WARNING)
    with gateway_with_an_outage("postgresql", tmp_path) as (running, outage):
        http = HttpServer(http_app(running.gateway), "127.0.0.1:0")
        http.start()
        base = f"http://127.0.0.1:{http.port}"
        routes = ("/crl/seal-maker.crl", "/certificates/receipt-certificates.pem")
        try:
            for route in routes:
                assert fetch(f"{base}{route}")[0] == 200
            before = fetch(f"{base}/metrics")[1].decode()
            outage.cut()
            eventually(lambda: not running.gateway.readiness.ready)
            for _ in range(3):
                for route in routes:
                    with pytest.raises(urllib.error.HTTPError) as refused:
                        urllib.request.urlopen(f"{base}{route}", timeout=10)
                    answer = refused.value
                    body = answer.read().decode()
                    assert answer.code == 503, body
                    assert answer.headers["Retry-After"] == "5"
                    assert body.startswith("DATABASE_UNAVAILABLE\n"), body
                    assert "127.0.0.1" not in body and "volume" not in body and "Traceback" not in body
            after = fetch(f"{base}/metrics")[1].decode()
            for route in routes:
                counted = rf'^zzgw_http_requests_total\{{route="{re.escape(route)}",status="503"\}} (\S+)$'
                was = re.search(counted, before, re.M)
                assert float(re.search(counted, after, re.M)[1]) - (float(was[1]) if was else 0.0) == 3  # type: ignore[index]
            said = [r for r in caplog.records if r.name == "zzgw.error"]
            assert len(said) == 1 and said[0].levelno == logging.WARNING, [r.getMessage() for r in said]
            assert said[0].getMessage().startswith("HTTP GET /crl/seal-maker.crl: "), said[0].getMessage()
            assert said[0].exc_info is None  # no traceback
            assert not [r for r in caplog.records if r.name.startswith("uvicorn")]
            outage.restore()
            eventually(lambda: running.gateway.readiness.ready)
            for route in routes:
                eventually(lambda route=route: fetch(f"{base}{route}")[0] == 200)  # type: ignore[misc]
        finally:
            http.stop()
